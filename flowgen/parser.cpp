// Frame parser: link layer -> tunnels -> IPv4/IPv6 -> ICMP.
//
// Every read is preceded by a length check against the bytes that are both
// captured and inside the length the enclosing header states, so the parser
// never reads past the span and never mistakes Ethernet padding for payload.
// Every layer is handed (pointer, captured bytes, bytes on the wire); the
// walk is recursive but bounded: kMaxDecapLayers tunnel layers, each of a
// fixed number of calls, kMaxVlanTags tags per Ethernet header,
// kMaxMplsLabels label stack entries.
// Decisions the contract in packet.hpp leaves open, and why:
//  - More VLAN tags or MPLS labels than the bound is kMalformed, so a
//    header budget is never unbounded.
//  - More tunnel layers than kMaxDecapLayers: the packet is what it is at
//    the last layer entered (kOther with the tunnel's protocol, or kNotIp
//    for an Ethernet pseudowire); it is well-formed, only not followed.
//  - An IPv4 total length or IPv6 payload length beyond the captured bytes is
//    not malformed when the frame was longer on the wire (a snap length cut
//    the capture); ip_length is the header's. Beyond the frame's length on
//    the wire it is malformed: that header lies about its packet.
//  - A tunnel is entered only when the outer packet is not a fragment: a
//    fragmented tunnel packet is kOther (protocol 4/41/47/17) for all its
//    fragments, so no conversation ever gets only some of its fragments.
//  - GRE with the routing bit (RFC 1701) or a version other than 0 (1 is
//    PPTP) and GRE protocol types other than IPv4, IPv6, MPLS, 0x6558,
//    ERSPAN and Cisco MetaData (an SGT tag before IPv4/IPv6) are kOther:
//    well-formed, not something that carries a mirrored packet.
//  - A VXLAN header without the I flag, a Geneve header with a version other
//    than 0, an ERSPAN header whose version does not match its GRE protocol
//    type are kMalformed with that kind: the sender is not what the port or
//    type promised.
//  - After the MPLS bottom of stack: first nibble 4 or 6 is IP (RFC 3032 has
//    no type field); 0 is the RFC 4385 control word when an Ethernet header
//    with a known EtherType follows it, else an Ethernet pseudowire without
//    control word (a destination MAC may begin with nibble 0); any other
//    nibble is an Ethernet pseudowire without control word.
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
constexpr uint16_t kEtherTypeArp = 0x0806;
constexpr uint16_t kEtherTypeMpls = 0x8847;           // RFC 3032 §5 unicast
constexpr uint16_t kEtherTypeMplsMulticast = 0x8848;  // RFC 5332
constexpr uint16_t kGreTransparentEthernet = 0x6558;  // also Geneve's "Ethernet" protocol type
constexpr uint16_t kGreErspan12 = 0x88BE;             // ERSPAN type I and II
constexpr uint16_t kGreErspan3 = 0x22EB;              // ERSPAN type III
constexpr uint16_t kGreCiscoMetadata = 0x8909;        // Cisco MetaData (TrustSec SGT), draft-smith-kandula-sxp

constexpr uint16_t kGreChecksum = 0x8000;     // RFC 2784 §2.1 C
constexpr uint16_t kGreRouting = 0x4000;      // RFC 1701 R
constexpr uint16_t kGreKey = 0x2000;          // RFC 2890 §2 K
constexpr uint16_t kGreSequence = 0x1000;     // RFC 2890 §2 S
constexpr uint16_t kGreVersionMask = 0x0007;  // RFC 2784 §2.5

