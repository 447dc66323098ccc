// The per-lcore ICMP conversation cache.
//
// A set-associative table: the key's hash picks one bucket of 8 slots; a
// bucket is 1 KiB: one 64-byte index line (8 signatures, 8 last-seen times),
// 8 conversation heads of one line each, and 8 counter blocks of 56 bytes,
// so a conversation costs exactly 128 bytes including its index. A
// conversation's head holds its key and, while it has had one packet only,
// that packet (Conversation::kFirst0/kFirst1): a conversation that ends
// after one packet, which is what a spoofed-source flood makes, touches the
// index line and its head only, not the two more lines of its counters.
// The second packet spreads the first into the counters (kCounted). A lookup
// touches the index line, then one head (and its counters on a hit). When
// all 8 slots of the bucket are taken, the conversation seen least recently
// (chosen from the index line alone) is exported with flowEndReason "lack of
// resources" (RFC 5102 §5.11.3) and its slot reused: the table never
// allocates after init() and never refuses a packet. (A table configured to
// grow doubles instead of evicting until it reaches its maximum; see
// FlowCacheConfig::initial_capacity.)
//
// Burst callers hash first and call prefetch(hash) for every packet of a
// burst, then prefetch_slot() a few packets ahead, then update(): the
// bucket's lines arrive while earlier packets are processed.
//
// Expiry is incremental: expire() scans a slice of the table whose size is
// proportional to the time elapsed, so the whole table is visited every
// kScanPeriodMs and an idle conversation is exported at most kScanPeriodMs
// (+ one call interval) after its idle timeout. Each call's work is bounded
// by kMaxScanPerCall slots.
//
// Times are Unix epoch milliseconds passed in by the caller (capture time
// offline, TSC-derived on live ports) and must not go backwards. They are
// stored as 32-bit offsets modulo 2^32 ms (49 days), which the active
// timeout keeps far away.
//
// One FlowCache belongs to one lcore: no method may be called concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "flowgen/flow_key.hpp"
#include "flowgen/flow_record.hpp"
#include "flowgen/prefetch.hpp"
#include "flowgen/relaxed_counter.hpp"
#include "flowgen/status.hpp"
#include "flowgen/table_memory.hpp"

namespace flowgen {

struct FlowCacheConfig {
    uint32_t capacity = 1u << 20;         // conversations; rounded up to a power of two >= 8
    uint32_t idle_timeout_ms = 15'000;
    uint32_t active_timeout_ms = 60'000;
    uint16_t worker_id = 0;               // goes into the high bits of flow ids
    // 0: the whole table is allocated by init() and never again (live
    // ports). Otherwise the table starts with this many slots (rounded up
    // to a power of two) and doubles in place, up to `capacity`, whenever a
    // new conversation finds its 8-way bucket full. Nothing is evicted
    // before `capacity` is reached, so the records are those of a full-size
    // table. The first full bucket comes at 17-27 % load (measured growing
    // from 16,384 slots), so a capture of N conversations ends with 4-6 N
    // slots: ~88,000 conversations already take the default million
    // (docs/performance.md).
    uint32_t initial_capacity = 0;
};

Status validate(const FlowCacheConfig& config);

// Written by the cache's lcore only; any thread may read them (telemetry).
struct FlowCacheStats {
    RelaxedCounter created;
    RelaxedCounter exported_idle;
    RelaxedCounter exported_active;
    RelaxedCounter exported_forced;
    RelaxedCounter evicted;       // exported with lack of resources
    RelaxedCounter ended_silent;  // removed with nothing to export (silent since an active-timeout export)
    RelaxedCounter active;        // conversations currently held
    RelaxedCounter grown;         // doublings of a growing table (FlowCacheConfig::initial_capacity)
};

// Per-slot tables kept beside the cache (the worker's detector state) follow
// its growth through this: `grow` must make the table `new_capacity` slots
// long, with the entry of every old slot s whose new_slot[s] != kNoSlot at
// new_slot[s], or return false and change nothing (the cache then does not
// grow either). new_slot[s] is s or s + old_capacity, so a companion can grow
// in place, copying entries up. Slots that receive no entry may hold
// anything: a conversation opened there later comes with Hit::created.
// Called only while growing: rarely, and never in a table allocated whole.
struct SlotRelocator {
    static constexpr uint32_t kNoSlot = UINT32_MAX;
    bool (*grow)(void* context, uint32_t new_capacity, const uint32_t* new_slot, uint32_t old_capacity) = nullptr;
    void* context = nullptr;
};

// A conversation's head: its key, and its first packet or the per-direction
// fields that do not fit its counters. One cache line.
struct alignas(64) Conversation {
    // shape: what the rest of the head and the counters hold.
    static constexpr uint8_t kFirst0 = 0;   // one packet, direction 0: in `first`; counters unused
    static constexpr uint8_t kFirst1 = 1;   // one packet, direction 1 (a conversation with itself)
    static constexpr uint8_t kCounted = 2;  // counters hold every packet; `more` holds the rest
    struct FirstPacket {
        uint16_t ip_length;       // <= 0xffff (a longer one is counted at once)
        uint16_t payload;         // echo data octets; 0 without an ICMP header
        uint8_t icmp_type;        // 0 without an ICMP header (has_type says)
        uint8_t icmp_code;
        uint16_t unused;
    };
    struct MoreCounters {
        uint8_t icmp_type[2];     // of the first packet with an ICMP header, per direction
        uint8_t icmp_code[2];
        uint32_t first_ms1;       // first packet of direction 1 (direction 0 starts at start_ms)
    };

