// To add a counter: add a row to the group below that says where its value
// comes from, then fill it in (WORKER: count it in probe/worker.cpp; the other
// groups: the expression or the code named in the group's comment).
//
// The run's counters, declared once. WorkerStats, RunStats, collect(), the
// --stats-json object and telemetry's /echoflow/stats are all generated from
// these lists, so a counter cannot be in one and missing from another. The
// human summary and the progress line pick the counters worth a person's
// attention by name (probe/stats.cpp); the IPFIX metering record (RFC 7011
// §4.1) is derived from them in process_stats() (probe/export_loop.cpp).
//
// Columns: X(name, [source,] description). Names are the JSON and telemetry
// keys: stable, snake_case.
#pragma once

#include <cstddef>
#include <cstdint>

// Counted by the worker lcore itself (WorkerStats, relaxed counters), summed
// over the workers.
#define ECHOFLOW_WORKER_COUNTERS(X)                                                            \
    X(rx_packets, "frames handed to a worker")                                                 \
    X(rx_bytes, "their captured bytes")                                                        \
    X(icmp_packets, "ICMP and ICMPv6 packets metered")                                         \
    X(icmp_octets, "their IP octets (IP header and payload, the IPFIX meaning)")               \
    X(icmp_frame_bytes, "their captured bytes")                                                \
    X(other_packets, "frames that are not ICMP: tcp + udp + other_ip + non_ip")                \
    X(malformed_packets, "frames too short or inconsistent to parse")                          \
    X(tcp_packets, "TCP packets (ignored)")                                                    \
    X(udp_packets, "UDP packets (ignored)")                                                    \
    X(other_ip_packets, "IP packets of other protocols (ignored)")                             \
    X(non_ip_packets, "frames that carry no IP (ignored)")                                     \
    X(unattributed_fragments, "non-first fragments whose first fragment was not seen")         \
    X(records_queued, "conversation records handed to the exporter")                           \
    X(flows_dropped, "conversation records lost to a full exporter queue")                     \
    X(alerts, "alerts raised")                                                                 \
    X(alerts_dropped, "alerts lost to a full alert queue")

// Read from each worker's conversation cache (`w` is a const Worker*),
// summed over the workers.
#define ECHOFLOW_CACHE_COUNTERS(X)                                                             \
    X(flows_created, w->cache_stats().created.get(), "conversations created")                  \
    X(flows_active, w->cache_stats().active.get(), "conversations in the caches now")          \
    X(flows_evicted, w->cache_stats().evicted.get(),                                           \
      "conversations exported early because their cache set was full (flowEndReason 5)")       \
    X(cache_slots, w->cache_slots(), "conversation slots of all workers (--pcap: as grown)")    \
    X(cache_doublings, w->cache_stats().grown.get(), "times a growing cache doubled (--pcap)")  \
    /* One sender table shared by every worker (detect/source_table.hpp): read it once. */      \
    X(sender_evictions, w == workers[0] ? w->sender_evictions() : 0,                             \
      "per-sender evidence entries taken over by another host (fixed table, direct-mapped)")

// Read from the exporter (`exporter` is the ExportLoop; `es` its
// flowgen::ExporterStats, never null where these are read).
#define ECHOFLOW_EXPORT_COUNTERS(X)                                                            \
    X(flows_exported, exporter.flows_exported(), "conversation records that reached the exporter") \
    X(records_exported, es->records_exported.get(), "IPFIX data records encoded")              \
    X(messages_sent, es->messages_sent.get(), "IPFIX messages sent")                           \
    X(export_errors, es->export_errors.get(), "IPFIX messages a collector did not take")       \
    X(records_not_sent, es->records_not_sent.get(), "IPFIX data records never delivered")

// Set by the live modes from the ports (rte_eth_stats, probe/dpdk/live.cpp
// read_port_counters); 0 with --pcap.
#define ECHOFLOW_PORT_COUNTERS(X)                                                              \
    X(nic_missed, "frames the NIC dropped for lack of room in the RX ring (imissed)")          \
    X(nic_errors, "erroneous frames the NIC received (ierrors)")                               \
    X(nic_no_mbuf, "frames dropped for lack of an mbuf (rx_nombuf)")

// Set with --interface from the XDP program's counters (probe/dpdk/xdp_stats.cpp);
// written only when RunStats::have_xdp.
#define ECHOFLOW_XDP_COUNTERS(X)                                                               \
    X(xdp_redirected, "frames the XDP program sent to the AF_XDP sockets")                     \
    X(xdp_passed, "frames it left to the kernel")                                              \
    X(xdp_dropped, "frames it dropped (--xdp-drop-other)")

namespace probe {

// Run totals: one uint64_t per counter of every group.
struct RunStats {
#define ECHOFLOW_FIELD(name, ...) uint64_t name = 0;
    ECHOFLOW_WORKER_COUNTERS(ECHOFLOW_FIELD)
    ECHOFLOW_CACHE_COUNTERS(ECHOFLOW_FIELD)
    ECHOFLOW_EXPORT_COUNTERS(ECHOFLOW_FIELD)
    ECHOFLOW_PORT_COUNTERS(ECHOFLOW_FIELD)
    ECHOFLOW_XDP_COUNTERS(ECHOFLOW_FIELD)
#undef ECHOFLOW_FIELD
    bool have_xdp = false;
    double elapsed_seconds = 0;
};

enum class CounterSource : uint8_t { kWorker, kCache, kExport, kPort, kXdp };

struct CounterInfo {
    const char* name;
    uint64_t RunStats::*field;
    CounterSource source;
    const char* description;
};

// Every counter, in the order of the lists above.
inline constexpr CounterInfo kCounters[] = {
#define ECHOFLOW_ROW(name, source, description) {#name, &RunStats::name, CounterSource::source, description},
#define ECHOFLOW_WORKER_ROW(name, description) ECHOFLOW_ROW(name, kWorker, description)
#define ECHOFLOW_CACHE_ROW(name, expr, description) ECHOFLOW_ROW(name, kCache, description)
#define ECHOFLOW_EXPORT_ROW(name, expr, description) ECHOFLOW_ROW(name, kExport, description)
#define ECHOFLOW_PORT_ROW(name, description) ECHOFLOW_ROW(name, kPort, description)
#define ECHOFLOW_XDP_ROW(name, description) ECHOFLOW_ROW(name, kXdp, description)
    ECHOFLOW_WORKER_COUNTERS(ECHOFLOW_WORKER_ROW)
    ECHOFLOW_CACHE_COUNTERS(ECHOFLOW_CACHE_ROW)
    ECHOFLOW_EXPORT_COUNTERS(ECHOFLOW_EXPORT_ROW)
    ECHOFLOW_PORT_COUNTERS(ECHOFLOW_PORT_ROW)
    ECHOFLOW_XDP_COUNTERS(ECHOFLOW_XDP_ROW)
#undef ECHOFLOW_ROW
#undef ECHOFLOW_WORKER_ROW
#undef ECHOFLOW_CACHE_ROW
#undef ECHOFLOW_EXPORT_ROW
#undef ECHOFLOW_PORT_ROW
#undef ECHOFLOW_XDP_ROW
};

// Whether a counter is reported for this run (the XDP ones only with XDP).
constexpr bool reported(const CounterInfo& c, const RunStats& s) noexcept {
    return c.source != CounterSource::kXdp || s.have_xdp;
}

}  // namespace probe
