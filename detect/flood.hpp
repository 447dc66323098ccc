// Spoofed-source flood detection, worker side: a small fixed table that
// counts, per destination ("victim") and per interval of the worker's
// clock, the conversations the flow cache creates, their first packets'
// octets and the distinct sources that opened them.
//
// It is fed once per new conversation (never per packet of an existing
// one), touches at most three cache lines of a table that stays in L1/L2
// (kEntries * sizeof(Entry) = 48 KiB), and never allocates after init().
// At the end of each interval the worker hands the victims above a minimum
// to the exporter (FloodSample over an SPSC queue), where FloodMonitor
// (detect/flood_monitor.hpp) merges the workers and decides.
//
// With RSS or the software spread by address pair, one (source, victim)
// pair always lands on one worker, so the workers' source sketches are
// disjoint; they are merged by register maximum, which is exact for the
// union whether or not they are disjoint.
#pragma once

#include <cstdint>
#include <cstring>

#include "flowgen/packet.hpp"
#include "flowgen/relaxed_counter.hpp"

namespace detect {

// HyperLogLog (Flajolet, Fusy, Gandouet, Meunier 2007) of 128 one-byte
// registers: relative standard error 1.04/sqrt(128) = 9.2% above ~320
// distinct sources; below 2.5 * 128 it falls back to linear counting
// (Whang et al. 1990), within a few sources of the truth. Merging two
// sketches (register maximum) gives the sketch of the union.
class SourceSketch {
public:
    static constexpr unsigned kRegisters = 128;
    static constexpr double kStandardError = 0.092;

    // Eight 16-byte stores: a tracker entry taken over by another victim
    // clears its sketch, and `rep stos` (what GCC makes of a 128-byte
    // memset) took a third of FloodTracker::add() under a churn of
    // destinations (perf annotate).
    void clear() noexcept {
        for (Lanes& l : lanes_) {
            l = Lanes{};
            // Keeps GCC from folding the stores back into a memset.
            __asm__("" : "+m"(l));
        }
    }
    // `hash`: a well-mixed 64-bit hash of the source (source_hash()).
    void add(uint64_t hash) noexcept {
        const unsigned index = static_cast<unsigned>(hash >> 57);  // top 7 bits pick the register
        const uint64_t rest = hash << 7;
        const uint8_t rank = rest == 0 ? 58 : static_cast<uint8_t>(__builtin_clzll(rest) + 1);
        uint8_t* r = registers();
        if (rank > r[index]) r[index] = rank;
    }
    void merge(const SourceSketch& other) noexcept {
        for (unsigned i = 0; i < kLanes; ++i) lanes_[i] = lanes_[i] > other.lanes_[i] ? lanes_[i] : other.lanes_[i];
    }
    // Estimated number of distinct sources added.
    uint64_t estimate() const noexcept;

private:
    // GCC/Clang vector extension: the registers as 16-byte lanes.
    typedef uint8_t Lanes __attribute__((vector_size(16)));
    static constexpr unsigned kLanes = kRegisters / 16;
    // Byte access to the lanes (through unsigned char: allowed for any object).
    uint8_t* registers() noexcept { return reinterpret_cast<uint8_t*>(lanes_); }
    const uint8_t* registers() const noexcept { return reinterpret_cast<const uint8_t*>(lanes_); }
    Lanes lanes_[kLanes] = {};
};

// 64-bit hash of a source address for SourceSketch: murmur3's finaliser
// (every input bit reaches the top bits) of the address folded to one word;
// one finaliser per new conversation and per hash.
uint64_t source_hash(flowgen::Family family, const flowgen::IpAddress& source) noexcept;

// Who is flooded: the destination address within its segment (the VLAN and
// overlay segment keep mirrors of networks with the same private addresses
// apart, as conversation keys do: flowgen/flow_key.hpp).
struct FloodVictim {
    flowgen::IpAddress address{};
    flowgen::Family family = flowgen::Family::kNone;
    flowgen::SegmentType segment_type = flowgen::SegmentType::kNone;
    uint16_t vlan_id = 0;
    uint32_t segment_id = 0;

    friend bool operator==(const FloodVictim& a, const FloodVictim& b) noexcept {
        return a.family == b.family && a.vlan_id == b.vlan_id && a.segment_type == b.segment_type &&
               a.segment_id == b.segment_id && a.address == b.address;
    }
};

uint64_t victim_hash(const FloodVictim& v) noexcept;

// One worker's count for one victim over one interval. Each new
// conversation brings one packet (the one that created it), so
// `conversations` is also the packet count of the interval's first packets.
struct FloodSample {
    FloodVictim victim;
    uint64_t interval = 0;   // now_ms / interval_ms of the worker clock
    uint64_t first_ms = 0;   // first and last new conversation to the victim
    uint64_t last_ms = 0;
    uint32_t conversations = 0;
    uint64_t octets = 0;     // IP octets of their first packets
    SourceSketch sources;
};

// Written by the worker's lcore only; any thread may read.
struct FloodTrackerStats {
    flowgen::RelaxedCounter evictions;       // a victim's interval count lost to another destination
    flowgen::RelaxedCounter reports_capped;  // victims above the minimum not reported (beyond kMaxReports)
};

class FloodTracker {
public:
    FloodTracker() = default;
    // It points into its own table (last_): not to be copied.
    FloodTracker(const FloodTracker&) = delete;
    FloodTracker& operator=(const FloodTracker&) = delete;

    // 2-way set associative, keyed by victim.
    static constexpr uint32_t kEntries = 256;
    static constexpr uint32_t kWays = 2;
    // Victims reported per interval at most: the heaviest.
    static constexpr uint32_t kMaxReports = 16;

    // `report_min`: new conversations in one interval from which a victim
    // is reported (0: the tracker is off); `interval_ms` > 0.
    void init(uint32_t report_min, uint64_t interval_ms = 1000) noexcept;
    bool enabled() const noexcept { return report_min_ != 0; }

    // Whether the interval that holds the counts so far has ended at now_ms.
    bool interval_due(uint64_t now_ms) const noexcept { return now_ms >= interval_end_ms_; }

    // One conversation just created by packet `p` at now_ms (call
    // close_interval() first when interval_due(now_ms)).
    void add(const flowgen::PacketInfo& p, uint64_t now_ms) noexcept;

    // Ends the interval: writes up to kMaxReports victims with at least
    // report_min conversations into `out`, heaviest first, returns how
    // many; empties the table; the next interval is the one holding now_ms.
    uint32_t close_interval(uint64_t now_ms, FloodSample* out) noexcept;

    const FloodTrackerStats& stats() const noexcept { return stats_; }

private:
    struct alignas(64) Entry {
        FloodVictim victim;
        uint32_t conversations;
        uint64_t octets;
        uint64_t first_ms;
        uint64_t last_ms;
        SourceSketch sources;
    };
    static constexpr uint32_t kSets = kEntries / kWays;

    Entry table_[kEntries];
    uint32_t report_min_ = 0;
    uint64_t interval_ms_ = 1000;
    uint64_t interval_ = 0;         // index of the interval being counted
    uint64_t interval_end_ms_ = 0;  // 0 until the first conversation
    bool any_ = false;              // an entry is in use
    // The entry of the previous conversation's victim: a flood has one or a
    // few victims, so most new conversations skip the hash and the set.
    // Checked before use (its victim, a non-zero count), never trusted.
    Entry* last_ = nullptr;
    FloodTrackerStats stats_;
};

}  // namespace detect
