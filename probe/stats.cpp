#include "probe/stats.hpp"

#include <cerrno>
#include <cinttypes>
#include <cstring>

#include "probe/export_loop.hpp"
#include "probe/worker.hpp"

namespace probe {

void collect(std::span<Worker* const> workers, const ExportLoop& exporter, RunStats& s) {
    const bool have_xdp = s.have_xdp;
    const uint64_t xr = s.xdp_redirected, xp = s.xdp_passed, xd = s.xdp_dropped;
    const uint64_t nm = s.nic_missed, ne = s.nic_errors, nn = s.nic_no_mbuf;
    const double elapsed = s.elapsed_seconds;
    s = RunStats{};
    s.have_xdp = have_xdp;
    s.xdp_redirected = xr;
    s.xdp_passed = xp;
    s.xdp_dropped = xd;
    s.nic_missed = nm;
    s.nic_errors = ne;
    s.nic_no_mbuf = nn;
    s.elapsed_seconds = elapsed;
    for (const Worker* w : workers) {
        const WorkerStats& ws = w->stats();
        s.rx_packets += ws.rx_packets.get();
        s.rx_bytes += ws.rx_bytes.get();
        s.icmp_packets += ws.icmp_packets.get();
        s.icmp_octets += ws.icmp_octets.get();
        s.icmp_frame_bytes += ws.icmp_frame_bytes.get();
        s.other_packets += ws.other_packets.get();
        s.malformed_packets += ws.malformed_packets.get();
        s.tcp_packets += ws.tcp_packets.get();
        s.udp_packets += ws.udp_packets.get();
        s.other_ip_packets += ws.other_ip_packets.get();
        s.non_ip_packets += ws.non_ip_packets.get();
        s.unattributed_fragments += ws.unattributed_fragments.get();
        s.flows_dropped += ws.records_dropped.get();
        s.alerts += ws.alerts.get();
        s.alerts_dropped += ws.alerts_dropped.get();
        // Each counter is exact at some instant while the worker runs (not a
        // consistent snapshot across counters), exact once it has stopped.
        const flowgen::FlowCacheStats& cs = w->cache_stats();
        s.flows_created += cs.created.get();
        s.flows_active += cs.active.get();
        s.flows_evicted += cs.evicted.get();
        s.cache_slots += w->cache_slots();
        s.cache_doublings += cs.grown.get();
    }
    // One sender table shared by every worker: read it once.
    if (!workers.empty())
        if (const detect::SourceTable* t = workers[0]->detectors().senders()) s.sender_evictions = t->evictions();
    s.flows_exported = exporter.flows_exported();
    if (const flowgen::ExporterStats* es = exporter.exporter_stats()) {
        s.records_exported = es->records_exported.get();
        s.messages_sent = es->messages_sent.get();
        s.export_errors = es->export_errors.get();
        s.records_not_sent = es->records_not_sent.get();
    }
}

flowgen::Status write_stats_json(const std::string& path, const RunStats& s) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return flowgen::Status::error("stats json " + path + ": " + std::strerror(errno));
    std::fprintf(f,
                 "{\"rx_packets\":%" PRIu64 ",\"rx_bytes\":%" PRIu64 ",\"icmp_packets\":%" PRIu64 ",\"icmp_octets\":%" PRIu64
                 ",\"other_packets\":%" PRIu64 ",\"malformed_packets\":%" PRIu64 ",\"tcp_packets\":%" PRIu64
                 ",\"udp_packets\":%" PRIu64 ",\"other_ip_packets\":%" PRIu64 ",\"non_ip_packets\":%" PRIu64
                 ",\"unattributed_fragments\":%" PRIu64 ",\"flows_created\":%" PRIu64 ",\"flows_active\":%" PRIu64
                 ",\"flows_evicted\":%" PRIu64 ",\"flows_exported\":%" PRIu64 ",\"flows_dropped\":%" PRIu64
                 ",\"records_exported\":%" PRIu64 ",\"messages_sent\":%" PRIu64 ",\"export_errors\":%" PRIu64
                 ",\"records_not_sent\":%" PRIu64 ",\"alerts\":%" PRIu64 ",\"alerts_dropped\":%" PRIu64
                 ",\"nic_missed\":%" PRIu64 ",\"nic_errors\":%" PRIu64 ",\"nic_no_mbuf\":%" PRIu64
                 ",\"cache_slots\":%" PRIu64 ",\"cache_doublings\":%" PRIu64 ",\"sender_evictions\":%" PRIu64,
                 s.rx_packets, s.rx_bytes, s.icmp_packets, s.icmp_octets, s.other_packets, s.malformed_packets, s.tcp_packets,
                 s.udp_packets, s.other_ip_packets, s.non_ip_packets, s.unattributed_fragments, s.flows_created,
                 s.flows_active, s.flows_evicted, s.flows_exported, s.flows_dropped, s.records_exported,
                 s.messages_sent, s.export_errors, s.records_not_sent, s.alerts, s.alerts_dropped, s.nic_missed,
                 s.nic_errors, s.nic_no_mbuf, s.cache_slots, s.cache_doublings, s.sender_evictions);
    if (s.have_xdp)
        std::fprintf(f, ",\"xdp_redirected\":%" PRIu64 ",\"xdp_passed\":%" PRIu64 ",\"xdp_dropped\":%" PRIu64,
                     s.xdp_redirected, s.xdp_passed, s.xdp_dropped);
    std::fprintf(f, ",\"elapsed_seconds\":%.6f}\n", s.elapsed_seconds);
    const bool ok = std::ferror(f) == 0;
    if (std::fclose(f) != 0 || !ok) return flowgen::Status::error("stats json " + path + ": write failed");
    return {};
}

