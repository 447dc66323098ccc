#include "probe/telemetry.hpp"

#include <rte_telemetry.h>

#include <mutex>
#include <vector>

#include "probe/export_loop.hpp"
#include "probe/stats.hpp"
#include "probe/worker.hpp"

namespace probe {

namespace {

std::mutex g_mutex;  // telemetry thread vs. shutdown; never taken on a worker
std::vector<Worker*> g_workers;
const ExportLoop* g_exporter = nullptr;
bool g_registered = false;

int stats_command(const char*, const char*, rte_tel_data* d) {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_exporter) return -1;
    RunStats s;
    collect(g_workers, *g_exporter, s);
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "rx_packets", s.rx_packets);
    rte_tel_data_add_dict_u64(d, "rx_bytes", s.rx_bytes);
    rte_tel_data_add_dict_u64(d, "icmp_packets", s.icmp_packets);
    rte_tel_data_add_dict_u64(d, "other_packets", s.other_packets);
    rte_tel_data_add_dict_u64(d, "malformed_packets", s.malformed_packets);
    rte_tel_data_add_dict_u64(d, "flows_created", s.flows_created);
    rte_tel_data_add_dict_u64(d, "flows_active", s.flows_active);
    rte_tel_data_add_dict_u64(d, "flows_evicted", s.flows_evicted);
    rte_tel_data_add_dict_u64(d, "flows_exported", s.flows_exported);
    rte_tel_data_add_dict_u64(d, "flows_dropped", s.flows_dropped);
    rte_tel_data_add_dict_u64(d, "records_exported", s.records_exported);
    rte_tel_data_add_dict_u64(d, "export_errors", s.export_errors);
    rte_tel_data_add_dict_u64(d, "alerts", s.alerts);
    return 0;
}

}  // namespace

void register_telemetry(std::span<Worker* const> workers, const ExportLoop& exporter) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_workers.assign(workers.begin(), workers.end());
    g_exporter = &exporter;
    if (!g_registered) {
        rte_telemetry_register_cmd("/echoflow/stats", stats_command,
                                   "echoflow counters: packets, flows, export, alerts. No parameters.");
        g_registered = true;
    }
}

void unregister_telemetry() {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_workers.clear();
    g_exporter = nullptr;
}

}  // namespace probe
