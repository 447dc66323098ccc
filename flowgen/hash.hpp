// Hash mixing shared by the per-lcore tables (flow cache, fragment map,
// singleton fold, flood tracker).
#pragma once

#include <cstdint>

namespace flowgen {

// MurmurHash3's 64-bit finaliser (fmix64): a bijection in which every input
// bit reaches every output bit, so a table may take its index from the low
// bits and a signature from the high bits, and linear probing sees no
// clusters from similar keys.
inline uint64_t fmix64(uint64_t k) noexcept {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

}  // namespace flowgen