constexpr size_t kEthernetHeader = 14;
constexpr size_t kVlanTag = 4;
constexpr size_t kLinuxSllHeader = 16;   // protocol type at offset 14
constexpr size_t kLinuxSll2Header = 20;  // protocol type at offset 0
constexpr size_t kIpv4MinHeader = 20;    // RFC 791 §3.1, IHL >= 5
constexpr size_t kIpv6Header = 40;       // RFC 8200 §3
constexpr size_t kIcmpHeader = 8;        // RFC 792 / RFC 4443 §2.1
constexpr size_t kUdpHeader = 8;         // RFC 768
constexpr size_t kMplsEntry = 4;         // RFC 3032 §2.1
constexpr size_t kMplsControlWord = 4;   // RFC 4385 §3
constexpr size_t kGreHeader = 4;         // RFC 2784 §2
constexpr size_t kErspan2Header = 8;     // draft-foschiano-erspan §4.2
constexpr size_t kErspan3Header = 12;    // draft-foschiano-erspan §4.3
constexpr size_t kErspan3Platform = 8;   // the optional platform-specific sub-header
constexpr size_t kVxlanHeader = 8;       // RFC 7348 §5
constexpr size_t kGeneveHeader = 8;      // RFC 8926 §3.4
constexpr size_t kCiscoMetadata = 8;     // in GRE: EtherType, version, length, option, SGT

// The wire length given to a frame that a mirror tunnel carries. Mirrors
// cut frames on purpose (ERSPAN's T flag, the packet length of an AWS
// mirror session, an MTU smaller than the frame plus tunnel): the inner IP
// header's length is then the original packet's, like a snap length, and is
// not checked against the tunnel's. It still bounds nothing that is read:
// every read is checked against the captured bytes.
constexpr size_t kMirrorWire = size_t{1} << 20;

constexpr uint8_t kProtoIpInIp = 4;         // IPv4 encapsulation (RFC 2003)
constexpr uint8_t kProtoIpv6InIp = 41;      // IPv6 encapsulation (RFC 4213)
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoGre = 47;           // RFC 2784
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

inline bool is_mpls(uint16_t type) noexcept { return type == kEtherTypeMpls || type == kEtherTypeMplsMulticast; }

// EtherTypes an Ethernet pseudowire plausibly carries: used only to tell a
// control word from a destination MAC that begins with nibble 0.
inline bool is_known_ethertype(uint16_t type) noexcept {
    return type == kEtherTypeIpv4 || type == kEtherTypeIpv6 || type == kEtherTypeArp || is_vlan_tpid(type) ||
           is_mpls(type);
}

// One parse: the options, the result being filled and the layers entered.
struct Walk {
    const ParseOptions& options;
    PacketInfo& out;
    int layers = 0;            // tunnel layers entered so far
    uint16_t erspan_vlan = 0;  // VLAN the ERSPAN header reported, for the frame it carries
};

inline void saw(Walk& w, Encap kind) noexcept {
    w.out.encapsulations = static_cast<uint16_t>(w.out.encapsulations | (1u << static_cast<unsigned>(kind)));
}

inline ParseStatus malformed(Walk& w, Encap kind) noexcept {
    w.out.malformed_layer = kind;
    return ParseStatus::kMalformed;
}

