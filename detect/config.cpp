// Config defaults, validation, allow-list prefixes and the reason table lookups.
#include "detect/config.hpp"

#include <arpa/inet.h>

#include <cmath>
#include <cstdlib>
#include <utility>
#include <iterator>

namespace detect {

namespace {

// kReasons by bit position, built once at compile time.
struct ReasonsByBit {
    const ReasonInfo* row[kReasonBits] = {};
    constexpr ReasonsByBit() {
        for (const ReasonInfo& r : kReasons) row[r.bit_index] = &r;
    }
};
constexpr ReasonsByBit kByBit;

// One row per bit, in bit order, and each enumerator its own bit: a row
// added out of order or with a clashing bit fails the build.
constexpr bool rows_in_bit_order() {
    unsigned previous = 0;
    for (size_t i = 0; i < std::size(kReasons); ++i) {
        const ReasonInfo& r = kReasons[i];
        if (r.bit_index >= kReasonBits || bit(r.reason) != (1u << r.bit_index)) return false;
        if (i > 0 && r.bit_index <= previous) return false;
        if (r.default_weight > 1000) return false;
        previous = r.bit_index;
    }
    return true;
}
static_assert(rows_in_bit_order(), "detect/reason.hpp: ECHOFLOW_REASONS rows must have distinct bits in order");

}  // namespace

const ReasonInfo* reason_info(unsigned bit_index) noexcept {
    return bit_index < kReasonBits ? kByBit.row[bit_index] : nullptr;
}

const char* reason_name(unsigned bit_index) noexcept {
    const ReasonInfo* r = reason_info(bit_index);
    return r ? r->name : nullptr;
}

int reason_index(std::string_view name) noexcept {
    for (const ReasonInfo& r : kReasons)
        if (name == r.name) return static_cast<int>(r.bit_index);
    return -1;
}

std::array<uint16_t, kReasonBits> default_weights() noexcept {
    std::array<uint16_t, kReasonBits> w{};
    for (const ReasonInfo& r : kReasons) w[r.bit_index] = r.default_weight;
    return w;
}

Config::Config() : weights(default_weights()) {}

flowgen::Status parse_prefix(const std::string& text, Prefix& out) {
    out = Prefix{};
    std::string address = text;
    int length = -1;
    if (auto slash = text.find('/'); slash != std::string::npos) {
        address = text.substr(0, slash);
        const std::string len_text = text.substr(slash + 1);
        char* end = nullptr;
        const long v = std::strtol(len_text.c_str(), &end, 10);
        if (len_text.empty() || *end != '\0' || v < 0 || v > 128)
            return flowgen::Status::error("'" + text + "': bad prefix length");
        length = static_cast<int>(v);
    }
    if (inet_pton(AF_INET, address.c_str(), out.network.bytes) == 1) {
        out.family = flowgen::Family::kIpv4;
        if (length < 0) length = 32;
        if (length > 32) return flowgen::Status::error("'" + text + "': IPv4 prefix length above 32");
    } else if (inet_pton(AF_INET6, address.c_str(), out.network.bytes) == 1) {
        out.family = flowgen::Family::kIpv6;
        if (length < 0) length = 128;
    } else {
        return flowgen::Status::error("'" + text + "': not an IPv4 or IPv6 address");
    }
    out.length = static_cast<uint8_t>(length);
    for (int i = 0; i < 16; ++i) {  // clear host bits so containment is a masked compare
        const int keep = std::min(8, std::max(0, length - 8 * i));
        out.network.bytes[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xFF << (8 - keep));
    }
    return {};
}

bool prefix_contains(const Prefix& prefix, flowgen::Family family, const flowgen::IpAddress& address) noexcept {
    if (family != prefix.family) return false;
    const unsigned full = prefix.length / 8u, rest = prefix.length % 8u;
    for (unsigned i = 0; i < full; ++i)
        if (address.bytes[i] != prefix.network.bytes[i]) return false;
    if (rest == 0) return true;
    const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
    return (address.bytes[full] & mask) == prefix.network.bytes[full];
}

flowgen::Status validate(const Config& c) {
    using flowgen::Status;
    auto range = [](const char* key, long v, long lo, long hi) -> Status {
        if (v < lo || v > hi)
            return Status::error(std::string("detect.") + key + ": " + std::to_string(v) + " is outside " +
                                 std::to_string(lo) + ".." + std::to_string(hi));
        return {};
    };
    if (auto s = range("alert_score", c.alert_score, 1, 1000); !s) return s;
    if (auto s = range("suspicious_score", c.suspicious_score, 1, c.alert_score); !s)
        return s.prefix("(must not exceed detect.alert_score)");
    if (auto s = range("escalate_step", c.escalate_step, 1, 1000); !s) return s;
    for (unsigned i = 0; i < kReasonBits; ++i) {
        if (c.weights[i] == 0) continue;
        if (reason_name(i) == nullptr)
            return Status::error("detect.weight[" + std::to_string(i) + "]: no reason uses this bit");
        if (auto s = range((std::string("weight.") + reason_name(i)).c_str(), c.weights[i], 0, 1000); !s) return s;
    }
    if (auto s = range("min_random_packets", c.min_random_packets, 1, 65535); !s) return s;
    if (auto s = range("min_text_packets", c.min_text_packets, 1, 65535); !s) return s;
    if (auto s = range("min_binary_packets", c.min_binary_packets, 1, 65535); !s) return s;
    if (auto s = range("min_size_changes", c.min_size_changes, 1, 65535); !s) return s;
    if (auto s = range("min_distinct_sizes", c.min_distinct_sizes, 2, 64); !s) return s;
    if (auto s = range("min_reply_mismatches", c.min_reply_mismatches, 1, 65535); !s) return s;
    if (auto s = range("min_unsolicited_replies", c.min_unsolicited_replies, 1, 65535); !s) return s;
    if (auto s = range("min_unanswered_requests", c.min_unanswered_requests, 1, 65535); !s) return s;
    if (auto s = range("min_fill_changes", c.min_fill_changes, 1, 255); !s) return s;
    if (auto s = range("min_dataless_packets", c.min_dataless_packets, 1, 65535); !s) return s;
    if (auto s = range("min_bogus_errors", c.min_bogus_errors, 1, 65535); !s) return s;
    if (auto s = range("min_unusual_code_packets", c.min_unusual_code_packets, 1, 65535); !s) return s;
    if (auto s = range("source_min_fills", c.source_min_fills, 2, 64); !s) return s;
    if (c.source_table_entries & (c.source_table_entries - 1))
        return Status::error("detect.source_table_entries: " + std::to_string(c.source_table_entries) +
                             " is not a power of two (0 disables)");
    if (c.source_window_ms == 0) return Status::error("detect.source_window_ms: must be positive");
    // The short window's text count is 16 bits wide (detect/source_table.hpp).
    if (auto s = range("source_volume_bytes", c.source_volume_bytes, 1, 65535); !s) return s;
    if (auto s = range("source_window_ms", static_cast<long>(std::min<uint64_t>(c.source_window_ms, 1u << 30)), 1000,
                       86'400'000);
        !s)
        return s;
    const std::pair<const char*, Config::Budget> budgets[] = {
        {"sender_hour", c.sender_hour}, {"sender_day", c.sender_day}, {"pair_hour", c.pair_hour}, {"pair_day", c.pair_day}};
    for (const auto& [key, b] : budgets) {
        // Long-window counts saturate at 2^24 - 1 (detect/source_table.hpp).
        if (auto s = range((std::string(key) + ".bytes").c_str(), b.bytes, 1, (1 << 24) - 1); !s) return s;
        if (auto s = range((std::string(key) + ".payloads").c_str(), b.payloads, 1, (1 << 24) - 1); !s) return s;
    }
    if (auto s = range("min_text_changes", c.min_text_changes, 1, 255); !s) return s;
    if (c.volume_bytes == 0) return Status::error("detect.volume_bytes: must be positive");
    if (c.high_volume_bytes <= c.volume_bytes)
        return Status::error("detect.high_volume_bytes: " + std::to_string(c.high_volume_bytes) +
                             " must exceed detect.volume_bytes (" + std::to_string(c.volume_bytes) + ")");
    if (!(c.entropy_margin_bits >= 0.0 && c.entropy_margin_bits <= 4.0))
        return Status::error("detect.entropy_margin_bits: " + std::to_string(c.entropy_margin_bits) +
                             " is outside 0..4");
    if (!(c.text_fraction > 0.0 && c.text_fraction <= 1.0))
        return Status::error("detect.text_fraction: " + std::to_string(c.text_fraction) + " is outside (0, 1]");
    if (auto s = range("timestamp_room", c.timestamp_room, 0, 64); !s) return s;
    if (auto s = range("inspect_every", c.inspect_every, 1, 65535); !s) return s;
    if (auto s = range("defer_sample", c.defer_sample, 1, 65535); !s) return s;
    if (auto s = range("inspect_max_bytes", c.inspect_max_bytes, 64, 65535); !s) return s;
    if (auto s = range("payload_hex_max_bytes", c.payload_hex_max_bytes, 1, 65535); !s) return s;
    if (c.flood_pps != 0) {
        if (auto s = range("flood_min_sources", c.flood_min_sources, 1, 100'000'000); !s) return s;
        if (auto s = range("flood_end_intervals", c.flood_end_intervals, 1, 3600); !s) return s;
        if (auto s = range("flood_max_victims", c.flood_max_victims, 1, 4096); !s) return s;
        if (auto s = range("flood_alerts_per_second", c.flood_alerts_per_second, 1, 10'000); !s) return s;
    }
    for (const auto& text : c.allow_list) {
        Prefix p;
        if (auto s = parse_prefix(text, p); !s) return s.prefix("detect.allow_list");
    }
    return {};
}

}  // namespace detect
