// One worker: everything a receive lcore does with a frame, without DPDK.
//
// parse -> count -> conversation cache -> detectors -> (records, alerts) to
// the exporter through SPSC queues. The same Worker runs behind live DPDK
// ports, AF_XDP and the offline --pcap reader, so every input goes through
// the same code.
//
// A Worker belongs to one lcore. Its counters are written only by that lcore
// (relaxed atomics, so the main lcore may read them for progress reports);
// its queues have that lcore as the only producer and the exporter as the
// only consumer.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "detect/flood.hpp"
#include "detect/pipeline.hpp"
#include "flowgen/flow_cache.hpp"
#include "flowgen/mirror_dedup.hpp"
#include "flowgen/packet.hpp"
#include "flowgen/relaxed_counter.hpp"
#include "flowgen/singleton_fold.hpp"
#include "flowgen/spsc_queue.hpp"
#include "probe/counters.hpp"

namespace probe {

// A counter written by one lcore and read by others: a relaxed load and store
// (a plain mov on x86), never a locked read-modify-write.
using Counter = flowgen::RelaxedCounter;

// The counters of probe/counters.hpp's worker group; only this worker's
// lcore writes them.
struct WorkerStats {
#define ECHOFLOW_FIELD(name, description) Counter name;
    ECHOFLOW_WORKER_COUNTERS(ECHOFLOW_FIELD)
#undef ECHOFLOW_FIELD
};

// The decap_* counters of each flowgen::Encap kind (index 0, kNone, has
// none; IP-in-IP has no malformed counter).
struct EncapCounters {
    Counter WorkerStats::*packets;
    Counter WorkerStats::*malformed;
};
inline constexpr EncapCounters kEncapCounters[flowgen::kEncapCount] = {
    {nullptr, nullptr},
    {&WorkerStats::decap_vlan_packets, &WorkerStats::decap_vlan_malformed},
    {&WorkerStats::decap_mpls_packets, &WorkerStats::decap_mpls_malformed},
    {&WorkerStats::decap_pseudowire_packets, &WorkerStats::decap_pseudowire_malformed},
    {&WorkerStats::decap_ipip_packets, nullptr},
    {&WorkerStats::decap_gre_packets, &WorkerStats::decap_gre_malformed},
    {&WorkerStats::decap_gre_teb_packets, &WorkerStats::decap_gre_teb_malformed},
    {&WorkerStats::decap_erspan1_packets, &WorkerStats::decap_erspan1_malformed},
    {&WorkerStats::decap_erspan2_packets, &WorkerStats::decap_erspan2_malformed},
    {&WorkerStats::decap_erspan3_packets, &WorkerStats::decap_erspan3_malformed},
    {&WorkerStats::decap_vxlan_packets, &WorkerStats::decap_vxlan_malformed},
    {&WorkerStats::decap_geneve_packets, &WorkerStats::decap_geneve_malformed},
};
static_assert(flowgen::kEncapCount == 12, "a row of kEncapCounters (and counters.hpp) per flowgen::Encap kind");

// An alert as the worker raises it: a snapshot of the conversation with its
// verdict; formatted as JSON by the exporter thread, never on the worker.
struct AlertEvent {
    static constexpr size_t kMaxPayload = 256;
    flowgen::ConversationRecord conversation;
    uint64_t time_ms;
    // The ping program the alerting packet's data looks like
    // (Pipeline::fingerprint, patterns "benign"/"ping"), 0 for none.
    uint16_t fingerprint_id = 0;
    // The conversation's detector state at the alert: the alert's
    // explanation quotes its counts.
    detect::ConversationState detector_state{};
    // The alerting packet's ICMP data, copied only with --payload-hex
    // (detect::Config::emit_payload_hex); never otherwise kept.
    uint16_t payload_length = 0;
    uint8_t payload[kMaxPayload];
};

// A frame parsed once by whoever received it (parse_into), then handed to
// its worker: the receiving one, or another over a ring (live distribution).
struct ParsedFrame {
    flowgen::PacketInfo info;
    flowgen::ParseStatus status = flowgen::ParseStatus::kMalformed;
    uint16_t port = 0;          // ingress port for IPFIX
    uint32_t frame_bytes = 0;   // captured length
    // The caller's handle on the frame's memory (live: its mbuf, freed by the
    // worker lcore that handles it); the Worker never reads it.
    void* buffer = nullptr;
};

// Parses `frame` into `f`. `wire_length` is the frame's length on the wire
// when a capture's snap length cut it (0: the frame is complete, as on live
// ports). `f.info` points into `frame`: it must stay valid until handled.
// `options` says what to decapsulate (the worker's, Worker::parse_options()).
inline void parse_into(ParsedFrame& f, flowgen::LinkType link, std::span<const uint8_t> frame, uint16_t port,
                       size_t wire_length = 0, const flowgen::ParseOptions& options = {}) noexcept {
    f.status = flowgen::parse_frame(link, frame, wire_length, options, f.info);
    f.port = port;
    f.frame_bytes = static_cast<uint32_t>(frame.size());
}

// The busiest conversations of one worker, computed on request by the worker
// itself (a full cache scan) so that nothing is read across lcores: the
// telemetry thread bumps `requested` and waits until `served` catches up.
struct TopConversations {
    static constexpr size_t kMax = 10;
    std::atomic<uint32_t> requested{0};
    std::atomic<uint32_t> served{0};
    size_t count = 0;  // written before `served` (release), read after it (acquire)
    flowgen::ConversationRecord items[kMax];
};

struct WorkerSettings {
    uint16_t id = 0;
    flowgen::FlowCacheConfig cache;
    bool detect = true;
    const detect::Config* detection = nullptr;  // required when detect
    detect::SourceTable* senders = nullptr;     // shared by all workers; nullptr: the worker's own
    // Pattern databases built once and shared by all workers; nullptr: the
    // worker builds its own from detection->patterns_path.
    std::shared_ptr<const detect::PatternDatabases> patterns;
    uint32_t record_queue = 1u << 16;
    uint32_t alert_queue = 1u << 12;
    uint32_t flood_queue = 256;  // FloodTracker::kMaxReports a second: minutes of a stalled exporter
    flowgen::ParseOptions parse;  // --decap, --vxlan-port
    uint32_t dedup_window_ms = 10;  // --dedup-window: 0 = keep mirror duplicates
    // --fold-above, --fold-entries. Off here (every conversation its own
    // record); the probe passes its configuration.
    flowgen::SingletonFoldConfig fold{0, 1024};
};

class alignas(64) Worker {
public:
    using RecordQueue = flowgen::SpscQueue<flowgen::ConversationRecord>;
    using AlertQueue = flowgen::SpscQueue<AlertEvent>;
    // Per-interval flood samples (detect/flood.hpp) for the exporter's FloodMonitor.
    using FloodQueue = flowgen::SpscQueue<detect::FloodSample>;
    // Called with a record when the queue is full, instead of dropping it.
    // Only the single-threaded modes (--pcap, one lcore) set it: there the
    // consumer runs on the same thread and a full queue means "drain now".
    using Overflow = void (*)(void* context, const flowgen::ConversationRecord&);

