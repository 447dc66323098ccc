// What the parser extracts from one frame, and the parser's entry point.
//
// The parser reads a captured frame (a byte span that it never writes and
// never reads past), and fills a PacketInfo. It allocates nothing, throws
// nothing and may be called from any lcore concurrently (it has no state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace flowgen {

// Link-layer framing of the bytes handed to the parser (pcap LINKTYPE_*
// values, so a capture's header can be passed straight through).
enum class LinkType : uint16_t {
    kEthernet = 1,      // LINKTYPE_ETHERNET; DPDK ports always deliver this
    kRaw = 101,         // LINKTYPE_RAW: starts at the IPv4/IPv6 header
    kLinuxSll = 113,    // LINKTYPE_LINUX_SLL ("any" device, 16-byte header)
    kLinuxSll2 = 276,   // LINKTYPE_LINUX_SLL2 (20-byte header)
};

// Outcome of parsing one frame. Every frame gets exactly one of these, and
// the caller counts each: this is how "every packet received is accounted
// for" holds.
enum class ParseStatus : uint8_t {
    kIcmp,       // ICMP or ICMPv6 (including non-first fragments of one)
    kOther,      // well-formed, not ICMP: PacketInfo::l4_protocol says what
    kNotIp,      // well-formed link layer carrying neither IPv4 nor IPv6 (ARP, LLDP, ...)
    kMalformed,  // truncated or inconsistent header; nothing else is valid
};

enum class Family : uint8_t { kNone = 0, kIpv4 = 4, kIpv6 = 6 };

// An IPv4 address occupies the first 4 bytes; the rest are zero, so that
// comparing and hashing all 16 bytes is correct for both families.
struct IpAddress {
    alignas(8) uint8_t bytes[16];

    friend bool operator==(const IpAddress& a, const IpAddress& b) noexcept {
        return std::memcmp(a.bytes, b.bytes, 16) == 0;
    }
};

inline int compare(const IpAddress& a, const IpAddress& b) noexcept {
    return std::memcmp(a.bytes, b.bytes, 16);
}

struct PacketInfo {
    IpAddress src;            // of the innermost parsed IP header
    IpAddress dst;
    Family family = Family::kNone;
    uint8_t l4_protocol = 0;  // IP protocol / IPv6 next header after extension headers
    uint8_t icmp_type = 0;    // valid when has_icmp_header
    uint8_t icmp_code = 0;
    uint16_t icmp_id = 0;     // echo-like messages: identifier (host order)
    uint16_t icmp_seq = 0;    // echo-like messages: sequence number (host order)
    bool has_icmp_header = false;  // false for non-first fragments
    bool is_fragment = false;      // any fragment (first or not)
    uint8_t vlan_count = 0;        // 0..2 tags seen
    uint8_t tunnel_depth = 0;      // 1 when the ICMP was inside IP-in-IP (6in4, 4in4, 4in6, 6in6)
    uint16_t vlan_id = 0;          // outermost VLAN id (0 when untagged)
    uint32_t fragment_id = 0;      // IPv4 identification or IPv6 fragment identification
    // Octets in the IPFIX sense: the IP header plus everything it carries, as
    // stated by the (innermost) IP header: IPv4 total length, IPv6 40 +
    // payload length. Not the captured length, not the frame length.
    uint32_t ip_length = 0;
    // ICMP message body after the 8-byte ICMP header (echo data), as far as
    // it was captured and lies inside ip_length. Empty for non-first
    // fragments and for messages without data. Points into the frame.
    const uint8_t* payload = nullptr;
    uint16_t payload_length = 0;   // bytes available at `payload`
    uint16_t payload_wire_length = 0;  // bytes the IP header says the ICMP data has (>= payload_length)
};

// Parse one frame. On kIcmp every field above is set; on kOther family,
// addresses, l4_protocol and ip_length are set; on kNotIp and kMalformed
// nothing may be relied on.
//
// Handles: Ethernet II with up to two VLAN tags (0x8100, 0x88a8, 0x9100);
// IPv4 with options; IPv6 with at most 8 extension headers walked; one level
// of IP-in-IP (IPv4 protocol 4/41, IPv6 next header 4/41); IPv4 and IPv6
// fragments. A header that claims more bytes than were captured, a bad IHL
// or version, or an extension-header chain longer than the bound is
// kMalformed.
ParseStatus parse_frame(LinkType link, std::span<const uint8_t> frame, PacketInfo& out) noexcept;

// The same for a capture cut by a snap length: `wire_length` is the frame's
// length on the wire (pcap's orig_len, >= frame.size()). An IP header that
// claims more than the captured bytes is accepted up to the wire length (the
// snap length cut it) and kMalformed beyond (it lies). The overload above
// takes the frame as complete, as live ports deliver it.
ParseStatus parse_frame(LinkType link, std::span<const uint8_t> frame, size_t wire_length, PacketInfo& out) noexcept;

// IANA protocol numbers used throughout.
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoIcmpv6 = 58;

// True for the message types that come in request/reply pairs carrying an
// identifier (echo, timestamp, information, address mask; ICMPv6 echo).
// On success *request_type is the request type of the pair.
bool icmp_request_reply_type(Family family, uint8_t type, uint8_t* request_type, bool* is_reply) noexcept;

}  // namespace flowgen
