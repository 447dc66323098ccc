// Alert JSON (RFC 8259) with RFC 3339 timestamps.
#include "detect/alert_json.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace detect {

namespace {

void append_address(const flowgen::IpAddress& a, flowgen::Family family, std::string& out) {
    char text[INET6_ADDRSTRLEN] = "";
    inet_ntop(family == flowgen::Family::kIpv6 ? AF_INET6 : AF_INET, a.bytes, text, sizeof text);
    out += '"';
    out += text;
    out += '"';
}

void append_uint(uint64_t v, std::string& out) {
    char text[24];
    const int n = std::snprintf(text, sizeof text, "%" PRIu64, v);
    out.append(text, static_cast<size_t>(n));
}

// A pattern's name in quotes, or null for id 0 or an unknown id. Pattern
// names are [A-Za-z0-9_.+-] (parse_patterns checks): no escaping needed.
void append_pattern_name(const Pipeline& p, uint16_t id, std::string& out) {
    if (const char* name = p.signature_name(id); name != nullptr) {
        out += '"';
        out += name;
        out += '"';
    } else {
        out += "null";
    }
}

}  // namespace

const char* segment_type_name(flowgen::SegmentType type) noexcept {
    switch (type) {
        case flowgen::SegmentType::kVxlan: return "vxlan";
        case flowgen::SegmentType::kGeneve: return "geneve";
        case flowgen::SegmentType::kErspan: return "erspan";
        case flowgen::SegmentType::kNone: break;
    }
    return nullptr;
}

std::pair<uint16_t, uint16_t> payload_range(const flowgen::ConversationRecord& r) noexcept {
    uint16_t min_payload = 0, max_payload = 0;
    bool any = false;
    for (const flowgen::DirectionCounters& d : r.dir) {
        if (d.packets == 0) continue;
        min_payload = any ? std::min(min_payload, d.min_payload) : d.min_payload;
        max_payload = any ? std::max(max_payload, d.max_payload) : d.max_payload;
        any = true;
    }
    return {min_payload, max_payload};
}

void append_rfc3339(uint64_t epoch_ms, std::string& out) {
    const std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[40];
    const int n = std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                                static_cast<unsigned>(epoch_ms % 1000));
    out.append(text, static_cast<size_t>(n));
}

void format_alert_json(const flowgen::ConversationRecord& r, const Pipeline& p, uint64_t now_ms, std::string& out,
                       std::span<const uint8_t> payload, uint16_t fingerprint_id, const ConversationState* state) {
    const flowgen::DirectionCounters& a = r.dir[0];
    const flowgen::DirectionCounters& b = r.dir[1];
    out += "{\"time\":\"";
    append_rfc3339(now_ms, out);
    out += "\",\"src\":";
    append_address(r.initiator, r.family, out);
    out += ",\"dst\":";
    append_address(r.responder, r.family, out);
    out += r.family == flowgen::Family::kIpv6 ? ",\"family\":\"ipv6\"" : ",\"family\":\"ipv4\"";
    // The segment the conversation was seen in (README "Remote and cloud
    // mirrors"): only when there is one, so bare traffic's alerts are unchanged.
    if (r.vlan_id != 0) {
        out += ",\"vlan\":";
        append_uint(r.vlan_id, out);
    }
    if (r.segment_type != flowgen::SegmentType::kNone) {
        out += ",\"segment\":{\"type\":\"";
        out += segment_type_name(r.segment_type);
        out += "\",\"id\":";
        append_uint(r.segment_id, out);
        out += '}';
    }
    out += ",\"icmp_type\":";
    append_uint(r.key_type, out);
    out += ",\"icmp_id\":";
    append_uint(r.icmp_id, out);
    out += ",\"flow_id\":";
    append_uint(r.flow_id, out);
    out += ",\"verdict\":\"";
    out += verdict_name(r.detection.verdict);
    out += "\",\"score\":";
    append_uint(r.detection.score, out);
    out += ",\"reasons\":[";
    bool first = true;
    for (unsigned i = 0; i < kReasonBits; ++i) {
        if (!(r.detection.reason_flags & (1u << i)) || reason_name(i) == nullptr) continue;
        if (!first) out += ',';
        first = false;
        out += '"';
        out += reason_name(i);  // [a-z-] only: no escaping needed
        out += '"';
    }
    // The same reasons in an analyst's words (detect/reason.hpp): the
    // descriptions hold no character JSON needs escaped (config_test).
    out += "],\"explanations\":[";
    first = true;
    for (unsigned i = 0; i < kReasonBits; ++i) {
        const ReasonInfo* info = reason_info(i);
        if (!(r.detection.reason_flags & (1u << i)) || info == nullptr) continue;
        if (!first) out += ',';
        first = false;
        out += '"';
        out += info->description;
        out += '"';
    }
    out += "],\"signature\":";
    append_pattern_name(p, r.detection.signature_id, out);
    out += ",\"signature_id\":";
    append_uint(r.detection.signature_id, out);
    out += ",\"fingerprint\":";
    append_pattern_name(p, fingerprint_id, out);
    out += ",\"packets\":";
    append_uint(a.packets + b.packets, out);
    out += ",\"bytes\":";
    append_uint(a.octets + b.octets, out);

    uint64_t first_ms = a.first_ms, last_ms = std::max(a.last_ms, b.last_ms);
    if (b.packets != 0 && (a.packets == 0 || b.first_ms < first_ms)) first_ms = b.first_ms;
    out += ",\"first_seen\":\"";
    append_rfc3339(first_ms, out);
    out += "\",\"last_seen\":\"";
    append_rfc3339(last_ms, out);

    const auto [min_payload, max_payload] = payload_range(r);
    const uint64_t packets = a.packets + b.packets;
    const double mean = packets ? static_cast<double>(a.payload_octets + b.payload_octets) / packets : 0.0;
    char text[96];
    const int n = std::snprintf(text, sizeof text, "\",\"payload\":{\"min\":%u,\"max\":%u,\"mean\":%.1f,\"entropy\":%.3f}",
                                min_payload, max_payload, mean, r.detection.entropy_milli / 1000.0);
    out.append(text, static_cast<size_t>(n));

    if (p.config().emit_payload_hex && !payload.empty()) {
        static constexpr char kHex[] = "0123456789abcdef";
        const size_t len = std::min<size_t>(payload.size(), p.config().payload_hex_max_bytes);
        out += ",\"payload_hex\":\"";
        for (size_t i = 0; i < len; ++i) {
            out += kHex[payload[i] >> 4];
            out += kHex[payload[i] & 15];
        }
        out += '"';
    }
    if (state != nullptr) {
        // Pipeline::explain writes no quote, backslash or control character.
        out += ",\"explanation\":\"";
        p.explain(*state, r.detection.reason_flags, r, now_ms, out);
        out += '"';
    }
    out += "}\n";
}

