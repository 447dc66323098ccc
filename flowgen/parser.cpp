// Frame parser: link layer -> IPv4/IPv6 (one level of IP-in-IP) -> ICMP.
//
// Every read is preceded by a length check against the bytes that are both
// captured and inside the length the IP header states, so the parser never
// reads past the span and never mistakes Ethernet padding for payload.
// Decisions the contract in packet.hpp leaves open, and why:
//  - A third VLAN tag is kMalformed: the issue allows two tags (802.1Q inside
//    802.1ad); deeper stacks are not something a SPAN port should deliver and
//    reading on would make the header budget unbounded.
//  - An IPv4 total length or IPv6 payload length beyond the captured bytes is
//    not malformed when the frame was longer on the wire (a snap length cut
//    the capture); ip_length is the header's. Beyond the frame's length on
//    the wire it is malformed: that header lies about its packet.
//  - IP-in-IP is entered only when the outer packet is not a fragment: a
//    fragmented tunnel packet is kOther (protocol 4/41) for all its
//    fragments, so no conversation ever gets only some of its fragments.
//  - An IPv6 fragment header with offset 0 and M=0 (RFC 6946 atomic
//    fragment) is not a fragment. fragment_id is set only for fragments.
//  - ICMPv6 over IPv4 and ICMPv4 over IPv6 are kOther.
//  - A LinkType outside the enum is kNotIp: the framing is unknown, not bad.
#include "flowgen/bytes.hpp"
#include "flowgen/packet.hpp"

