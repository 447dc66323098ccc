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
// Start-up (a growing flow cache, offline, reserves address space for its
// largest size and makes it resident as it doubles: grow()); allocation
// failure is an empty TableMemory, never an exception. Not thread-safe to
// share; owned like a unique_ptr.
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
    TableMemory(TableMemory&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)), touched_(std::exchange(o.touched_, 0)) {}
    TableMemory& operator=(TableMemory&& o) noexcept {
        if (this != &o) {
            release();
            data_ = std::exchange(o.data_, nullptr);
            bytes_ = std::exchange(o.bytes_, 0);
            touched_ = std::exchange(o.touched_, 0);
        }
        return *this;
    }
    ~TableMemory() { release(); }

    // Maps `count` zeroed entries (rounded up to whole huge pages), every
    // page touched. With `reserve` > count, address space for `reserve`
    // entries is mapped but only the first `count` are touched: grow()
    // extends the table in place up to `reserve` (pages beyond are never
    // touched before then, so they cost no memory). Returns false when the
    // mapping fails (the previous table, if any, is released).
    bool allocate(size_t count, size_t reserve = 0) noexcept {
        release();
        if (reserve < count) reserve = count;
        const size_t bytes = round_up(reserve * sizeof(T));
        // Map one huge page more and trim, so that the table starts on a
        // huge-page boundary (THP backs only aligned 2 MiB ranges).
        // A reserve beyond count is address space only (MAP_NORESERVE); a
        // table used whole is accounted in full, so that an impossible size
        // fails here, with an error, rather than later in the kernel's OOM.
        const int reserve_only = reserve > count ? MAP_NORESERVE : 0;
        void* raw = mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | reserve_only,
                         -1, 0);
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
        data_ = static_cast<T*>(p);
        bytes_ = bytes;
        touched_ = 0;
        grow(count);
        return true;
    }

    // Makes the first `count` entries resident (<= the reserve; never
    // shrinks): the pages between the old and the new size are touched now
    // (they are already zero), so that resident memory stops growing here
    // rather than while packets arrive.
    void grow(size_t count) noexcept {
        const size_t want = round_up(count * sizeof(T));
        const size_t upto = want < bytes_ ? want : bytes_;
        if (upto <= touched_) return;
        std::memset(reinterpret_cast<char*>(data_) + touched_, 0, upto - touched_);
        touched_ = upto;
    }

    T* get() const noexcept { return data_; }
    T& operator[](size_t i) const noexcept { return data_[i]; }
    explicit operator bool() const noexcept { return data_ != nullptr; }

private:
    static size_t round_up(size_t bytes) noexcept { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }

    void release() noexcept {
        if (data_) munmap(data_, bytes_);
        data_ = nullptr;
        bytes_ = 0;
        touched_ = 0;
    }

    T* data_ = nullptr;
    size_t bytes_ = 0;    // mapped
    size_t touched_ = 0;  // resident: the first touched_ bytes
};

}  // namespace flowgen
