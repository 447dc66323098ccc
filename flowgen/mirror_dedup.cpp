#include "flowgen/mirror_dedup.hpp"

#include <bit>
#include <cstring>
#include <new>
#include <string>

namespace flowgen {

namespace {

// Folded 64x64->128-bit multiply, as hash_key uses (wyhash's mixer).
inline uint64_t mix(uint64_t a, uint64_t b) noexcept {
    const __uint128_t r = static_cast<__uint128_t>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

}  // namespace

uint64_t mirror_hash(const PacketInfo& p) noexcept {
    uint8_t buf[MirrorDedup::kHashedBytes] = {};
    const size_t n = p.ip_captured < sizeof buf ? p.ip_captured : sizeof buf;
    if (p.ip_header != nullptr) std::memcpy(buf, p.ip_header, n);
    if (p.family == Family::kIpv4 && n >= 20) {
        buf[1] = 0;             // RFC 791 type of service (DSCP may be re-marked per hop)
        buf[8] = 0;             // time to live
        buf[10] = buf[11] = 0;  // header checksum (changes with the TTL)
    } else if (p.family == Family::kIpv6 && n >= 40) {
        buf[0] &= 0xF0;         // RFC 8200 §3: traffic class spans bytes 0-1
        buf[1] &= 0x0F;
        buf[7] = 0;             // hop limit
    }
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    for (size_t i = 0; i < sizeof buf; i += 16) {
        uint64_t a, b;
        std::memcpy(&a, buf + i, 8);
        std::memcpy(&b, buf + i + 8, 8);
        h = mix(a ^ h ^ 0xa0761d6478bd642fULL, b ^ 0xe7037ed1a0b428dbULL);
    }
    // The length the header states and what was captured tell a cut copy
    // from a whole one (a mirror that truncates only one of its sessions).
    h = mix(h ^ p.ip_length, 0x8ebc6af09c88c6e3ULL ^ p.ip_captured);
    return h ? h : 1;
}

Status MirrorDedup::init(uint32_t window_ms, uint32_t entries) {
    window_ms_ = window_ms;
    if (window_ms == 0) {
        entries_.reset();
        mask_ = 0;
        return {};
    }
    const uint32_t size = std::bit_ceil(entries ? entries : 1u);
    entries_.reset(new (std::nothrow) Entry[size]());
    if (!entries_)
        return Status::error("mirror deduplicator: cannot allocate " + std::to_string(size * sizeof(Entry)) + " bytes");
    mask_ = size - 1;
    return {};
}

bool MirrorDedup::duplicate(uint64_t h, uint64_t now_ms) noexcept {
    if (window_ms_ == 0) return false;
    Entry& e = entries_[static_cast<uint32_t>(h >> 32) & mask_];
    const uint64_t first_ms = e.time_ms & ~kDropped;
    if (e.hash == h && now_ms - first_ms <= window_ms_) {
        if (e.time_ms & kDropped) return false;  // a third copy: the sender repeats itself
        e.time_ms |= kDropped;
        return true;
    }
    // The first copy's time is kept for later copies: a copy more than a
    // window after the first is a new packet.
    e.hash = h;
    e.time_ms = now_ms;
    return false;
}

}  // namespace flowgen
