// Payloads as real senders build them (shared/reference/icmp-facts.md), and
// PacketInfo values pointing at them, for the detect unit tests. The
// detectors take a PacketInfo plus payload span, so these tests do not need
// the frame parser. Test-only: allocates freely.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "flowgen/bytes.hpp"
#include "flowgen/packet.hpp"

namespace tests::detect {

using Payload = std::vector<uint8_t>;

// iputils ping: 16-byte struct timeval (little-endian tv_sec, tv_usec), then byte i = i.
inline Payload linux_ping(size_t n, uint32_t seq) {
    Payload p(n);
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i);
    const uint64_t sec = 1764128000 + seq, usec = (seq * 137'911u) % 1'000'000u;
    std::memcpy(p.data(), &sec, std::min<size_t>(n, 8));
    if (n > 8) std::memcpy(p.data() + 8, &usec, std::min<size_t>(n - 8, 8));
    return p;
}

// FreeBSD/macOS ping: 8-byte timeval (two 32-bit fields), then byte i = i from 0x08.
inline Payload bsd_ping(size_t n, uint32_t seq) {
    Payload p(n);
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i);
    const uint32_t tv[2] = {1764128000 + seq, (seq * 7919u) % 1'000'000u};
    std::memcpy(p.data(), tv, std::min<size_t>(n, 8));
    return p;
}

// Windows ping: 'a'..'w' repeated.
inline Payload windows_ping(size_t n) {
    Payload p(n);
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>('a' + i % 23);
    return p;
}

// BusyBox ping: 4-byte time then zeros. fping: zeros.
inline Payload busybox_ping(size_t n, uint32_t seq) {
    Payload p(n, 0);
    const uint32_t t = 0x5a3c0000u + seq * 1000u;
    std::memcpy(p.data(), &t, std::min<size_t>(n, 4));
    return p;
}

// Cisco IOS: 0xABCD repeated.
inline Payload cisco_ping(size_t n) {
    Payload p(n);
    for (size_t i = 0; i < n; ++i) p[i] = (i % 2) ? 0xCD : 0xAB;
    return p;
}

// ping -p PATTERN: the pattern repeated behind the 16-byte timestamp.
inline Payload pattern_ping(size_t n, uint32_t seq, const Payload& pattern) {
    Payload p = linux_ping(n, seq);
    for (size_t i = 16; i < n; ++i) p[i] = pattern[(i - 16) % pattern.size()];
    return p;
}

inline Payload random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    Payload p(n);
    for (auto& b : p) b = static_cast<uint8_t>(rng());
    return p;
}

// Unstructured, low-entropy bytes (file chunks, protocol frames): 12 symbols, skewed.
inline Payload binary_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    static constexpr uint8_t kSymbols[] = {0x00, 0x00, 0x00, 0xff, 0x01, 0x02, 0x7f, 0x45, 0x4c, 0x46, 0x10, 0x08};
    Payload p(n);
    for (auto& b : p) b = kSymbols[rng() % sizeof kSymbols];
    return p;
}

inline Payload text(const std::string& s) { return Payload(s.begin(), s.end()); }

// A complete IPv4 packet (20-byte header with a correct checksum, then
// `body`), as IP-in-ICMP tunnels carry it.
inline Payload ipv4_packet(const Payload& body, uint8_t protocol = 6) {
    Payload p(20 + body.size(), 0);
    p[0] = 0x45;
    flowgen::store_be16(&p[2], static_cast<uint16_t>(p.size()));
    flowgen::store_be16(&p[4], 0x1234);
    p[8] = 64;
    p[9] = protocol;
    const uint8_t src[4] = {10, 95, 1, 1}, dst[4] = {10, 95, 1, 2};
    std::memcpy(&p[12], src, 4);
    std::memcpy(&p[16], dst, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += flowgen::load_be16(&p[i]);
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    flowgen::store_be16(&p[10], static_cast<uint16_t>(~sum));
    if (!body.empty()) std::memcpy(p.data() + 20, body.data(), body.size());
    return p;
}

// ptunnel's 28-byte header (magic, dst ip, dst port, state, ack, data len, seq, id), big-endian.
inline Payload ptunnel_packet(uint32_t magic, const Payload& data, uint16_t seq, uint32_t state = 1) {
    Payload p(28 + data.size(), 0);
    flowgen::store_be32(&p[0], magic);
    flowgen::store_be32(&p[4], 0x7F000001);
    flowgen::store_be32(&p[8], 22);
    flowgen::store_be32(&p[12], state | 0x40000000u);
    flowgen::store_be32(&p[16], seq ? seq - 1u : 0u);
    flowgen::store_be32(&p[20], static_cast<uint32_t>(data.size()));
    flowgen::store_be16(&p[24], seq);
    flowgen::store_be16(&p[26], 0x4242);
    if (!data.empty()) std::memcpy(p.data() + 28, data.data(), data.size());
    return p;
}

inline flowgen::IpAddress addr4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    flowgen::IpAddress x{};
    x.bytes[0] = a, x.bytes[1] = b, x.bytes[2] = c, x.bytes[3] = d;
    return x;
}

// An ICMP message of `type` between two addresses carrying `payload` (which
// must outlive the returned value).
inline flowgen::PacketInfo icmp(flowgen::Family family, uint8_t type, uint16_t id, uint16_t seq, const Payload& payload,
                                flowgen::IpAddress src, flowgen::IpAddress dst, uint8_t code = 0) {
    flowgen::PacketInfo p;
    p.src = src;
    p.dst = dst;
    p.family = family;
    p.l4_protocol = family == flowgen::Family::kIpv6 ? flowgen::kProtoIcmpv6 : flowgen::kProtoIcmp;
    p.icmp_type = type;
    p.icmp_code = code;
    p.icmp_id = id;
    p.icmp_seq = seq;
    p.has_icmp_header = true;
    p.payload = payload.empty() ? nullptr : payload.data();
    p.payload_length = static_cast<uint16_t>(payload.size());
    p.payload_wire_length = static_cast<uint16_t>(payload.size());
    p.ip_length = static_cast<uint32_t>((family == flowgen::Family::kIpv6 ? 48 : 28) + payload.size());
    return p;
}

}  // namespace tests::detect
