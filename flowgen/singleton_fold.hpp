// Bounded export of one-packet conversations.
//
// Under a flood from random (spoofed) sources every packet opens a
// conversation that ends after that one packet and would become an IPFIX
// record of its own: as many records per second as packets. A SingletonFold
// lets the first `singles_per_second` such records of each second (of the
// worker's clock) go out as they are, and folds the rest of that second
// into aggregate records keyed by
//
//   family, destination address, source prefix (/24 IPv4, /64 IPv6),
//   ICMP type and code, segment (VLAN, overlay type and id), ingress port
//
// that sum packets, octets, conversations (flow_count), first and last ms.
// Every packet and octet is in exactly one record: the conversation's own or
// one aggregate's.
//
// The table has a fixed number of entries, allocated by init(), open
// addressing, nothing allocated afterwards. When it runs short, keys are
// coarsened rather than lost:
//   - prefix keys are looked up and added while the table holds fewer
//     than kPrefixShare of its entries; past that, every singleton of the
//     second goes to the entry of its destination with source prefix
//     length 0 (same type/code/segment/port);
//   - when the table is full, to the family's catch-all (source and
//     destination unspecified, both prefix lengths 0, type/code, segment and
//     port 0), of which there is one per family outside the table.
// Aggregates are emitted when their second ends (close_second, called by the
// worker every burst) and at flush. Per worker and second of its clock, the
// singletons therefore cost at most
//     singles_per_second + entries + 2   records
// (every aggregate is one record, uniflow or biflow).
//
// One per worker; only its lcore calls it. Nothing here allocates, locks or
// logs after init().
#pragma once

#include <cstdint>
#include <memory>

#include "flowgen/flow_record.hpp"
#include "flowgen/status.hpp"

namespace flowgen {

struct SingletonFoldConfig {
    // Singleton records per second exported one by one before folding
    // starts; 0 = never fold (every conversation is its own record).
    uint32_t singles_per_second = 1000;
    // Aggregate entries per second (the table), 16..kMaxFoldEntries.
    uint32_t entries = 1024;
};

inline constexpr uint32_t kMinFoldEntries = 16;
inline constexpr uint32_t kMaxFoldEntries = 1u << 20;

// Checks ranges; the message names the option.
Status validate(const SingletonFoldConfig& config);

// What offer() did with a singleton.
enum class FoldOutcome : uint8_t {
    kExport,          // export the record as it is (under the threshold, or not a singleton)
    kFolded,          // into its /24 (/64) entry
    kFoldedCoarse,    // into its destination's entry with source prefix length 0
    kFoldedCatchAll,  // into the family's catch-all
};

class SingletonFold {
public:
    // Share of the entries that prefix (/24, /64) keys may take; the rest is
    // left to destination keys, so that a flood's victim still gets an entry
    // of its own when random sources have filled the prefix part.
    static constexpr uint32_t kPrefixShareNum = 3, kPrefixShareDen = 4;

    SingletonFold() = default;
    SingletonFold(const SingletonFold&) = delete;
    SingletonFold& operator=(const SingletonFold&) = delete;

    // Allocates the table. A config with singles_per_second 0 allocates
    // nothing and never folds.
    Status init(const SingletonFoldConfig& config);
    bool enabled() const noexcept { return config_.singles_per_second != 0; }

    // A conversation record that ends with exactly one packet in total;
    // active-timeout slices never count (the conversation goes on).
    static bool is_singleton(const ConversationRecord& r) noexcept {
        return r.end_reason != EndReason::kActiveTimeout && !r.is_aggregate() &&
               r.dir[0].packets + r.dir[1].packets == 1;
    }

    // A record about to be exported at `now_ms` (the worker's clock, ms,
    // never going backwards). Returns kExport when the caller should export
    // it as usual; otherwise it has been folded and the caller exports
    // nothing for it. Aggregates of a second that has ended are handed to
    // `sink(const ConversationRecord&)` first.
    template <class Sink>
    FoldOutcome offer(const ConversationRecord& r, uint64_t now_ms, Sink&& sink) noexcept {
        if (!enabled() || !is_singleton(r)) return FoldOutcome::kExport;
        close_second(now_ms, sink);
        if (singles_ < config_.singles_per_second) {
            ++singles_;
            return FoldOutcome::kExport;
        }
        return fold(r);
    }