    IpAddress addr[2];            // [0] initiator, [1] responder
    uint32_t segment_id;          // key: overlay segment (FlowKey::segment_id)
    uint32_t start_ms;            // low 32 bits of the epoch ms of the first packet (of this export slice)
    uint32_t flow_seq;            // per-worker conversation number (flow id low bits)
    uint16_t icmp_id;             // key id: echo identifier or code
    uint16_t ingress_port;
    uint16_t vlan_id;             // key: FlowKey::vlan_id
    Family family;
    uint8_t key_type;
    SegmentType segment_type;     // key: FlowKey::segment_type
    uint8_t has_type;             // bit d: direction d has had an ICMP header (its type is set)
    uint8_t shape;                // kFirst0, kFirst1 or kCounted
    uint8_t unused;
    union {
        FirstPacket first;        // kFirst0, kFirst1
        MoreCounters more;        // kCounted
    };

    bool counted() const noexcept { return shape == kCounted; }
};
static_assert(sizeof(Conversation) == 64, "a conversation's head is one cache line");

// A conversation's counters once it has had a second packet (or an export
// slice has ended). Per-direction arrays are indexed by direction (0 =
// initiator). 56 bytes: the head's line and these make 120.
struct ConversationCounters {
    uint64_t octets[2];
    uint32_t payload_octets[2];   // echo data octets, for the mean (a slice is cut before it wraps)
    uint32_t last_ms[2];          // low 32 bits of epoch ms, per direction
    uint32_t packets[2];
    uint16_t min_ip_length[2];
    uint16_t max_ip_length[2];
    uint16_t min_payload[2];
    uint16_t max_payload[2];
};
static_assert(sizeof(ConversationCounters) == 56, "head and counters within the 120-byte budget");

class FlowCache {
public:
    static constexpr uint32_t kWays = 8;
    static constexpr uint32_t kScanPeriodMs = 500;
    static constexpr uint32_t kMaxScanPerCall = 4096;
    static constexpr uint32_t kScanAhead = 8;  // buckets the expiry scan prefetches ahead (prefetch_scan)

    FlowCache() = default;
    FlowCache(const FlowCache&) = delete;
    FlowCache& operator=(const FlowCache&) = delete;

    // Allocates the table (zeroed, on huge pages where possible, every page
    // touched). The only allocation this class makes, apart from the
    // doublings of a table configured to grow (FlowCacheConfig::initial_capacity).
    Status init(const FlowCacheConfig& config);

    // Slots currently allocated (grows up to max_capacity() when the table
    // was configured to start small).
    uint32_t capacity() const noexcept { return capacity_; }
    uint32_t max_capacity() const noexcept { return max_capacity_; }
    // The start of the slot table (where its pages are: NUMA placement).
    const void* table() const noexcept { return buckets_.get(); }
    // Who must follow the slots when the table grows (set before the first
    // update() of a growing table; nothing to do for a fixed one).
    void set_relocator(const SlotRelocator& r) noexcept { relocator_ = r; }
    static constexpr size_t bytes_per_conversation() noexcept { return sizeof(Bucket) / kWays; }

