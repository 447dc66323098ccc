// Flood monitor: merges worker samples per victim and interval, decides
// start and end, rate-limits the alerts.
#include "detect/flood_monitor.hpp"

#include <algorithm>

namespace detect {

void FloodMonitor::init(const Config& config, uint64_t interval_ms, uint64_t late_ms) {
    late_ms_ = late_ms;
    pps_ = config.flood_pps;
    min_sources_ = config.flood_min_sources;
    end_intervals_ = std::max<uint16_t>(1, config.flood_end_intervals);
    alerts_per_second_ = config.flood_alerts_per_second;
    interval_ms_ = interval_ms == 0 ? 1000 : interval_ms;
    victims_.assign(config.flood_max_victims, Victim{});
    // A call decides at most a start and an end per victim.
    events_.clear();
    events_.reserve(2u * victims_.size() + 2);
}

bool FloodMonitor::take_alert(uint64_t now_ms) noexcept {
    const uint64_t second = now_ms / 1000;
    if (second != budget_second_) {
        budget_second_ = second;
        budget_used_ = 0;
    }
    if (budget_used_ >= alerts_per_second_) return false;
    ++budget_used_;
    return true;
}

void FloodMonitor::emit(const Victim& v, FloodEvent::Kind kind, const Interval* crossing, uint64_t now_ms) {
    if (events_.size() == events_.capacity()) {  // cannot happen with the reserve above; never allocate
        stats_.alerts_suppressed.add();
        return;
    }
    FloodEvent e;
    e.kind = kind;
    e.victim = v.key;
    e.time_ms = now_ms;
    e.start_ms = v.start_ms;
    e.end_ms = v.end_ms;
    e.peak_pps = v.peak_pps;
    e.peak_bps = v.peak_bps;
    e.packets = v.conversations;
    e.octets = v.octets;
    if (crossing != nullptr) {
        e.pps = crossing->conversations * 1000 / interval_ms_;
        e.bps = crossing->octets * 8 * 1000 / interval_ms_;
        e.sources = crossing->sources.estimate();
    } else {
        // Means over the flood; a flood shorter than an interval counts one.
        const uint64_t span_ms = std::max(interval_ms_, v.end_ms - v.start_ms);
        e.pps = v.conversations * 1000 / span_ms;
        e.bps = v.octets * 8 * 1000 / span_ms;
        e.sources = v.sources.estimate();
    }
    e.alert = take_alert(now_ms);
    if (!e.alert) stats_.alerts_suppressed.add();
    events_.push_back(e);
}

void FloodMonitor::end(Victim& v, uint64_t now_ms) {
    emit(v, FloodEvent::Kind::kEnd, nullptr, now_ms);
    stats_.ended.add();
    stats_.active.sub();
    v = Victim{};
}

void FloodMonitor::below(Victim& v, uint64_t now_ms) {
    if (++v.below >= end_intervals_) end(v, decided_at(v.decided, now_ms));
}

void FloodMonitor::decide(Victim& v, uint64_t now_ms) {
    const Interval& i = v.open;
    v.pending = false;
    v.decided = i.index;
    now_ms = decided_at(i.index, now_ms);
    const uint64_t pps = i.conversations * 1000 / interval_ms_;
    const uint64_t bps = i.octets * 8 * 1000 / interval_ms_;
    const bool above = pps >= pps_;
    if (!v.active) {
        if (!above || i.sources.estimate() < min_sources_) {
            // A candidate keeps this interval for the next one only.
            v.previous = i;
            v.has_previous = true;
            return;
        }
        v.active = true;
        v.below = 0;
        v.start_ms = i.first_ms;
        v.end_ms = i.last_ms;
        v.conversations = i.conversations;
        v.octets = i.octets;
        v.peak_pps = pps;
        v.peak_bps = bps;
        v.sources = i.sources;
        if (v.has_previous && v.previous.index + 1 == i.index) {
            v.start_ms = v.previous.first_ms;
            v.conversations += v.previous.conversations;
            v.octets += v.previous.octets;
            v.sources.merge(v.previous.sources);
        }
        v.has_previous = false;
        stats_.started.add();
        stats_.active.add();
        emit(v, FloodEvent::Kind::kStart, &i, now_ms);
        return;
    }
    v.conversations += i.conversations;
    v.octets += i.octets;
    v.sources.merge(i.sources);
    v.peak_pps = std::max(v.peak_pps, pps);
    v.peak_bps = std::max(v.peak_bps, bps);
    if (above) {
        v.below = 0;
        v.end_ms = i.last_ms;
    } else {
        below(v, now_ms);
    }
}

FloodMonitor::Victim* FloodMonitor::find_or_take(const FloodVictim& key, uint64_t interval, uint64_t weight) {
    Victim* free_slot = nullptr;
    Victim* lightest = nullptr;  // of the candidates (not in a flood)
    for (Victim& v : victims_) {
        if (v.used && v.key == key) return &v;
        if (!v.used && free_slot == nullptr) free_slot = &v;
        if (v.used && !v.active && (lightest == nullptr || v.open.conversations < lightest->open.conversations))
            lightest = &v;
    }
    if (free_slot == nullptr) {
        // Full: a heavier newcomer takes a candidate's entry (and its count
        // is lost, as a sample that finds no room is); floods keep theirs.
        if (lightest == nullptr || lightest->open.conversations >= weight) return nullptr;
        stats_.victims_dropped.add();
        free_slot = lightest;
    }
    *free_slot = Victim{};
    free_slot->used = true;
    free_slot->key = key;
    free_slot->decided = interval - 1;
    return free_slot;
}

void FloodMonitor::add(const FloodSample& s) {
    if (!enabled()) return;
    Victim* v = find_or_take(s.victim, s.interval, s.conversations);
    if (v == nullptr) {
        stats_.victims_dropped.add();
        return;
    }
    stats_.samples.add();
    if (v->pending && s.interval > v->open.index) {
        // A later interval: the open one is complete.
        const uint64_t now_ms = s.interval * interval_ms_;
        decide(*v, now_ms);
        if (!v->used) v = find_or_take(s.victim, s.interval, s.conversations);  // freed by the decision: start again
    }
    if (v->active) {
        // Intervals without a sample between the last decided and this one.
        const uint64_t now_ms = s.interval * interval_ms_;
        while (v->used && v->active && v->decided + 1 < s.interval) {
            ++v->decided;
            below(*v, now_ms);
        }
        if (!v->used) v = find_or_take(s.victim, s.interval, s.conversations);
    }
    Interval& i = v->open;
    if (!v->pending) {
        i = Interval{};
        i.index = s.interval;
        i.first_ms = s.first_ms;
        v->pending = true;
    }
    // A late sample of an interval already decided joins the open one.
    i.first_ms = std::min(i.first_ms, s.first_ms);
    i.last_ms = std::max(i.last_ms, s.last_ms);
    i.conversations += s.conversations;
    i.octets += s.octets;
    i.sources.merge(s.sources);
}

void FloodMonitor::tick(uint64_t now_ms) {
    if (!enabled() || now_ms < late_ms_) return;
    // The last interval every worker has reported by now.
    const uint64_t complete = (now_ms - late_ms_) / interval_ms_;  // intervals [0, complete) are complete
    for (Victim& v : victims_) {
        if (!v.used) continue;
        if (v.pending && v.open.index < complete) decide(v, now_ms);
        while (v.used && v.active && v.decided + 1 < complete) {
            ++v.decided;
            below(v, now_ms);
        }
        // A candidate whose kept interval is no longer the one before an
        // undecided one frees its entry.
        if (v.used && !v.active && !v.pending && v.decided + 1 < complete) v = Victim{};
    }
}

void FloodMonitor::finish(uint64_t now_ms) {
    if (!enabled()) return;
    for (Victim& v : victims_) {
        if (!v.used) continue;
        if (v.pending) decide(v, now_ms);
        if (v.active)
            end(v, now_ms);
        else
            v = Victim{};
    }
}

}  // namespace detect
