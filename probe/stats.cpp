#include "probe/stats.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <string_view>

#include <sys/stat.h>
#include <unistd.h>

#include "probe/export_loop.hpp"
#include "probe/worker.hpp"

namespace probe {

void collect(std::span<Worker* const> workers, const ExportLoop& exporter, RunStats& s) {
#define ECHOFLOW_ZERO(name, ...) s.name = 0;
    ECHOFLOW_WORKER_COUNTERS(ECHOFLOW_ZERO)
    ECHOFLOW_CACHE_COUNTERS(ECHOFLOW_ZERO)
    ECHOFLOW_EXPORT_COUNTERS(ECHOFLOW_ZERO)
#undef ECHOFLOW_ZERO
    // Each counter is exact at some instant while the workers run (not a
    // consistent snapshot across counters), exact once they have stopped.
    for (const Worker* w : workers) {
        const WorkerStats& ws = w->stats();
#define ECHOFLOW_SUM_WORKER(name, description) s.name += ws.name.get();
#define ECHOFLOW_SUM_CACHE(name, expr, description) s.name += (expr);
        ECHOFLOW_WORKER_COUNTERS(ECHOFLOW_SUM_WORKER)
        ECHOFLOW_CACHE_COUNTERS(ECHOFLOW_SUM_CACHE)
#undef ECHOFLOW_SUM_WORKER
#undef ECHOFLOW_SUM_CACHE
    }
    // Without a collector there is no exporter: its counters stay 0.
    static const flowgen::ExporterStats kNoExporter{};
    const flowgen::ExporterStats* es = exporter.exporter_stats();
    if (es == nullptr) es = &kNoExporter;
#define ECHOFLOW_READ_EXPORT(name, expr, description) s.name = (expr);
    ECHOFLOW_EXPORT_COUNTERS(ECHOFLOW_READ_EXPORT)
#undef ECHOFLOW_READ_EXPORT
}

std::string stats_json(const RunStats& s) {
    std::string out = "{";
    char buf[64];
    for (const CounterInfo& c : kCounters) {
        if (!reported(c, s)) continue;
        std::snprintf(buf, sizeof buf, "%" PRIu64, s.*c.field);
        out += '"';
        out += c.name;  // [a-z_] only: no escaping needed
        out += "\":";
        out += buf;
        out += ',';
    }
    std::snprintf(buf, sizeof buf, "\"elapsed_seconds\":%.6f}\n", s.elapsed_seconds);
    return out + buf;
}

flowgen::Status write_stats_json(std::FILE* f, const std::string& path, const RunStats& s) {
    // A regular file is rewritten from the start; a pipe or terminal just gets the line.
    struct stat st {};
    if (std::fflush(f) != 0 || ::fstat(::fileno(f), &st) != 0 ||
        (S_ISREG(st.st_mode) && (::ftruncate(::fileno(f), 0) != 0 || std::fseek(f, 0, SEEK_SET) != 0)))
        return flowgen::Status::error("stats json " + path + ": " + std::strerror(errno));
    const std::string text = stats_json(s);
    if (std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fflush(f) != 0 || std::ferror(f) != 0)
        return flowgen::Status::error("stats json " + path + ": write failed");
    return {};
}

namespace {

// " vlan 12 vxlan 40 (1 malformed)": the encapsulation kinds seen, from the
// decap_* counters of the table; empty when none.
std::string decap_text(const RunStats& s) {
    std::string out;
    char buf[96];
    for (const CounterInfo& c : kCounters) {
        const std::string_view name = c.name;
        if (!name.starts_with("decap_") || !name.ends_with("_packets") || s.*c.field == 0) continue;
        const std::string_view kind = name.substr(6, name.size() - 6 - 8);
        std::snprintf(buf, sizeof buf, " %.*s %" PRIu64, static_cast<int>(kind.size()), kind.data(), s.*c.field);
        out += buf;
        const std::string malformed = std::string(name.substr(0, name.size() - 7)) + "malformed";
        for (const CounterInfo& m : kCounters) {
            if (m.name != malformed || s.*m.field == 0) continue;
            std::snprintf(buf, sizeof buf, " (%" PRIu64 " malformed)", s.*m.field);
            out += buf;
        }
    }
    return out;
}

}  // namespace

flowgen::Status check_stats_json_path(const std::string& path) {
    const std::string where = "stats json " + path;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return flowgen::Status::error(where + ": is a directory");
        if (::access(path.c_str(), W_OK) != 0) return flowgen::Status::error(where + ": " + std::strerror(errno));
        return {};
    }
    if (errno != ENOENT) return flowgen::Status::error(where + ": " + std::strerror(errno));
    // The file is created at the end: its directory must exist and take it.
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    if (::stat(dir.c_str(), &st) != 0)
        return flowgen::Status::error(where + ": directory " + dir + ": " + std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) return flowgen::Status::error(where + ": " + dir + " is not a directory");
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
        return flowgen::Status::error(where + ": directory " + dir + ": " + std::strerror(errno));
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
    if (const std::string decap = decap_text(s); !decap.empty() || s.mirror_duplicates)
        std::fprintf(out, "  decap     %s, %" PRIu64 " mirror duplicates dropped\n", decap.empty() ? " none" : decap.c_str(),
                     s.mirror_duplicates);
    std::fprintf(out,
                 "  flows      %" PRIu64 " conversations, %" PRIu64 " evicted (cache full), %" PRIu64
                 " records exported, %" PRIu64 " lost to a full queue\n"
                 "  ipfix      %" PRIu64 " data records in %" PRIu64 " messages, %" PRIu64 " send errors, %" PRIu64
                 " records not sent\n"
                 "  alerts     %" PRIu64 "%s\n",
                 s.flows_created, s.flows_evicted, s.flows_exported, s.flows_dropped, s.records_exported,
                 s.messages_sent, s.export_errors, s.records_not_sent, s.alerts,
                 s.alerts_dropped ? " (some lost to a full queue)" : "");
    if (s.pattern_scan_errors)
        std::fprintf(out, "  patterns   %" PRIu64 " Hyperscan scans failed (their patterns went unmatched)\n",
                     s.pattern_scan_errors);
    if (s.singletons_folded)
        std::fprintf(out,
                     "  fold       %" PRIu64 " one-packet conversations in %" PRIu64 " aggregate records (--fold-above), %" PRIu64
                     " of them in a catch-all\n",
                     s.singletons_folded, s.aggregate_records, s.fold_catch_all);
    if (s.inspections_deferred)
        std::fprintf(out,
                     "  flood      %" PRIu64 " first packets not inspected at once (--defer-above), %" PRIu64
                     " inspected through their reply\n",
                     s.inspections_deferred, s.deferred_inspected_on_reply);
    if (s.records_paced)
        std::fprintf(out, "  pace       %" PRIu64 " records waited for --export-rate (they came faster than it)\n",
                     s.records_paced);
    if (s.floods_started || s.flood_victims_dropped)
        std::fprintf(out,
                     "  floods     %" PRIu64 " started, %" PRIu64 " ended, %" PRIu64 " active; %" PRIu64
                     " alerts over --flood-alert-rate, %" PRIu64 " victims beyond --flood-victims\n",
                     s.floods_started, s.floods_ended, s.floods_active, s.flood_alerts_suppressed,
                     s.flood_victims_dropped);
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
    std::string line = buf;
    if (const std::string decap = decap_text(now); !decap.empty()) line += ", decap" + decap;
    if (now.mirror_duplicates) line += ", mirror duplicates " + std::to_string(now.mirror_duplicates);
    if (now.singletons_folded) line += ", folded " + std::to_string(now.singletons_folded);
    if (now.inspections_deferred) line += ", inspections deferred " + std::to_string(now.inspections_deferred);
    if (now.floods_started)
        line += ", floods " + std::to_string(now.floods_active) + " active / " + std::to_string(now.floods_started) +
                " started";
    return line;
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
    if (std::FILE* f = exporter.stats_json_file()) written = write_stats_json(f, config.stats_json_path, totals);
    if (!config.quiet) print_summary(stderr, totals);
    return written;
}

}  // namespace probe
