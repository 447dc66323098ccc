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

#include "detect/pipeline.hpp"
#include "flowgen/flow_cache.hpp"
#include "flowgen/packet.hpp"
#include "flowgen/relaxed_counter.hpp"
#include "flowgen/spsc_queue.hpp"

namespace probe {

// A counter written by one lcore and read by others: a relaxed load and store
// (a plain mov on x86), never a locked read-modify-write.
using Counter = flowgen::RelaxedCounter;

struct WorkerStats {
    Counter rx_packets;         // frames handed to handle()
    Counter rx_bytes;           // their captured length
    Counter icmp_packets;       // = kIcmp
    Counter icmp_octets;        // their IP octets (IPFIX meaning)
    Counter icmp_frame_bytes;   // their captured length
    Counter other_packets;      // = kOther + kNotIp (tcp + udp + other_ip + non_ip)
    Counter malformed_packets;  // = kMalformed
    Counter tcp_packets;
    Counter udp_packets;
    Counter other_ip_packets;
    Counter non_ip_packets;
    Counter unattributed_fragments;
    Counter records_queued;     // conversation records handed to the exporter
    Counter records_dropped;    // exporter queue full (live ports only)
    Counter alerts;             // alerts raised
    Counter alerts_dropped;     // alert queue full
};

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

// A frame the caller already parsed, for handle_parsed_burst().
struct ParsedFrame {
    flowgen::PacketInfo info;
    flowgen::ParseStatus status = flowgen::ParseStatus::kMalformed;
    uint16_t port = 0;          // ingress port for IPFIX
    uint32_t frame_bytes = 0;   // captured length
};

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
    uint32_t record_queue = 1u << 16;
    uint32_t alert_queue = 1u << 12;
};

class alignas(64) Worker {
public:
    using RecordQueue = flowgen::SpscQueue<flowgen::ConversationRecord>;
    using AlertQueue = flowgen::SpscQueue<AlertEvent>;
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

    // Accounts one frame. `now_ms` is epoch milliseconds and must not go
    // backwards between calls; `port` is the ingress port for IPFIX.
    // `wire_length` is the frame's length on the wire when a capture's snap
    // length cut it (0: the frame is complete, as on live ports).
    void handle(flowgen::LinkType link, std::span<const uint8_t> frame, uint64_t now_ms, uint16_t port,
                size_t wire_length = 0) noexcept {
        flowgen::PacketInfo p;
        const flowgen::ParseStatus status = wire_length ? flowgen::parse_frame(link, frame, wire_length, p)
                                                        : flowgen::parse_frame(link, frame, p);
        handle_parsed(p, status, frame.size(), now_ms, port);
    }

    // The same, for a frame the caller already parsed (software distribution
    // parses once to find the owning worker). `frame_bytes` is its captured length.
    void handle_parsed(const flowgen::PacketInfo& p, flowgen::ParseStatus status, size_t frame_bytes,
                       uint64_t now_ms, uint16_t port) noexcept;

    // A burst of frames (what rx_burst returned), with the same results as
    // calling handle() on each in order, but faster: every frame is parsed
    // and its conversation hashed first, the cache lines its conversation
    // lives in are prefetched, then the conversations are updated while
    // the lines of later ones arrive (pipeline_bench: docs/performance.md).
    // Any n; the frames must stay valid during the call.
    void handle_burst(flowgen::LinkType link, const std::span<const uint8_t>* frames, unsigned n, uint64_t now_ms,
                      uint16_t port) noexcept;
    // The same for frames parsed by the caller (any n; passes of kMaxBurst).
    void handle_parsed_burst(const ParsedFrame* frames, unsigned n, uint64_t now_ms) noexcept;
    static constexpr unsigned kMaxBurst = 64;

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
    const WorkerStats& stats() const noexcept { return stats_; }
    const flowgen::FlowCacheStats& cache_stats() const noexcept { return cache_.stats(); }
    // Slots of the conversation cache now (grows offline, fixed live). Read
    // from another thread only where it cannot change (live).
    uint32_t cache_slots() const noexcept { return cache_.capacity(); }
    const detect::Pipeline& detectors() const noexcept { return detectors_; }
    uint16_t id() const noexcept { return settings_.id; }

private:
    // Counts a frame that is not ICMP by kind (most of a SPAN port).
    void count_other(const flowgen::PacketInfo& p, flowgen::ParseStatus status) noexcept;
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
    void finish_burst(unsigned m, unsigned np, uint64_t rx_bytes, uint64_t icmp_octets, uint64_t icmp_bytes,
                      uint64_t now_ms) noexcept;
    void emit(const flowgen::ConversationRecord& r, uint32_t slot) noexcept;
    // flowgen::SlotRelocator::grow for detect_state_.
    static bool relocate_state(void* context, uint32_t new_capacity, const uint32_t* new_slot, uint32_t old_capacity);
    void raise_alert(uint32_t slot, const flowgen::PacketInfo& p, uint64_t now_ms) noexcept;
    void fill_top(uint64_t now_ms) noexcept;

    WorkerSettings settings_;
    flowgen::FlowCache cache_;
    flowgen::FragmentMap fragments_;
    detect::Pipeline detectors_;
    flowgen::TableMemory<detect::ConversationState> detect_state_;
    std::unique_ptr<RecordQueue> records_;
    std::unique_ptr<AlertQueue> alerts_;
    Overflow overflow_ = nullptr;
    bool wait_on_full_ = false;
    void* overflow_context_ = nullptr;
    WorkerStats stats_;
    // Scratch of the burst paths, here rather than on the stack: their
    // default member initialisers made every call zero ~9 KiB (3 ns/packet
    // on the discard input of pipeline_bench).
    flowgen::PacketInfo burst_info_[kMaxBurst];
    Pending burst_pending_[kMaxBurst];
    TopConversations top_;
};

}  // namespace probe
