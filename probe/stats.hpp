// End-of-run and progress counters: gathered from the workers and the
// exporter, written as one JSON object (--stats-json), a human summary, and
// a one-line progress report (--stats-interval).
//
// Accounting identity, checked by the integration tests:
//   rx_packets = icmp_packets + other_packets + malformed_packets + mirror_duplicates
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "flowgen/status.hpp"
#include "probe/counters.hpp"

namespace probe {

class Worker;
class ExportLoop;

// Sums the workers' and the exporter's counters into `out` (workers may
// still run: each counter is read atomically, the sum is a snapshot). The
// port and XDP counters, have_xdp and elapsed_seconds are kept as the caller
// set them.
void collect(std::span<Worker* const> workers, const ExportLoop& exporter, RunStats& out);

// The counters as one JSON object: every reported counter of kCounters, then
// elapsed_seconds.
std::string stats_json(const RunStats& s);
flowgen::Status write_stats_json(const std::string& path, const RunStats& s);

struct Config;

// The end of every run, once the workers have flushed and their queues are
// drained: final counters, the exporter's last messages (options record
// included), --stats-json, and the summary on stderr unless --quiet. `totals`
// keeps what the caller set (elapsed time, NIC and XDP counters). Fails only
// when --stats-json cannot be written.
flowgen::Status end_of_run(const Config& config, std::span<Worker* const> workers, ExportLoop& exporter,
                           uint64_t now_ms, RunStats& totals);
void print_summary(std::FILE* out, const RunStats& s);
// "rx 1.2 Mpps, icmp 0.3 Mpps, drops 0, flows 12345 active, ..." since `before`.
std::string progress_line(const RunStats& now, const RunStats& before, double seconds);

// The periodic one-line report on stderr (--stats-interval): prints when
// the interval has passed since the last line, rates over that interval.
class ProgressReport {
public:
    ProgressReport(uint32_t interval_s, double now_s);
    void maybe_print(const RunStats& totals, double now_s);

private:
    uint32_t interval_s_;
    double last_s_;
    RunStats last_;
};

}  // namespace probe