void format_flood_json(const FloodEvent& e, int64_t offset_ms, std::string& out) {
    const bool start = e.kind == FloodEvent::Kind::kStart;
    auto ms = [offset_ms](uint64_t t) { return t + static_cast<uint64_t>(offset_ms); };
    out += "{\"time\":\"";
    append_rfc3339(ms(e.time_ms), out);
    out += start ? "\",\"verdict\":\"flood\",\"event\":\"start\",\"victim\":"
                 : "\",\"verdict\":\"flood\",\"event\":\"end\",\"victim\":";
    append_address(e.victim.address, e.victim.family, out);
    out += e.victim.family == flowgen::Family::kIpv6 ? ",\"family\":\"ipv6\"" : ",\"family\":\"ipv4\"";
    if (e.victim.vlan_id != 0) {
        out += ",\"vlan\":";
        append_uint(e.victim.vlan_id, out);
    }
    if (e.victim.segment_type != flowgen::SegmentType::kNone) {
        out += ",\"segment\":{\"type\":\"";
        out += segment_type_name(e.victim.segment_type);
        out += "\",\"id\":";
        append_uint(e.victim.segment_id, out);
        out += '}';
    }
    const std::pair<const char*, uint64_t> numbers[] = {{"pps", e.pps}, {"bps", e.bps}, {"sources", e.sources}};
    for (const auto& [name, value] : numbers) {
        out += ",\"";
        out += name;
        out += "\":";
        append_uint(value, out);
    }
    out += ",\"start\":\"";
    append_rfc3339(ms(e.start_ms), out);
    out += "\",\"end\":\"";
    append_rfc3339(ms(e.end_ms), out);
    out += '"';
    const std::pair<const char*, uint64_t> totals[] = {
        {"peak_pps", e.peak_pps}, {"peak_bps", e.peak_bps}, {"packets", e.packets}, {"bytes", e.octets}};
    for (const auto& [name, value] : totals) {
        out += ",\"";
        out += name;
        out += "\":";
        append_uint(value, out);
    }
    char text[200];
    const int n = start ? std::snprintf(text, sizeof text,
                                        ",\"explanation\":\"%" PRIu64 " new ICMP conversations a second from about %" PRIu64
                                        " distinct sources, one packet each: a spoofed-source flood\"}\n",
                                        e.pps, e.sources)
                        : std::snprintf(text, sizeof text,
                                        ",\"explanation\":\"flood over: %" PRIu64 " new conversations from about %" PRIu64
                                        " distinct sources, at most %" PRIu64 " a second\"}\n",
                                        e.packets, e.sources, e.peak_pps);
    out.append(text, static_cast<size_t>(n));
}

}  // namespace detect
