// To add a reason: add a row to ECHOFLOW_REASONS at the next free bit, then
// set it in Pipeline::evaluate (detect/pipeline.cpp) from the conversation
// state; alerts, --weight, validation and IPFIX follow from the row.
//
// Why a conversation scored what it scored: one bit per piece of evidence,
// declared once. The enum, the names (alert JSON "reasons", --weight keys),
// the default weights and the descriptions are all generated from the list.
//
// The bit positions are a wire format: the IPFIX encoder exports
// DetectionSummary::reason_flags as an unsigned32 enterprise element, and
// alert consumers may store them. Never renumber a bit; add new ones at the
// next free position with a short, stable name ([a-z-], no escaping needed).
//
// Weights: strong, specific evidence alerts alone (>= 500, the default
// --alert-score); behavioural evidence needs a second, independent reason.
//
// Columns: X(enumerator, bit, name, default weight, description). The
// description is what an analyst reads: what was seen, in plain words.
#pragma once

#include <cstdint>
#include <string_view>

#define ECHOFLOW_REASONS(X)                                                                                      \
    /* Hyperscan, class "tunnel" (detect/patterns): a tool's magic, alone enough. */                             \
    X(kTunnelSignature, 0, "tunnel-signature", 700,                                                              \
      "the payload carries the signature of an ICMP tunnel tool (ptunnel, hans, pingtunnel)")                   \
    /* A whole IPv4 packet (valid header checksum, total length = rest of the payload) or IPv6 packet        */  \
    /* (payload length = rest) at offset 0, 4, 5 or 8 of the ICMP data: icmptunnel, hans. ~Never by chance. */  \
    X(kIpInPayload, 1, "ip-in-payload", 700, "the payload is itself an IP packet: traffic tunnelled in ICMP")   \
    /* A ptunnel-style 28-byte header whatever its magic: big-endian data length at offset 20 equals the    */  \
    /* bytes after the header and the state word at offset 12 is small (ptunnel-ng --magic cannot hide it). */  \
    X(kTunnelFraming, 2, "tunnel-framing", 600,                                                                  \
      "the payload starts with a tunnel header whose length field matches the data exactly")                     \
    /* Hyperscan, class "suspicious": shell banners, prompts, command output, plain HTTP/SSH (icmpsh,       */  \
    /* icmpdoor, PingRAT, Nishang). Needs text or a reply mismatch too.                                      */  \
    X(kSuspiciousContent, 3, "suspicious-content", 350,                                                          \
      "the payload contains shell, command-output or protocol text")                                             \
    /* Unstructured payloads within Config::entropy_margin_bits of what random bytes of that length score:  */  \
    /* encrypted or compressed data. fping -R sends random data too: weak alone.                            */  \
    X(kRandomPayload, 4, "random-payload", 200, "the payloads look random: encrypted or compressed data")       \
    /* No ping sends free text (the blackbox exporter's is a benign pattern).                                */  \
    X(kTextPayload, 5, "text-payload", 300, "the payloads are mostly printable text, which no ping sends")      \
    /* Neither random nor text, and no fill or counter a ping program writes: file chunks, protocol frames. */  \
    X(kBinaryPayload, 6, "binary-payload", 300, "the payloads are unstructured binary data, which no ping sends") \
    /* A ping program sends one size per run.                                                                */  \
    X(kSizeVaries, 7, "size-varies", 250, "the echo data size changes within one direction of the conversation") \
    /* None of 0, 8, 16, 32, 40, 48, 56, 64, 68, 72, 100, 120, 150, 1472 ...: ping -s is common, a hint only. */ \
    X(kNonDefaultSize, 8, "non-default-size", 50, "the first echo request has a size no ping program uses by default") \
    /* RFC 792 (Echo): "the data received in the echo message must be returned in the echo reply".          */  \
    /* Alone not enough: broken middleboxes do it.                                                           */  \
    X(kReplyMismatch, 9, "reply-mismatch", 400, "echo replies carry other data than their requests (RFC 792)")  \
    /* Replies with no request in the recent-request ring (asymmetric SPAN, capture start).                 */  \
    X(kUnsolicitedReply, 10, "unsolicited-reply", 150, "echo replies arrive without a matching request")        \
    /* Requests that left the recent-request ring unanswered: dead hosts are pinged all day.                */  \
    X(kUnansweredRequests, 11, "unanswered-requests", 100, "echo requests go unanswered")                      \
    /* The fill pattern (ping -p, counter base) changed: no ping program does that mid-run, ping -p         */  \
    /* exfiltration does.                                                                                    */  \
    X(kFillChanges, 12, "fill-changes", 500, "the payload fill pattern changes within the conversation")        \
    /* Timestamp (13/14) beyond its 12 bytes, information (15/16) with any, address mask (17/18) beyond 4,   */  \
    /* unassigned or deprecated types with any (RFC 792, RFC 950, RFC 6918).                                 */  \
    X(kDatalessTypeData, 13, "dataless-type-data", 400, "ICMP messages of a type that carries no data carry data") \
    /* Echo request/reply code other than 0 (RFC 792, RFC 4443 §4); nmap -O sends code 9 once.               */  \
    X(kUnusualCode, 14, "unusual-code", 150, "echo messages have a code other than 0")                          \
    /* RFC 1812 §4.3.2.3: 576 bytes in all for IPv4; RFC 4443 §2.4: 1280 for IPv6.                           */  \
    X(kOversizedError, 15, "oversized-error", 150, "an ICMP error quotes more than the standards allow")         \
    /* Bytes of distinct, unexplained (unstructured, not mirrored) payload reached Config::volume_bytes:     */  \
    /* slow exfiltration in normal-sized pings.                                                              */  \
    X(kVolume, 16, "volume", 250, "the conversation carried a notable volume of unexplained payload")          \
    /* ... reached Config::high_volume_bytes.                                                                */  \
    X(kHighVolume, 17, "high-volume", 300, "the conversation carried a large volume of unexplained payload")   \
    /* The sender, across its conversations within Config::source_window_ms, used Config::source_min_fills  */  \
    /* distinct fills (one `ping -c 1 -p` per chunk of a file) or sent Config::source_volume_bytes of       */  \
    /* text/binary payload, and this conversation added to it.                                               */  \
    X(kSourceActivity, 18, "source-activity", 500,                                                               \
      "the sender spreads new content over many short conversations")                                            \
    /* RFC 792 and RFC 4443 §2.4: an error quotes the offending packet's header; this one does not start    */  \
    /* with an IP header of the message's family. The content of the "error" adds the rest.                 */  \
    X(kBogusError, 19, "bogus-error", 300, "ICMP errors carry data instead of the packet they report on")        \
    /* A sender or an address pair crossed a long-window budget (Config::sender_hour, sender_day,        */  \
    /* pair_hour, pair_day) of distinct unexplained payloads or bytes, and this conversation added to it:  */  \
    /* low-and-slow exfiltration over many conversations (detect/source_table.hpp). Alone enough.          */  \
    X(kHostBudget, 20, "host-budget", 500,                                                                       \
      "the host or host pair moved more unexplained payload over the last hour or day than a pinger does")       \
    /* Text (plain, base64, hex) that differs from its direction's previous payload: a ping repeats one     */  \
    /* fill; changing text is a file, commands or their output, at any size. With text-payload: 550.        */  \
    X(kChangingText, 21, "changing-text", 250, "the text in the payloads changes from packet to packet: data, not a fill") \
    /* An endpoint or a payload ("allow" pattern) is allow-listed: never scored, never alerts.              */  \
    X(kAllowListed, 31, "allow-listed", 0, "an endpoint or the payload is allow-listed; not scored")

