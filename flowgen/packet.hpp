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

// The kinds of header the parser can walk through on the way to the
// innermost IP packet. PacketInfo::encapsulations has bit (1 << kind) set for
// every kind seen; a malformed frame names the kind whose header was bad.
enum class Encap : uint8_t {
    kNone = 0,     // the link layer, the innermost IP header or ICMP itself
    kVlan,         // IEEE 802.1Q / 802.1ad tags (0x8100, 0x88A8, 0x9100)
    kMpls,         // RFC 3032 label stack (0x8847, 0x8848)
    kPseudowire,   // RFC 4448 Ethernet over MPLS (with or without the RFC 4385 control word)
    kIpInIp,       // RFC 2003 / RFC 4213: IPv4 or IPv6 directly inside IPv4 or IPv6
    kGre,          // RFC 2784 / RFC 2890 carrying IPv4, IPv6 or MPLS
    kGreTeb,       // GRE 0x6558 transparent Ethernet bridging (gretap)
    kErspan1,      // draft-foschiano-erspan type I: GRE 0x88BE, S = 0
    kErspan2,      // type II: GRE 0x88BE, S = 1, 8-byte header
    kErspan3,      // type III: GRE 0x22EB, 12-byte header (+ 8-byte platform sub-header)
    kVxlan,        // RFC 7348, UDP to a port of ParseOptions::vxlan_ports
    kGeneve,       // RFC 8926, UDP 6081
    kCount,
};
inline constexpr int kEncapCount = static_cast<int>(Encap::kCount);

// Name of a kind as it appears in counters ("vlan", "erspan2", ...).
const char* encap_name(Encap kind) noexcept;

// Where the segment id (PacketInfo::segment_id) came from: the overlay that
// delivered the innermost packet. Mirrors of different segments may carry
// the same private addresses; the segment keeps their conversations apart.
enum class SegmentType : uint8_t {
    kNone = 0,
    kVxlan = 1,   // 24-bit VNI; the value is also the IANA layer2SegmentId type (IE 351)
    kGeneve = 2,  // 24-bit VNI
    kErspan = 3,  // 10-bit ERSPAN session id (types II and III)
};

// Parsing bounds, shared with the XDP program's header so that both classify
// the same frames the same way.
inline constexpr int kMaxVlanTags = 4;      // per Ethernet header (QinQ is 2; brokers add one or two)
inline constexpr int kMaxMplsLabels = 8;    // label stack entries walked to the bottom of stack
inline constexpr int kMaxDecapLayers = 4;   // tunnel layers entered (IP-in-IP, GRE, ERSPAN, VXLAN, Geneve, pseudowire)
inline constexpr int kMaxVxlanPorts = 8;    // UDP ports recognised as VXLAN

inline constexpr uint16_t kVxlanPort = 4789;        // IANA (RFC 7348 §5)
inline constexpr uint16_t kVxlanLinuxPort = 8472;   // the Linux kernel's historical default
inline constexpr uint16_t kGenevePort = 6081;       // IANA (RFC 8926 §3.3)

// What the parser may decapsulate. Plain data: one per worker, set at start.
struct ParseOptions {
    // false (--decap none): only Ethernet, up to kMaxVlanTags tags and one
    // level of IP-in-IP are followed; GRE, MPLS, UDP tunnels are kOther/kNotIp.
    bool decap = true;
    uint16_t vxlan_ports[kMaxVxlanPorts] = {kVxlanPort, kVxlanLinuxPort};
    uint8_t vxlan_port_count = 2;
    uint16_t geneve_port = kGenevePort;  // 0 disables Geneve

    bool is_vxlan_port(uint16_t port) const noexcept {
        for (int i = 0; i < vxlan_port_count; ++i)
            if (vxlan_ports[i] == port) return true;
        return false;
    }
};

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
    uint8_t vlan_count = 0;        // tags on the Ethernet header that carried the innermost IP packet
    uint8_t tunnel_depth = 0;      // tunnel layers entered to reach the innermost IP packet (0 bare)
    // VLAN id of the outermost tag of the Ethernet header that carried the
    // innermost IP packet; when that frame is untagged and came in ERSPAN,
    // the VLAN the ERSPAN header reports. 0 when none.
    uint16_t vlan_id = 0;
    uint16_t encapsulations = 0;   // bit (1 << Encap) for every kind of header walked
    Encap malformed_layer = Encap::kNone;  // on kMalformed: the kind of header that was bad
    SegmentType segment_type = SegmentType::kNone;  // innermost overlay with a segment id
    uint32_t segment_id = 0;       // VNI or ERSPAN session id (see SegmentType)
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
    // The innermost IP header parsed (points into the frame) and the bytes
    // captured from it on, within ip_length: for the mirror deduplicator.
    const uint8_t* ip_header = nullptr;
    uint32_t ip_captured = 0;
};

// Parse one frame. On kIcmp every field above is set; on kOther family,
// addresses, l4_protocol and ip_length are set (of the innermost IP header
// reached); on kNotIp nothing may be relied on; on kMalformed only
// encapsulations and malformed_layer.
//
// Handles: Ethernet II with up to kMaxVlanTags VLAN tags (0x8100, 0x88a8,
// 0x9100); IPv4 with options; IPv6 with at most 8 extension headers walked;
// IPv4 and IPv6 fragments; and, unless options.decap is false, up to
// kMaxDecapLayers tunnel layers: IP-in-IP, MPLS (to the bottom of stack,
// IPv4/IPv6 by the first nibble, Ethernet pseudowire with or without control
// word), GRE (C/K/S; IPv4, IPv6, MPLS, 0x6558 Ethernet, ERSPAN I/II/III),
// VXLAN (options.vxlan_ports) and Geneve (options.geneve_port). Only an
// unfragmented outer packet is entered. A header that claims more bytes than
// were captured, a bad IHL or version, a chain longer than its bound or a
// tunnel header that contradicts itself is kMalformed.
ParseStatus parse_frame(LinkType link, std::span<const uint8_t> frame, PacketInfo& out) noexcept;

// The same for a capture cut by a snap length: `wire_length` is the frame's
// length on the wire (pcap's orig_len, >= frame.size()). An IP header that
// claims more than the captured bytes is accepted up to the wire length (the
// snap length cut it) and kMalformed beyond (it lies). The overload above
// takes the frame as complete, as live ports deliver it.
ParseStatus parse_frame(LinkType link, std::span<const uint8_t> frame, size_t wire_length, PacketInfo& out) noexcept;

// Both of the above with explicit options (the overloads without use a
// default-constructed ParseOptions). wire_length 0 means frame.size().
ParseStatus parse_frame(LinkType link, std::span<const uint8_t> frame, size_t wire_length,
                        const ParseOptions& options, PacketInfo& out) noexcept;

// IANA protocol numbers used throughout.
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoIcmpv6 = 58;

// True for the message types that come in request/reply pairs carrying an
// identifier (echo, timestamp, information, address mask; ICMPv6 echo).
// On success *request_type is the request type of the pair.
bool icmp_request_reply_type(Family family, uint8_t type, uint8_t* request_type, bool* is_reply) noexcept;

}  // namespace flowgen
