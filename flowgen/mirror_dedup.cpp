#include "flowgen/mirror_dedup.hpp"

#include <array>
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

// The 8 bytes at `at`, of which `avail` (counted from `at`) were captured;
// missing ones read as zero.
inline uint64_t word_at(const uint8_t* ip, size_t at, size_t avail) noexcept {
    uint64_t v = 0;
    if (at + 8 <= avail) {
        std::memcpy(&v, ip + at, 8);
    } else {
        // Composed in a register as a load of the zero-padded bytes would
        // read them (through a buffer, the word load waits on byte stores).
        for (size_t i = 0; at + i < avail; ++i) {
            const unsigned shift = std::endian::native == std::endian::little ? 8 * i : 56 - 8 * i;
            v |= uint64_t{ip[at + i]} << shift;
        }
    }
    return v;
}

// Byte masks as words, the same on either byte order: what a hop may
// rewrite reads as zero.
constexpr uint64_t byte_mask(std::array<uint8_t, 8> bytes) noexcept { return std::bit_cast<uint64_t>(bytes); }
// RFC 791: type of service (DSCP may be re-marked per hop); time to live
// and the header checksum (which changes with it).
constexpr uint64_t kIpv4Mask0 = byte_mask({0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
constexpr uint64_t kIpv4Mask1 = byte_mask({0x00, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF});
// RFC 8200 §3: the traffic class spans bytes 0-1; byte 7 is the hop limit.
constexpr uint64_t kIpv6Mask0 = byte_mask({0xF0, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00});

}  // namespace

// Words are loaded from the packet and masked in registers: a copy into a
// buffer with the mutable bytes zeroed in place made every word load wait
// for a store it could not forward (perf: a fifth of this function).
uint64_t mirror_hash(const PacketInfo& p) noexcept {
    constexpr size_t kBytes = MirrorDedup::kHashedBytes;
    const size_t n = p.ip_captured < kBytes ? p.ip_captured : kBytes;
    const uint8_t* ip = p.ip_header;
    const size_t avail = ip != nullptr ? n : 0;
    uint64_t mask0 = ~uint64_t{0}, mask1 = ~uint64_t{0};
    if (p.family == Family::kIpv4 && n >= 20) {
        mask0 = kIpv4Mask0;
        mask1 = kIpv4Mask1;
    } else if (p.family == Family::kIpv6 && n >= 40) {
        mask0 = kIpv6Mask0;
    }
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    h = mix((word_at(ip, 0, avail) & mask0) ^ h ^ 0xa0761d6478bd642fULL,
            (word_at(ip, 8, avail) & mask1) ^ 0xe7037ed1a0b428dbULL);
    for (size_t i = 16; i < kBytes; i += 16)
        h = mix(word_at(ip, i, avail) ^ h ^ 0xa0761d6478bd642fULL, word_at(ip, i + 8, avail) ^ 0xe7037ed1a0b428dbULL);
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
