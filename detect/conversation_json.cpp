// Conversation log lines: JSON (RFC 8259), times RFC 3339 UTC.
#include "detect/conversation_json.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "detect/alert_json.hpp"

namespace detect {

namespace {

void append_uint(uint64_t v, std::string& out) {
    char text[24];
    const int n = std::snprintf(text, sizeof text, "%" PRIu64, v);
    out.append(text, static_cast<size_t>(n));
}

void append_key(const char* key, std::string& out) {
    out += ",\"";
    out += key;  // literals of this file: [a-z_] only
    out += "\":";
}

void append_address(const flowgen::IpAddress& a, flowgen::Family family, std::string& out) {
    char text[INET6_ADDRSTRLEN] = "";
    inet_ntop(family == flowgen::Family::kIpv6 ? AF_INET6 : AF_INET, a.bytes, text, sizeof text);
    append_json_string(text, out);
}

void append_name_or_null(const Pipeline* names, uint16_t id, std::string& out) {
    const char* name = names != nullptr ? names->signature_name(id) : nullptr;
    if (name != nullptr)
        append_json_string(name, out);
    else
        out += "null";
}

// Length of the valid UTF-8 sequence (RFC 3629 §4) starting at s[i], 0 when
// it is not one (overlong forms, surrogates and values past U+10FFFF too).
size_t utf8_sequence(std::string_view s, size_t i) {
    const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
    const uint8_t b0 = byte(i);
    size_t n = 0;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) n = 2;
    else if (b0 == 0xE0) n = 3, lo = 0xA0;
    else if (b0 == 0xED) n = 3, hi = 0x9F;
    else if (b0 >= 0xE1 && b0 <= 0xEF) n = 3;
    else if (b0 == 0xF0) n = 4, lo = 0x90;
    else if (b0 >= 0xF1 && b0 <= 0xF3) n = 4;
    else if (b0 == 0xF4) n = 4, hi = 0x8F;
    else return 0;
    if (i + n > s.size()) return 0;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
    for (size_t k = 2; k < n; ++k)
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
    return n;
}

// The segment the conversation was seen on (part of its key: README
// "Remote and cloud mirrors"): {"vlan": N|null, "type": "vxlan"|"geneve"|
// "erspan"|null, "id": N|null}, or null for bare untagged traffic. The key
// is always present so that consumers can rely on it.
void append_segment(const flowgen::ConversationRecord& r, std::string& out) {
    const char* type = segment_type_name(r.segment_type);
    if (r.vlan_id == 0 && !type) {
        out += "null";
        return;
    }
    out += "{\"vlan\":";
    if (r.vlan_id != 0) append_uint(r.vlan_id, out);
    else out += "null";
    out += ",\"type\":";
    if (type) {
        out += '"';
        out += type;
        out += "\",\"id\":";
        append_uint(r.segment_id, out);
    } else {
        out += "null,\"id\":null";
    }
    out += '}';
}

}  // namespace