    struct Hit {
        uint32_t slot;      // stable index in [0, capacity()) while the conversation lives
        uint8_t dir;        // 0 = initiator's direction
        bool created;       // a new conversation was opened in this slot
    };

    // Accounts one ICMP packet with the given key. `reply` says whether the
    // packet is the reply half of a pair (decides the direction when both
    // addresses are equal). `export_sink(const ConversationRecord&, uint32_t slot)`
    // is called for a conversation evicted to make room, before its slot is
    // reused, and for one whose counters would overflow.
    template <class Sink>
    Hit update(const FlowKey& key, bool reply, const PacketInfo& p, uint16_t port, uint64_t now_ms,
               Sink&& export_sink) noexcept {
        return update(key, hash_key(key), reply, p, port, now_ms, export_sink);
    }
    // The same with hash == hash_key(key) already computed.
    template <class Sink>
    Hit update(const FlowKey& key, uint64_t hash, bool reply, const PacketInfo& p, uint16_t port, uint64_t now_ms,
               Sink&& export_sink) noexcept;

    // Starts loading the index line of the bucket `hash` (= hash_key(key))
    // maps to. A hint: no effect on results.
    void prefetch(uint64_t hash) const noexcept {
        flowgen::prefetch(&buckets_[static_cast<uint32_t>(hash) & buckets_mask_]);
    }
    // Reads the (prefetched) index line and starts loading the conversation
    // that update() will most likely touch: the one whose signature matches,
    // else a free slot, else the one an eviction would pick. Returns that
    // slot, for the caller to prefetch its own per-slot state. A hint only:
    // updates between this call and update() may change the answer.
    uint32_t prefetch_slot(uint64_t hash, uint64_t now_ms) const noexcept;

    // Exports conversations whose idle or active timeout has passed, scanning
    // a time-proportional slice (bounded). Idle ones are removed; active ones
    // are exported and continue with zeroed counters in the same slot.
    // Returns the number of records exported.
    template <class Sink>
    uint32_t expire(uint64_t now_ms, Sink&& export_sink) noexcept;

    // True while expire() still owes slots for time already elapsed (its
    // per-call bound cut it short). Live workers call expire() often enough
    // to catch up; offline readers, whose clock jumps with the capture, call
    // it again until this is false.
    bool expire_backlog() const noexcept { return scan_credit_ >= kScanPeriodMs; }

    // Calls fn(slot, const Conversation&) for every live conversation (its
    // head: octets(slot) gives its size). A
    // full scan of the table: for on-demand views (telemetry), never per packet.
    template <class Fn>
    void for_each(Fn&& fn) const {
        for (uint32_t slot = 0; slot < capacity_; ++slot)
            if (buckets_[slot / kWays].sig[slot % kWays] != 0) fn(slot, at(slot));
    }

    // Exports and removes every conversation (shutdown, end of capture).
    template <class Sink>
    uint32_t flush_all(uint64_t now_ms, EndReason reason, Sink&& export_sink) noexcept;

    // Builds the record of a conversation as it stands (for alerts, exports).
    void snapshot(uint32_t slot, uint64_t now_ms, EndReason reason, ConversationRecord& out) const noexcept;
    ConversationRecord record(uint32_t slot, uint64_t now_ms, EndReason reason) const noexcept;

    const Conversation& at(uint32_t slot) const noexcept { return buckets_[slot / kWays].conv[slot % kWays]; }
    // Octets of both directions of the live conversation in `slot` (this export slice).
    uint64_t octets(uint32_t slot) const noexcept {
        const Bucket& b = buckets_[slot / kWays];
        const Conversation& c = b.conv[slot % kWays];
        if (!c.counted()) return c.first.ip_length;
        return b.counters[slot % kWays].octets[0] + b.counters[slot % kWays].octets[1];
    }
    const FlowCacheStats& stats() const noexcept { return stats_; }

private:
    struct alignas(64) Bucket {
        // 0 = free slot. Bit 31 (kCountedBit): the conversation is counted
        // (Conversation::kCounted); the other bits are its signature.
        uint32_t sig[kWays];
        // Low 32 bits of epoch ms of the latest packet (or active-timeout
        // restart) of each way: eviction and the idle check read only this
        // line, not eight conversations.
        uint32_t last_seen[kWays];
        Conversation conv[kWays];               // one line each
        ConversationCounters counters[kWays];   // 7 lines for the 8
    };
    static_assert(sizeof(Bucket) == 1024, "8 conversations and their index in 1 KiB");
    static_assert(offsetof(Bucket, conv) == 64, "the index is exactly one cache line");
    static_assert(offsetof(Bucket, counters) == 64 * (1 + kWays), "every head on a line of its own");
    uint32_t oldest_way(const Bucket& bucket, uint32_t now32) const noexcept;
    static bool empty(const Bucket& bucket) noexcept;
    void prefetch_scan(uint32_t bucket, uint32_t now32) const noexcept;
    void set_occupied(uint32_t b) noexcept { occupied_[b >> 6] |= uint64_t{1} << (b & 63); }
    void clear_occupied(uint32_t b) noexcept { occupied_[b >> 6] &= ~(uint64_t{1} << (b & 63)); }