    explicit Worker(const WorkerSettings& settings);
    flowgen::Status init();  // allocates the cache, detector state, queues; compiles patterns

    void set_overflow(Overflow fn, void* context) noexcept {
        overflow_ = fn;
        overflow_context_ = context;
    }

    // The one way in: accounts `n` parsed frames (any n; the frames, and
    // the bytes their PacketInfo points to, must stay valid during the
    // call). `now_ms` is epoch milliseconds and must not go backwards
    // between calls. Every frame is counted once; ICMP ones are keyed and
    // hashed first, the cache lines of their conversations prefetched, then
    // the conversations updated while the lines of later ones arrive
    // (pipeline_bench: docs/performance.md), in passes of kPassSize. The
    // result is exactly that of one call per frame (tests/probe/worker_test).
    void handle(const ParsedFrame* frames, unsigned n, uint64_t now_ms) noexcept;
    // The most frames one receive burst holds anywhere in probe/ (live
    // rx_burst, offline batches): the bound of --burst-size.
    static constexpr unsigned kMaxBurst = 512;

    // One frame: parse_into, then handle() (tests, benchmarks).
    void handle(flowgen::LinkType link, std::span<const uint8_t> frame, uint64_t now_ms, uint16_t port,
                size_t wire_length = 0) noexcept {
        ParsedFrame f;
        parse_into(f, link, frame, port, wire_length, settings_.parse);
        handle(&f, 1, now_ms);
    }

