#include "probe/telemetry.hpp"

#include <rte_telemetry.h>

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "probe/export_loop.hpp"
#include "probe/live.hpp"
#include "probe/stats.hpp"
#include "probe/worker.hpp"

namespace probe {

namespace {

std::mutex g_mutex;  // telemetry thread vs. shutdown; never taken on a worker
std::vector<Worker*> g_workers;
const ExportLoop* g_exporter = nullptr;
std::vector<uint16_t> g_ports;
std::string g_xdp_interface;
bool g_registered = false;

int stats_command(const char*, const char*, rte_tel_data* d) {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_exporter) return -1;
    RunStats s;
    collect(g_workers, *g_exporter, s);
    read_port_counters(g_ports, s);
    read_xdp_group(g_xdp_interface, s);
    rte_tel_data_start_dict(d);
    for (const CounterInfo& c : kCounters)
        if (reported(c, s)) rte_tel_data_add_dict_u64(d, c.name, s.*c.field);
    return 0;
}

std::string address_text(const flowgen::IpAddress& a, flowgen::Family f) {
    char text[INET6_ADDRSTRLEN] = "";
    inet_ntop(f == flowgen::Family::kIpv6 ? AF_INET6 : AF_INET, a.bytes, text, sizeof text);
    return text;
}

// The busiest conversations across workers. Each worker scans its own cache
// when asked (Worker::serve_top); this thread waits at most 1 s for them.
int top_command(const char*, const char*, rte_tel_data* d) {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_exporter) return -1;
    std::vector<flowgen::ConversationRecord> all;
    for (Worker* w : g_workers) {
        TopConversations& t = w->top();
        const uint32_t ticket = t.requested.fetch_add(1, std::memory_order_acq_rel) + 1;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (t.served.load(std::memory_order_acquire) != ticket) {
            if (std::chrono::steady_clock::now() > deadline) return -1;  // worker stopped or stalled
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        all.insert(all.end(), t.items, t.items + t.count);
    }
    auto octets = [](const flowgen::ConversationRecord& r) { return r.dir[0].octets + r.dir[1].octets; };
    std::sort(all.begin(), all.end(), [&](const auto& a, const auto& b) { return octets(a) > octets(b); });
    if (all.size() > TopConversations::kMax) all.resize(TopConversations::kMax);
    rte_tel_data_start_dict(d);
    for (size_t i = 0; i < all.size(); ++i) {
        const flowgen::ConversationRecord& r = all[i];
        rte_tel_data* c = rte_tel_data_alloc();
        if (!c) return -1;
        rte_tel_data_start_dict(c);
        rte_tel_data_add_dict_string(c, "src", address_text(r.initiator, r.family).c_str());
        rte_tel_data_add_dict_string(c, "dst", address_text(r.responder, r.family).c_str());
        rte_tel_data_add_dict_u64(c, "family", r.family == flowgen::Family::kIpv6 ? 6 : 4);
        rte_tel_data_add_dict_u64(c, "icmp_type", r.key_type);
        rte_tel_data_add_dict_u64(c, "icmp_id", r.icmp_id);
        rte_tel_data_add_dict_u64(c, "packets", r.dir[0].packets + r.dir[1].packets);
        rte_tel_data_add_dict_u64(c, "bytes", octets(r));
        rte_tel_data_add_dict_u64(c, "score", r.detection.score);
        rte_tel_data_add_dict_u64(c, "verdict", r.detection.verdict);
        rte_tel_data_add_dict_container(d, std::to_string(i + 1).c_str(), c, 0);
    }
    return 0;
}

}  // namespace

void register_telemetry(std::span<Worker* const> workers, const ExportLoop& exporter,
                        std::span<const uint16_t> ports, const std::string& xdp_interface) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_workers.assign(workers.begin(), workers.end());
    g_ports.assign(ports.begin(), ports.end());
    g_xdp_interface = xdp_interface;
    g_exporter = &exporter;
    if (!g_registered) {
        rte_telemetry_register_cmd("/echoflow/stats", stats_command,
                                   "echoflow counters: packets, flows, export, alerts. No parameters.");
        rte_telemetry_register_cmd("/echoflow/top", top_command,
                                   "The 10 conversations with the most octets now: addresses, id, packets, bytes, "
                                   "score. No parameters.");
        g_registered = true;
    }
}

void unregister_telemetry() {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_workers.clear();
    g_exporter = nullptr;
}

}  // namespace probe
