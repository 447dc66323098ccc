// Flood tracker: per-victim counts of new conversations per interval.
#include "detect/flood.hpp"

#include <algorithm>
#include <cmath>

#include "flowgen/hash.hpp"

namespace detect {

namespace {

using flowgen::fmix64;

// The two words of an address folded into one (the odd multiplier keeps the
// high word's bits apart from the low word's); an IPv4 address is its low word.
inline uint64_t address_word(const flowgen::IpAddress& a) noexcept {
    uint64_t w0, w1;
    std::memcpy(&w0, a.bytes, 8);
    std::memcpy(&w1, a.bytes + 8, 8);
    return w0 ^ (w1 * 0x9e3779b97f4a7c15ULL);
}

}  // namespace

uint64_t SourceSketch::estimate() const noexcept {
    // Flajolet et al. 2007, fig. 3: alpha_m for m >= 128.
    constexpr double m = kRegisters;
    constexpr double alpha = 0.7213 / (1.0 + 1.079 / m);
    double sum = 0;
    unsigned zeros = 0;
    const uint8_t* registers = this->registers();
    for (unsigned i = 0; i < kRegisters; ++i) {
        sum += std::ldexp(1.0, -static_cast<int>(registers[i]));
        zeros += registers[i] == 0;
    }
    double e = alpha * m * m / sum;
    // Small range: linear counting while registers are still empty.
    if (e <= 2.5 * m && zeros != 0) e = m * std::log(m / zeros);
    // 64-bit hashes: no large-range correction is needed below 2^57 sources.
    return static_cast<uint64_t>(std::llround(e));
}

uint64_t source_hash(flowgen::Family family, const flowgen::IpAddress& source) noexcept {
    return fmix64(address_word(source) ^ (static_cast<uint64_t>(family) << 60));
}

uint64_t victim_hash(const FloodVictim& v) noexcept {
    const uint64_t segment = (uint64_t{v.vlan_id} << 40) ^ (uint64_t(static_cast<uint8_t>(v.segment_type)) << 32) ^
                             v.segment_id;
    return fmix64(address_word(v.address) ^ (static_cast<uint64_t>(v.family) << 60) ^ (segment * 0xc2b2ae3d27d4eb4fULL));
}

void FloodTracker::init(uint32_t report_min, uint64_t interval_ms) noexcept {
    report_min_ = report_min;
    interval_ms_ = interval_ms == 0 ? 1000 : interval_ms;
    interval_ = 0;
    interval_end_ms_ = 0;
    std::memset(static_cast<void*>(table_), 0, sizeof table_);
    any_ = false;
    last_ = nullptr;
}

void FloodTracker::add(const flowgen::PacketInfo& p, uint64_t now_ms) noexcept {
    FloodVictim v;
    v.address = p.dst;
    v.family = p.family;
    v.segment_type = p.segment_type;
    v.vlan_id = p.vlan_id;
    v.segment_id = p.segment_id;
    Entry* e = last_ != nullptr && last_->conversations != 0 && last_->victim == v ? last_ : nullptr;
    Entry* set = nullptr;
    if (e == nullptr) {
        set = &table_[(victim_hash(v) & (kSets - 1)) * kWays];
        for (uint32_t w = 0; w < kWays; ++w)
            if (set[w].conversations != 0 && set[w].victim == v) {
                e = &set[w];
                break;
            }
    }
    if (e == nullptr) {
        // An empty way, else the way with fewer conversations this interval:
        // a heavy victim keeps its entry against a churn of light ones.
        e = &set[0];
        for (uint32_t w = 1; w < kWays && e->conversations != 0; ++w)
            if (set[w].conversations < e->conversations) e = &set[w];
        if (e->conversations != 0) stats_.evictions.add();
        e->victim = v;
        e->conversations = 0;
        e->octets = 0;
        e->first_ms = now_ms;
        e->sources.clear();
        any_ = true;
    }
    last_ = e;
    ++e->conversations;
    e->octets += p.ip_length;
    e->last_ms = now_ms;
    e->sources.add(source_hash(p.family, p.src));
}

uint32_t FloodTracker::close_interval(uint64_t now_ms, FloodSample* out) noexcept {
    uint32_t n = 0;
    if (any_) {
        for (Entry& e : table_) {
            if (e.conversations < report_min_ || e.conversations == 0) continue;
            // Keep the kMaxReports heaviest, sorted (insertion: n is small).
            if (n == kMaxReports && e.conversations <= out[n - 1].conversations) {
                stats_.reports_capped.add();
                continue;
            }
            if (n == kMaxReports) stats_.reports_capped.add();
            uint32_t i = n < kMaxReports ? n++ : n - 1;
            for (; i > 0 && out[i - 1].conversations < e.conversations; --i) out[i] = out[i - 1];
            FloodSample& s = out[i];
            s.victim = e.victim;
            s.interval = interval_;
            s.first_ms = e.first_ms;
            s.last_ms = e.last_ms;
            s.conversations = e.conversations;
            s.octets = e.octets;
            s.sources = e.sources;
        }
        for (Entry& e : table_) e.conversations = 0;
        any_ = false;
    }
    interval_ = now_ms / interval_ms_;
    interval_end_ms_ = (interval_ + 1) * interval_ms_;
    return n;
}

}  // namespace detect
