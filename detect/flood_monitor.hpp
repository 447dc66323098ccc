// Spoofed-source flood detection, exporter side: merges the workers'
// per-interval samples (detect/flood.hpp) per victim and decides.
//
// A flood starts when, in one interval, a victim's new conversations reach
// Config::flood_pps (per second) from at least flood_min_sources distinct
// sources (the interval before, if it had samples, is the flood's start); it
// ends when flood_end_intervals intervals in a row stay below
// flood_pps (an interval without a sample counts as below). A start and an
// end each make one FloodEvent; alerts are rate-limited to
// flood_alerts_per_second (start and end reports alike; what is held back
// is counted, and an end is reported in IPFIX whatever the budget).
//
// Bounded: at most flood_max_victims victims are followed at once; when the
// table is full a heavier sample takes a candidate's entry (never a flood's),
// else it is dropped; both are counted. No allocation after init(). One
// thread (the exporter's) calls everything; stats() may be read by any.
#pragma once

#include <cstdint>
#include <vector>

#include "detect/config.hpp"
#include "detect/flood.hpp"
#include "flowgen/relaxed_counter.hpp"

namespace detect {

struct FloodEvent {
    enum class Kind : uint8_t { kStart, kEnd };
    Kind kind = Kind::kStart;
    // false: the alert budget of the second was spent (counted in
    // FloodMonitorStats::alerts_suppressed); the IPFIX report still goes.
    bool alert = true;
    FloodVictim victim;
    uint64_t time_ms = 0;   // the worker clock when decided (FloodMonitor::decided_at)
    uint64_t start_ms = 0;  // first new conversation of the first interval above the rate
    uint64_t end_ms = 0;    // last new conversation of the last interval above the rate
    // Start: the interval that crossed the rate. End: means over start..end.
    uint64_t pps = 0;       // new conversations (= their first packets) per second
    uint64_t bps = 0;       // bits per second of their IP octets
    uint64_t peak_pps = 0;  // highest interval
    uint64_t peak_bps = 0;
    // Start: distinct sources of the crossing interval. End: over the flood.
    uint64_t sources = 0;
    uint64_t packets = 0;   // new conversations (first packets) so far
    uint64_t octets = 0;    // their IP octets
};

struct FloodMonitorStats {
    flowgen::RelaxedCounter started;
    flowgen::RelaxedCounter ended;
    flowgen::RelaxedCounter active;              // a gauge
    flowgen::RelaxedCounter alerts_suppressed;   // start or end alerts over the budget
    flowgen::RelaxedCounter victims_dropped;     // samples of a victim the full table could not take
    flowgen::RelaxedCounter samples;             // worker samples merged
};

class FloodMonitor {
public:
    // Live, a sample may arrive this long after its interval ended (other
    // workers report on their next burst); tick() decides an interval after
    // it. One worker (--pcap) reports in order: 0.
    static constexpr uint64_t kLateMs = 200;

    // Reads flood_* of `config` (validated); allocates the victim table.
    void init(const Config& config, uint64_t interval_ms = 1000, uint64_t late_ms = kLateMs);
    bool enabled() const noexcept { return pps_ != 0; }

    // One worker's sample. May decide earlier intervals of the victim.
    void add(const FloodSample& sample);
    // Decides the intervals that ended at least kLateMs before now_ms.
    void tick(uint64_t now_ms);
    // End of input: decides what is pending, then ends every flood.
    void finish(uint64_t now_ms);

    // Events decided since the last clear_events(), in order.
    const std::vector<FloodEvent>& events() const noexcept { return events_; }
    void clear_events() noexcept { events_.clear(); }

    const FloodMonitorStats& stats() const noexcept { return stats_; }

private:
    struct Interval {
        uint64_t index = 0;
        uint64_t first_ms = 0, last_ms = 0;
        uint64_t conversations = 0;
        uint64_t octets = 0;
        SourceSketch sources;
    };
    struct Victim {
        bool used = false;
        bool pending = false;     // `open` holds samples not yet decided
        bool active = false;      // in a flood
        bool has_previous = false;  // a candidate: `previous` was below the rate
        FloodVictim key;
        Interval open;
        // The interval before the one that crosses the rate belongs to the
        // flood (its ramp-up, or the first part of a flood that straddles a
        // second boundary): kept one interval, folded in at the start.
        Interval previous;
        uint64_t decided = 0;     // index of the last decided interval
        // The flood, while active.
        uint16_t below = 0;       // decided intervals in a row under the rate
        uint64_t start_ms = 0, end_ms = 0;
        uint64_t conversations = 0, octets = 0;
        uint64_t peak_pps = 0, peak_bps = 0;
        SourceSketch sources;
    };

    Victim* find_or_take(const FloodVictim& key, uint64_t interval, uint64_t weight);
    void decide(Victim& v, uint64_t now_ms);  // v.open
    void below(Victim& v, uint64_t now_ms);   // one interval under the rate
    void emit(const Victim& v, FloodEvent::Kind kind, const Interval* crossing, uint64_t now_ms);
    void end(Victim& v, uint64_t now_ms);
    bool take_alert(uint64_t now_ms) noexcept;
    // When interval `index` could first be decided (its end, plus the wait
    // for late samples), if before now_ms: events carry that time, not
    // that of the caller's next poll (a capture is read in batches).
    uint64_t decided_at(uint64_t index, uint64_t now_ms) const noexcept {
        const uint64_t at = (index + 1) * interval_ms_ + late_ms_;
        return at < now_ms ? at : now_ms;
    }

    uint64_t pps_ = 0;
    uint64_t min_sources_ = 0;
    uint16_t end_intervals_ = 3;
    uint16_t alerts_per_second_ = 10;
    uint64_t interval_ms_ = 1000;
    uint64_t late_ms_ = kLateMs;
    uint64_t budget_second_ = 0;
    uint16_t budget_used_ = 0;
    std::vector<Victim> victims_;
    std::vector<FloodEvent> events_;
    FloodMonitorStats stats_;
};

}  // namespace detect
