#include "flowgen/flow_cache.hpp"

#include <algorithm>
#include <bit>
#include <new>
#include <string>

#include "flowgen/bytes.hpp"
#include "flowgen/hash.hpp"

namespace flowgen {

namespace {

inline uint64_t word(const IpAddress& a, unsigned i) noexcept {
    uint64_t v;
    std::memcpy(&v, a.bytes + 8 * i, 8);
    return v;
}

// compare(a, b) <= 0 without a call to memcmp (which the compiler cannot
// inline when the sign is needed): the same order, as two big-endian words.
inline bool not_after(const IpAddress& a, const IpAddress& b) noexcept {
    const uint64_t a0 = load_be64(a.bytes), b0 = load_be64(b.bytes);
    if (a0 != b0) return a0 < b0;
    return load_be64(a.bytes + 8) <= load_be64(b.bytes + 8);
}

}  // namespace

// Folded 64x64->128-bit multiply (as in wyhash): one multiply mixes two
// words, and its two halves feed both the bucket (low bits) and the
// signature (high bits). Three of them, two independent, are much cheaper
// than a chain of murmur finalisers (pipeline_bench min-echo with perf
// record; docs/performance.md). The constants are arbitrary odd 64-bit
// values (the first four from wyhash's secret).
inline uint64_t mum(uint64_t a, uint64_t b) noexcept {
    const __uint128_t r = static_cast<__uint128_t>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

uint64_t hash_key(const FlowKey& key) noexcept {
    const uint64_t meta = (static_cast<uint64_t>(key.family) << 32) | (static_cast<uint64_t>(key.key_type) << 16) | key.id;
    const uint64_t segment = (static_cast<uint64_t>(key.segment_id) << 24) |
                             (static_cast<uint64_t>(key.segment_type) << 16) | key.vlan_id;
    const uint64_t a = mum(word(key.low, 0) ^ 0xa0761d6478bd642fULL, word(key.low, 1) ^ 0xe7037ed1a0b428dbULL);
    const uint64_t b = mum(word(key.high, 0) ^ 0x8ebc6af09c88c6e3ULL, word(key.high, 1) ^ 0x589965cc75374cc3ULL);
    return mum(a ^ meta ^ 0x9e3779b97f4a7c15ULL, b ^ segment ^ 0xc2b2ae3d27d4eb4fULL);
}

// Family, segment and the two addresses in canonical order: both directions
// of a conversation get the same key.
inline void set_addresses(const PacketInfo& p, FlowKey& key) noexcept {
    key.family = p.family;
    key.vlan_id = p.vlan_id;
    key.segment_type = p.segment_type;
    key.segment_id = p.segment_id;
    if (not_after(p.src, p.dst)) {
        key.low = p.src;
        key.high = p.dst;
    } else {
        key.low = p.dst;
        key.high = p.src;
    }
}

bool make_key(const PacketInfo& p, FlowKey& key) noexcept {
    set_addresses(p, key);
    uint8_t request_type = 0;
    bool reply = false;
    if (icmp_request_reply_type(p.family, p.icmp_type, &request_type, &reply)) {
        key.key_type = request_type;
        key.id = p.icmp_id;
        return reply;
    }
    key.key_type = p.icmp_type;
    key.id = p.icmp_code;
    return false;
}

FragmentMap::FragmentMap(uint32_t entries_pow2)
    : entries_(new Entry[std::bit_ceil(entries_pow2 ? entries_pow2 : 1u)]()),
      mask_(std::bit_ceil(entries_pow2 ? entries_pow2 : 1u) - 1) {}

uint32_t FragmentMap::slot(const PacketInfo& p) const noexcept {
    uint64_t h = fmix64(p.fragment_id ^ (static_cast<uint64_t>(p.family) << 40));
    h = fmix64(h ^ word(p.src, 0) ^ word(p.src, 1));
    h = fmix64(h ^ word(p.dst, 0) ^ word(p.dst, 1));
    return static_cast<uint32_t>(h) & mask_;
}

void FragmentMap::remember(const PacketInfo& p, const FlowKey& key) noexcept {
    Entry& e = entries_[slot(p)];
    e.src = p.src;
    e.dst = p.dst;
    e.fragment_id = p.fragment_id;
    e.family = p.family;
    e.key_type = key.key_type;
    e.id = key.id;
}

bool FragmentMap::key_for(const PacketInfo& p, FlowKey& key) noexcept {
    set_addresses(p, key);
    const Entry& e = entries_[slot(p)];
    if (e.family == p.family && e.fragment_id == p.fragment_id && e.src == p.src && e.dst == p.dst) {
        key.key_type = e.key_type;
        key.id = e.id;
        return true;
    }
    key.key_type = kUnattributedFragment;
    key.id = 0;
    return false;
}

Status validate(const FlowCacheConfig& c) {
    if (c.capacity < FlowCache::kWays)
        return Status::error("cache size " + std::to_string(c.capacity) + " is below the minimum of " +
                             std::to_string(FlowCache::kWays));
    if (c.capacity > (1u << 30))
        return Status::error("cache size " + std::to_string(c.capacity) + " is above the maximum of 2^30");
    if (c.initial_capacity != 0 && c.initial_capacity < FlowCache::kWays)
        return Status::error("initial cache size " + std::to_string(c.initial_capacity) +
                             " is below the minimum of " + std::to_string(FlowCache::kWays));
    if (c.idle_timeout_ms == 0) return Status::error("idle timeout must be at least 1 ms");
    if (c.active_timeout_ms == 0) return Status::error("active timeout must be at least 1 ms");
    // Stored times are 32-bit ms offsets: a conversation slice must end long
    // before they wrap (49.7 days).
    if (c.active_timeout_ms > 7u * 24 * 3600 * 1000)
        return Status::error("active timeout is above the maximum of 7 days");
    if (c.idle_timeout_ms > 7u * 24 * 3600 * 1000)
        return Status::error("idle timeout is above the maximum of 7 days");
    return {};
}

Status FlowCache::init(const FlowCacheConfig& config) {
    if (Status s = validate(config); !s.ok()) return s;
    max_capacity_ = std::bit_ceil(config.capacity);
    grow_refused_ = false;
    const uint32_t slots = config.initial_capacity != 0
                               ? std::min(std::bit_ceil(config.initial_capacity), max_capacity_)
                               : max_capacity_;
    const uint32_t buckets = slots / kWays;
    // A growing table reserves address space for its largest size and
    // doubles in place (grow()); only what it uses is ever resident.
    if (!buckets_.allocate(buckets, max_capacity_ / kWays))
        return Status::error("flow cache: cannot allocate " + std::to_string(uint64_t{buckets} * sizeof(Bucket)) +
                             " bytes for " + std::to_string(slots) + " conversations");
    occupied_.reset(new (std::nothrow) uint64_t[(max_capacity_ / kWays + 63) / 64]());
    if (!occupied_) return Status::error("flow cache: cannot allocate its occupancy bitmap");
    buckets_mask_ = buckets - 1;
    capacity_ = slots;
    idle_ms_ = config.idle_timeout_ms;
    active_ms_ = config.active_timeout_ms;
    worker_bits_ = static_cast<uint64_t>(config.worker_id) << 32;
    next_seq_ = 1;
    scan_cursor_ = 0;
    scan_time_ms_ = 0;
    scan_started_ = false;
    scan_credit_ = 0;
    stats_ = {};
    return {};
}

bool FlowCache::grow() noexcept {
    if (capacity_ >= max_capacity_) return false;
    const uint32_t old_buckets = buckets_mask_ + 1;
    const uint32_t new_buckets = 2 * old_buckets;
    std::unique_ptr<uint32_t[]> new_slot(new (std::nothrow) uint32_t[capacity_]);
    if (!new_slot) {
        grow_refused_ = true;  // not retried on every later full bucket
        return false;
    }
    // Where every conversation goes: the same way, in bucket b or
    // b + old_buckets by the next bit of its hash (recomputed from the key
    // it was opened with).
    for (uint32_t b = 0; b < old_buckets; ++b) {
        const Bucket& from = buckets_[b];
        for (uint32_t w = 0; w < kWays; ++w) {
            new_slot[b * kWays + w] = SlotRelocator::kNoSlot;
            if (from.sig[w] == 0) continue;
            const Conversation& c = from.conv[w];
            FlowKey key;
            key.family = c.family;
            key.key_type = c.key_type;
            key.id = c.icmp_id;
            key.vlan_id = c.vlan_id;
            key.segment_type = c.segment_type;
            key.segment_id = c.segment_id;
            const bool ordered = not_after(c.addr[0], c.addr[1]);
            key.low = ordered ? c.addr[0] : c.addr[1];
            key.high = ordered ? c.addr[1] : c.addr[0];
            const uint32_t nb = static_cast<uint32_t>(hash_key(key)) & (new_buckets - 1);
            new_slot[b * kWays + w] = nb * kWays + w;
        }
    }
    if (relocator_.grow && !relocator_.grow(relocator_.context, new_buckets * kWays, new_slot.get(), capacity_)) {
        grow_refused_ = true;
        return false;
    }
    // In place: the upper half is fresh (zero) memory, made resident now;
    // conversations whose next hash bit is set move up, the others stay.
    buckets_.grow(new_buckets);
    for (uint32_t b = 0; b < old_buckets; ++b) {
        Bucket& from = buckets_[b];
        Bucket& to = buckets_[b + old_buckets];
        bool moved = false;
        for (uint32_t w = 0; w < kWays; ++w) {
            if (new_slot[b * kWays + w] != (b + old_buckets) * kWays + w) continue;
            to.sig[w] = from.sig[w];
            to.last_seen[w] = from.last_seen[w];
            to.conv[w] = from.conv[w];
            to.counters[w] = from.counters[w];
            from.sig[w] = 0;
            moved = true;
        }
        if (moved) set_occupied(b + old_buckets);
        if (moved && empty(from)) clear_occupied(b);
    }
    buckets_mask_ = new_buckets - 1;
    capacity_ = new_buckets * kWays;
    // The expiry scan goes on from the same slot: buckets below it were
    // scanned in this pass or moved up to be scanned again; none is skipped.
    stats_.grown.add();
    return true;
}

// Every member is given: the record is built in place, with no zeroing
// first (an evicted conversation's record is built once per flood packet).
ConversationRecord FlowCache::record(uint32_t slot, uint64_t now_ms, EndReason reason) const noexcept {
    const Conversation& c = at(slot);
    const uint32_t now32 = static_cast<uint32_t>(now_ms);
    // Stored times are the low 32 bits; every one lies in the past within
    // 2^32 ms, so its distance from now is exact modulo 2^32.
    auto absolute = [&](uint32_t t) { return now_ms - static_cast<uint32_t>(now32 - t); };
    // Fragments whose first fragment was not seen carry no ICMP header:
    // their type is unknown. 255/255 says so (type 255 is reserved in
    // IANA's ICMP and ICMPv6 type registries); 0/0 would read as an
    // echo reply in nfdump.
    const bool unattributed = c.key_type == kUnattributedFragment;
    const ConversationCounters& n = buckets_[slot / kWays].counters[slot % kWays];
    auto direction = [&](unsigned d) -> DirectionCounters {
        if (!c.counted()) {
            // One packet, held in the head: the counters it would have.
            if (d != c.shape) return DirectionCounters{};
            const Conversation::FirstPacket& f = c.first;
            const uint64_t t = absolute(c.start_ms);
            return DirectionCounters{.octets = f.ip_length,
                                     .packets = 1,
                                     .first_ms = t,
                                     .last_ms = t,
                                     .min_ip_length = f.ip_length,
                                     .max_ip_length = f.ip_length,
                                     .icmp_type = unattributed ? kUnattributedFragment : f.icmp_type,
                                     .icmp_code = unattributed ? kUnattributedFragment : f.icmp_code,
                                     .min_payload = f.payload,
                                     .max_payload = f.payload,
                                     .payload_octets = f.payload};
        }
        if (n.packets[d] == 0) return DirectionCounters{};
        return DirectionCounters{.octets = n.octets[d],
                                 .packets = n.packets[d],
                                 .first_ms = absolute(d == 0 ? c.start_ms : c.more.first_ms1),
                                 .last_ms = absolute(n.last_ms[d]),
                                 .min_ip_length = n.min_ip_length[d],
                                 .max_ip_length = n.max_ip_length[d],
                                 .icmp_type = unattributed ? kUnattributedFragment : c.more.icmp_type[d],
                                 .icmp_code = unattributed ? kUnattributedFragment : c.more.icmp_code[d],
                                 .min_payload = n.min_payload[d],
                                 .max_payload = n.max_payload[d],
                                 .payload_octets = n.payload_octets[d]};
    };
    return ConversationRecord{.initiator = c.addr[0],
                              .responder = c.addr[1],
                              .family = c.family,
                              .key_type = c.key_type,
                              .icmp_id = c.icmp_id,
                              .end_reason = reason,
                              .ingress_port = c.ingress_port,
                              .vlan_id = c.vlan_id,
                              .segment_type = c.segment_type,
                              .segment_id = c.segment_id,
                              .flow_id = worker_bits_ | c.flow_seq,
                              .dir = {direction(0), direction(1)},
                              .detection = DetectionSummary{},
                              .source_prefix_length = kNoPrefix,
                              .destination_prefix_length = kNoPrefix,
                              .flow_count = 1};
}

void FlowCache::snapshot(uint32_t slot, uint64_t now_ms, EndReason reason, ConversationRecord& r) const noexcept {
    r = record(slot, now_ms, reason);
}

}  // namespace flowgen
