// Why a conversation scored what it scored: one bit per piece of evidence.
//
// The bit positions are a wire format: the IPFIX encoder exports
// DetectionSummary::reason_flags as an unsigned32 enterprise element, and
// alert consumers may store them. Never renumber a bit; add new ones at the
// next free position and give each a short, stable name (used in the alert
// JSON "reasons" list and as the key of its weight in Config).
#pragma once

#include <cstdint>
#include <string_view>

namespace detect {

enum class Reason : uint32_t {
    // Content (Hyperscan, detect/patterns/*.patterns): a pattern of class
    // "tunnel" matched (ptunnel/ptunnel-ng magic, hans, pingtunnel, ...).
    kTunnelSignature = 1u << 0,
    // A whole IPv4 packet (valid header checksum, total length = rest of the
    // payload) or IPv6 packet (payload length = rest of the payload) starts
    // at offset 0, 4, 5 or 8 of the ICMP data: IP-in-ICMP (icmptunnel, hans).
    kIpInPayload = 1u << 1,
    // A ptunnel-style 28-byte header whatever its magic: big-endian data
    // length at offset 20 equals the bytes after the header and the state
    // word at offset 12 is small (ptunnel-ng --magic cannot hide this).
    kTunnelFraming = 1u << 2,
    // A pattern of class "suspicious" matched: shell banners, prompts,
    // command output, plain HTTP/SSH (icmpsh, icmpdoor, PingRAT, Nishang).
    kSuspiciousContent = 1u << 3,
    // Unstructured payloads whose Shannon entropy is within
    // Config::entropy_margin_bits of what random bytes of the same length
    // score: encrypted or compressed data (or fping -R).
    kRandomPayload = 1u << 4,
    // Unstructured payloads that are mostly printable text.
    kTextPayload = 1u << 5,
    // Unstructured payloads that are neither random nor text: no ping
    // implementation sends those (file chunks, protocol frames).
    kBinaryPayload = 1u << 6,
    // Echo data size changes within one direction of one conversation; a
    // ping program sends one size per run.
    kSizeVaries = 1u << 7,
    // The initiator's first echo size is none of the ping defaults
    // (0, 8, 16, 32, 40, 48, 56, 64, 68, 72, 100, 120, 150, 1472 ...).
    kNonDefaultSize = 1u << 8,
    // Echo replies whose data differs from their request's (RFC 792 §Echo:
    // "the data received in the echo message must be returned").
    kReplyMismatch = 1u << 9,
    // Replies with no request in the recent-request ring.
    kUnsolicitedReply = 1u << 10,
    // Requests that left the recent-request ring unanswered.
    kUnansweredRequests = 1u << 11,
    // The fill pattern (ping -p, counter base) changed inside one
    // conversation: a ping program fills every packet the same way.
    kFillChanges = 1u << 12,
    // Data in types that carry none or little: timestamp (13/14) beyond its
    // 12 bytes, information (15/16) with any, address mask (17/18) beyond 4,
    // unassigned/deprecated types with any.
    kDatalessTypeData = 1u << 13,
    // Echo request/reply with a code other than 0 (RFC 792, RFC 4443 §4).
    kUnusualCode = 1u << 14,
    // An ICMP error quoting more than the standard allows (RFC 1812 §4.3.2.3:
    // 576 bytes in all for IPv4; RFC 4443 §2.4: 1280 for IPv6).
    kOversizedError = 1u << 15,
    // Bytes of distinct, unexplained (unstructured, not mirrored) payload in
    // this conversation reached Config::volume_bytes: slow exfiltration in
    // normal-sized pings.
    kVolume = 1u << 16,
    // ... reached Config::high_volume_bytes.
    kHighVolume = 1u << 17,
    // The sender has, across its conversations within
    // Config::source_window_ms, used Config::source_min_fills distinct
    // pattern fills (one `ping -c 1 -p` per chunk of a file) or sent
    // Config::source_volume_bytes of text/binary payload, and this
    // conversation added to it.
    kSourceActivity = 1u << 18,
    // ICMP errors whose data does not start with an IP header of the
    // message's family: RFC 792 and RFC 4443 §2.4 say an error quotes the
    // offending packet's header, so this is data dressed up as an error.
    kBogusError = 1u << 19,
    // A sender or an address pair crossed a long-window budget
    // (Config::sender_hour, sender_day, pair_hour, pair_day) of unexplained
    // payload bytes or distinct unexplained payloads, and this conversation
    // added to it: low-and-slow exfiltration spread over many conversations.
    kHostBudget = 1u << 20,
    // Printable text (plain, base64, hex) that changes from payload to
    // payload within a direction: ping programs repeat one fill; text that
    // changes is data (a file, commands, their output) at any size.
    kChangingText = 1u << 21,
    // An endpoint or a payload ("allow" pattern) is allow-listed: the
    // conversation is never scored and never alerts. Informational.
    kAllowListed = 1u << 31,
};

inline constexpr unsigned kReasonBits = 32;

constexpr uint32_t bit(Reason r) noexcept { return static_cast<uint32_t>(r); }

// Short stable name of one reason bit ("random-payload"), or nullptr for an
// unused bit position (0..31).
const char* reason_name(unsigned bit_index) noexcept;

// Bit index of a reason name, or -1 when the name is unknown.
int reason_index(std::string_view name) noexcept;

}  // namespace detect
