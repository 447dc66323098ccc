// A cache-line prefetch the compiler keeps.
//
// GCC 12 drops a __builtin_prefetch whose address comes from a function it
// deems pure (FlowCache::prefetch_slot reads the index line and returns a
// slot; at -O1 and above the call and every prefetch fed by its result
// vanished from Worker::account_pending: the conversation and detector-state
// prefetches of the burst path never ran). An asm volatile prefetch is a side
// effect the optimiser must keep, as DPDK's rte_prefetch0 is.
#pragma once

namespace flowgen {

// Starts loading the cache line holding `p` into every cache level. A hint:
// never faults, whatever the address.
inline void prefetch(const void* p) noexcept {
#if defined(__x86_64__) || defined(__i386__)
    asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
    __builtin_prefetch(p, 1, 3);
    asm volatile("" : : "r"(p) : "memory");
#endif
}

}  // namespace flowgen
