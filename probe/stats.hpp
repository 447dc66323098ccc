// End-of-run and progress counters: gathered from the workers and the
// exporter, written as one JSON object (--stats-json), a human summary, and
// a one-line progress report (--stats-interval).
//
// Accounting identity, checked by the integration tests:
//   rx_packets = icmp_packets + other_packets + malformed_packets
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "flowgen/status.hpp"

namespace probe {

class Worker;
class ExportLoop;

struct RunStats {
    uint64_t rx_packets = 0;
    uint64_t rx_bytes = 0;
    uint64_t icmp_packets = 0;
    uint64_t icmp_octets = 0;       // IP octets of the ICMP packets
    uint64_t icmp_frame_bytes = 0;  // captured bytes of the ICMP packets
    uint64_t other_packets = 0;
    uint64_t malformed_packets = 0;
    uint64_t tcp_packets = 0;
    uint64_t udp_packets = 0;
    uint64_t other_ip_packets = 0;
    uint64_t non_ip_packets = 0;
    uint64_t unattributed_fragments = 0;
    uint64_t flows_created = 0;
    uint64_t flows_active = 0;
    uint64_t flows_evicted = 0;
    uint64_t cache_slots = 0;        // conversation slots of all workers (--pcap: as grown)
    uint64_t cache_doublings = 0;    // times a growing cache doubled (--pcap)
    uint64_t flows_exported = 0;     // conversation records that reached the exporter
    uint64_t flows_dropped = 0;      // conversation records lost to a full queue
    uint64_t records_exported = 0;   // IPFIX data records encoded
    uint64_t messages_sent = 0;
    uint64_t export_errors = 0;
    uint64_t records_not_sent = 0;
    uint64_t alerts = 0;
    uint64_t alerts_dropped = 0;
    uint64_t sender_evictions = 0;  // per-sender evidence entries taken over by another key (detect/source_table.hpp)
    // Filled by the live modes.
    uint64_t nic_missed = 0;    // rte_eth_stats imissed: dropped by the NIC, never seen
    uint64_t nic_errors = 0;    // ierrors
    uint64_t nic_no_mbuf = 0;   // rx_nombuf
    bool have_xdp = false;
    uint64_t xdp_redirected = 0;
    uint64_t xdp_passed = 0;
    uint64_t xdp_dropped = 0;
    double elapsed_seconds = 0;
};

// Sums the workers' and the exporter's counters (workers may still run:
// each counter is read atomically, the sum is a snapshot).
void collect(std::span<Worker* const> workers, const ExportLoop& exporter, RunStats& out);

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