    // During the final flush the exporter drains concurrently: wait for room
    // in the queue (bounded) instead of dropping.
    void set_wait_on_full_queue(bool wait) noexcept { wait_on_full_ = wait; }

    // Time-sliced expiry; call every burst (cheap when nothing is due).
    void expire(uint64_t now_ms) noexcept;
    // Expiry until nothing is owed for the time elapsed (offline readers,
    // whose clock jumps with the capture).
    void expire_all_due(uint64_t now_ms) noexcept {
        do expire(now_ms);
        while (cache_.expire_backlog());
    }

    // Exports every conversation (shutdown, end of capture).
    void flush(uint64_t now_ms, flowgen::EndReason reason) noexcept;

    // Answers a pending /echoflow/top request; call from the worker's loop.
    // One relaxed load when nobody asked.
    void serve_top(uint64_t now_ms) noexcept {
        if (__builtin_expect(top_.requested.load(std::memory_order_acquire) !=
                                 top_.served.load(std::memory_order_relaxed), 0))
            fill_top(now_ms);
    }
    TopConversations& top() noexcept { return top_; }

    RecordQueue& records() noexcept { return *records_; }
    AlertQueue& alerts() noexcept { return *alerts_; }
    // Empty (and never filled) without detection or with detect flood_pps 0.
    FloodQueue& floods() noexcept { return *floods_; }
    // The flood tracker's counters, zero when it is off.
    uint64_t flood_tracker_evictions() const noexcept { return flood_ ? flood_->stats().evictions.get() : 0; }
    uint64_t flood_reports_capped() const noexcept { return flood_ ? flood_->stats().reports_capped.get() : 0; }
    const WorkerStats& stats() const noexcept { return stats_; }
    const flowgen::FlowCacheStats& cache_stats() const noexcept { return cache_.stats(); }
    // Slots of the conversation cache now (grows offline, fixed live). Read
    // from another thread only where it cannot change (live).
    uint32_t cache_slots() const noexcept { return cache_.capacity(); }
    const detect::Pipeline& detectors() const noexcept { return detectors_; }
    // Entries of the (shared) per-sender table taken over by another key.
    uint64_t sender_evictions() const noexcept {
        return detectors_.senders() != nullptr ? detectors_.senders()->evictions() : 0;
    }
    uint16_t id() const noexcept { return settings_.id; }
    // The first byte of each of the worker's big tables (nullptr: none):
    // start-up asks the kernel which NUMA node their pages landed on.
    struct TableAddresses {
        const void* cache;
        const void* detector_state;
        const void* records;
        const void* alerts;
    };
    TableAddresses table_addresses() const noexcept {
        return {cache_.table(), detect_state_.get(), records_ ? records_->storage() : nullptr,
                alerts_ ? alerts_->storage() : nullptr};
    }
    const flowgen::ParseOptions& parse_options() const noexcept { return settings_.parse; }
    // A frame this worker assigned to a worker by owner_of() (probe/spread.hpp);
    // `tunnelled`: its addresses were inside a tunnel or behind MPLS.
    void count_software_spread(bool tunnelled) noexcept {
        stats_.spread_software_packets.add();
        if (tunnelled) stats_.spread_software_tunnelled.add();
    }

private:
    // Counts a frame that is not ICMP by kind (most of a SPAN port).
    void count_other(const flowgen::PacketInfo& p, flowgen::ParseStatus status) noexcept;
    // Counts the encapsulation kinds a frame went through (bare frames: one test).
    void count_encapsulations(const flowgen::PacketInfo& p, flowgen::ParseStatus status) noexcept {
        if (__builtin_expect(p.encapsulations == 0 && p.malformed_layer == flowgen::Encap::kNone, 1)) return;
        for (int k = 1; k < flowgen::kEncapCount; ++k)
            if (p.encapsulations & (1u << k)) (stats_.*kEncapCounters[k].packets).add();
        if (status == flowgen::ParseStatus::kMalformed) {
            Counter WorkerStats::*m = kEncapCounters[static_cast<int>(p.malformed_layer)].malformed;
            if (m != nullptr) (stats_.*m).add();
        }
    }
    // The conversation key of an ICMP packet (fragments: via the fragment
    // map, in arrival order). Returns true for the reply half of a pair.
    bool key_of(const flowgen::PacketInfo& p, flowgen::FlowKey& key) noexcept;
    // Flow cache and detectors for one ICMP packet; hash = hash_key(key).
    void account(const flowgen::PacketInfo& p, const flowgen::FlowKey& key, uint64_t hash, bool reply,
                 uint16_t port, uint64_t now_ms) noexcept;
    // An ICMP packet of a burst between pass 1 (key, hash, prefetch) and
    // pass 2 (cache and detectors).
    struct Pending {
        flowgen::FlowKey key;
        uint64_t hash;
        const flowgen::PacketInfo* info;
        uint16_t port;
        bool reply;
    };
    void stage(Pending& w, const flowgen::PacketInfo& p, uint16_t port) noexcept;
    void account_pending(const Pending* pending, unsigned np, uint64_t now_ms) noexcept;
    void emit(const flowgen::ConversationRecord& r, uint32_t slot) noexcept;
    // To the record queue (waiting or overflowing as the mode says), counted.
    void queue_record(const flowgen::ConversationRecord& r) noexcept;
    // The aggregates of one-packet conversations, as SingletonFold emits them.
    void emit_aggregate(const flowgen::ConversationRecord& r) noexcept {
        stats_.aggregate_records.add();
        queue_record(r);
    }
    // flowgen::SlotRelocator::grow for detect_state_.
    static bool relocate_state(void* context, uint32_t new_capacity, const uint32_t* new_slot, uint32_t old_capacity);
    void raise_alert(uint32_t slot, const flowgen::PacketInfo& p, uint64_t now_ms) noexcept;
    // Hands the flood tracker's heavy victims of the interval that ended to
    // the exporter (once a second of the worker clock, never per packet).
    void close_flood_interval(uint64_t now_ms) noexcept;
    void fill_top(uint64_t now_ms) noexcept;

