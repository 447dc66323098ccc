// The words of an alert: for each reason, what was seen and what a ping
// program would have sent instead, with the conversation's own figures, so
// that an analyst reading the JSON or syslog line needs no manual. Facts as
// in pipeline.cpp: RFC 792 (replies return the request's data), RFC 1812
// §4.3.2.3 and RFC 4443 §2.4 (error quote limits).
#include <arpa/inet.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include "detect/pipeline.hpp"

namespace detect {

namespace {

// printf into out (messages are short; at alert time only). A C variadic
// with the format attribute, so that the compiler checks every call's
// format against its arguments.
__attribute__((format(printf, 3, 4))) void say(std::string& out, size_t start, const char* format, ...) {
    char text[320];
    va_list args;
    va_start(args, format);
    const int n = std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    if (n <= 0) return;
    if (out.size() > start) out += "; ";
    out.append(text, std::min<size_t>(static_cast<size_t>(n), sizeof text - 1));
}

std::string address_text(flowgen::Family family, const flowgen::IpAddress& a) {
    char text[INET6_ADDRSTRLEN] = "";
    inet_ntop(family == flowgen::Family::kIpv6 ? AF_INET6 : AF_INET, a.bytes, text, sizeof text);
    return text;
}

const char* text_kinds_name(uint8_t kinds) {
    switch (kinds) {
        case ConversationState::kTextBase64: return "base64-encoded text";
        case ConversationState::kTextHex: return "hex-encoded text";
        case ConversationState::kTextPlain: return "plain text";
        default: return "text (plain and encoded)";
    }
}

}  // namespace

void Pipeline::explain(const ConversationState& state, uint32_t reasons, const flowgen::ConversationRecord& r,
                       uint64_t now_ms, std::string& out) const {
    ConversationState tmp;
    const ConversationState& s = settled(state, tmp);
    const Config& c = config_;
    const size_t start = out.size();
    auto has = [reasons](Reason reason) { return (reasons & bit(reason)) != 0; };
    if (has(Reason::kTunnelSignature))
        say(out, start, "payload matched tunnel signature '%s' (a known tunnel tool or implant)",
            signature_name(s.signature_id) ? signature_name(s.signature_id) : "?");
    if (has(Reason::kIpInPayload))
        say(out, start, "%u payload(s) held a complete IP packet (valid header checksum and length): IP traffic "
                        "carried inside ICMP", s.ip_in_payload);
    if (has(Reason::kTunnelFraming))
        say(out, start, "%u payload(s) began with a ptunnel-style header whose length field matches the data", s.framing);
    if (has(Reason::kSuspiciousContent))
        say(out, start, "payload contained shell or protocol text ('%s'); ping data is a fixed fill",
            signature_name(s.signature_id) ? signature_name(s.signature_id) : "?");
    if (has(Reason::kRandomPayload))
        say(out, start, "%u payload(s) looked random (entropy near the maximum: encrypted or compressed data); pings send "
                 "counters, zeros or a repeated pattern", s.random_packets);
    if (has(Reason::kTextPayload))
        say(out, start, "%u payload(s) were %s; no ping program sends free text", s.text_packets, text_kinds_name(s.evidence & ConversationState::kTextMask));
    if (has(Reason::kChangingText))
        say(out, start, "the text changed from packet to packet (%u distinct payloads): data is being moved, a ping "
                 "repeats one fill", s.text_changes);
    if (has(Reason::kBinaryPayload))
        say(out, start, "%u payload(s) were unstructured binary data, neither a ping fill nor random", s.binary_packets);
    if (has(Reason::kSizeVaries))
        say(out, start, "payload size changed %u times within a direction; a ping run keeps one size", s.size_changes);
    if (has(Reason::kNonDefaultSize))
        say(out, start, "first payload size %u bytes is no ping default (Linux/BSD 56, Windows 32)", s.first_size[0]);
    if (has(Reason::kReplyMismatch))
        say(out, start, "%u echo reply(s) did not return their request's data (RFC 792 says they must)",
            s.replies_mismatched);
    if (has(Reason::kUnsolicitedReply))
        say(out, start, "%u of %u echo replies answered no request seen", s.replies_unsolicited, s.replies);
    if (has(Reason::kUnansweredRequests))
        say(out, start, "%u echo request(s) got no reply", s.requests_unanswered);
    if (has(Reason::kFillChanges))
        say(out, start, "the fill pattern changed %u times within one conversation; ping -p keeps one pattern",
            s.fill_changes);
    if (has(Reason::kDatalessTypeData))
        say(out, start, "%u message(s) carried data in an ICMP type that defines none (or beyond its fixed size)",
            s.dataless_data);
    if (has(Reason::kUnusualCode))
        say(out, start, "%u echo message(s) had a non-zero code", s.unusual_code);
    if (has(Reason::kOversizedError))
        say(out, start, "an ICMP error quoted more than the standard allows (576 bytes IPv4, 1280 IPv6)");
    if (has(Reason::kBogusError))
        say(out, start, "%u ICMP error(s) quoted no IP header: data dressed up as an error", s.bogus_error);
    if (has(Reason::kVolume) || has(Reason::kHighVolume))
        say(out, start, "%u bytes of distinct, unexplained payload in this conversation (threshold %u)",
            s.unexplained_bytes, has(Reason::kHighVolume) ? c.high_volume_bytes : c.volume_bytes);
    if (has(Reason::kSourceActivity))
        say(out, start, "the sender, across its conversations in %u minutes, used at least %u distinct fill patterns or "
                 "sent at least %u bytes of text/binary payload",
            static_cast<unsigned>(c.source_window_ms / 60'000), c.source_min_fills, c.source_volume_bytes);
    if (has(Reason::kHostBudget)) {
        const flowgen::IpAddress* sides[2] = {&r.initiator, &r.responder};
        for (const auto* who : sides) {
            const SourceActivity* e = senders_ ? senders_->find_sender(r.family, *who) : nullptr;
            if (e == nullptr) continue;
            const ActivityView v = SourceTable::read(*e, now_ms, c.source_window_ms);
            const std::string name = address_text(r.family, *who);
            if ((s.evidence & ConversationState::kBudgetSenderHour) &&
                (v.hour.bytes >= c.sender_hour.bytes || v.hour.payloads >= c.sender_hour.payloads))
                say(out, start, "sender %s sent %u distinct unexplained payloads (%u bytes) in the last hour, over its "
                         "hourly budget of %u payloads or %u bytes",
                    name.c_str(), v.hour.payloads, v.hour.bytes, c.sender_hour.payloads, c.sender_hour.bytes);
            if ((s.evidence & ConversationState::kBudgetSenderDay) &&
                (v.day.bytes >= c.sender_day.bytes || v.day.payloads >= c.sender_day.payloads))
                say(out, start, "sender %s sent %u distinct unexplained payloads (%u bytes) in the last day, over its "
                         "daily budget of %u payloads or %u bytes",
                    name.c_str(), v.day.payloads, v.day.bytes, c.sender_day.payloads, c.sender_day.bytes);
        }
        if (const SourceActivity* e = senders_ ? senders_->find_pair(r.family, r.initiator, r.responder) : nullptr) {
            const ActivityView v = SourceTable::read(*e, now_ms, c.source_window_ms);
            if (s.evidence & ConversationState::kBudgetPairHour)
                say(out, start, "this host pair exchanged %u distinct unexplained payloads (%u bytes) in the last hour, "
                         "over its hourly budget of %u payloads or %u bytes",
                    v.hour.payloads, v.hour.bytes, c.pair_hour.payloads, c.pair_hour.bytes);
            if (s.evidence & ConversationState::kBudgetPairDay)
                say(out, start, "this host pair exchanged %u distinct unexplained payloads (%u bytes) in the last day, "
                         "over its daily budget of %u payloads or %u bytes",
                    v.day.payloads, v.day.bytes, c.pair_day.payloads, c.pair_day.bytes);
        }
    }
}

}  // namespace detect
