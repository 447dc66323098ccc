// A small builder of test frames, layer by layer, for every test that needs
// packets: link layer (Ethernet, VLAN tags, Linux SLL/SLL2, raw IP), IPv4
// with options and fragment fields, IPv6 with extension headers, ICMP,
// ICMPv6, UDP, TCP, and IP-in-IP by simply stacking IP layers.
//
// Each layer writes its own type/protocol number into the previous layer's
// "next" field (EtherType, IPv4 protocol, IPv6 next header), and build()
// fills the length fields (IPv4 total length, IPv6 payload length, UDP
// length) from what follows each header, excluding trailing link padding.
// Any computed field can be overridden to build inconsistent frames.
// Checksums are left zero unless with_checksums() is called.
//
//     auto frame = PacketBuilder{}
//         .ethernet().vlan(100).vlan(200)
//         .ipv4(v4("192.0.2.1"), v4("192.0.2.2"))
//         .icmp_echo(8, 0x1234, 7).payload_counting(56)
//         .build();
//
// Test-only code: allocates freely and aborts on misuse (no exceptions are
// thrown out of it for a test framework to swallow).
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tests::support {

using Ipv4Address = std::array<uint8_t, 4>;
using Ipv6Address = std::array<uint8_t, 16>;

// "192.0.2.1" -> bytes; aborts on a typo so a test can't silently use 0.0.0.0.
inline Ipv4Address v4(const char* text) {
    Ipv4Address a{};
    if (inet_pton(AF_INET, text, a.data()) != 1) {
        std::fprintf(stderr, "packet_builder: bad IPv4 address '%s'\n", text);
        std::abort();
    }
    return a;
}

inline Ipv6Address v6(const char* text) {
    Ipv6Address a{};
    if (inet_pton(AF_INET6, text, a.data()) != 1) {
        std::fprintf(stderr, "packet_builder: bad IPv6 address '%s'\n", text);
        std::abort();
    }
    return a;
}

struct Ipv4Fields {
    uint8_t tos = 0;
    uint16_t identification = 1;
    bool dont_fragment = false;
    bool more_fragments = false;
    uint16_t fragment_offset = 0;          // in 8-byte units (RFC 791)
    uint8_t ttl = 64;
    std::vector<uint8_t> options;          // padded with zeros (EOL) to a multiple of 4
    std::optional<uint8_t> ihl;            // override the computed IHL (32-bit words)
    std::optional<uint16_t> total_length;  // override the computed total length
    std::optional<uint8_t> version;        // override the version nibble (4)
};

struct Ipv6Fields {
    uint8_t traffic_class = 0;
    uint32_t flow_label = 0;
    uint8_t hop_limit = 64;
    std::optional<uint16_t> payload_length;  // override the computed payload length
    std::optional<uint8_t> version;          // override the version nibble (6)
};

class PacketBuilder {
public:
    // --- link layer -------------------------------------------------------
    PacketBuilder& ethernet(std::array<uint8_t, 6> dst = {0x02, 0, 0, 0, 0, 2},
                            std::array<uint8_t, 6> src = {0x02, 0, 0, 0, 0, 1}) {
        // Inside GRE or Geneve the pending protocol type says "Ethernet"
        // (0x6558, transparent Ethernet bridging).
        if (slot_ && slot_is_ethertype_) link_type(0x6558);
        append(dst.data(), 6);
        append(src.data(), 6);
        ethertype_slot(0);
        return *this;
    }

    // An 802.1Q/802.1ad tag; tpid 0x8100, 0x88a8 or 0x9100.
    PacketBuilder& vlan(uint16_t vid, uint16_t tpid = 0x8100, uint8_t pcp = 0) {
        link_type(tpid);
        u16(static_cast<uint16_t>((pcp << 13) | (vid & 0x0FFF)));
        ethertype_slot(0);
        return *this;
    }

    // LINKTYPE_LINUX_SLL: packet type, ARPHRD_ETHER, 6-byte address, protocol.
    PacketBuilder& linux_sll(uint16_t packet_type = 0) {
        u16(packet_type);
        u16(1);  // ARPHRD_ETHER
        u16(6);
        for (int i = 0; i < 8; ++i) u8(i < 6 ? static_cast<uint8_t>(0x10 + i) : 0);
        ethertype_slot(0);
        return *this;
    }

    // LINKTYPE_LINUX_SLL2: protocol, reserved, ifindex, ARPHRD, pkttype, addr.
    PacketBuilder& linux_sll2(uint32_t ifindex = 2) {
        ethertype_slot(0);
        u16(0);
        u32(ifindex);
        u16(1);  // ARPHRD_ETHER
        u8(0);   // PACKET_HOST
        u8(6);
        for (int i = 0; i < 8; ++i) u8(i < 6 ? static_cast<uint8_t>(0x10 + i) : 0);
        return *this;
    }

    // Ends the link layer with an arbitrary EtherType (ARP 0x0806, ...);
    // follow with payload()/raw() bytes.
    PacketBuilder& ethertype(uint16_t type) {
        link_type(type);
        return *this;
    }

    // --- IP ---------------------------------------------------------------
    PacketBuilder& ipv4(Ipv4Address src, Ipv4Address dst, Ipv4Fields f = {}) {
        link_type(0x0800, 4);
        const size_t start = bytes_.size();
        std::vector<uint8_t> options = f.options;
        while (options.size() % 4 != 0) options.push_back(0);
        const uint8_t ihl = f.ihl.value_or(static_cast<uint8_t>(5 + options.size() / 4));
        u8(static_cast<uint8_t>((f.version.value_or(4) << 4) | (ihl & 0x0F)));
        u8(f.tos);
        u16(0);  // total length, filled in by build()
        u16(f.identification);
        u16(static_cast<uint16_t>((f.dont_fragment ? 0x4000 : 0) | (f.more_fragments ? 0x2000 : 0) |
                                  (f.fragment_offset & 0x1FFF)));
        u8(f.ttl);
        proto_slot();
        u16(0);  // header checksum
        append(src.data(), 4);
        append(dst.data(), 4);
        append(options.data(), options.size());
        ip_layers_.push_back({start, true, f.total_length});
        return *this;
    }

    PacketBuilder& ipv6(Ipv6Address src, Ipv6Address dst, Ipv6Fields f = {}) {
        link_type(0x86DD, 41);
        const size_t start = bytes_.size();
        u32((static_cast<uint32_t>(f.version.value_or(6)) << 28) | (static_cast<uint32_t>(f.traffic_class) << 20) |
            (f.flow_label & 0xFFFFF));
        u16(0);  // payload length, filled in by build()
        proto_slot();
        u8(f.hop_limit);
        append(src.data(), 16);
        append(dst.data(), 16);
        ip_layers_.push_back({start, false, f.payload_length});
        return *this;
    }

    // Hop-by-hop (0), routing (43) or destination options (60) header of
    // `length` bytes (a multiple of 8, >= 8), filled with PadN (RFC 8200 §4.2).
    PacketBuilder& ipv6_extension(uint8_t kind, size_t length = 8) {
        if (length < 8 || length % 8 != 0 || length > 2048) fail("IPv6 extension length");
        next(kind);
        proto_slot();
        u8(static_cast<uint8_t>(length / 8 - 1));
        u8(1);  // PadN option covering the rest
        u8(static_cast<uint8_t>(length - 4));
        for (size_t i = 4; i < length; ++i) u8(0);
        return *this;
    }
    PacketBuilder& ipv6_hop_by_hop(size_t length = 8) { return ipv6_extension(0, length); }
    PacketBuilder& ipv6_routing(size_t length = 8) { return ipv6_extension(43, length); }
    PacketBuilder& ipv6_destination_options(size_t length = 8) { return ipv6_extension(60, length); }

    // Fragment header (44): offset in 8-byte units, M flag, 32-bit id.
    PacketBuilder& ipv6_fragment(uint32_t identification, uint16_t offset = 0, bool more = false) {
        next(44);
        proto_slot();
        u8(0);
        u16(static_cast<uint16_t>((offset << 3) | (more ? 1 : 0)));
        u32(identification);
        return *this;
    }

    // Authentication header (51) with an ICV of icv_bytes (RFC 4302 §2.2:
    // length field in 4-byte units minus 2).
    PacketBuilder& ipv6_ah(uint32_t spi = 0x100, size_t icv_bytes = 12) {
        if ((12 + icv_bytes) % 4 != 0) fail("AH length");
        next(51);
        proto_slot();
        u8(static_cast<uint8_t>((12 + icv_bytes) / 4 - 2));
        u16(0);
        u32(spi);
        u32(1);  // sequence number
        for (size_t i = 0; i < icv_bytes; ++i) u8(0xAA);
        return *this;
    }

    // ESP (50): SPI and sequence number; what follows is opaque.
    PacketBuilder& esp(uint32_t spi = 0x200) {
        next(50);
        u32(spi);
        u32(1);
        return *this;
    }

    // Sets the pending next-header field to 59 (no next header).
    PacketBuilder& no_next_header() {
        next(59);
        return *this;
    }

    // Sets the pending protocol / next-header field to any value.
    PacketBuilder& protocol(uint8_t proto) {
        next(proto);
        return *this;
    }

    // --- ICMP, ICMPv6, UDP, TCP --------------------------------------------
    // ICMP header: type, code, checksum, then 4 "rest of header" bytes.
    PacketBuilder& icmp(uint8_t type, uint8_t code = 0, uint32_t rest = 0) {
        return icmp_header(1, type, code, rest);
    }
    PacketBuilder& icmpv6(uint8_t type, uint8_t code = 0, uint32_t rest = 0) {
        return icmp_header(58, type, code, rest);
    }
    // Echo-like message: identifier and sequence number in the rest field.
    PacketBuilder& icmp_echo(uint8_t type, uint16_t id, uint16_t seq) {
        return icmp(type, 0, (static_cast<uint32_t>(id) << 16) | seq);
    }
    PacketBuilder& icmpv6_echo(uint8_t type, uint16_t id, uint16_t seq) {
        return icmpv6(type, 0, (static_cast<uint32_t>(id) << 16) | seq);
    }

    PacketBuilder& udp(uint16_t src_port, uint16_t dst_port) {
        next(17);
        udp_layers_.push_back(bytes_.size());
        u16(src_port);
        u16(dst_port);
        u16(0);  // length, filled in by build()
        u16(0);
        return *this;
    }

    PacketBuilder& tcp(uint16_t src_port, uint16_t dst_port, uint8_t flags = 0x02) {
        next(6);
        u16(src_port);
        u16(dst_port);
        u32(1);  // sequence
        u32(0);  // acknowledgement
        u8(5 << 4);
        u8(flags);
        u16(65535);
        u16(0);
        u16(0);
        return *this;
    }

    // --- tunnels ------------------------------------------------------------
    // GRE (RFC 2784/2890) after an IP header: the protocol type is written by
    // the next layer (ipv4/ipv6/ethernet/mpls/erspan*); optional fields in
    // the order checksum, key, sequence. `version` overrides the version bits.
    PacketBuilder& gre(std::optional<uint32_t> key = std::nullopt, std::optional<uint32_t> sequence = std::nullopt,
                       bool checksum = false, uint8_t version = 0) {
        next(47);
        u16(static_cast<uint16_t>((checksum ? 0x8000 : 0) | (key ? 0x2000 : 0) | (sequence ? 0x1000 : 0) |
                                  (version & 7)));
        ethertype_slot(0);
        if (checksum) u32(0);
        if (key) u32(*key);
        if (sequence) u32(*sequence);
        return *this;
    }

    // ERSPAN (draft-foschiano-erspan) after gre(): type I has no header (GRE
    // without sequence), type II an 8-byte header (GRE with sequence), type
    // III a 12-byte header, plus an 8-byte platform sub-header when
    // `platform` is set; `frame_type` 0 = Ethernet follows, 2 = IP follows.
    PacketBuilder& erspan1() {
        link_type(0x88BE);
        return *this;
    }
    PacketBuilder& erspan2(uint16_t session, uint16_t vlan = 0, uint8_t version = 1) {
        link_type(0x88BE);
        u16(static_cast<uint16_t>((version << 12) | (vlan & 0x0FFF)));
        u16(static_cast<uint16_t>(session & 0x03FF));
        u32(7);  // reserved, index
        return *this;
    }
    PacketBuilder& erspan3(uint16_t session, bool platform = false, uint8_t frame_type = 0, uint16_t vlan = 0,
                           uint8_t version = 2) {
        link_type(0x22EB);
        u16(static_cast<uint16_t>((version << 12) | (vlan & 0x0FFF)));
        u16(static_cast<uint16_t>(session & 0x03FF));
        u32(0x12345678);  // timestamp
        u16(0);           // security group tag
        u16(static_cast<uint16_t>(((frame_type & 0x1F) << 10) | (platform ? 1 : 0)));
        if (platform) {
            u32(0x0F000000);  // platform id 3, platform-specific data
            u32(0x00000001);
        }
        return *this;
    }

    // An MPLS label stack entry (RFC 3032) after Ethernet, GRE or another
    // entry; set `bottom` on the last one, then ipv4/ipv6, or
    // control_word()/ethernet() for an Ethernet pseudowire.
    PacketBuilder& mpls(uint32_t label, bool bottom, uint8_t ttl = 64) {
        link_type(0x8847, 137);
        u32((label << 12) | (bottom ? 0x100u : 0u) | ttl);
        return *this;
    }
    // RFC 4385 preferred pseudowire control word (first nibble 0).
    PacketBuilder& control_word(uint16_t sequence = 0) {
        u16(0);
        u16(sequence);
        return *this;
    }

    // VXLAN header (RFC 7348) after udp(..., 4789); an Ethernet frame follows.
    PacketBuilder& vxlan(uint32_t vni, uint8_t flags = 0x08) {
        u8(flags);
        u8(0);
        u16(0);
        u32(vni << 8);
        return *this;
    }

    // Geneve header (RFC 8926) after udp(..., 6081) with `option_words`
    // 4-byte words of options; the protocol type is written by the next layer.
    PacketBuilder& geneve(uint32_t vni, uint8_t option_words = 0, uint8_t version = 0) {
        u8(static_cast<uint8_t>((version << 6) | (option_words & 0x3F)));
        u8(0);
        ethertype_slot(0);
        u32(vni << 8);
        for (int i = 0; i < option_words; ++i) u32(i == 0 ? 0x01020300u | (option_words - 1u) : 0xA5A5A5A5u);
        return *this;
    }

    // --- bytes ------------------------------------------------------------
    PacketBuilder& payload(std::span<const uint8_t> data) {
        append(data.data(), data.size());
        return *this;
    }
    PacketBuilder& payload(const std::string& text) {
        append(reinterpret_cast<const uint8_t*>(text.data()), text.size());
        return *this;
    }
    // n bytes valued first, first+1, ... (mod 256), like iputils ping's fill.
    PacketBuilder& payload_counting(size_t n, uint8_t first = 0) {
        for (size_t i = 0; i < n; ++i) u8(static_cast<uint8_t>(first + i));
        return *this;
    }
    PacketBuilder& payload_fill(size_t n, uint8_t value) {
        for (size_t i = 0; i < n; ++i) u8(value);
        return *this;
    }

    // Link padding after the packet: not counted in any IP/UDP length.
    PacketBuilder& padding(size_t n, uint8_t value = 0) {
        padding_ += n;
        for (size_t i = 0; i < n; ++i) u8(value);
        return *this;
    }
    // Pads the frame to `minimum` bytes (Ethernet: 60 without FCS).
    PacketBuilder& pad_to(size_t minimum) {
        return bytes_.size() < minimum ? padding(minimum - bytes_.size()) : *this;
    }

    // Computes IPv4 header, ICMP and ICMPv6 checksums in build().
    PacketBuilder& with_checksums() {
        checksums_ = true;
        return *this;
    }

    // Keeps only the first n bytes of the built frame (a snap length).
    PacketBuilder& capture_length(size_t n) {
        snaplen_ = n;
        return *this;
    }

    // Offset of the next byte to be written: lets a test remember where a
    // field is, to corrupt it after build().
    size_t offset() const { return bytes_.size(); }

    std::vector<uint8_t> build() const {
        std::vector<uint8_t> out = bytes_;
        const size_t end = out.size() - padding_;
        for (const IpLayer& l : ip_layers_) {
            if (l.is_ipv4) {
                store16(out, l.start + 2, l.length_override.value_or(static_cast<uint16_t>(end - l.start)));
            } else {
                store16(out, l.start + 4, l.length_override.value_or(static_cast<uint16_t>(end - l.start - 40)));
            }
        }
        for (size_t start : udp_layers_) store16(out, start + 4, static_cast<uint16_t>(end - start));
        if (checksums_) fill_checksums(out, end);
        if (snaplen_ && *snaplen_ < out.size()) out.resize(*snaplen_);
        return out;
    }

private:
    struct IpLayer {
        size_t start;
        bool is_ipv4;
        std::optional<uint16_t> length_override;
    };
    struct IcmpLayer {
        size_t start;
        bool is_v6;
        size_t ip_start;  // innermost IP header before it
    };

    [[noreturn]] static void fail(const char* what) {
        std::fprintf(stderr, "packet_builder: misuse: %s\n", what);
        std::abort();
    }

    void u8(uint8_t v) { bytes_.push_back(v); }
    void u16(uint16_t v) {
        u8(static_cast<uint8_t>(v >> 8));
        u8(static_cast<uint8_t>(v));
    }
    void u32(uint32_t v) {
        u16(static_cast<uint16_t>(v >> 16));
        u16(static_cast<uint16_t>(v));
    }
    void append(const uint8_t* p, size_t n) { bytes_.insert(bytes_.end(), p, p + n); }
    static void store16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
        b[at] = static_cast<uint8_t>(v >> 8);
        b[at + 1] = static_cast<uint8_t>(v);
    }

    // The field the next layer announces itself in: a 2-byte EtherType or a
    // 1-byte IP protocol / next header.
    void ethertype_slot(uint16_t placeholder) {
        slot_ = bytes_.size();
        slot_is_ethertype_ = true;
        u16(placeholder);
    }
    void proto_slot() {
        slot_ = bytes_.size();
        slot_is_ethertype_ = false;
        u8(59);  // no next header until something follows
    }
    // A layer that has both an EtherType and an IP protocol number.
    void link_type(uint16_t ethertype, std::optional<uint8_t> proto = std::nullopt) {
        if (!slot_) return;  // first layer (raw IP): nothing announces it
        if (slot_is_ethertype_) {
            store16(bytes_, *slot_, ethertype);
        } else if (proto) {
            bytes_[*slot_] = *proto;
        } else {
            fail("link-layer header after an IP header");
        }
        slot_.reset();
    }
    void next(uint8_t proto) {
        if (!slot_ || slot_is_ethertype_) fail("IP-level header without an IP header before it");
        bytes_[*slot_] = proto;
        slot_.reset();
    }
    PacketBuilder& icmp_header(uint8_t proto, uint8_t type, uint8_t code, uint32_t rest) {
        next(proto);
        if (ip_layers_.empty()) fail("ICMP without IP");
        icmp_layers_.push_back({bytes_.size(), proto == 58, ip_layers_.back().start});
        u8(type);
        u8(code);
        u16(0);
        u32(rest);
        return *this;
    }

    static uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc) {
        for (size_t i = 0; i + 1 < n; i += 2) acc += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
        if (n % 2) acc += static_cast<uint32_t>(p[n - 1] << 8);
        return acc;
    }
    static uint16_t fold(uint32_t acc) {
        while (acc >> 16) acc = (acc & 0xFFFF) + (acc >> 16);
        return static_cast<uint16_t>(~acc);
    }
    // RFC 1071 sums: IPv4 header, ICMP over its message, ICMPv6 with the
    // RFC 8200 §8.1 pseudo-header (addresses of the innermost IPv6 header).
    void fill_checksums(std::vector<uint8_t>& b, size_t end) const {
        for (const IpLayer& l : ip_layers_) {
            if (!l.is_ipv4) continue;
            const size_t ihl = static_cast<size_t>(b[l.start] & 0x0F) * 4;
            if (l.start + ihl > end) continue;
            store16(b, l.start + 10, 0);
            store16(b, l.start + 10, fold(sum16(&b[l.start], ihl, 0)));
        }
        for (auto it = icmp_layers_.rbegin(); it != icmp_layers_.rend(); ++it) {
            const size_t len = end - it->start;
            store16(b, it->start + 2, 0);
            uint32_t acc = 0;
            if (it->is_v6) {
                acc = sum16(&b[it->ip_start + 8], 32, acc);
                acc += static_cast<uint32_t>(len >> 16) + static_cast<uint32_t>(len & 0xFFFF) + 58;
            }
            store16(b, it->start + 2, fold(sum16(&b[it->start], len, acc)));
        }
    }

    std::vector<uint8_t> bytes_;
    std::optional<size_t> slot_;
    bool slot_is_ethertype_ = false;
    std::vector<IpLayer> ip_layers_;
    std::vector<size_t> udp_layers_;
    std::vector<IcmpLayer> icmp_layers_;
    size_t padding_ = 0;
    std::optional<size_t> snaplen_;
    bool checksums_ = false;
};

}  // namespace tests::support
