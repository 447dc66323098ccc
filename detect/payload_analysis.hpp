// Pure functions over one ICMP payload (the bytes after the 8-byte ICMP
// header): structure, entropy, text share, embedded IP packets, tunnel
// framing, fingerprint hash. No state, no allocation, callable from any lcore.
#pragma once

#include <cstdint>
#include <span>

namespace detect {

using Bytes = std::span<const uint8_t>;

// Expected Shannon entropy (bits/byte) of `n` uniformly random bytes: exact
// binomial expectation for n <= 4096 (table built on first use: call it once
// at start-up, Pipeline::init does), Miller-Madow approximation
// 8 - 255/(2 n ln 2) above. ~4.88 at 32, 5.60 at 56, 7.80 at 1000, 7.87 at 1472.
double expected_random_entropy(uint32_t n) noexcept;

// Shannon entropy of `data` in bits/byte (0 for empty input; at most the
// first 262140 bytes are counted).
double shannon_entropy(Bytes data) noexcept;

// How a payload is built, as ping programs build theirs: an optional prefix
// (timestamp, ids) followed to the end by either a counter (byte i+1 = byte
// i + 1, mod 256: iputils, BSD, traceroute) or a repetition with a period of
// 1..64 bytes (zeros: busybox, fping; 0xABCD: Cisco; 'a'..'w': Windows;
// ping -p patterns).
enum class Fill : uint8_t { kNone = 0, kCounter = 1, kPeriodic = 2 };

struct Structure {
    Fill fill = Fill::kNone;
    uint8_t period = 0;        // kPeriodic: bytes per repetition; kCounter: 0
    uint16_t start = 0;        // offset where the fill starts (prefix length)
    uint32_t fill_hash = 0;    // identifies the fill (pattern bytes at their absolute phase, or counter base)
};

// Finds the fill that reaches the end of `data` and starts earliest. A fill
// is reported only when it covers at least 8 bytes beyond its first period
// (so a fill is seen repeating) and starts at or before `max_prefix`;
// otherwise fill == kNone. Cost: O(n) for a structured payload, ~70 byte
// compares for a random one.
Structure analyze_structure(Bytes data, unsigned max_prefix) noexcept;

// Share (0..1) of bytes that are printable ASCII, tab, CR or LF.
double printable_fraction(Bytes data) noexcept;

// What a text payload looks like: printable bytes, and whether every byte
// is of the base64 alphabet (RFC 4648 §4 and §5: A-Z a-z 0-9 + / - _ =) or
// of hex digits.
struct TextShape {
    uint32_t printable = 0;  // printable ASCII, tab, CR, LF
    bool base64 = false;     // non-empty and every byte base64
    bool hex = false;        // non-empty and every byte a hex digit
};
TextShape text_shape(Bytes data) noexcept;

// Offset (0, 4, 5 or 8) at which a complete IP packet starts inside the
// payload, or -1. IPv4: version 4, IHL >= 5, header checksum correct (RFC
// 791/1071), total length equal to the remaining wire bytes. IPv6: version
// 6, payload length + 40 equal to the remaining wire bytes, a known next
// header. `wire_length` is the payload's length on the wire (>= data.size()
// for truncated captures).
int find_embedded_ip(Bytes data, uint32_t wire_length) noexcept;

// True for a ptunnel-style header (any non-zero magic): 28 bytes of magic, dst ip (non-zero),
// dst port (< 65536), state (flag bits 30/31 aside, < 16), ack, data length
// (= wire_length - 28), seq, id; all big-endian.
bool has_tunnel_framing(Bytes data, uint32_t wire_length) noexcept;

// 32-bit hash of the first `max_bytes` of data, mixed with the wire length.
uint32_t payload_hash(Bytes data, uint32_t wire_length, unsigned max_bytes) noexcept;

}  // namespace detect