// Enters one more tunnel layer of `kind`; false when the bound is reached.
inline bool enter(Walk& w, Encap kind) noexcept {
    if (w.layers == kMaxDecapLayers) return false;
    ++w.layers;
    w.out.tunnel_depth = static_cast<uint8_t>(w.layers);
    saw(w, kind);
    return true;
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

ParseStatus parse_ipv4(const uint8_t* p, size_t captured, size_t wire, Walk& w) noexcept;
ParseStatus parse_ipv6(const uint8_t* p, size_t captured, size_t wire, Walk& w) noexcept;
ParseStatus parse_ethernet(const uint8_t* p, size_t captured, size_t wire, Walk& w, Encap carrier) noexcept;
ParseStatus parse_mpls(const uint8_t* p, size_t captured, size_t wire, Walk& w) noexcept;

// IPv4 or IPv6 by the version nibble, where no type field says which
// (MPLS bottom of stack, ERSPAN III frame type 2).
inline ParseStatus parse_ip_by_version(const uint8_t* p, size_t captured, size_t wire, Walk& w,
                                       Encap carrier) noexcept {
    if (captured == 0) return malformed(w, carrier);
    if ((p[0] >> 4) == 4) return parse_ipv4(p, captured, wire, w);
    if ((p[0] >> 4) == 6) return parse_ipv6(p, captured, wire, w);
    return ParseStatus::kNotIp;
}

// The EtherType `type` at p + off - 2, then VLAN tags and what they carry.
ParseStatus parse_ethertype(uint16_t type, const uint8_t* p, size_t off, size_t captured, size_t wire,
                            Walk& w) noexcept {
    PacketInfo& out = w.out;
    out.vlan_count = 0;
    out.vlan_id = w.erspan_vlan;
    w.erspan_vlan = 0;
    if (is_vlan_tpid(type)) {
        // IEEE 802.1Q tag: TCI (PCP, DEI, 12-bit VID) then the next type.
        int tags = 0;
        do {
            if (tags == kMaxVlanTags || captured - off < kVlanTag) return malformed(w, Encap::kVlan);
            if (tags == 0) out.vlan_id = load_be16(p + off) & 0x0FFF;
            type = load_be16(p + off + 2);
            off += kVlanTag;
            ++tags;
        } while (is_vlan_tpid(type));
        out.vlan_count = static_cast<uint8_t>(tags);
        saw(w, Encap::kVlan);
    }
    if (type == kEtherTypeIpv4) return parse_ipv4(p + off, captured - off, wire - off, w);
    if (type == kEtherTypeIpv6) return parse_ipv6(p + off, captured - off, wire - off, w);
    if (is_mpls(type) && w.options.decap) return parse_mpls(p + off, captured - off, wire - off, w);
    return ParseStatus::kNotIp;
}

// An Ethernet frame inside a tunnel of kind `carrier`.
ParseStatus parse_ethernet(const uint8_t* p, size_t captured, size_t wire, Walk& w, Encap carrier) noexcept {
    if (captured < kEthernetHeader) return malformed(w, carrier);
    return parse_ethertype(load_be16(p + 12), p, kEthernetHeader, captured, wire, w);
}

// RFC 3032 label stack entries up to the bottom of stack, then IP by the
// first nibble or an RFC 4448 Ethernet pseudowire.
ParseStatus parse_mpls(const uint8_t* p, size_t captured, size_t wire, Walk& w) noexcept {
    saw(w, Encap::kMpls);
    size_t off = 0;
    for (int labels = 0;;) {
        if (labels == kMaxMplsLabels || captured - off < kMplsEntry) return malformed(w, Encap::kMpls);
        const bool bottom = (p[off + 2] & 0x01) != 0;  // S bit: bit 8 of the entry
        off += kMplsEntry;
        ++labels;
        if (bottom) break;
    }
    if (captured == off) return malformed(w, Encap::kMpls);
    const uint8_t nibble = p[off] >> 4;
    if (nibble == 4 || nibble == 6) return parse_ip_by_version(p + off, captured - off, wire - off, w, Encap::kMpls);
    if (nibble == 1) return ParseStatus::kNotIp;  // RFC 4385 §3: pseudowire associated channel (OAM)
    if (!enter(w, Encap::kPseudowire)) return ParseStatus::kNotIp;
    size_t eth = off;
    if (nibble == 0) {
        // Too short to tell a control word from a MAC: either way no frame fits.
        if (captured - off < kMplsControlWord + kEthernetHeader) return malformed(w, Encap::kPseudowire);
        if (is_known_ethertype(load_be16(p + off + kMplsControlWord + 12))) eth += kMplsControlWord;
    }
    return parse_ethernet(p + eth, captured - eth, kMirrorWire, w, Encap::kPseudowire);
}

// RFC 2784 GRE with the RFC 2890 key and sequence fields, and what it carries.
ParseStatus parse_gre(const uint8_t* p, size_t captured, size_t wire, Walk& w) noexcept {
    if (captured < kGreHeader) return malformed(w, Encap::kGre);
    const uint16_t flags = load_be16(p);
    const uint16_t type = load_be16(p + 2);
    // RFC 2784 §2.5: version 0; the RFC 1701 routing bit is not sent by
    // RFC 2784 implementations. Anything else (PPTP is version 1) is some
    // other protocol's GRE, not a mirror.
    if ((flags & kGreVersionMask) != 0 || (flags & kGreRouting) != 0) return ParseStatus::kOther;
    const size_t header = kGreHeader + ((flags & kGreChecksum) ? 4 : 0) + ((flags & kGreKey) ? 4 : 0) +
                          ((flags & kGreSequence) ? 4 : 0);
    if (captured < header) return malformed(w, Encap::kGre);
    const uint8_t* q = p + header;
    const size_t cap = captured - header;
    const size_t wr = wire - header;

    switch (type) {
        case kEtherTypeIpv4:
        case kEtherTypeIpv6:
        case kEtherTypeMpls:
        case kEtherTypeMplsMulticast:
            if (!enter(w, Encap::kGre)) return ParseStatus::kOther;
            if (type == kEtherTypeIpv4) return parse_ipv4(q, cap, wr, w);
            if (type == kEtherTypeIpv6) return parse_ipv6(q, cap, wr, w);
            return parse_mpls(q, cap, wr, w);
        case kGreCiscoMetadata: {
            // Cisco TrustSec tunnels tag GRE payloads with the source's
            // security group: the carried EtherType comes first, then
            // version, length, option and SGT, then the packet.
            if (!enter(w, Encap::kGre)) return ParseStatus::kOther;
            if (cap < kCiscoMetadata) return malformed(w, Encap::kGre);
            const uint16_t inner = load_be16(q);
            const uint8_t* r = q + kCiscoMetadata;
            const size_t rcap = cap - kCiscoMetadata;
            const size_t rwire = wr - kCiscoMetadata;
            if (inner == kEtherTypeIpv4) return parse_ipv4(r, rcap, rwire, w);
            if (inner == kEtherTypeIpv6) return parse_ipv6(r, rcap, rwire, w);
            return ParseStatus::kOther;
        }
        case kGreTransparentEthernet:
            if (!enter(w, Encap::kGreTeb)) return ParseStatus::kOther;
            return parse_ethernet(q, cap, kMirrorWire, w, Encap::kGreTeb);
        case kGreErspan12:
            if ((flags & kGreSequence) == 0) {
                // Type I: the mirrored frame follows the GRE header directly.
                if (!enter(w, Encap::kErspan1)) return ParseStatus::kOther;
                return parse_ethernet(q, cap, kMirrorWire, w, Encap::kErspan1);
            }
            // Type II: version 1, VLAN (12); COS, En, T, session id (10); reserved, index.
            if (!enter(w, Encap::kErspan2)) return ParseStatus::kOther;
            if (cap < kErspan2Header || (q[0] >> 4) != 1) return malformed(w, Encap::kErspan2);
            w.out.segment_type = SegmentType::kErspan;
            w.out.segment_id = load_be16(q + 2) & 0x03FF;
            w.erspan_vlan = load_be16(q) & 0x0FFF;
            return parse_ethernet(q + kErspan2Header, cap - kErspan2Header, kMirrorWire, w, Encap::kErspan2);
        case kGreErspan3: {
            // Type III: version 2, VLAN; COS, BSO, T, session id; timestamp;
            // SGT, P, FT (5), hardware id, D, Gra, O; then the platform
            // sub-header when O is set. FT 0 is an Ethernet frame, 2 an IP packet.
            if (!enter(w, Encap::kErspan3)) return ParseStatus::kOther;
            if (cap < kErspan3Header || (q[0] >> 4) != 2) return malformed(w, Encap::kErspan3);
            const size_t length = kErspan3Header + ((q[11] & 0x01) ? kErspan3Platform : 0);
            if (cap < length) return malformed(w, Encap::kErspan3);
            w.out.segment_type = SegmentType::kErspan;
            w.out.segment_id = load_be16(q + 2) & 0x03FF;
            w.erspan_vlan = load_be16(q) & 0x0FFF;
            const uint8_t frame_type = static_cast<uint8_t>((load_be16(q + 10) >> 10) & 0x1F);
            if (frame_type == 0) return parse_ethernet(q + length, cap - length, kMirrorWire, w, Encap::kErspan3);
            if (frame_type == 2) {
                w.erspan_vlan = 0;
                w.out.vlan_id = load_be16(q) & 0x0FFF;
                return parse_ip_by_version(q + length, cap - length, kMirrorWire, w, Encap::kErspan3);
            }
            return ParseStatus::kNotIp;
        }
        default:
            return ParseStatus::kOther;
    }
}

// UDP to a VXLAN or Geneve port; any other UDP is kOther.
ParseStatus parse_udp(const uint8_t* p, size_t captured, Walk& w) noexcept {
    if (captured < 4) return ParseStatus::kOther;  // the ports are not even there
    const uint16_t port = load_be16(p + 2);
    const uint8_t* q = p + kUdpHeader;
    const size_t cap = captured < kUdpHeader ? 0 : captured - kUdpHeader;
    if (w.options.is_vxlan_port(port)) {
        // RFC 7348 §5: flags with I (0x08) set, 24 reserved bits, VNI, 8 reserved bits.
        if (!enter(w, Encap::kVxlan)) return ParseStatus::kOther;
        if (captured < kUdpHeader || cap < kVxlanHeader || (q[0] & 0x08) == 0) return malformed(w, Encap::kVxlan);
        w.out.segment_type = SegmentType::kVxlan;
        w.out.segment_id = load_be32(q + 4) >> 8;
        return parse_ethernet(q + kVxlanHeader, cap - kVxlanHeader, kMirrorWire, w, Encap::kVxlan);
    }
    if (port == w.options.geneve_port && port != 0) {
        // RFC 8926 §3.4: version (2), option length (6, 4-byte words), O, C,
        // reserved, protocol type, VNI (24), reserved; then the options.
        if (!enter(w, Encap::kGeneve)) return ParseStatus::kOther;
        if (captured < kUdpHeader || cap < kGeneveHeader || (q[0] >> 6) != 0) return malformed(w, Encap::kGeneve);
        const size_t length = kGeneveHeader + static_cast<size_t>(q[0] & 0x3F) * 4;
        if (cap < length) return malformed(w, Encap::kGeneve);
        w.out.segment_type = SegmentType::kGeneve;
        w.out.segment_id = load_be32(q + 4) >> 8;
        const uint16_t type = load_be16(q + 2);
        if (type == kGreTransparentEthernet) return parse_ethernet(q + length, cap - length, kMirrorWire, w, Encap::kGeneve);
        if (type == kEtherTypeIpv4) return parse_ipv4(q + length, cap - length, kMirrorWire, w);
        if (type == kEtherTypeIpv6) return parse_ipv6(q + length, cap - length, kMirrorWire, w);
        return ParseStatus::kOther;
    }
    return ParseStatus::kOther;
}

// What an unfragmented IP packet of protocol `protocol` carries.
ParseStatus parse_ip_payload(uint8_t protocol, const uint8_t* p, size_t captured, size_t wire, Walk& w) noexcept {
    if (protocol == kProtoIpInIp || protocol == kProtoIpv6InIp) {
        // Without decapsulation one level of IP-in-IP is still followed.
        if (!w.options.decap && w.layers > 0) return ParseStatus::kOther;
        if (!enter(w, Encap::kIpInIp)) return ParseStatus::kOther;
        return protocol == kProtoIpInIp ? parse_ipv4(p, captured, wire, w) : parse_ipv6(p, captured, wire, w);
    }
    if (!w.options.decap) return ParseStatus::kOther;
    if (protocol == kProtoGre) return parse_gre(p, captured, wire, w);
    if (protocol == kProtoUdp) return parse_udp(p, captured, w);
    return ParseStatus::kOther;
}

// IPv4 header at p with `captured` bytes after it in the frame, of `wire`
// bytes (>= captured) the frame had from p on when it was on the wire.
ParseStatus parse_ipv4(const uint8_t* p, size_t captured, size_t wire, Walk& w) noexcept {
    PacketInfo& out = w.out;
    if (captured < kIpv4MinHeader || (p[0] >> 4) != 4) return malformed(w, Encap::kNone);
    const size_t header = static_cast<size_t>(p[0] & 0x0F) * 4;
    const size_t total = load_be16(p + 2);
    if (header < kIpv4MinHeader || header > captured || total < header || total > wire)
        return malformed(w, Encap::kNone);

    const uint8_t protocol = p[9];
    out.family = Family::kIpv4;
    set_ipv4_address(out.src, p + 12);
    set_ipv4_address(out.dst, p + 16);
    out.l4_protocol = protocol;
    out.ip_length = static_cast<uint32_t>(total);
    out.ip_header = p;

    const uint16_t flags_offset = load_be16(p + 6);
    const bool fragment = (flags_offset & (kIpv4MoreFragments | kIpv4OffsetMask)) != 0;
    const bool first_fragment = (flags_offset & kIpv4OffsetMask) == 0;
    out.is_fragment = fragment;
    out.fragment_id = fragment ? load_be16(p + 4) : 0;

    // Bytes beyond total_length are link padding, not IP payload.
    const size_t end = captured < total ? captured : total;
    out.ip_captured = static_cast<uint32_t>(end);
    const uint8_t* l4 = p + header;
    const size_t avail = end - header;

    if (protocol == kProtoIcmp) {
        const ParseStatus s = parse_icmp(l4, avail, total - header, first_fragment, out);
        return s == ParseStatus::kMalformed ? malformed(w, Encap::kNone) : s;
    }
    if (fragment) return ParseStatus::kOther;
    return parse_ip_payload(protocol, l4, avail, total - header, w);
}

// IPv6 header at p, then a bounded walk over extension headers.
ParseStatus parse_ipv6(const uint8_t* p, size_t captured, size_t wire, Walk& w) noexcept {
    PacketInfo& out = w.out;
    if (captured < kIpv6Header || (p[0] >> 4) != 6) return malformed(w, Encap::kNone);
    const size_t total = kIpv6Header + load_be16(p + 4);
    if (total > wire) return malformed(w, Encap::kNone);
    out.family = Family::kIpv6;
    std::memcpy(out.src.bytes, p + 8, 16);
    std::memcpy(out.dst.bytes, p + 24, 16);
    out.ip_length = static_cast<uint32_t>(total);
    out.is_fragment = false;
    out.fragment_id = 0;

    const size_t end = captured < total ? captured : total;
    out.ip_header = p;
    out.ip_captured = static_cast<uint32_t>(end);
    uint8_t next = p[6];
    size_t off = kIpv6Header;
    bool first_fragment = true;
    for (int walked = 0;; ++walked) {
        size_t length;
        if (next == kIpv6HopByHop || next == kIpv6Routing || next == kIpv6DestOptions) {
            if (end - off < 2) return malformed(w, Encap::kNone);
            length = (static_cast<size_t>(p[off + 1]) + 1) * 8;  // RFC 8200 §4.3: 8-octet units, first excluded
        } else if (next == kIpv6Ah) {
            if (end - off < 2) return malformed(w, Encap::kNone);
            length = (static_cast<size_t>(p[off + 1]) + 2) * 4;  // RFC 4302 §2.2: 4-octet units, minus 2
        } else if (next == kIpv6Fragment) {
            length = 8;
        } else {
            break;  // upper-layer protocol, ESP or no next header
        }
        if (walked == kMaxIpv6ExtensionHeaders || end - off < length) return malformed(w, Encap::kNone);
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
    if (next == kProtoIcmpv6) {
        const ParseStatus s = parse_icmp(l4, avail, total - off, first_fragment, out);
        return s == ParseStatus::kMalformed ? malformed(w, Encap::kNone) : s;
    }
    if (out.is_fragment) return ParseStatus::kOther;
    return parse_ip_payload(next, l4, avail, total - off, w);
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
    out = PacketInfo{};
    Walk w{options, out};
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
            if ((p[0] >> 4) == 4) return parse_ipv4(p, size, wire_length, w);
            if ((p[0] >> 4) == 6) return parse_ipv6(p, size, wire_length, w);
            return ParseStatus::kMalformed;
        default:
            return ParseStatus::kNotIp;
    }

    // The common case (untagged IPv4) goes straight through.
    if (type == kEtherTypeIpv4) return parse_ipv4(p + off, size - off, wire_length - off, w);
    return parse_ethertype(type, p, off, size, wire_length, w);
}

}  // namespace flowgen