    WorkerSettings settings_;
    flowgen::FlowCache cache_;
    flowgen::FragmentMap fragments_;
    flowgen::MirrorDedup dedup_;
    flowgen::SingletonFold fold_;
    // The fold's clock: the latest of expire()'s now_ms and the times of the
    // records offered to it (ms; never goes backwards).
    uint64_t fold_clock_ms_ = 0;
    detect::Pipeline detectors_;
    flowgen::TableMemory<detect::ConversationState> detect_state_;
    std::unique_ptr<RecordQueue> records_;
    std::unique_ptr<AlertQueue> alerts_;
    std::unique_ptr<FloodQueue> floods_;
    // Fed once per created conversation; null when off.
    std::unique_ptr<detect::FloodTracker> flood_;
    Overflow overflow_ = nullptr;
    bool wait_on_full_ = false;
    void* overflow_context_ = nullptr;
    WorkerStats stats_;
    // handle() works in passes of this many frames: their keys and hashes
    // (burst_pending_) and their PacketInfo stay in L1 between pass 1 and
    // pass 2, whatever the receive burst.
    static constexpr unsigned kPassSize = 64;
    // Scratch of handle(), here rather than on the stack: default member
    // initialisers would make every call zero it.
    Pending burst_pending_[kPassSize];
    uint64_t dedup_hash_[kPassSize];  // mirror_hash of each ICMP frame of the pass
    TopConversations top_;
};

}  // namespace probe
