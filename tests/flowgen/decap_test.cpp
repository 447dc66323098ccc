// Unit tests of the decapsulation in flowgen::parse_frame: one table of
// encapsulations (QinQ, MPLS, pseudowire, GRE, GRE-TEB, ERSPAN I/II/III,
// VXLAN, Geneve), each wrapping the same ICMP echo, checked for the inner
// packet, the segment, the kinds walked; then truncated at every byte of the
// outer headers, and made inconsistent field by field.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "flowgen/packet.hpp"
#include "tests/support/packet_builder.hpp"

using flowgen::Encap;
using flowgen::LinkType;
using flowgen::PacketInfo;
using flowgen::ParseOptions;
using flowgen::ParseStatus;
using flowgen::SegmentType;
using tests::support::PacketBuilder;
using tests::support::v4;
using tests::support::v6;

// Ipv4Fields{.total_length = ...} names only the field a case changes.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

const char* name(ParseStatus s) {
    switch (s) {
        case ParseStatus::kIcmp: return "kIcmp";
        case ParseStatus::kOther: return "kOther";
        case ParseStatus::kNotIp: return "kNotIp";
        case ParseStatus::kMalformed: return "kMalformed";
    }
    return "?";
}
#define CHECK_STATUS(actual, expected) BOOST_TEST(name(actual) == name(expected))

struct Parsed {
    std::vector<uint8_t> bytes;
    PacketInfo info{};
    ParseStatus status = ParseStatus::kMalformed;
};

// Parses a copy in an exactly-sized heap buffer (AddressSanitizer sees any
// read past it). wire_length 0: the frame is complete.
Parsed parse(const std::vector<uint8_t>& frame, size_t wire_length = 0, const ParseOptions& options = {}) {
    Parsed p;
    p.bytes = frame;
    p.bytes.shrink_to_fit();
    p.status = flowgen::parse_frame(LinkType::kEthernet, {p.bytes.data(), p.bytes.size()}, wire_length, options, p.info);
    return p;
}

bool has(const PacketInfo& info, Encap kind) {
    return (info.encapsulations & (1u << static_cast<unsigned>(kind))) != 0;
}

// The packet every encapsulation carries: an echo request with 24 counting bytes.
void inner_echo(PacketBuilder& b) {
    b.ipv4(v4("10.0.0.1"), v4("10.0.0.2")).icmp_echo(8, 0x5151, 3).payload_counting(24);
}
constexpr uint32_t kInnerIpLength = 20 + 8 + 24;

void outer_ipv4(PacketBuilder& b) { b.ethernet().ipv4(v4("192.0.2.1"), v4("192.0.2.2")); }

// Offsets the builder functions record: where the first tunnel header
// begins, where its own fixed fields end (a cut in between must be named
// with a tunnel kind), and where the inner IP header begins.
struct Marks {
    size_t tunnel = 0;
    size_t named_end = 0;
    size_t inner = 0;
    size_t udp = 0;  // where the UDP header of a UDP tunnel begins (0: none)
};

// One encapsulation: how to build it around inner_echo, and what the parser
// must report.
struct Case {
    const char* what;
    std::function<void(PacketBuilder&, Marks&)> build;
    Encap kind;          // the kind whose header starts at tunnel_start
    uint8_t depth;       // tunnel layers
    SegmentType segment_type;
    uint32_t segment_id;
    uint16_t vlan_id;
};

