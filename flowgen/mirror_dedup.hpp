// Drops the second copy of a packet that a mirror delivered twice.
//
// A SPAN session of both directions of two ports, or of ingress and egress
// of one port, delivers the same packet twice, microseconds to milliseconds
// apart, sometimes through different tunnels (two ERSPAN sessions). Packet
// brokers remove these over a short window by hashing the packet while
// ignoring what changes per hop; this does the same on the innermost IP
// packet (after decapsulation), for ICMP only: the outer headers, the
// IPv4 TTL, TOS and header checksum, and the IPv6 hop limit and traffic
// class are left out, the rest of the IP header and up to kHashedBytes of
// the packet are hashed. Hosts rarely repeat a packet byte for byte
// within milliseconds (echo requests differ in sequence number, errors
// quote different packets) but floods do: rsmurf6 sends one echo request
// a thousand times in 8 ms. So at most one copy of a packet is dropped: a
// mirror delivers a packet twice, a third identical packet within the
// window means the sender repeats itself, and from then on every copy
// counts (a flood of N identical packets counts N - 1).
//
// A fixed, direct-mapped table of the hashes seen recently and when: one
// per worker lcore, no allocation after init(), no lock. A collision
// overwrites (a duplicate may then be missed, never a distinct packet
// dropped unless two different packets hash the same within the window:
// 64-bit hashes make that negligible).
#pragma once

#include <cstdint>
#include <memory>

#include "flowgen/packet.hpp"
#include "flowgen/prefetch.hpp"
#include "flowgen/status.hpp"

namespace flowgen {

// The hash duplicate() uses: the inner IP packet without its per-hop fields.
uint64_t mirror_hash(const PacketInfo& p) noexcept;

class MirrorDedup {
public:
    static constexpr uint32_t kDefaultEntries = 1u << 16;  // 1 MiB per worker
    static constexpr uint32_t kHashedBytes = 128;          // of the inner IP packet

    // window_ms 0 disables the deduplicator (duplicate() is always false and
    // nothing is allocated). entries is rounded up to a power of two.
    Status init(uint32_t window_ms, uint32_t entries = kDefaultEntries);
    bool enabled() const noexcept { return window_ms_ != 0; }
    uint32_t window_ms() const noexcept { return window_ms_; }

    // True when the same inner packet was seen once, at most window_ms
    // before `now_ms` (the caller drops and counts it); otherwise remembers
    // it. A packet seen a third time within the window is not a duplicate.
    // `p` must come from parse_frame (ip_header set). Times must not go
    // backwards. Called by the owning lcore only.
    bool duplicate(const PacketInfo& p, uint64_t now_ms) noexcept { return duplicate(mirror_hash(p), now_ms); }
    // The same in two steps for a burst: hash (mirror_hash) and prefetch
    // every packet's entry first, then decide in arrival order, so that the
    // entries' cache misses overlap (a flood evicts the table from the CPU
    // caches with its new conversations).
    void prefetch(uint64_t hash) const noexcept {
        flowgen::prefetch(&entries_[static_cast<uint32_t>(hash >> 32) & mask_]);
    }
    bool duplicate(uint64_t hash, uint64_t now_ms) noexcept;

private:
    struct Entry {
        uint64_t hash;     // 0: empty
        uint64_t time_ms;  // when the first copy was seen; bit 63: a copy was dropped
    };
    static constexpr uint64_t kDropped = uint64_t{1} << 63;
    std::unique_ptr<Entry[]> entries_;
    uint32_t mask_ = 0;
    uint32_t window_ms_ = 0;
};

}  // namespace flowgen