void print_summary(std::FILE* out, const RunStats& s) {
    const double secs = s.elapsed_seconds > 0 ? s.elapsed_seconds : 1e-9;
    std::fprintf(out,
                 "echoflow summary\n"
                 "  packets    %" PRIu64 " received (%" PRIu64 " bytes) in %.3f s, %.3f Mpps\n"
                 "             %" PRIu64 " icmp, %" PRIu64 " other (tcp %" PRIu64 ", udp %" PRIu64
                 ", other ip %" PRIu64 ", non-ip %" PRIu64 "), %" PRIu64 " malformed\n",
                 s.rx_packets, s.rx_bytes, s.elapsed_seconds, s.rx_packets / secs / 1e6, s.icmp_packets,
                 s.other_packets, s.tcp_packets, s.udp_packets, s.other_ip_packets, s.non_ip_packets,
                 s.malformed_packets);
    if (s.nic_missed || s.nic_errors || s.nic_no_mbuf)
        std::fprintf(out, "  nic        %" PRIu64 " missed, %" PRIu64 " errors, %" PRIu64 " no-mbuf\n", s.nic_missed,
                     s.nic_errors, s.nic_no_mbuf);
    if (s.have_xdp)
        std::fprintf(out, "  xdp        %" PRIu64 " redirected, %" PRIu64 " passed, %" PRIu64 " dropped\n",
                     s.xdp_redirected, s.xdp_passed, s.xdp_dropped);
    std::fprintf(out,
                 "  flows      %" PRIu64 " conversations, %" PRIu64 " evicted (cache full), %" PRIu64
                 " records exported, %" PRIu64 " lost to a full queue\n"
                 "  ipfix      %" PRIu64 " data records in %" PRIu64 " messages, %" PRIu64 " send errors, %" PRIu64
                 " records not sent\n"
                 "  alerts     %" PRIu64 "%s\n",
                 s.flows_created, s.flows_evicted, s.flows_exported, s.flows_dropped, s.records_exported,
                 s.messages_sent, s.export_errors, s.records_not_sent, s.alerts,
                 s.alerts_dropped ? " (some lost to a full queue)" : "");
}

std::string progress_line(const RunStats& now, const RunStats& before, double seconds) {
    if (seconds <= 0) seconds = 1e-9;
    char buf[384];
    std::snprintf(buf, sizeof buf,
                  "echoflow: rx %.3f Mpps (icmp %.3f Mpps), nic drops %" PRIu64 ", malformed %" PRIu64
                  ", flows %" PRIu64 " active / %" PRIu64 " exported, evicted %" PRIu64 ", alerts %" PRIu64
                  ", ipfix %" PRIu64 " records, %" PRIu64 " send errors",
                  (now.rx_packets - before.rx_packets) / seconds / 1e6,
                  (now.icmp_packets - before.icmp_packets) / seconds / 1e6, now.nic_missed + now.nic_no_mbuf,
                  now.malformed_packets, now.flows_active, now.flows_exported, now.flows_evicted, now.alerts,
                  now.records_exported, now.export_errors);
    return buf;
}

ProgressReport::ProgressReport(uint32_t interval_s, double now_s) : interval_s_(interval_s), last_s_(now_s) {}

void ProgressReport::maybe_print(const RunStats& totals, double now_s) {
    if (interval_s_ == 0 || now_s < last_s_ + interval_s_) return;
    std::fprintf(stderr, "%s\n", progress_line(totals, last_, now_s - last_s_).c_str());
    last_ = totals;
    last_s_ = now_s;
}

flowgen::Status end_of_run(const Config& config, std::span<Worker* const> workers, ExportLoop& exporter,
                           uint64_t now_ms, RunStats& totals) {
    collect(workers, exporter, totals);
    exporter.close(now_ms, totals);
    collect(workers, exporter, totals);  // the exporter's last messages counted
    flowgen::Status written;
    if (!config.stats_json_path.empty()) written = write_stats_json(config.stats_json_path, totals);
    if (!config.quiet) print_summary(stderr, totals);
    return written;
}

}  // namespace probe
