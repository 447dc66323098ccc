// Inline part of flow_cache.hpp: the per-packet and expiry templates. The
// sink is a template parameter so that the call is inlined: no virtual or
// std::function call per packet.
#pragma once

#include <algorithm>
#include <cstring>

namespace flowgen {

inline bool FlowCache::matches(const Conversation& c, const FlowKey& key) const noexcept {
    if (c.family != key.family || c.key_type != key.key_type || c.icmp_id != key.id || c.vlan_id != key.vlan_id ||
        c.segment_id != key.segment_id || c.segment_type != key.segment_type)
        return false;
    return (c.addr[0] == key.low && c.addr[1] == key.high) ||
           (c.addr[0] == key.high && c.addr[1] == key.low);
}

inline bool FlowCache::would_overflow(const ConversationCounters& n, unsigned dir, const PacketInfo& p) noexcept {
    // packets and payload_octets are 32 bits; an export slice that would
    // wrap one is cut short (reported as an active timeout) instead of
    // silently wrapping.
    return n.packets[dir] == UINT32_MAX || n.payload_octets[dir] > UINT32_MAX - p.payload_wire_length;
}

// Adds a packet to a counted conversation.
inline void FlowCache::account(Conversation& c, ConversationCounters& n, unsigned dir, const PacketInfo& p,
                               uint32_t now32) noexcept {
    const uint16_t len = static_cast<uint16_t>(std::min<uint32_t>(p.ip_length, 0xffff));
    if (n.packets[dir] == 0) {
        n.min_ip_length[dir] = len;
        n.max_ip_length[dir] = len;
        // The first packet of each direction in this export slice starts it
        // (after an active-timeout restart, the slice starts with a packet,
        // not with the export).
        if (dir == 0)
            c.start_ms = now32;
        else
            c.more.first_ms1 = now32;
    } else {
        n.min_ip_length[dir] = std::min(n.min_ip_length[dir], len);
        n.max_ip_length[dir] = std::max(n.max_ip_length[dir], len);
    }
    n.packets[dir] += 1;
    n.octets[dir] += p.ip_length;
    n.last_ms[dir] = now32;
    if (p.has_icmp_header) {
        const uint16_t pay = p.payload_wire_length;
        if (!(c.has_type & (1u << dir))) {
            c.has_type |= static_cast<uint8_t>(1u << dir);
            c.more.icmp_type[dir] = p.icmp_type;
            c.more.icmp_code[dir] = p.icmp_code;
            n.min_payload[dir] = pay;
            n.max_payload[dir] = pay;
        } else {
            n.min_payload[dir] = std::min(n.min_payload[dir], pay);
            n.max_payload[dir] = std::max(n.max_payload[dir], pay);
        }
        n.payload_octets[dir] += pay;
    }
}

// Writes the head of a new conversation, whose first packet `p` goes in
// direction `dir`. Only the head's line is written: the counters' lines are
// left alone until a second packet (count_first()). A first packet longer
// than the head can hold (an IPv6 packet over 65,535 octets) is counted at once.
inline void FlowCache::open(Conversation& c, ConversationCounters& n, const FlowKey& key, unsigned dir,
                            const PacketInfo& p, uint16_t port, uint64_t now_ms) noexcept {
    const uint32_t now32 = static_cast<uint32_t>(now_ms);
    c.addr[0] = p.src;
    c.addr[1] = p.dst;
    // A packet whose source is not one of the key's addresses cannot happen:
    // the key was made from this packet.
    c.segment_id = key.segment_id;
    c.start_ms = now32;
    c.flow_seq = next_seq_++;
    c.icmp_id = key.id;
    c.ingress_port = port;
    c.vlan_id = key.vlan_id;
    c.family = key.family;
    c.key_type = key.key_type;
    c.segment_type = key.segment_type;
    c.unused = 0;
    if (__builtin_expect(p.ip_length <= 0xffff, 1)) {
        c.shape = static_cast<uint8_t>(dir);  // kFirst0 or kFirst1
        const bool h = p.has_icmp_header;
        c.has_type = h ? static_cast<uint8_t>(1u << dir) : 0;
        c.first.ip_length = static_cast<uint16_t>(p.ip_length);
        c.first.payload = h ? p.payload_wire_length : 0;
        c.first.icmp_type = h ? p.icmp_type : 0;
        c.first.icmp_code = h ? p.icmp_code : 0;
        c.first.unused = 0;
        return;
    }
    c.shape = Conversation::kCounted;
    c.has_type = 0;
    c.more = Conversation::MoreCounters{};
    n = ConversationCounters{};
    account(c, n, dir, p, now32);
}

// A one-packet conversation takes its second packet: its first packet, held
// in the head, is counted by account() as it would have been on arrival.
inline void FlowCache::count_first(Conversation& c, ConversationCounters& n) noexcept {
    const unsigned d = c.shape;
    PacketInfo first;  // what account() reads of a packet
    first.ip_length = c.first.ip_length;
    first.has_icmp_header = c.has_type != 0;
    first.payload_wire_length = c.first.payload;
    first.icmp_type = c.first.icmp_type;
    first.icmp_code = c.first.icmp_code;
    n = ConversationCounters{};
    c.more = Conversation::MoreCounters{};  // overwrites `first`, copied above
    c.has_type = 0;
    c.shape = Conversation::kCounted;
    account(c, n, d, first, c.start_ms);
}

// Zero the counters of a conversation that continues after an active-timeout
// export; its identity (addresses, key, flow id) and slot stay.
inline void FlowCache::restart(Conversation& c, ConversationCounters& n, uint32_t now32) noexcept {
    n = ConversationCounters{};
    n.last_ms[0] = n.last_ms[1] = now32;
    c.more = Conversation::MoreCounters{};
    c.more.first_ms1 = now32;
    c.has_type = 0;
    c.start_ms = now32;
    c.shape = Conversation::kCounted;
}

inline bool FlowCache::empty(const Bucket& bucket) noexcept {
    uint64_t any = 0;
    for (uint32_t w = 0; w < kWays; w += 2) {
        uint64_t pair;
        std::memcpy(&pair, &bucket.sig[w], sizeof pair);
        any |= pair;
    }
    return any == 0;
}

// The way an eviction would free: the one seen least recently, by the index
// line's times. Ages are compared modulo 2^32 ms, like every stored time.
inline uint32_t FlowCache::oldest_way(const Bucket& bucket, uint32_t now32) const noexcept {
    uint32_t oldest = 0, oldest_age = now32 - bucket.last_seen[0];
    for (uint32_t w = 1; w < kWays; ++w) {
        const uint32_t age = now32 - bucket.last_seen[w];
        if (age > oldest_age) {
            oldest = w;
            oldest_age = age;
        }
    }
    return oldest;
}

inline uint32_t FlowCache::prefetch_slot(uint64_t hash, uint64_t now_ms) const noexcept {
    const uint32_t sig = signature(hash);
    const uint32_t b = static_cast<uint32_t>(hash) & buckets_mask_;
    const Bucket& bucket = buckets_[b];
    uint32_t way = kWays, free_way = kWays;
    for (uint32_t w = 0; w < kWays; ++w) {
        if ((bucket.sig[w] & kSignatureMask) == sig) way = w;
        if (bucket.sig[w] == 0 && free_way == kWays) free_way = w;
    }
    if (way != kWays) {
        // Likely a hit: its head and counters (56 bytes at a multiple of 8:
        // one or two lines).
        flowgen::prefetch(&bucket.conv[way]);
        const char* n = reinterpret_cast<const char*>(&bucket.counters[way]);
        flowgen::prefetch(n);
        flowgen::prefetch(n + sizeof(ConversationCounters) - 1);
        return b * kWays + way;
    }
    // A new conversation: the head it will write, and the one an eviction
    // would read first. An evicted one-packet conversation needs no more;
    // one with counters (a full table of real conversations) costs a miss.
    way = free_way != kWays ? free_way : oldest_way(bucket, static_cast<uint32_t>(now_ms));
    flowgen::prefetch(&bucket.conv[way]);
    return b * kWays + way;
}

// The expiry scan reads every bucket's index line and, for each live way
// that is counted (kCountedBit) or idle, its head (start_ms, for the
// active-timeout check, or the record of its end):
// lines 1 KiB apart that no hardware prefetcher predicts. Start loading the
// index line kScanAhead buckets ahead, and the conversations of the bucket
// half-way there, whose index line was asked for kScanAhead / 2 buckets ago.
// Offline, where the scan runs at capture speed over a table sized for the
// capture, expiry was ~12% of the run, stalled on these lines (perf).
// Empty buckets (occupancy bitmap) are neither prefetched nor read: on a
// sparse table they are most of them, and the scan skips them anyway.
inline void FlowCache::prefetch_scan(uint32_t b, uint32_t now32) const noexcept {
    const uint32_t far = (b + kScanAhead) & buckets_mask_;
    if ((occupied_[far >> 6] >> (far & 63)) & 1) flowgen::prefetch(&buckets_[far]);
    const uint32_t mid = (b + kScanAhead / 2) & buckets_mask_;
    if (!((occupied_[mid >> 6] >> (mid & 63)) & 1)) return;
    const Bucket& near = buckets_[mid];
    for (uint32_t w = 0; w < kWays; ++w)
        if ((near.sig[w] & kCountedBit) || (near.sig[w] != 0 && now32 - near.last_seen[w] >= idle_ms_))
            flowgen::prefetch(&near.conv[w]);
}

// Removes a conversation, exporting it unless it has nothing to export (a
// conversation cut by an active timeout and silent since). Counts it by
// reason. Returns the number of records exported (0 or 1).
template <class Sink>
uint32_t FlowCache::end(uint32_t slot, uint64_t now_ms, EndReason reason, Sink& export_sink) noexcept {
    Bucket& bucket = buckets_[slot / kWays];
    uint32_t exported = 0;
    if (silent(bucket.conv[slot % kWays], bucket.counters[slot % kWays])) {
        stats_.ended_silent.add();
    } else {
        const ConversationRecord rec = record(slot, now_ms, reason);
        export_sink(rec, slot);
        exported = 1;
        switch (reason) {
        case EndReason::kIdleTimeout: stats_.exported_idle.add(); break;
        case EndReason::kLackOfResources: stats_.evicted.add(); break;
        default: stats_.exported_forced.add(); break;
        }
    }
    bucket.sig[slot % kWays] = 0;
    if (empty(bucket)) clear_occupied(slot / kWays);
    stats_.active.sub();
    return exported;
}

template <class Sink>
FlowCache::Hit FlowCache::update(const FlowKey& key, uint64_t h, bool reply, const PacketInfo& p, uint16_t port,
                                 uint64_t now_ms, Sink&& export_sink) noexcept {
    const uint32_t sig = signature(h);
    const uint32_t b = static_cast<uint32_t>(h) & buckets_mask_;
    Bucket& bucket = buckets_[b];
    const uint32_t now32 = static_cast<uint32_t>(now_ms);

    uint32_t free_way = kWays;
    for (uint32_t w = 0; w < kWays; ++w) {
        if ((bucket.sig[w] & kSignatureMask) == sig && matches(bucket.conv[w], key)) {
            Conversation& c = bucket.conv[w];
            ConversationCounters& n = bucket.counters[w];
            unsigned dir;
            if (c.addr[0] == c.addr[1])
                dir = reply ? 1 : 0;
            else
                dir = (p.src == c.addr[0]) ? 0 : 1;
            const uint32_t slot = b * kWays + w;
            if (!c.counted()) {
                count_first(c, n);
                bucket.sig[w] |= kCountedBit;
            }
            if (__builtin_expect(would_overflow(n, dir, p), 0)) {
                const ConversationRecord rec = record(slot, now_ms, EndReason::kActiveTimeout);
                export_sink(rec, slot);
                stats_.exported_active.add();
                restart(c, n, now32);
            }
            account(c, n, dir, p, now32);
            bucket.last_seen[w] = now32;
            return {slot, static_cast<uint8_t>(dir), false};
        }
        if (bucket.sig[w] == 0 && free_way == kWays) free_way = w;
    }

    if (free_way == kWays) return open_in_full_bucket(key, h, reply, p, port, now_ms, export_sink);
    return open_at(b, free_way, sig, key, reply, p, port, now_ms);
}

inline FlowCache::Hit FlowCache::open_at(uint32_t b, uint32_t way, uint32_t sig, const FlowKey& key, bool reply,
                                         const PacketInfo& p, uint16_t port, uint64_t now_ms) noexcept {
    Bucket& bucket = buckets_[b];
    const uint32_t now32 = static_cast<uint32_t>(now_ms);
    bucket.sig[way] = sig;
    bucket.last_seen[way] = now32;
    set_occupied(b);
    // The initiator is this packet's source; only a conversation with
    // itself can start with its reply half.
    const unsigned dir = (p.src == p.dst && reply) ? 1 : 0;
    open(bucket.conv[way], bucket.counters[way], key, dir, p, port, now_ms);
    if (bucket.conv[way].counted()) bucket.sig[way] |= kCountedBit;
    stats_.created.add();
    stats_.active.add();
    return {b * kWays + way, static_cast<uint8_t>(dir), true};
}

// A new conversation whose bucket is full: a growing table doubles (as often
// as it takes, up to its maximum) rather than evict; a full-size table
// evicts the conversation seen least recently.
template <class Sink>
FlowCache::Hit FlowCache::open_in_full_bucket(const FlowKey& key, uint64_t h, bool reply, const PacketInfo& p,
                                              uint16_t port, uint64_t now_ms, Sink& export_sink) noexcept {
    const uint32_t sig = signature(h);
    while (capacity_ < max_capacity_ && !grow_refused_ && grow()) {
        const uint32_t b = static_cast<uint32_t>(h) & buckets_mask_;
        for (uint32_t w = 0; w < kWays; ++w)
            if (buckets_[b].sig[w] == 0) return open_at(b, w, sig, key, reply, p, port, now_ms);
    }
    const uint32_t b = static_cast<uint32_t>(h) & buckets_mask_;
    const uint32_t oldest = oldest_way(buckets_[b], static_cast<uint32_t>(now_ms));
    end(b * kWays + oldest, now_ms, EndReason::kLackOfResources, export_sink);
    return open_at(b, oldest, sig, key, reply, p, port, now_ms);
}

template <class Sink>
uint32_t FlowCache::expire(uint64_t now_ms, Sink&& export_sink) noexcept {
    if (!scan_started_ || now_ms < scan_time_ms_) {
        scan_started_ = true;
        scan_time_ms_ = now_ms;
        return 0;
    }
    uint32_t exported = 0;
    if (__builtin_expect(now_ms - scan_time_ms_ > uint64_t{idle_ms_} + kScanPeriodMs, 0)) {
        // The clock jumped (a pause in a capture, a stalled lcore): every
        // conversation seen before went idle meanwhile. End them all as of
        // the moment they were due, so that their stored 32-bit times are
        // read against a clock less than 2^32 ms away, however long the jump.
        // A conversation that took a packet after the last scan (a live
        // worker that accounts a burst before it expires) is active now,
        // not idle: ending it "as of" `due` would date its end before its
        // own packets. Such times lie less than 2^31 ms after the last scan
        // on live ports (a stall of 24 days), so the signed distance tells.
        const uint64_t due = scan_time_ms_ + idle_ms_ + kScanPeriodMs;
        const uint32_t due32 = static_cast<uint32_t>(due);
        const uint32_t scan32 = static_cast<uint32_t>(scan_time_ms_);
        for (uint32_t slot = 0; slot < capacity_; ++slot) {
            Bucket& bucket = buckets_[slot / kWays];
            const uint32_t w = slot % kWays;
            if (bucket.sig[w] == 0 || static_cast<int32_t>(bucket.last_seen[w] - scan32) > 0 ||
                due32 - bucket.last_seen[w] < idle_ms_)
                continue;
            exported += end(slot, due, EndReason::kIdleTimeout, export_sink);
        }
    }
    // Slots owed: capacity per kScanPeriodMs of elapsed time, in fixed point
    // so that frequent calls with 0-1 ms steps still accumulate.
    const uint64_t cap = capacity();
    scan_credit_ += (now_ms - scan_time_ms_) * cap;
    scan_time_ms_ = now_ms;
    // Never owe more than one full pass: after a long gap (a capture with a
    // pause, a stalled lcore) one pass catches up with everything. Clamped
    // before taking this call's share, so that the share never exceeds what
    // is owed (a small table must not scan more than itself and underflow).
    if (scan_credit_ > cap * kScanPeriodMs) scan_credit_ = cap * kScanPeriodMs;
    uint64_t todo = scan_credit_ / kScanPeriodMs;
    if (todo > kMaxScanPerCall) todo = kMaxScanPerCall;
    scan_credit_ -= todo * kScanPeriodMs;

    const uint32_t now32 = static_cast<uint32_t>(now_ms);
    for (uint64_t i = 0; i < todo; ++i) {
        const uint32_t slot = scan_cursor_;
        const uint32_t b = slot / kWays;
        const uint32_t w = slot % kWays;
        if (w == 0) {
            // Empty buckets are skipped on the occupancy bitmap without
            // touching their lines: 64 at a time when a whole word is
            // clear. Most of a large table is empty, and offline the scan
            // runs at capture speed (perf: expire was 24% of `--pcap` on 3M
            // pings; 1M-slot cache, 20k conversations).
            const uint64_t word = occupied_[b >> 6];
            if ((b & 63) == 0 && word == 0 && todo - i >= 64 * kWays) {
                scan_cursor_ = (scan_cursor_ + 64 * kWays) & (static_cast<uint32_t>(cap) - 1);
                i += 64 * kWays - 1;
                continue;
            }
            if (!((word >> (b & 63)) & 1) && todo - i >= kWays) {
                scan_cursor_ = (scan_cursor_ + kWays) & (static_cast<uint32_t>(cap) - 1);
                i += kWays - 1;
                continue;
            }
        }
        Bucket& bucket = buckets_[b];
        if (w == 0) prefetch_scan(b, now32);
        scan_cursor_ = (scan_cursor_ + 1) & (static_cast<uint32_t>(cap) - 1);
        if (bucket.sig[w] == 0) continue;
        if (now32 - bucket.last_seen[w] >= idle_ms_) {
            exported += end(slot, now_ms, EndReason::kIdleTimeout, export_sink);
        } else if ((bucket.sig[w] & kCountedBit)
                       ? now32 - bucket.conv[w].start_ms >= active_ms_ && !silent(bucket.conv[w], bucket.counters[w])
                       : now32 - bucket.last_seen[w] >= active_ms_) {  // one packet: it started when last seen
            const ConversationRecord rec = record(slot, now_ms, EndReason::kActiveTimeout);
            export_sink(rec, slot);
            restart(bucket.conv[w], bucket.counters[w], now32);
            bucket.sig[w] |= kCountedBit;
            bucket.last_seen[w] = now32;
            stats_.exported_active.add();
            ++exported;
        }
    }
    return exported;
}

template <class Sink>
uint32_t FlowCache::flush_all(uint64_t now_ms, EndReason reason, Sink&& export_sink) noexcept {
    uint32_t exported = 0;
    const uint32_t cap = capacity();
    for (uint32_t slot = 0; slot < cap; ++slot) {
        Bucket& bucket = buckets_[slot / kWays];
        if (bucket.sig[slot % kWays] == 0) continue;
        exported += end(slot, now_ms, reason, export_sink);
    }
    return exported;
}

}  // namespace flowgen