std::vector<Case> cases() {
    return {
        {"qinq", [](PacketBuilder& b, Marks& m) {
             b.ethernet();
             m.tunnel = b.offset();
             b.vlan(300, 0x88A8).vlan(42);
             m.named_end = b.offset();
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kVlan, 0, SegmentType::kNone, 0, 300},
        {"mpls two labels, ipv4", [](PacketBuilder& b, Marks& m) {
             b.ethernet();
             m.tunnel = b.offset();
             b.mpls(1000, false).mpls(2000, true);
             m.named_end = b.offset();
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kMpls, 0, SegmentType::kNone, 0, 0},
        {"mpls ethernet pseudowire with control word", [](PacketBuilder& b, Marks& m) {
             b.ethernet();
             m.tunnel = b.offset();
             b.mpls(16, true);
             m.named_end = b.offset();
             b.control_word().ethernet().vlan(7);
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kMpls, 1, SegmentType::kNone, 0, 7},
        {"mpls ethernet pseudowire without control word", [](PacketBuilder& b, Marks& m) {
             b.ethernet();
             m.tunnel = b.offset();
             b.mpls(16, true);
             m.named_end = b.offset() + 14;
             b.ethernet({0xA0, 1, 2, 3, 4, 5});
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kMpls, 1, SegmentType::kNone, 0, 0},
        {"gre ipv4 with checksum, key and sequence", [](PacketBuilder& b, Marks& m) {
             outer_ipv4(b);
             m.tunnel = b.offset();
             b.gre(0x1234, 99, true);
             m.named_end = b.offset();
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kGre, 1, SegmentType::kNone, 0, 0},
        {"gre with cisco metadata (sgt)", [](PacketBuilder& b, Marks& m) {
             outer_ipv4(b);
             m.tunnel = b.offset();
             b.gre(0x28).ethertype(0x8909).payload(std::vector<uint8_t>{0x08, 0x00, 1, 1, 0, 1, 0, 0x2A});
             m.named_end = b.offset();
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kGre, 1, SegmentType::kNone, 0, 0},
        {"gre over ipv6 carrying mpls", [](PacketBuilder& b, Marks& m) {
             b.ethernet().ipv6(v6("2001:db8::1"), v6("2001:db8::2"));
             m.tunnel = b.offset();
             b.gre().mpls(77, true);
             m.named_end = b.offset();
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kGre, 1, SegmentType::kNone, 0, 0},
        {"gre transparent ethernet bridging", [](PacketBuilder& b, Marks& m) {
             outer_ipv4(b);
             m.tunnel = b.offset();
             b.gre(5);
             m.named_end = b.offset() + 14;
             b.ethernet().vlan(12);
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kGreTeb, 1, SegmentType::kNone, 0, 12},
        {"erspan type I", [](PacketBuilder& b, Marks& m) {
             outer_ipv4(b);
             m.tunnel = b.offset();
             b.gre().erspan1();
             m.named_end = b.offset() + 14;
             b.ethernet();
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kErspan1, 1, SegmentType::kNone, 0, 0},
        {"erspan type II", [](PacketBuilder& b, Marks& m) {
             outer_ipv4(b);
             m.tunnel = b.offset();
             b.gre(std::nullopt, 1).erspan2(513, 0);
             m.named_end = b.offset();
             b.ethernet().vlan(21);
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kErspan2, 1, SegmentType::kErspan, 513, 21},
        {"erspan type II, vlan from the header", [](PacketBuilder& b, Marks& m) {
             outer_ipv4(b);
             m.tunnel = b.offset();
             b.gre(std::nullopt, 1).erspan2(5, 333);
             m.named_end = b.offset();
             b.ethernet();
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kErspan2, 1, SegmentType::kErspan, 5, 333},
        {"erspan type III with platform sub-header", [](PacketBuilder& b, Marks& m) {
             outer_ipv4(b);
             m.tunnel = b.offset();
             b.gre(std::nullopt, 1).erspan3(1023, true);
             m.named_end = b.offset();
             b.ethernet();
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kErspan3, 1, SegmentType::kErspan, 1023, 0},
        {"erspan type III carrying an ip packet", [](PacketBuilder& b, Marks& m) {
             outer_ipv4(b);
             m.tunnel = b.offset();
             b.gre(std::nullopt, 1).erspan3(9, false, 2, 44);
             m.named_end = b.offset();
             m.inner = b.offset();
             // No EtherType announces the inner packet: write it raw.
             PacketBuilder inner;
             inner_echo(inner);
             b.payload(inner.build());
         }, Encap::kErspan3, 1, SegmentType::kErspan, 9, 44},
        {"vxlan", [](PacketBuilder& b, Marks& m) {
             outer_ipv4(b);
             m.udp = b.offset();
             b.udp(40000, 4789);
             m.tunnel = b.offset();
             b.vxlan(0xABCDEF);
             m.named_end = b.offset();
             b.ethernet();
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kVxlan, 1, SegmentType::kVxlan, 0xABCDEF, 0},
        {"vxlan on the linux port over ipv6", [](PacketBuilder& b, Marks& m) {
             b.ethernet().ipv6(v6("2001:db8::1"), v6("2001:db8::2"));
             m.udp = b.offset();
             b.udp(1, 8472);
             m.tunnel = b.offset();
             b.vxlan(7);
             m.named_end = b.offset();
             b.ethernet().vlan(8);
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kVxlan, 1, SegmentType::kVxlan, 7, 8},
        {"geneve with options", [](PacketBuilder& b, Marks& m) {
             outer_ipv4(b);
             m.udp = b.offset();
             b.udp(40000, 6081);
             m.tunnel = b.offset();
             b.geneve(0x10203, 3);
             m.named_end = b.offset();
             b.ethernet();
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kGeneve, 1, SegmentType::kGeneve, 0x10203, 0},
        {"geneve carrying ipv4 directly", [](PacketBuilder& b, Marks& m) {
             outer_ipv4(b);
             m.udp = b.offset();
             b.udp(40000, 6081);
             m.tunnel = b.offset();
             b.geneve(1);
             m.named_end = b.offset();
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kGeneve, 1, SegmentType::kGeneve, 1, 0},
        {"vxlan inside erspan inside mpls", [](PacketBuilder& b, Marks& m) {
             b.ethernet();
             m.tunnel = b.offset();
             b.mpls(5, true);
             m.named_end = b.offset();
             b.ipv4(v4("192.0.2.1"), v4("192.0.2.2")).gre(std::nullopt, 1).erspan2(3).ethernet();
             b.ipv4(v4("198.51.100.1"), v4("198.51.100.2"));
             m.udp = b.offset();
             b.udp(9, 4789).vxlan(66).ethernet();
             m.inner = b.offset();
             inner_echo(b);
         }, Encap::kMpls, 2, SegmentType::kVxlan, 66, 0},
    };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(decap)

BOOST_AUTO_TEST_CASE(every_encapsulation_yields_the_inner_echo_its_segment_and_its_kind) {
    for (const Case& c : cases()) {
        BOOST_TEST_CONTEXT(c.what) {
            PacketBuilder b;
            Marks m;
            c.build(b, m);
            const auto p = parse(b.build());
            CHECK_STATUS(p.status, ParseStatus::kIcmp);
            BOOST_TEST(std::memcmp(p.info.src.bytes, v4("10.0.0.1").data(), 4) == 0);
            BOOST_TEST(std::memcmp(p.info.dst.bytes, v4("10.0.0.2").data(), 4) == 0);
            BOOST_TEST(p.info.icmp_type == 8);
            BOOST_TEST(p.info.icmp_id == 0x5151);
            BOOST_TEST(p.info.icmp_seq == 3);
            BOOST_TEST(p.info.ip_length == kInnerIpLength);
            BOOST_TEST(p.info.payload_length == 24);
            BOOST_TEST(p.info.payload == p.bytes.data() + m.inner + 28);
            BOOST_TEST(p.info.tunnel_depth == c.depth);
            BOOST_TEST(has(p.info, c.kind));
            BOOST_TEST((p.info.segment_type == c.segment_type));
            BOOST_TEST(p.info.segment_id == c.segment_id);
            BOOST_TEST(p.info.vlan_id == c.vlan_id);
        }
    }
}

BOOST_AUTO_TEST_CASE(erspan_kinds_are_told_apart) {
    int seen = 0;
    for (const Case& c : cases()) {
        if (c.kind != Encap::kErspan1 && c.kind != Encap::kErspan2 && c.kind != Encap::kErspan3) continue;
        BOOST_TEST_CONTEXT(c.what) {
            PacketBuilder b;
            Marks m;
            c.build(b, m);
            const auto p = parse(b.build());
            BOOST_TEST(has(p.info, c.kind));
            BOOST_TEST(!has(p.info, Encap::kGre));  // counted as ERSPAN, not plain GRE
            ++seen;
        }
    }
    BOOST_TEST(seen == 5);
}

BOOST_AUTO_TEST_CASE(truncation_inside_the_outer_headers_is_malformed_never_icmp) {
    for (const Case& c : cases()) {
        PacketBuilder b;
        Marks m;
        c.build(b, m);
        const std::vector<uint8_t> frame = b.build();
        // Cut at every byte before the end of the inner IP header, as a snap
        // length would: the outer IP lengths stay those of the whole frame.
        for (size_t cut = 0; cut < m.inner + 20; ++cut) {
            BOOST_TEST_CONTEXT(c.what << ", cut at " << cut) {
                const auto p = parse({frame.begin(), frame.begin() + static_cast<long>(cut)}, frame.size());
                if (m.udp != 0 && cut >= m.udp && cut < m.udp + 4) {
                    // UDP ports not captured: nothing says it is a tunnel.
                    CHECK_STATUS(p.status, ParseStatus::kOther);
                    continue;
                }
                CHECK_STATUS(p.status, ParseStatus::kMalformed);
                if (cut >= m.tunnel && cut < m.named_end) {
                    // Inside a tunnel header: the kind that was cut is named.
                    BOOST_TEST((p.info.malformed_layer != Encap::kNone));
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(inconsistent_tunnel_headers_are_malformed_with_their_kind) {
    // `complete`: the row builds the whole frame; otherwise inner_echo follows.
    struct Row { const char* what; std::function<void(PacketBuilder&)> build; Encap kind; bool complete = false; };
    const Row rows[] = {
        {"vxlan without the I flag", [](PacketBuilder& b) { outer_ipv4(b); b.udp(1, 4789).vxlan(5, 0x00).ethernet(); }, Encap::kVxlan},
        {"geneve version 1", [](PacketBuilder& b) { outer_ipv4(b); b.udp(1, 6081).geneve(5, 0, 1).ethernet(); }, Encap::kGeneve},
        {"geneve options longer than the packet", [](PacketBuilder& b) {
             outer_ipv4(b);
             b.udp(1, 6081).geneve(5, 0);
             b.payload_fill(4, 0);
         }, Encap::kGeneve, true},
        {"erspan II with version 2", [](PacketBuilder& b) { outer_ipv4(b); b.gre(std::nullopt, 1).erspan2(1, 0, 2).ethernet(); }, Encap::kErspan2},
        {"erspan III with version 1", [](PacketBuilder& b) { outer_ipv4(b); b.gre(std::nullopt, 1).erspan3(1, false, 0, 0, 1).ethernet(); }, Encap::kErspan3},
        {"mpls without bottom of stack", [](PacketBuilder& b) {
             b.ethernet();
             for (int i = 0; i < flowgen::kMaxMplsLabels; ++i) b.mpls(1, false);
             b.payload_fill(40, 0x45);
         }, Encap::kMpls, true},
        {"mpls bottom of stack with nothing after it", [](PacketBuilder& b) { b.ethernet().mpls(1, true); }, Encap::kMpls, true},
    };
    for (const Row& r : rows) {
        BOOST_TEST_CONTEXT(r.what) {
            PacketBuilder b;
            r.build(b);
            if (std::string(r.what).starts_with("geneve options")) {
                // Option length field says 63 words; the packet has 4 bytes after the header.
                auto frame = b.build();
                frame[14 + 20 + 8] |= 0x3F;
                const auto p = parse(frame);
                CHECK_STATUS(p.status, ParseStatus::kMalformed);
                BOOST_TEST((p.info.malformed_layer == r.kind));
                continue;
            }
            if (!r.complete) inner_echo(b);
            const auto p = parse(b.build());
            CHECK_STATUS(p.status, ParseStatus::kMalformed);
            BOOST_TEST((p.info.malformed_layer == r.kind));
            BOOST_TEST(has(p.info, r.kind));
        }
    }
}

BOOST_AUTO_TEST_CASE(inner_ip_longer_than_an_l3_tunnel_is_malformed_but_a_cut_mirror_is_not) {
    // GRE carrying IP: the inner header must fit in the outer packet.
    PacketBuilder gre;
    outer_ipv4(gre);
    gre.gre().ipv4(v4("10.0.0.1"), v4("10.0.0.2"), {.total_length = 1400}).icmp_echo(8, 1, 1);
    CHECK_STATUS(parse(gre.build()).status, ParseStatus::kMalformed);
    // A VXLAN mirror that cut the frame (AWS packet length, ERSPAN T flag):
    // the inner header's length is the original packet's.
    PacketBuilder vx;
    outer_ipv4(vx);
    vx.udp(1, 4789).vxlan(1).ethernet().ipv4(v4("10.0.0.1"), v4("10.0.0.2"), {.total_length = 1400});
    vx.icmp_echo(8, 1, 1).payload_counting(16);
    const auto p = parse(vx.build());
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST(p.info.ip_length == 1400u);
    BOOST_TEST(p.info.payload_length == 16);
    BOOST_TEST(p.info.payload_wire_length == 1400 - 28);
}

BOOST_AUTO_TEST_CASE(decap_none_leaves_tunnels_as_other_or_not_ip) {
    ParseOptions none;
    none.decap = false;
    const std::vector<Case> all = cases();
    for (const Case& c : all) {
        if (c.kind == Encap::kVlan) continue;
        BOOST_TEST_CONTEXT(c.what) {
            PacketBuilder b;
            Marks m;
            c.build(b, m);
            const auto p = parse(b.build(), 0, none);
            BOOST_TEST((p.status == ParseStatus::kOther || p.status == ParseStatus::kNotIp));
            BOOST_TEST(p.info.tunnel_depth == 0);
        }
    }
}

BOOST_AUTO_TEST_CASE(vxlan_ports_are_the_ones_configured) {
    PacketBuilder b;
    outer_ipv4(b);
    b.udp(1, 9999).vxlan(3).ethernet();
    inner_echo(b);
    const auto frame = b.build();
    CHECK_STATUS(parse(frame).status, ParseStatus::kOther);
    ParseOptions o;
    o.vxlan_ports[o.vxlan_port_count++] = 9999;
    const auto p = parse(frame, 0, o);
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST(p.info.segment_id == 3u);
    // Geneve can be turned off with port 0.
    PacketBuilder g;
    outer_ipv4(g);
    g.udp(1, 6081).geneve(1).ethernet();
    inner_echo(g);
    ParseOptions no_geneve;
    no_geneve.geneve_port = 0;
    CHECK_STATUS(parse(g.build(), 0, no_geneve).status, ParseStatus::kOther);
}

BOOST_AUTO_TEST_CASE(non_mirror_gre_and_udp_stay_other) {
    PacketBuilder pptp;
    outer_ipv4(pptp);
    pptp.gre(std::nullopt, std::nullopt, false, 1).ethertype(0x880B).payload_fill(8, 0);
    const auto p = parse(pptp.build());
    CHECK_STATUS(p.status, ParseStatus::kOther);
    BOOST_TEST(p.info.l4_protocol == 47);
    PacketBuilder wccp;
    outer_ipv4(wccp);
    wccp.gre().ethertype(0x883E).payload_fill(8, 0);
    CHECK_STATUS(parse(wccp.build()).status, ParseStatus::kOther);
    PacketBuilder dns;
    outer_ipv4(dns);
    dns.udp(53, 53).payload_fill(2, 0);
    CHECK_STATUS(parse(dns.build()).status, ParseStatus::kOther);
}

BOOST_AUTO_TEST_CASE(encap_names_are_distinct) {
    std::vector<std::string> names;
    for (int k = 0; k < flowgen::kEncapCount; ++k) {
        const std::string n = flowgen::encap_name(static_cast<Encap>(k));
        BOOST_TEST(n != "unknown");
        for (const std::string& m : names) BOOST_TEST(n != m);
        names.push_back(n);
    }
}

BOOST_AUTO_TEST_SUITE_END()
