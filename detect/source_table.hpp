// Per-sender and per-pair evidence across conversations and across worker
// lcores: one table shared by every Pipeline of the process.
//
// Why shared: both the symmetric RSS key and the software distribution hash
// the address pair, so one sender's conversations land on every worker; a
// table per worker would count a threshold per worker, and the verdict would
// depend on the worker count. Every field is a 64-bit atomic updated with
// fetch_or or a compare-and-swap loop (no lock), and only by inspected
// packets that carry unexplained content or a pattern fill: a steady ping
// never touches the table.
//
// What it keeps (for an address, and for an unordered address pair):
//   fills          distinct pattern fills (period >= 2), hashed into 48 bins,
//                  within Config::source_window_ms (one `ping -c 1 -p` per
//                  chunk of a file: each conversation alone looks diagnostic)
//   recent_bytes   text/binary payload bytes within source_window_ms
//   hour_*, day_*  unexplained payload bytes and distinct unexplained
//                  payloads over the last hour and the last day: the budget
//                  that low-and-slow exfiltration (one payload a minute, each
//                  conversation ended by the idle timeout) cannot hide from.
// Long windows are sliding estimates from two tumbling windows (the count of
// the current window plus the previous window's count weighted by how much of
// it still overlaps the last `window`): 16 bits of window index, 24 bits
// each of previous and current count in one word, so one CAS updates it.
//
// Bounded: a fixed, direct-mapped table of 64-byte entries sized at start.
// A key that hashes to a slot held by another replaces it (the evidence of
// the old key is lost) and is counted in evictions(). Nothing allocates after
// init().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "flowgen/packet.hpp"
#include "flowgen/status.hpp"

namespace detect {

// A sliding-window count as read back: the estimate over the last window.
struct WindowCount {
    uint32_t bytes = 0;
    uint32_t payloads = 0;
};

struct alignas(64) SourceActivity {
    std::atomic<uint64_t> tag{0};           // 64-bit hash of the key; 0 = free
    std::atomic<uint64_t> fills{0};         // [window index:16][bitmap:48]
    std::atomic<uint64_t> recent{0};        // [last payload hash:32][window index:16][text bytes:16]
    std::atomic<uint64_t> hour_bytes{0};    // [index:16][previous:24][current:24]
    std::atomic<uint64_t> hour_payloads{0};
    std::atomic<uint64_t> day_bytes{0};
    std::atomic<uint64_t> day_payloads{0};
};
static_assert(sizeof(SourceActivity) == 64, "one cache line per entry");

// What one update left behind, for the caller's thresholds.
struct ActivityView {
    unsigned fills = 0;          // distinct pattern fills within the short window
    uint32_t recent_bytes = 0;   // text/binary bytes within the short window (saturates at 65535)
    WindowCount hour;            // sliding one-hour estimate
    WindowCount day;             // sliding one-day estimate
};

class SourceTable {
public:
    static constexpr uint64_t kHourMs = 3'600'000;
    static constexpr uint64_t kDayMs = 86'400'000;
    static constexpr uint32_t kMaxCount = (1u << 24) - 1;  // long-window counts saturate here

    // entries: a power of two (0 disables the table). Allocates entries * 64
    // bytes, zeroed. Call before any worker starts.
    flowgen::Status init(uint32_t entries);
    bool enabled() const noexcept { return slots_ != nullptr; }
    uint32_t entries() const noexcept { return slots_ ? mask_ + 1 : 0; }

    // The entry of a sender address, or of the unordered pair (a, b).
    // Replaces (and counts) another key's entry. Requires enabled(). Any lcore.
    SourceActivity& sender(flowgen::Family family, const flowgen::IpAddress& a) noexcept;
    SourceActivity& pair(flowgen::Family family, const flowgen::IpAddress& a, const flowgen::IpAddress& b) noexcept;
    // The same entries for reading (alert text): nullptr when another key holds the slot.
    const SourceActivity* find_sender(flowgen::Family family, const flowgen::IpAddress& a) const noexcept;
    const SourceActivity* find_pair(flowgen::Family family, const flowgen::IpAddress& a,
                                    const flowgen::IpAddress& b) const noexcept;

    // Adds a fill to an entry at now_ms (Unix ms): `fill_bit`, one of 48
    // bins, to the short window of `window_ms`; *added: the bin was empty.
    static ActivityView add_fill(SourceActivity& e, uint64_t now_ms, uint64_t window_ms, uint64_t fill_bit,
                                 bool* added) noexcept;

    // Adds an unexplained payload (`payload_hash` != 0): `text_bytes` to the
    // short window, and `bytes` and `payloads` to the hour and day windows,
    // unless the entry's previous payload had the same hash (a monitor that
    // sends one constant text in a fresh conversation every minute moves no
    // data). Returns the counts after the update and whether it counted.
    static ActivityView add_payload(SourceActivity& e, uint64_t now_ms, uint64_t window_ms, uint32_t payload_hash,
                                    uint32_t text_bytes, uint32_t bytes, uint32_t payloads, bool* counted) noexcept;

    // The counts of an entry at now_ms without changing it (for alert text).
    static ActivityView read(const SourceActivity& e, uint64_t now_ms, uint64_t window_ms) noexcept;

    // False when the sender certainly has no entry: a bit filter of the
    // senders ever entered (eight bits per entry, shared, small enough to
    // stay in the CPU caches), so a flood of new sources can be told apart
    // without a miss into the table. A true answer is confirmed with
    // find_sender(); bits of senders since taken over stay set, which makes
    // the filter answer true more often, never false wrongly.
    bool may_know_sender(flowgen::Family family, const flowgen::IpAddress& a) const noexcept;
    // Starts loading the filter word may_know_sender() will read. A hint.
    void prefetch_known(flowgen::Family family, const flowgen::IpAddress& a) const noexcept;

    // Entries taken over from another key since init().
    uint64_t evictions() const noexcept { return evictions_.load(std::memory_order_relaxed); }

private:
    SourceActivity& slot_for(uint64_t tag) noexcept;
    const SourceActivity* lookup(uint64_t tag) const noexcept;

    std::unique_ptr<SourceActivity[]> slots_;
    uint32_t mask_ = 0;
    std::unique_ptr<std::atomic<uint64_t>[]> known_;  // may_know_sender(): (mask_ + 1) * 8 bits
    uint32_t known_mask_ = 0;                          // of the bit index
    std::atomic<uint64_t> evictions_{0};
};

}  // namespace detect
