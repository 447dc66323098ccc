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
    X(other_ip_octets, "IP octets of the tcp, udp and other_ip packets (ignoredOctetTotalCount)") \
    X(non_ip_packets, "frames that carry no IP (ignored)")                                     \
    X(unattributed_fragments, "non-first fragments whose first fragment was not seen")         \
    X(records_queued, "conversation records handed to the exporter")                           \
    X(flows_dropped, "conversation records lost to a full exporter queue")                     \
    X(singletons_folded, "one-packet conversations folded into aggregate records past --fold-above a second") \
    X(aggregate_records, "aggregate records of folded one-packet conversations (in records_queued)") \
    X(fold_catch_all, "of singletons_folded, those in a family's catch-all aggregate (fold table full)") \
    X(alerts, "alerts raised")                                                                 \
    X(alerts_dropped, "alerts lost to a full alert queue")                                     \
    X(mirror_duplicates, "ICMP packets dropped as a mirror's second copy (--dedup-window), not in icmp_packets") \
    X(spread_software_packets, "ICMP frames assigned to a worker by software from their (inner) addresses") \
    X(spread_software_tunnelled, "of those, frames in a tunnel or behind MPLS (RSS saw only the outer header)") \
    X(pattern_scan_errors, "Hyperscan scans that failed (hs_scan error): those patterns went unmatched") \
    X(flood_samples_dropped, "per-interval flood samples lost to a full queue to the exporter")          \
    ECHOFLOW_DECAP_COUNTERS(X)

// Per encapsulation kind, in flowgen::Encap order (README "Remote and cloud
// mirrors"): frames that went through a header of the kind (any outcome),
// and malformed frames whose bad header was of the kind (IP-in-IP has no
// header of its own: a bad inner IP header is a bad IP header). A worker counts
// them through kEncapCounters (probe/worker.hpp).
#define ECHOFLOW_DECAP_COUNTERS(X)                                                             \
    X(decap_vlan_packets, "frames with 802.1Q/802.1ad tags")                                   \
    X(decap_vlan_malformed, "malformed: a VLAN tag cut short or too many tags")                \
    X(decap_mpls_packets, "frames with an MPLS label stack")                                   \
    X(decap_mpls_malformed, "malformed: label stack cut short, too deep or empty")             \
    X(decap_pseudowire_packets, "frames in an MPLS Ethernet pseudowire")                       \
    X(decap_pseudowire_malformed, "malformed: pseudowire frame cut short")                     \
    X(decap_ipip_packets, "IP-in-IP, 6in4, 4in6, 6in6 packets entered")                        \
    X(decap_gre_packets, "GRE packets carrying IPv4, IPv6 or MPLS")                            \
    X(decap_gre_malformed, "malformed: GRE header cut short")                                  \
    X(decap_gre_teb_packets, "GRE transparent Ethernet bridging (0x6558) frames")              \
    X(decap_gre_teb_malformed, "malformed: GRE-TEB inner frame cut short")                     \
    X(decap_erspan1_packets, "ERSPAN type I frames")                                           \
    X(decap_erspan1_malformed, "malformed: ERSPAN I inner frame cut short")                    \
    X(decap_erspan2_packets, "ERSPAN type II frames")                                          \
    X(decap_erspan2_malformed, "malformed: ERSPAN II header cut short or not version 1")       \
    X(decap_erspan3_packets, "ERSPAN type III frames")                                         \
    X(decap_erspan3_malformed, "malformed: ERSPAN III header cut short or not version 2")      \
    X(decap_vxlan_packets, "VXLAN frames (UDP 4789, 8472, --vxlan-port)")                      \
    X(decap_vxlan_malformed, "malformed: VXLAN header cut short or without the I flag")        \
    X(decap_geneve_packets, "Geneve frames (UDP 6081)")                                        \
    X(decap_geneve_malformed, "malformed: Geneve header or options cut short, or version != 0")

