// Bounded single-producer/single-consumer queue of plain values: how a worker
// lcore hands finished flow records and alerts to the exporter without a
// lock. push() never blocks: a full queue returns false and the producer
// counts the loss.
//
// Exactly one thread may push and exactly one other thread may pop. Head and
// tail sit on their own cache lines, and each side caches the other's index
// so that the shared line is read only when the cached view says full/empty.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace flowgen {

template <class T>
class SpscQueue {
    static_assert(std::is_trivially_copyable_v<T>, "queue elements are copied as plain values");

public:
    explicit SpscQueue(uint32_t capacity_pow2 = 4096)
        : mask_(std::bit_ceil(capacity_pow2 < 2 ? 2u : capacity_pow2) - 1), slots_(new T[mask_ + 1]) {}

    SpscQueue(const SpscQueue&) = delete;
    SpscQueue& operator=(const SpscQueue&) = delete;

    // Producer side. Returns false (and stores nothing) when full.
    bool push(const T& v) noexcept {
        const uint64_t tail = tail_.load(std::memory_order_relaxed);
        if (tail - head_cache_ > mask_) {
            head_cache_ = head_.load(std::memory_order_acquire);
            if (tail - head_cache_ > mask_) return false;
        }
        slots_[tail & mask_] = v;
        tail_.store(tail + 1, std::memory_order_release);
        return true;
    }

    // Consumer side. Returns false when empty.
    bool pop(T& out) noexcept {
        const uint64_t head = head_.load(std::memory_order_relaxed);
        if (head == tail_cache_) {
            tail_cache_ = tail_.load(std::memory_order_acquire);
            if (head == tail_cache_) return false;
        }
        out = slots_[head & mask_];
        head_.store(head + 1, std::memory_order_release);
        return true;
    }

    // Either side; a snapshot that may be stale by the time it is used.
    size_t size() const noexcept {
        return static_cast<size_t>(tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire));
    }
    size_t capacity() const noexcept { return mask_ + 1; }
    // The element storage (where its pages are: NUMA placement).
    const T* storage() const noexcept { return slots_.get(); }

private:
    const uint64_t mask_;
    std::unique_ptr<T[]> slots_;
    alignas(64) std::atomic<uint64_t> tail_{0};
    uint64_t head_cache_ = 0;  // producer's view of head_
    alignas(64) std::atomic<uint64_t> head_{0};
    uint64_t tail_cache_ = 0;  // consumer's view of tail_
};

}  // namespace flowgen