void append_json_string(std::string_view text, std::string& out) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (size_t i = 0; i < text.size();) {
        const auto c = static_cast<uint8_t>(text[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7F) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else if (c >= 0x80) {
            if (const size_t n = utf8_sequence(text, i); n != 0) {
                out.append(text.data() + i, n);
                i += n;
                continue;
            }
            // Not UTF-8: the byte's value as a code point keeps the line valid.
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
        ++i;
    }
    out += '"';
}

const char* end_reason_name(flowgen::EndReason reason) noexcept {
    switch (reason) {
        case flowgen::EndReason::kIdleTimeout: return "idle-timeout";
        case flowgen::EndReason::kActiveTimeout: return "active-timeout";
        case flowgen::EndReason::kEndOfFlow: return "end-of-flow";
        case flowgen::EndReason::kForcedEnd: return "forced-end";
        case flowgen::EndReason::kLackOfResources: return "lack-of-resources";
    }
    return "unknown";
}

void format_conversation_json(const flowgen::ConversationRecord& r, const Pipeline* names, uint64_t now_ms,
                              std::string& out) {
    const flowgen::DirectionCounters& a = r.dir[0];
    const flowgen::DirectionCounters& b = r.dir[1];
    uint64_t first_ms = a.packets ? a.first_ms : b.first_ms;
    if (a.packets && b.packets) first_ms = std::min(a.first_ms, b.first_ms);
    const uint64_t last_ms = std::max(a.packets ? a.last_ms : 0, b.packets ? b.last_ms : 0);

    out += "{\"time\":\"";
    append_rfc3339(now_ms, out);
    out += '"';
    append_key("flow_id", out);
    append_uint(r.flow_id, out);
    append_key("start", out);
    out += '"';
    append_rfc3339(first_ms, out);
    out += '"';
    append_key("end", out);
    out += '"';
    append_rfc3339(last_ms, out);
    out += '"';
    char text[160];
    int n = std::snprintf(text, sizeof text, "%.3f", last_ms > first_ms ? (last_ms - first_ms) / 1000.0 : 0.0);
    append_key("duration", out);
    out.append(text, static_cast<size_t>(n));
    append_key("src", out);
    append_address(r.initiator, r.family, out);
    append_key("dst", out);
    append_address(r.responder, r.family, out);
    append_key("family", out);
    out += r.family == flowgen::Family::kIpv6 ? "\"ipv6\"" : "\"ipv4\"";
    append_key("icmp_type", out);
    append_uint(r.key_type, out);
    append_key("icmp_code", out);
    append_uint(a.packets ? a.icmp_code : b.icmp_code, out);
    append_key("icmp_id", out);
    append_uint(r.icmp_id, out);
    append_key("end_reason", out);
    append_json_string(end_reason_name(r.end_reason), out);
    append_key("ingress_port", out);
    append_uint(r.ingress_port, out);
    append_key("segment", out);
    append_segment(r, out);
    append_key("packets", out);
    append_uint(a.packets + b.packets, out);
    append_key("octets", out);
    append_uint(a.octets + b.octets, out);
    append_key("src_packets", out);
    append_uint(a.packets, out);
    append_key("src_octets", out);
    append_uint(a.octets, out);
    append_key("dst_packets", out);
    append_uint(b.packets, out);
    append_key("dst_octets", out);
    append_uint(b.octets, out);
    // An aggregate of one-packet conversations (flowgen/singleton_fold.hpp):
    // src is the network address of its source prefix, dst the
    // destination (both unspecified in a catch-all).
    append_key("aggregate", out);
    if (r.is_aggregate()) {
        out += "{\"source_prefix\":";
        append_uint(r.source_prefix_length, out);
        out += ",\"destination_prefix\":";
        append_uint(r.destination_prefix_length, out);
        out += ",\"flows\":";
        append_uint(r.flow_count, out);
        out += '}';
    } else {
        out += "null";
    }

    const auto [min_payload, max_payload] = payload_range(r);
    const uint64_t packets = a.packets + b.packets;
    const uint64_t payload_octets = a.payload_octets + b.payload_octets;
    const double mean = packets ? static_cast<double>(payload_octets) / static_cast<double>(packets) : 0.0;
    n = std::snprintf(text, sizeof text, ",\"payload\":{\"octets\":%" PRIu64 ",\"min\":%u,\"max\":%u,\"mean\":%.1f",
                      payload_octets, min_payload, max_payload, mean);
    out.append(text, static_cast<size_t>(n));
    const flowgen::DetectionSummary& d = r.detection;
    if (names != nullptr)
        n = std::snprintf(text, sizeof text, ",\"entropy\":%.3f,\"unexplained\":%" PRIu32 "}", d.entropy_milli / 1000.0,
                          d.unexplained_bytes);
    else
        n = std::snprintf(text, sizeof text, ",\"entropy\":null,\"unexplained\":null}");
    out.append(text, static_cast<size_t>(n));

    append_key("fingerprint", out);
    append_name_or_null(names, d.fingerprint_id, out);
    append_key("signature", out);
    append_name_or_null(names, d.signature_id, out);
    append_key("signature_id", out);
    append_uint(d.signature_id, out);
    if (names == nullptr) {
        out += ",\"score\":null,\"verdict\":null,\"reasons\":[]}\n";
        return;
    }
    append_key("score", out);
    append_uint(d.score, out);
    append_key("verdict", out);
    append_json_string(verdict_name(d.verdict), out);
    append_key("reasons", out);
    out += '[';
    bool first = true;
    for (unsigned i = 0; i < kReasonBits; ++i) {
        if (!(d.reason_flags & (1u << i)) || reason_name(i) == nullptr) continue;
        if (!first) out += ',';
        first = false;
        append_json_string(reason_name(i), out);
    }
    out += "]}\n";
}

}  // namespace detect
