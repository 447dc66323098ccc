// A statistics counter with one writer and any number of readers.
//
// The owning thread (a worker lcore, the exporter's loop) counts; the
// telemetry thread and the main lcore read while it runs. A plain uint64_t
// read that way is a data race (undefined behaviour, and what ThreadSanitizer
// reports); a std::atomic incremented with fetch_add would be correct but
// costs a locked read-modify-write per event. With a single writer, a relaxed
// load of the current value followed by a relaxed store of the new one is
// enough: no increment is lost (nobody else stores), a reader sees some value
// the counter really had (64-bit relaxed accesses are never torn), and on
// x86-64 both compile to plain movs, the code of a plain integer.
//
// Readers get no ordering with anything else: totals read while the writer
// runs are each exact at some instant, not a consistent snapshot across
// counters (exact once the writer has stopped).
//
// add() and sub() must only be called by the one writing thread. Copying
// reads the source once (relaxed) and stores into the destination: it is for
// resets (`stats = {}`) and snapshots, on the writer or after it stopped.
#pragma once

#include <atomic>
#include <cstdint>

namespace flowgen {

class RelaxedCounter {
public:
    constexpr RelaxedCounter() noexcept = default;
    constexpr explicit RelaxedCounter(uint64_t v) noexcept : v_(v) {}
    RelaxedCounter(const RelaxedCounter& other) noexcept : v_(other.get()) {}
    RelaxedCounter& operator=(const RelaxedCounter& other) noexcept {
        set(other.get());
        return *this;
    }

    // Writer only: load, add, store (never a locked read-modify-write).
    void add(uint64_t n = 1) noexcept {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void sub(uint64_t n = 1) noexcept {
        v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    }
    void set(uint64_t v) noexcept { v_.store(v, std::memory_order_relaxed); }

    // Any thread.
    uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

static_assert(sizeof(RelaxedCounter) == sizeof(uint64_t), "a counter costs what a uint64_t costs");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "relaxed 64-bit loads and stores must be plain moves");

}  // namespace flowgen