namespace flowgen {
namespace {

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86DD;
constexpr uint16_t kEtherTypeVlan = 0x8100;     // IEEE 802.1Q C-tag
constexpr uint16_t kEtherTypeQinQ = 0x88A8;     // IEEE 802.1ad S-tag
constexpr uint16_t kEtherTypeQinQOld = 0x9100;  // pre-standard S-tag

constexpr size_t kEthernetHeader = 14;
constexpr size_t kVlanTag = 4;
constexpr size_t kLinuxSllHeader = 16;   // protocol type at offset 14
constexpr size_t kLinuxSll2Header = 20;  // protocol type at offset 0
constexpr size_t kIpv4MinHeader = 20;    // RFC 791 §3.1, IHL >= 5
constexpr size_t kIpv6Header = 40;       // RFC 8200 §3
constexpr size_t kIcmpHeader = 8;        // RFC 792 / RFC 4443 §2.1

constexpr uint8_t kProtoIpInIp = 4;         // IPv4 encapsulation (RFC 2003)
constexpr uint8_t kProtoIpv6InIp = 41;      // IPv6 encapsulation (RFC 4213)
constexpr uint8_t kIpv6HopByHop = 0;        // RFC 8200 §4.3
constexpr uint8_t kIpv6Routing = 43;        // RFC 8200 §4.4
constexpr uint8_t kIpv6Fragment = 44;       // RFC 8200 §4.5
constexpr uint8_t kIpv6Esp = 50;            // RFC 4303: the rest is encrypted
constexpr uint8_t kIpv6Ah = 51;             // RFC 4302 §2.2
constexpr uint8_t kIpv6NoNextHeader = 59;   // RFC 8200 §4.7
constexpr uint8_t kIpv6DestOptions = 60;    // RFC 8200 §4.6
constexpr int kMaxIpv6ExtensionHeaders = 8;

constexpr uint16_t kIpv4MoreFragments = 0x2000;  // RFC 791 §3.1 flags
constexpr uint16_t kIpv4OffsetMask = 0x1FFF;

inline void set_ipv4_address(IpAddress& a, const uint8_t* p) noexcept {
    std::memcpy(a.bytes, p, 4);
    std::memset(a.bytes + 4, 0, 12);
}

inline bool is_vlan_tpid(uint16_t type) noexcept {
    return type == kEtherTypeVlan || type == kEtherTypeQinQ || type == kEtherTypeQinQOld;
}

// The ICMP/ICMPv6 header and body. `avail` is what is captured and inside
// the IP length, `wire` what the IP header says the ICMP message has.
inline ParseStatus parse_icmp(const uint8_t* p, size_t avail, size_t wire, bool first_fragment,
                              PacketInfo& out) noexcept {
    if (!first_fragment) {
        // RFC 791/8200: only the fragment at offset 0 carries the ICMP
        // header; the rest still belongs to an ICMP conversation.
        out.has_icmp_header = false;
        return ParseStatus::kIcmp;
    }
    if (avail < kIcmpHeader) return ParseStatus::kMalformed;
    out.has_icmp_header = true;
    out.icmp_type = p[0];
    out.icmp_code = p[1];
    uint8_t request;
    bool reply;
    if (icmp_request_reply_type(out.family, p[0], &request, &reply)) {
        // RFC 792 echo/timestamp/information/mask, RFC 4443 §4.1/4.2:
        // identifier and sequence number follow the checksum.
        out.icmp_id = load_be16(p + 4);
        out.icmp_seq = load_be16(p + 6);
    }
    out.payload = p + kIcmpHeader;
    out.payload_length = static_cast<uint16_t>(avail - kIcmpHeader);
    out.payload_wire_length = static_cast<uint16_t>(wire > kIcmpHeader ? wire - kIcmpHeader : 0);
    return ParseStatus::kIcmp;
}

ParseStatus parse_ipv6(const uint8_t* p, size_t captured, size_t wire, PacketInfo& out, int depth) noexcept;

// IPv4 header at p with `captured` bytes after it in the frame, of `wire`
// bytes (>= captured) the frame had from p on when it was on the wire.
ParseStatus parse_ipv4(const uint8_t* p, size_t captured, size_t wire, PacketInfo& out, int depth) noexcept {
    if (captured < kIpv4MinHeader || (p[0] >> 4) != 4) return ParseStatus::kMalformed;
    const size_t header = static_cast<size_t>(p[0] & 0x0F) * 4;
    const size_t total = load_be16(p + 2);
    if (header < kIpv4MinHeader || header > captured || total < header || total > wire)
        return ParseStatus::kMalformed;

    const uint8_t protocol = p[9];
    out.family = Family::kIpv4;
    set_ipv4_address(out.src, p + 12);
    set_ipv4_address(out.dst, p + 16);
    out.l4_protocol = protocol;
    out.ip_length = static_cast<uint32_t>(total);

    const uint16_t flags_offset = load_be16(p + 6);
    const bool fragment = (flags_offset & (kIpv4MoreFragments | kIpv4OffsetMask)) != 0;
    const bool first_fragment = (flags_offset & kIpv4OffsetMask) == 0;
    out.is_fragment = fragment;
    out.fragment_id = fragment ? load_be16(p + 4) : 0;

    // Bytes beyond total_length are link padding, not IP payload.
    const size_t end = captured < total ? captured : total;
    const uint8_t* l4 = p + header;
    const size_t avail = end - header;

    if (protocol == kProtoIcmp) return parse_icmp(l4, avail, total - header, first_fragment, out);
    if ((protocol == kProtoIpInIp || protocol == kProtoIpv6InIp) && depth == 0 && !fragment) {
        out.tunnel_depth = 1;
        return protocol == kProtoIpInIp ? parse_ipv4(l4, avail, total - header, out, 1)
                                        : parse_ipv6(l4, avail, total - header, out, 1);
    }
    return ParseStatus::kOther;
}

// IPv6 header at p, then a bounded walk over extension headers.
ParseStatus parse_ipv6(const uint8_t* p, size_t captured, size_t wire, PacketInfo& out, int depth) noexcept {
    if (captured < kIpv6Header || (p[0] >> 4) != 6) return ParseStatus::kMalformed;
    const size_t total = kIpv6Header + load_be16(p + 4);
    if (total > wire) return ParseStatus::kMalformed;
    out.family = Family::kIpv6;
    std::memcpy(out.src.bytes, p + 8, 16);
    std::memcpy(out.dst.bytes, p + 24, 16);
    out.ip_length = static_cast<uint32_t>(total);
    out.is_fragment = false;
    out.fragment_id = 0;

    const size_t end = captured < total ? captured : total;
    uint8_t next = p[6];
    size_t off = kIpv6Header;
    bool first_fragment = true;
    for (int walked = 0;; ++walked) {
        size_t length;
        if (next == kIpv6HopByHop || next == kIpv6Routing || next == kIpv6DestOptions) {
            if (end - off < 2) return ParseStatus::kMalformed;
            length = (static_cast<size_t>(p[off + 1]) + 1) * 8;  // RFC 8200 §4.3: 8-octet units, first excluded
        } else if (next == kIpv6Ah) {
            if (end - off < 2) return ParseStatus::kMalformed;
            length = (static_cast<size_t>(p[off + 1]) + 2) * 4;  // RFC 4302 §2.2: 4-octet units, minus 2
        } else if (next == kIpv6Fragment) {
            length = 8;
        } else {
            break;  // upper-layer protocol, ESP or no next header
        }
        if (walked == kMaxIpv6ExtensionHeaders || end - off < length) return ParseStatus::kMalformed;
        const uint8_t* h = p + off;
        if (next == kIpv6Fragment) {
            // RFC 8200 §4.5: offset in 8-octet units in the top 13 bits, M in bit 0.
            const uint16_t offset_m = load_be16(h + 2);
            const bool non_first = (offset_m & 0xFFF8) != 0;
            if (non_first || (offset_m & 1) != 0) {
                out.is_fragment = true;
                out.fragment_id = load_be32(h + 4);
            }
            if (non_first) {
                // What follows is the middle of the original payload, not headers.
                first_fragment = false;
                next = h[0];
                off += length;
                break;
            }
        }
        next = h[0];
        off += length;
    }

    out.l4_protocol = next;
    const uint8_t* l4 = p + off;
    const size_t avail = end - off;
    if (next == kProtoIcmpv6) return parse_icmp(l4, avail, total - off, first_fragment, out);
    if ((next == kProtoIpInIp || next == kProtoIpv6InIp) && depth == 0 && !out.is_fragment) {
        out.tunnel_depth = 1;
        return next == kProtoIpInIp ? parse_ipv4(l4, avail, total - off, out, 1)
                                    : parse_ipv6(l4, avail, total - off, out, 1);
    }
    return ParseStatus::kOther;
}

}  // namespace

bool icmp_request_reply_type(Family family, uint8_t type, uint8_t* request_type, bool* is_reply) noexcept {
    uint8_t request;
    bool reply;
    if (family == Family::kIpv4) {
        switch (type) {
            case 8: request = 8; reply = false; break;    // RFC 792 echo
            case 0: request = 8; reply = true; break;     // echo reply
            case 13: request = 13; reply = false; break;  // timestamp
            case 14: request = 13; reply = true; break;   // timestamp reply
            case 15: request = 15; reply = false; break;  // information request
            case 16: request = 15; reply = true; break;   // information reply
            case 17: request = 17; reply = false; break;  // address mask request (RFC 950)
            case 18: request = 17; reply = true; break;   // address mask reply
            default: return false;
        }
    } else if (family == Family::kIpv6) {
        switch (type) {
            case 128: request = 128; reply = false; break;  // RFC 4443 §4.1 echo request
            case 129: request = 128; reply = true; break;   // RFC 4443 §4.2 echo reply
            default: return false;
        }
    } else {
        return false;
    }
    if (request_type != nullptr) *request_type = request;
    if (is_reply != nullptr) *is_reply = reply;
    return true;
}

ParseStatus parse_frame(LinkType link, std::span<const uint8_t> frame, PacketInfo& out) noexcept {
    return parse_frame(link, frame, frame.size(), out);
}

const char* encap_name(Encap kind) noexcept {
    switch (kind) {
        case Encap::kNone: return "none";
        case Encap::kVlan: return "vlan";
        case Encap::kMpls: return "mpls";
        case Encap::kPseudowire: return "pseudowire";
        case Encap::kIpInIp: return "ipip";
        case Encap::kGre: return "gre";
        case Encap::kGreTeb: return "gre_teb";
        case Encap::kErspan1: return "erspan1";
        case Encap::kErspan2: return "erspan2";
        case Encap::kErspan3: return "erspan3";
        case Encap::kVxlan: return "vxlan";
        case Encap::kGeneve: return "geneve";
        case Encap::kCount: break;
    }
    return "unknown";
}

ParseStatus parse_frame(LinkType link, std::span<const uint8_t> frame, size_t wire_length, PacketInfo& out) noexcept {
    static constexpr ParseOptions kDefaults{};
    return parse_frame(link, frame, wire_length, kDefaults, out);
}

ParseStatus parse_frame(LinkType link, std::span<const uint8_t> frame, size_t wire_length,
                        const ParseOptions& options, PacketInfo& out) noexcept {
    (void)options;
    out = PacketInfo{};
    const uint8_t* p = frame.data();
    const size_t size = frame.size();
    if (wire_length < size) wire_length = size;
    size_t off;
    uint16_t type;

    switch (link) {
        case LinkType::kEthernet:
            if (size < kEthernetHeader) return ParseStatus::kMalformed;
            type = load_be16(p + 12);
            off = kEthernetHeader;
            break;
        case LinkType::kLinuxSll:
            if (size < kLinuxSllHeader) return ParseStatus::kMalformed;
            type = load_be16(p + 14);
            off = kLinuxSllHeader;
            break;
        case LinkType::kLinuxSll2:
            if (size < kLinuxSll2Header) return ParseStatus::kMalformed;
            type = load_be16(p);
            off = kLinuxSll2Header;
            break;
        case LinkType::kRaw:
            // LINKTYPE_RAW: the version nibble says which IP it is.
            if (size == 0) return ParseStatus::kMalformed;
            if ((p[0] >> 4) == 4) return parse_ipv4(p, size, wire_length, out, 0);
            if ((p[0] >> 4) == 6) return parse_ipv6(p, size, wire_length, out, 0);
            return ParseStatus::kMalformed;
        default:
            return ParseStatus::kNotIp;
    }

    // The common case (untagged IPv4) goes straight through.
    if (type == kEtherTypeIpv4) return parse_ipv4(p + off, size - off, wire_length - off, out, 0);

    if (is_vlan_tpid(type)) {
        // IEEE 802.1Q tag: TCI (PCP, DEI, 12-bit VID) then the next type.
        int tags = 0;
        do {
            if (tags == kMaxVlanTags) return ParseStatus::kMalformed;
            if (size - off < kVlanTag) return ParseStatus::kMalformed;
            if (tags == 0) out.vlan_id = load_be16(p + off) & 0x0FFF;
            type = load_be16(p + off + 2);
            off += kVlanTag;
            ++tags;
        } while (is_vlan_tpid(type));
        out.vlan_count = static_cast<uint8_t>(tags);
    }

    if (type == kEtherTypeIpv4) return parse_ipv4(p + off, size - off, wire_length - off, out, 0);
    if (type == kEtherTypeIpv6) return parse_ipv6(p + off, size - off, wire_length - off, out, 0);
    return ParseStatus::kNotIp;
}

}  // namespace flowgen