// Read from each worker's conversation cache (`w` is a const Worker*),
// summed over the workers.
#define ECHOFLOW_CACHE_COUNTERS(X)                                                             \
    X(flows_created, w->cache_stats().created.get(), "conversations created")                  \
    X(flows_active, w->cache_stats().active.get(), "conversations in the caches now")          \
    X(flows_evicted, w->cache_stats().evicted.get(),                                           \
      "conversations exported early because their cache set was full (flowEndReason 5)")       \
    X(cache_slots, w->cache_slots(), "conversation slots of all workers (--pcap: as grown)")    \
    X(cache_doublings, w->cache_stats().grown.get(), "times a growing cache doubled (--pcap)")  \
    X(inspections_deferred, w->detectors().defer_stats().deferred.get(),                      \
      "first packets of new conversations not inspected at once: over --defer-above")          \
    X(deferred_inspected_on_reply, w->detectors().defer_stats().inspected_on_reply.get(),      \
      "of those, inspected later through their echo reply (same data, RFC 792)")               \
    X(defer_windows, w->detectors().defer_stats().pressure_windows.get(),                      \
      "100 ms windows in which a worker opened more than --defer-above/10 conversations")      \
    /* One sender table shared by every worker (detect/source_table.hpp): read it once. */      \
    X(sender_evictions, w == workers[0] ? w->sender_evictions() : 0,                             \
      "per-sender evidence entries taken over by another host (fixed table, direct-mapped)")     \
    X(flood_tracker_evictions, w->flood_tracker_evictions(),                                   \
      "destinations whose flood count of the second was taken over by another (fixed table, 2-way)") \
    X(flood_reports_capped, w->flood_reports_capped(),                                         \
      "destinations above the flood report minimum not reported (more than 16 in a second on a worker)")

// Read from the exporter (`exporter` is the ExportLoop; `es` its
// flowgen::ExporterStats, never null where these are read).
#define ECHOFLOW_EXPORT_COUNTERS(X)                                                            \
    X(flows_exported, exporter.flows_exported(), "conversation records that reached the exporter") \
    X(records_exported, es->records_exported.get(), "IPFIX data records encoded")              \
    X(messages_sent, es->messages_sent.get(), "IPFIX messages sent")                           \
    X(export_errors, es->export_errors.get(), "IPFIX messages a collector did not take")       \
    X(records_not_sent, es->records_not_sent.get(), "IPFIX data records never delivered") \
    X(log_lines_lost, exporter.log_lines_lost(),                                              \
      "--alerts/--conversations lines not written (write error, failed reopen after SIGHUP)")   \
    X(records_paced, exporter.records_paced(),                                                 \
      "conversation records that waited for --export-rate (they came faster than the pace)")    \
    X(floods_started, exporter.floods().started.get(), "spoofed-source floods detected (verdict flood)") \
    X(floods_ended, exporter.floods().ended.get(), "floods over (closing report sent)")        \
    X(floods_active, exporter.floods().active.get(), "floods going on now")                    \
    X(flood_alerts_suppressed, exporter.floods().alerts_suppressed.get(),                      \
      "flood start or end alerts over --flood-alert-rate a second (the IPFIX report still goes)") \
    X(flood_victims_dropped, exporter.floods().victims_dropped.get(),                          \
      "flood samples of a victim the full victim table could not take")

// Set by the live modes from the ports (rte_eth_stats, probe/dpdk/live.cpp
// read_port_counters; the rss_* ones once, when the ports are set up,
// probe/spread.hpp); 0 with --pcap.
#define ECHOFLOW_PORT_COUNTERS(X)                                                              \
    X(nic_missed, "frames the NIC dropped for lack of room in the RX ring (imissed)")          \
    X(nic_errors, "erroneous frames the NIC received (ierrors)")                               \
    X(nic_no_mbuf, "frames dropped for lack of an mbuf (rx_nombuf)")                          \
    X(rss_inner_ports, "ports whose NIC spreads tunnelled frames by the inner header (RSS level innermost)") \
    X(rss_outer_ports, "ports with RSS on the outer header only: tunnelled ICMP is spread in software")

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