    // A one-packet conversation's head need not be read by the expiry scan:
    // its start is its last-seen time, which the index line has. This bit
    // of the index says which ways those are: a table full of a flood's
    // one-packet conversations is scanned from its index lines alone.
    static constexpr uint32_t kCountedBit = 1u << 31;
    static constexpr uint32_t kSignatureMask = kCountedBit - 1;
    static uint32_t signature(uint64_t hash) noexcept {
        const uint32_t s = static_cast<uint32_t>(hash >> 32) & kSignatureMask;
        return s ? s : 1;
    }
    bool matches(const Conversation& c, const FlowKey& key) const noexcept;
    void open(Conversation& c, ConversationCounters& n, const FlowKey& key, unsigned dir, const PacketInfo& p,
              uint16_t port, uint64_t now_ms) noexcept;
    static void count_first(Conversation& c, ConversationCounters& n) noexcept;
    static void account(Conversation& c, ConversationCounters& n, unsigned dir, const PacketInfo& p,
                        uint32_t now32) noexcept;
    static void restart(Conversation& c, ConversationCounters& n, uint32_t now32) noexcept;
    static bool silent(const Conversation& c, const ConversationCounters& n) noexcept {
        return c.counted() && n.packets[0] == 0 && n.packets[1] == 0;
    }
    template <class Sink>
    uint32_t end(uint32_t slot, uint64_t now_ms, EndReason reason, Sink& export_sink) noexcept;
    Hit open_at(uint32_t bucket, uint32_t way, uint32_t sig, const FlowKey& key, bool reply, const PacketInfo& p,
                uint16_t port, uint64_t now_ms) noexcept;
    template <class Sink>
    Hit open_in_full_bucket(const FlowKey& key, uint64_t hash, bool reply, const PacketInfo& p, uint16_t port,
                            uint64_t now_ms, Sink& export_sink) noexcept;
    static bool would_overflow(const ConversationCounters& n, unsigned dir, const PacketInfo& p) noexcept;
    // Doubles the table in place (a full bucket of a growing table; the
    // address space for max_capacity() was reserved by init()). Every
    // conversation keeps its way in the bucket its hash selects with one
    // more bit, b or b + the old bucket count: an old bucket's 8 ways split
    // over two, so nothing collides, and half of them do not move. False
    // (nothing changed) at max_capacity() or when a relocator refuses; the
    // caller then evicts as a fixed table does.
    bool grow() noexcept;

    TableMemory<Bucket> buckets_;
    // Bit b: bucket b holds at least one conversation (one bit per 8
    // slots: 16 KiB for a million). Lets expire() skip empty buckets
    // without reading them.
    std::unique_ptr<uint64_t[]> occupied_;
    uint32_t buckets_mask_ = 0;
    uint32_t capacity_ = 0;        // slots; 0 before init()
    uint32_t max_capacity_ = 0;
    bool grow_refused_ = false;    // a failed doubling is not retried: the table stays and evicts
    SlotRelocator relocator_;
    uint32_t idle_ms_ = 0;
    uint32_t active_ms_ = 0;
    uint64_t worker_bits_ = 0;
    uint32_t next_seq_ = 0;
    uint32_t scan_cursor_ = 0;     // next slot expire() looks at
    uint64_t scan_time_ms_ = 0;    // time up to which the scan has been paid for
    bool scan_started_ = false;
    uint64_t scan_credit_ = 0;     // slots owed by elapsed time, scaled by kScanPeriodMs
    FlowCacheStats stats_;
};

}  // namespace flowgen

#include "flowgen/flow_cache_inl.hpp"