namespace detect {

enum class Reason : uint32_t {
#define ECHOFLOW_REASON_ENUM(e, bit, name, weight, description) e = 1u << (bit),
    ECHOFLOW_REASONS(ECHOFLOW_REASON_ENUM)
#undef ECHOFLOW_REASON_ENUM
};

inline constexpr unsigned kReasonBits = 32;

constexpr uint32_t bit(Reason r) noexcept { return static_cast<uint32_t>(r); }

struct ReasonInfo {
    Reason reason;
    unsigned bit_index;
    const char* name;
    uint16_t default_weight;  // 0..1000 score points
    const char* description;
};

// Every reason, in bit order.
inline constexpr ReasonInfo kReasons[] = {
#define ECHOFLOW_REASON_ROW(e, bit, name, weight, description) {Reason::e, bit, name, weight, description},
    ECHOFLOW_REASONS(ECHOFLOW_REASON_ROW)
#undef ECHOFLOW_REASON_ROW
};

// The row of a bit position (0..31), or nullptr for an unused bit.
const ReasonInfo* reason_info(unsigned bit_index) noexcept;

// Short stable name of one reason bit ("random-payload"), or nullptr for an
// unused bit position (0..31).
const char* reason_name(unsigned bit_index) noexcept;

// Bit index of a reason name, or -1 when the name is unknown.
int reason_index(std::string_view name) noexcept;

}  // namespace detect
