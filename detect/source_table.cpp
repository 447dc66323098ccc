#include "detect/source_table.hpp"

#include <cstring>
#include <new>
#include <string>

namespace detect {

namespace {

uint64_t mix(uint64_t a, uint64_t b) noexcept {
    uint64_t h = a * 0x9E3779B97F4A7C15ULL;
    h ^= (b + 0x632BE59BD9B4E019ULL) * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ULL;
    h ^= h >> 32;
    return h;
}

uint64_t address_hash(flowgen::Family family, const flowgen::IpAddress& address) noexcept {
    uint64_t a, b;
    std::memcpy(&a, address.bytes, 8);
    std::memcpy(&b, address.bytes + 8, 8);
    return mix(a ^ (static_cast<uint64_t>(family) << 56), b);
}

// Unordered: both directions of a pair share one entry; the constant keeps a
// pair from hashing like a single address.
uint64_t pair_hash(flowgen::Family family, const flowgen::IpAddress& a, const flowgen::IpAddress& b) noexcept {
    const uint64_t ha = address_hash(family, a), hb = address_hash(family, b);
    return mix(ha ^ hb, (ha + hb) ^ 0x5AFEC0DE5AFEC0DEULL);
}

constexpr uint64_t kCountMask = SourceTable::kMaxCount;

// Sliding estimate of a [index:16][previous:24][current:24] word at window
// index `idx`, `into_ms` into that window: the current count plus the share
// of the previous window that still lies within the last `window_ms`.
uint32_t estimate(uint64_t w, uint64_t idx, uint64_t into_ms, uint64_t window_ms) noexcept {
    const uint64_t widx = w >> 48;
    const uint64_t cur = w & kCountMask, prev = (w >> 24) & kCountMask;
    if (widx == (idx & 0xFFFF)) return static_cast<uint32_t>(cur + prev * (window_ms - into_ms) / window_ms);
    if (widx == ((idx - 1) & 0xFFFF)) return static_cast<uint32_t>(cur * (window_ms - into_ms) / window_ms);
    return 0;
}

uint32_t add_sliding(std::atomic<uint64_t>& word, uint64_t now_ms, uint64_t window_ms, uint32_t add) noexcept {
    const uint64_t idx = now_ms / window_ms, into = now_ms % window_ms;
    uint64_t w = word.load(std::memory_order_relaxed);
    if (add == 0) return estimate(w, idx, into, window_ms);
    for (;;) {
        const uint64_t widx = w >> 48;
        uint64_t cur = w & kCountMask, prev = (w >> 24) & kCountMask;
        if (widx == (idx & 0xFFFF)) {
            // same window
        } else if (widx == ((idx - 1) & 0xFFFF)) {
            prev = cur;
            cur = 0;
        } else {
            prev = cur = 0;
        }
        cur = cur + add > kCountMask ? kCountMask : cur + add;
        const uint64_t next = ((idx & 0xFFFF) << 48) | (prev << 24) | cur;
        if (word.compare_exchange_weak(w, next, std::memory_order_relaxed)) return estimate(next, idx, into, window_ms);
    }
}

}  // namespace

flowgen::Status SourceTable::init(uint32_t entries) {
    slots_.reset();
    known_.reset();
    mask_ = 0;
    known_mask_ = 0;
    evictions_.store(0, std::memory_order_relaxed);
    if (entries == 0) return {};
    if ((entries & (entries - 1)) != 0)
        return flowgen::Status::error("detect.source_table_entries: " + std::to_string(entries) +
                                      " is not a power of two");
    slots_.reset(new (std::nothrow) SourceActivity[entries]);
    if (!slots_)
        return flowgen::Status::error("detect.source_table_entries: " + std::to_string(entries) +
                                      " entries (64 bytes each): out of memory");
    known_.reset(new (std::nothrow) std::atomic<uint64_t>[entries / 8 + 1]());
    if (!known_)
        return flowgen::Status::error("detect.source_table_entries: " + std::to_string(entries) +
                                      " entries: out of memory for the sender filter");
    mask_ = entries - 1;
    known_mask_ = entries * 8 - 1;
    return {};
}

namespace {
// The filter bit of a sender tag: bits the slot index (tag >> 40) does not use.
inline uint32_t known_bit(uint64_t tag, uint32_t mask) noexcept { return static_cast<uint32_t>(tag >> 1) & mask; }
}  // namespace

bool SourceTable::may_know_sender(flowgen::Family family, const flowgen::IpAddress& a) const noexcept {
    if (!known_) return false;
    const uint32_t bit = known_bit(address_hash(family, a), known_mask_);
    return (known_[bit / 64].load(std::memory_order_relaxed) >> (bit % 64)) & 1u;
}

void SourceTable::prefetch_known(flowgen::Family family, const flowgen::IpAddress& a) const noexcept {
    if (known_) __builtin_prefetch(&known_[known_bit(address_hash(family, a), known_mask_) / 64]);
}

SourceActivity& SourceTable::slot_for(uint64_t tag) noexcept {
    tag |= 1;  // never 0: 0 marks a free slot
    SourceActivity& e = slots_[static_cast<uint32_t>(tag >> 40) & mask_];
    uint64_t old = e.tag.load(std::memory_order_acquire);
    if (old == tag) return e;
    // Another key (or none) holds the slot: take it over. Two lcores racing
    // for one slot both reset it; the loser's next update lands on the
    // winner's key, which costs at most one payload of evidence.
    if (e.tag.compare_exchange_strong(old, tag, std::memory_order_acq_rel)) {
        if (old != 0) evictions_.fetch_add(1, std::memory_order_relaxed);
        e.fills.store(0, std::memory_order_relaxed);
        e.recent.store(0, std::memory_order_relaxed);
        e.hour_bytes.store(0, std::memory_order_relaxed);
        e.hour_payloads.store(0, std::memory_order_relaxed);
        e.day_bytes.store(0, std::memory_order_relaxed);
        e.day_payloads.store(0, std::memory_order_relaxed);
    }
    return e;
}

const SourceActivity* SourceTable::lookup(uint64_t tag) const noexcept {
    if (!slots_) return nullptr;
    tag |= 1;
    const SourceActivity& e = slots_[static_cast<uint32_t>(tag >> 40) & mask_];
    return e.tag.load(std::memory_order_acquire) == tag ? &e : nullptr;
}

SourceActivity& SourceTable::sender(flowgen::Family family, const flowgen::IpAddress& a) noexcept {
    const uint64_t tag = address_hash(family, a);
    const uint32_t bit = known_bit(tag, known_mask_);
    std::atomic<uint64_t>& word = known_[bit / 64];
    const uint64_t b = uint64_t{1} << (bit % 64);
    if (!(word.load(std::memory_order_relaxed) & b)) word.fetch_or(b, std::memory_order_relaxed);
    return slot_for(tag);
}

SourceActivity& SourceTable::pair(flowgen::Family family, const flowgen::IpAddress& a,
                                  const flowgen::IpAddress& b) noexcept {
    return slot_for(pair_hash(family, a, b));
}

const SourceActivity* SourceTable::find_sender(flowgen::Family family, const flowgen::IpAddress& a) const noexcept {
    return lookup(address_hash(family, a));
}

const SourceActivity* SourceTable::find_pair(flowgen::Family family, const flowgen::IpAddress& a,
                                             const flowgen::IpAddress& b) const noexcept {
    return lookup(pair_hash(family, a, b));
}

ActivityView SourceTable::add_fill(SourceActivity& e, uint64_t now_ms, uint64_t window_ms, uint64_t fill_bit,
                                   bool* added) noexcept {
    ActivityView v;
    constexpr uint64_t kBins = (uint64_t{1} << 48) - 1;
    const uint64_t tagged = ((now_ms / window_ms) & 0xFFFF) << 48;
    uint64_t w = e.fills.load(std::memory_order_relaxed);
    for (;;) {
        const uint64_t base = (w & ~kBins) == tagged ? w : tagged;  // a new window starts empty
        const uint64_t next = base | (fill_bit & kBins);
        if (added) *added = (base & fill_bit & kBins) == 0;
        if (next == w || e.fills.compare_exchange_weak(w, next, std::memory_order_relaxed)) {
            v.fills = static_cast<unsigned>(__builtin_popcountll(next & kBins));
            return v;
        }
    }
}

ActivityView SourceTable::add_payload(SourceActivity& e, uint64_t now_ms, uint64_t window_ms, uint32_t payload_hash,
                                      uint32_t text_bytes, uint32_t bytes, uint32_t payloads, bool* counted) noexcept {
    ActivityView v;
    payload_hash |= 1;  // 0 is the hash of "no payload yet"
    const uint64_t idx = (now_ms / window_ms) & 0xFFFF;
    uint64_t w = e.recent.load(std::memory_order_relaxed);
    bool distinct = false;
    for (;;) {
        distinct = (w >> 32) != payload_hash;
        uint64_t count = ((w >> 16) & 0xFFFF) == idx ? (w & 0xFFFF) : 0;
        if (distinct) count = count + text_bytes > 0xFFFF ? 0xFFFF : count + text_bytes;
        const uint64_t next = (uint64_t{payload_hash} << 32) | (idx << 16) | count;
        if (next == w || e.recent.compare_exchange_weak(w, next, std::memory_order_relaxed)) {
            v.recent_bytes = static_cast<uint32_t>(count);
            break;
        }
    }
    if (counted) *counted = distinct;
    if (!distinct) bytes = payloads = 0;  // add_sliding(0) only reads
    v.hour.bytes = add_sliding(e.hour_bytes, now_ms, kHourMs, bytes);
    v.hour.payloads = add_sliding(e.hour_payloads, now_ms, kHourMs, payloads);
    v.day.bytes = add_sliding(e.day_bytes, now_ms, kDayMs, bytes);
    v.day.payloads = add_sliding(e.day_payloads, now_ms, kDayMs, payloads);
    const uint64_t f = e.fills.load(std::memory_order_relaxed);
    if ((f >> 48) == idx) v.fills = static_cast<unsigned>(__builtin_popcountll(f & ((uint64_t{1} << 48) - 1)));
    return v;
}

ActivityView SourceTable::read(const SourceActivity& e, uint64_t now_ms, uint64_t window_ms) noexcept {
    ActivityView v;
    const uint64_t idx = now_ms / window_ms;
    const uint64_t f = e.fills.load(std::memory_order_relaxed);
    if ((f >> 48) == (idx & 0xFFFF)) v.fills = static_cast<unsigned>(__builtin_popcountll(f & ((uint64_t{1} << 48) - 1)));
    const uint64_t r = e.recent.load(std::memory_order_relaxed);
    if (((r >> 16) & 0xFFFF) == (idx & 0xFFFF)) v.recent_bytes = static_cast<uint32_t>(r & 0xFFFF);
    auto est = [now_ms](const std::atomic<uint64_t>& w, uint64_t window) {
        return estimate(w.load(std::memory_order_relaxed), now_ms / window, now_ms % window, window);
    };
    v.hour = {est(e.hour_bytes, kHourMs), est(e.hour_payloads, kHourMs)};
    v.day = {est(e.day_bytes, kDayMs), est(e.day_payloads, kDayMs)};
    return v;
}

}  // namespace detect