    // Emits the aggregates when the second they belong to has ended at
    // `now_ms`. Cheap when there is nothing to do.
    template <class Sink>
    void close_second(uint64_t now_ms, Sink&& sink) noexcept {
        const uint64_t second = now_ms / 1000;
        if (second == second_) return;
        emit_all(sink);
        second_ = second;
        singles_ = 0;
    }

    // Emits every aggregate now (shutdown, end of capture).
    template <class Sink>
    void flush(Sink&& sink) noexcept {
        emit_all(sink);
        singles_ = 0;
    }

    // Aggregates held now (table entries plus catch-alls in use).
    uint32_t held() const noexcept { return used_ + catch_all_[0].used + catch_all_[1].used; }
    // The most records the singletons of one second can take:
    // singles_per_second + entries + 2.
    uint64_t records_per_second_bound() const noexcept {
        return uint64_t{config_.singles_per_second} + config_.entries + 2;
    }

private:
    // Padding spelled out and zeroed: keys compare and hash as bytes.
    struct Key {
        IpAddress destination;
        IpAddress source;      // network address of the prefix
        uint32_t segment_id;
        uint16_t vlan_id;
        uint16_t ingress_port;
        uint8_t family;
        uint8_t source_prefix_length;
        uint8_t icmp_type;
        uint8_t icmp_code;
        uint8_t segment_type;
        uint8_t pad[3];
    };
    static_assert(sizeof(Key) == 48, "Key has no implicit padding");

    struct Entry {
        Key key;
        uint64_t packets;
        uint64_t octets;
        uint64_t payload_octets;
        uint64_t first_ms;
        uint64_t last_ms;
        uint32_t flows;
        uint16_t min_ip_length, max_ip_length;
        uint16_t min_payload, max_payload;
        EndReason end_reason;  // of the first conversation folded in
        bool used;
    };

    FoldOutcome fold(const ConversationRecord& r) noexcept;
    // The entry of `key`, or a new one if the table has room below `limit`
    // entries; nullptr when it has neither.
    Entry* find_or_insert(const Key& key, uint32_t limit) noexcept;
    static void add(Entry& e, const ConversationRecord& r, int d) noexcept;
    static void to_record(const Entry& e, bool catch_all, ConversationRecord& out) noexcept;

    template <class Sink>
    void emit_all(Sink& sink) noexcept {
        ConversationRecord out;
        for (uint32_t i = 0; i < used_; ++i) {
            Entry& e = slots_[order_[i]];
            to_record(e, false, out);
            e.used = false;
            sink(static_cast<const ConversationRecord&>(out));
        }
        used_ = 0;
        last_ = nullptr;
        for (Entry& e : catch_all_) {
            if (!e.used) continue;
            to_record(e, true, out);
            e.used = false;
            sink(static_cast<const ConversationRecord&>(out));
        }
    }

    SingletonFoldConfig config_{0, 0};
    std::unique_ptr<Entry[]> slots_;     // open addressing, linear probing, load <= 1/2
    std::unique_ptr<uint32_t[]> order_;  // slots in use, in insertion order (emit and clear in O(used))
    uint32_t mask_ = 0;
    uint32_t used_ = 0;
    uint32_t prefix_limit_ = 0;          // entries that prefix keys may take
    Entry catch_all_[2]{};               // [0] IPv4, [1] IPv6
    uint64_t second_ = 0;                // now_ms / 1000 of the singles counted
    uint32_t singles_ = 0;               // singletons exported one by one in second_
    // The entry the previous singleton joined: a flood's singletons share
    // one destination key, found again by comparing keys, without hashing.
    Entry* last_ = nullptr;
};

}  // namespace flowgen
