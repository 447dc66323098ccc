// Memory for the large per-lcore tables (flow cache buckets, detector state):
// one anonymous mapping, backed by transparent huge pages where the kernel
// allows it, zeroed and touched at start-up so that resident memory does not
// grow while packets arrive.
//
// Why: a million conversations are 128 MiB of cache (+ 128 MiB of detector
// state). With 4 KiB pages every conversation lookup is also a TLB miss and
// a page walk; with 2 MiB pages the TLB covers the table. pipeline_bench
// (tests/perf) showed the difference (docs/performance.md).
//
// Start-up (and the rare doubling of a growing flow cache, offline);
// allocation failure is an empty TableMemory, never an
// exception. Not thread-safe to share; owned like a unique_ptr.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

namespace flowgen {

template <class T>
class TableMemory {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                  "table entries are plain values, valid when zero");

public:
    static constexpr size_t kHugePage = size_t{2} << 20;

    TableMemory() = default;
    TableMemory(const TableMemory&) = delete;
    TableMemory& operator=(const TableMemory&) = delete;
    TableMemory(TableMemory&& o) noexcept : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    TableMemory& operator=(TableMemory&& o) noexcept {
        if (this != &o) {
            release();
            data_ = std::exchange(o.data_, nullptr);
            bytes_ = std::exchange(o.bytes_, 0);
        }
        return *this;
    }
    ~TableMemory() { release(); }

    // Maps `count` zeroed entries (rounded up to whole huge pages). Returns
    // false when the mapping fails (the previous table, if any, is released).
    bool allocate(size_t count) noexcept {
        release();
        const size_t bytes = (count * sizeof(T) + kHugePage - 1) / kHugePage * kHugePage;
        // Map one huge page more and trim, so that the table starts on a
        // huge-page boundary (THP backs only aligned 2 MiB ranges).
        void* raw = mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED) return false;
        const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
        const uintptr_t aligned = (start + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
        if (aligned > start) munmap(raw, aligned - start);
        if (aligned + bytes < start + bytes + kHugePage)
            munmap(reinterpret_cast<void*>(aligned + bytes), start + kHugePage - aligned);
        void* p = reinterpret_cast<void*>(aligned);
        // Advice only: without THP (or with "never") the table still works
        // on small pages.
        (void)madvise(p, bytes, MADV_HUGEPAGE);
        // Touch every page now (the mapping is already zero): resident
        // memory is the table's full size from start-up on.
        std::memset(p, 0, bytes);
        data_ = static_cast<T*>(p);
        bytes_ = bytes;
        return true;
    }

    T* get() const noexcept { return data_; }
    T& operator[](size_t i) const noexcept { return data_[i]; }
    explicit operator bool() const noexcept { return data_ != nullptr; }
    size_t mapped_bytes() const noexcept { return bytes_; }

private:
    void release() noexcept {
        if (data_) munmap(data_, bytes_);
        data_ = nullptr;
        bytes_ = 0;
    }

    T* data_ = nullptr;
    size_t bytes_ = 0;
};

}  // namespace flowgen
