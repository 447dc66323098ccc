// The consumer side of the workers' queues: IPFIX export and alert output.
//
// Runs on the main lcore (or inline in the single-threaded modes). Pops
// conversation records and alerts from every worker, hands records to the
// IPFIX exporter and to the conversation log, formats alerts as JSON Lines
// (and syslog), reopens both logs after SIGHUP, and keeps the end-of-run
// counters. Never blocks on a collector (see ipfix_exporter.hpp).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include "detect/alert_json.hpp"
#include "detect/flood_monitor.hpp"
#include "flowgen/ipfix_exporter.hpp"
#include "flowgen/relaxed_counter.hpp"
#include "probe/config.hpp"
#include "probe/log_file.hpp"
#include "probe/worker.hpp"

namespace probe {

struct RunStats;

class ExportLoop {
public:
    ExportLoop();
    ~ExportLoop();
    ExportLoop(const ExportLoop&) = delete;
    ExportLoop& operator=(const ExportLoop&) = delete;

    // Opens collectors, the alert output, the conversation log and the
    // --stats-json file (written at the end, opened now: a probe that has
    // switched to an unprivileged user cannot create it later, and an
    // unwritable path fails the start, not the end; created 0640). `names`
    // resolves signature ids in alerts and conversations (any worker's
    // pipeline: they share one pattern file); nullptr without detection.
    flowgen::Status open(const Config& config, const detect::Pipeline* names);

    // Live ports run on a monotonic clock (probe time, which never steps);
    // records, alerts and export times go out on the wall clock: this many
    // ms are added to every time they carry. The main loop sets it from
    // the wall clock as it runs, so a step of the wall clock changes the
    // timestamps of what is exported after it, never when anything expires.
    // 0 (the default) for captures, whose times are already epoch times.
    void set_wall_offset_ms(int64_t offset_ms) noexcept;

    // The --stats-json file opened by open(), or null. Closed with the loop.
    std::FILE* stats_json_file() const noexcept { return stats_json_; }

    // One conversation record to the exporter and the conversation log (and counters).
    void add_record(const flowgen::ConversationRecord& r, uint64_t now_ms);

    // Pops what the workers queued (bounded per call, and by --export-rate);
    // returns items popped.
    size_t drain(std::span<Worker* const> workers, uint64_t now_ms);
    // Drains until every worker's queues are empty, waiting for the export
    // rate if there is one (end of run: the workers have stopped).
    void drain_all(std::span<Worker* const> workers, uint64_t now_ms);

    // Flushes partial messages, refreshes templates, reconnects TCP;
    // flushes the conversation log and reopens the logs after SIGHUP.
    void poll(uint64_t now_ms, const RunStats& totals);

    // Final flush and options record; closes sockets and the log files.
    void close(uint64_t now_ms, const RunStats& totals);

    // Any thread (telemetry) may read these while the loop runs.
    uint64_t flows_exported() const noexcept { return flows_exported_.get(); }
    uint64_t alerts_written() const noexcept { return alerts_written_.get(); }
    // Conversation records the export rate held back: sent after a wait for
    // the rate, because they came faster than it. Non-zero means the pace,
    // not the traffic, set when records left (and, live, that a longer
    // flood fills the workers' queues: flows_dropped).
    uint64_t records_paced() const noexcept { return records_paced_.get(); }
    // Alert and conversation log lines not written (write error, file closed after a failed reopen).
    uint64_t log_lines_lost() const noexcept { return alerts_.lines_lost() + conversations_.lines_lost(); }
    bool has_exporter() const noexcept { return exporter_ != nullptr; }
    // The flood monitor's counters (zero without detection or with flood_pps 0).
    const detect::FloodMonitorStats& floods() const noexcept { return floods_.stats(); }
    const flowgen::ExporterStats* exporter_stats() const noexcept;

    // For Worker::set_overflow in the single-threaded modes.
    static void overflow_to_exporter(void* self, const flowgen::ConversationRecord& r);

private:
    void write_alert(const AlertEvent& ev);
    // The flood monitor's decisions: alert lines (within its budget) and,
    // for each flood that ended, its IPFIX report.
    void write_floods();
    void write_line();  // line_ to --alerts and syslog
    // --export-rate: a token bucket of records (refilled from the monotonic
    // clock, at most kBurstSeconds of the rate saved up: a burst stays well
    // within a collector's socket buffer). have_token(): a record may go
    // now (always, without a rate); spend_token() when it went;
    // wait_for_token() sleeps until have_token().
    bool have_token() noexcept;
    void spend_token() noexcept;
    void wait_for_token() noexcept;
    static constexpr double kBurstSeconds = 0.01;

    std::unique_ptr<flowgen::IpfixExporter> exporter_;
    // Merges the workers' per-second flood samples and decides (the
    // workers' own clock: capture time offline, probe time live).
    detect::FloodMonitor floods_;
    const detect::Pipeline* names_ = nullptr;
    void reopen_logs();

    LogFile alerts_;
    LogFile conversations_;
    std::FILE* stats_json_ = nullptr;
    uint32_t reopen_seen_ = 0;  // run_control's reopen generation acted on
    bool alerts_syslog_ = false;
    std::string line_;
    uint64_t last_now_ms_ = 0;
    int64_t wall_offset_ms_ = 0;
    double rate_ = 0;          // records per second, 0 = unlimited
    double tokens_ = 0;
    double refilled_at_ = 0;   // monotonic seconds
    bool behind_ = false;      // records waited for the rate since the queues were last empty
    flowgen::RelaxedCounter flows_exported_;  // written by this loop's thread only
    flowgen::RelaxedCounter alerts_written_;
    flowgen::RelaxedCounter records_paced_;
};

}  // namespace probe
