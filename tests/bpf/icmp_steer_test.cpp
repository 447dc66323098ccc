// icmp_steer on crafted frames through BPF_PROG_TEST_RUN: which frames the
// program takes for ICMP, which it passes or drops, which it counts as
// malformed, and that no cut of a frame is ever steered.
//
// With no AF_XDP socket in xsks_map, bpf_redirect_map returns the fallback
// action (XDP_PASS) and the program counts the frame in no_socket: that
// counter is how these tests see "would have been redirected". The frames
// that really come back XDP_REDIRECT, with a socket in the map, are in
// xsk_redirect_test.cpp.
#include <linux/bpf.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "flowgen/packet.hpp"
#include "tests/bpf/steer_object.hpp"
#include "tests/support/packet_builder.hpp"

namespace tests::bpf {
namespace {

using support::PacketBuilder;
using support::v4;
using support::v6;

enum class Expect { kIcmp, kOther, kMalformed };

struct Case {
    std::string name;
    std::vector<uint8_t> frame;
    Expect expect;
};

constexpr uint8_t kEchoRequest = 8;
constexpr uint8_t kEchoRequestV6 = 128;

PacketBuilder eth() { return PacketBuilder{}.ethernet(); }

PacketBuilder v4_layer(PacketBuilder b, support::Ipv4Fields f = {}) {
    return b.ipv4(v4("192.0.2.1"), v4("198.51.100.2"), f);
}
PacketBuilder v6_layer(PacketBuilder b, support::Ipv6Fields f = {}) {
    return b.ipv6(v6("2001:db8::1"), v6("2001:db8::2"), f);
}

std::vector<Case> icmp_cases() {
    std::vector<Case> c;
    c.push_back({"ipv4 echo", v4_layer(eth()).icmp_echo(kEchoRequest, 1, 1).payload_counting(56).build(),
                 Expect::kIcmp});
    c.push_back({"ipv4 echo padded to 60 bytes", v4_layer(eth()).icmp_echo(kEchoRequest, 1, 1).pad_to(60).build(),
                 Expect::kIcmp});
    c.push_back({"ipv4 echo, one 802.1Q tag",
                 v4_layer(eth().vlan(100)).icmp_echo(kEchoRequest, 1, 2).payload_counting(32).build(),
                 Expect::kIcmp});
    c.push_back({"ipv4 echo, 802.1ad + 802.1Q",
                 v4_layer(eth().vlan(10, 0x88a8).vlan(20)).icmp_echo(kEchoRequest, 1, 3).payload_counting(32).build(),
                 Expect::kIcmp});
    c.push_back({"ipv4 echo, 0x9100 + 802.1Q",
                 v4_layer(eth().vlan(10, 0x9100).vlan(20)).icmp_echo(kEchoRequest, 1, 4).build(), Expect::kIcmp});
    support::Ipv4Fields options;
    options.options = std::vector<uint8_t>(40, 1);  // NOP x40: IHL 15, the maximum
    c.push_back({"ipv4 with 40 bytes of options", v4_layer(eth(), options).icmp_echo(kEchoRequest, 1, 5).build(),
                 Expect::kIcmp});
    support::Ipv4Fields first_fragment;
    first_fragment.more_fragments = true;
    c.push_back({"ipv4 first fragment of an echo",
                 v4_layer(eth(), first_fragment).icmp_echo(kEchoRequest, 1, 6).payload_counting(64).build(),
                 Expect::kIcmp});
    support::Ipv4Fields later_fragment;
    later_fragment.fragment_offset = 9;
    c.push_back({"ipv4 non-first fragment, protocol icmp, no icmp header",
                 v4_layer(eth(), later_fragment).protocol(1).payload_counting(3).build(), Expect::kIcmp});
    c.push_back({"ipv6 echo", v6_layer(eth()).icmpv6_echo(kEchoRequestV6, 2, 1).payload_counting(56).build(),
                 Expect::kIcmp});
    c.push_back({"ipv6 hop-by-hop, routing, destination options",
                 v6_layer(eth())
                     .ipv6_hop_by_hop()
                     .ipv6_routing(24)
                     .ipv6_destination_options(16)
                     .icmpv6_echo(kEchoRequestV6, 2, 2)
                     .build(),
                 Expect::kIcmp});
    c.push_back({"ipv6 authentication header",
                 v6_layer(eth()).ipv6_ah().icmpv6_echo(kEchoRequestV6, 2, 3).build(), Expect::kIcmp});
    c.push_back({"ipv6 first fragment",
                 v6_layer(eth()).ipv6_fragment(7, 0, true).icmpv6_echo(kEchoRequestV6, 2, 4).payload_counting(64).build(),
                 Expect::kIcmp});
    c.push_back({"ipv6 non-first fragment, next header icmpv6",
                 v6_layer(eth()).ipv6_fragment(7, 9, false).protocol(58).payload_counting(5).build(), Expect::kIcmp});
    PacketBuilder eight = v6_layer(eth().vlan(5, 0x88a8).vlan(6));
    for (int i = 0; i < ICMP_STEER_MAX_IPV6_EXT; ++i) eight.ipv6_destination_options();
    c.push_back({"ipv6, two tags, exactly the bound of extension headers",
                 eight.icmpv6_echo(kEchoRequestV6, 2, 5).build(), Expect::kIcmp});
    c.push_back({"6in4: icmpv6 in ipv6 in ipv4",
                 v6_layer(v4_layer(eth())).icmpv6_echo(kEchoRequestV6, 3, 1).build(), Expect::kIcmp});
    c.push_back({"4in6 behind a tag: icmp in ipv4 in ipv6",
                 v4_layer(v6_layer(eth().vlan(7)).ipv6_hop_by_hop()).icmp_echo(kEchoRequest, 3, 2).build(),
                 Expect::kIcmp});
    c.push_back({"4in4: icmp in ipv4 in ipv4", v4_layer(v4_layer(eth())).icmp_echo(kEchoRequest, 3, 3).build(),
                 Expect::kIcmp});
    PacketBuilder tags = eth().vlan(1, 0x88a8);
    for (int i = 1; i < ICMP_STEER_MAX_VLAN_TAGS; ++i) tags.vlan(static_cast<uint16_t>(i + 1));
    c.push_back({"ipv4 echo behind exactly the bound of vlan tags",
                 v4_layer(tags).icmp_echo(kEchoRequest, 3, 4).build(), Expect::kIcmp});
    PacketBuilder deep = eth();
    for (int i = 0; i <= ICMP_STEER_MAX_ENCAP; ++i) deep = v4_layer(deep);
    c.push_back({"icmp in exactly the bound of ip-in-ip layers", deep.icmp_echo(kEchoRequest, 3, 5).build(),
                 Expect::kIcmp});
    return c;
}

// Outer IPv4 between two tunnel endpoints, then `inner` (which adds the
// tunnel header and the mirrored frame or packet).
PacketBuilder outer() { return eth().ipv4(v4("10.200.0.3"), v4("10.200.0.224")); }
PacketBuilder outer6() { return eth().ipv6(v6("2001:db8:ffff::1"), v6("2001:db8:ffff::2")); }

// The mirrored echo: Ethernet, IPv4, ICMP.
PacketBuilder mirrored_echo(PacketBuilder& b) {
    return v4_layer(b.ethernet()).icmp_echo(kEchoRequest, 9, 1).payload_counting(32);
}
PacketBuilder mirrored_tcp(PacketBuilder& b) { return v4_layer(b.ethernet()).tcp(40000, 22).payload_counting(32); }

std::vector<Case> encapsulated_icmp_cases() {
    std::vector<Case> c;
    auto add = [&c](std::string name, PacketBuilder b) { c.push_back({std::move(name), b.build(), Expect::kIcmp}); };
    {
        PacketBuilder b = eth().mpls(100, false).mpls(200, true);
        add("mpls stack of two, ipv4 echo", v4_layer(b).icmp_echo(kEchoRequest, 9, 1));
    }
    {
        PacketBuilder b = eth().mpls(100, true);
        add("mpls, ipv6 echo", v6_layer(b).icmpv6_echo(kEchoRequestV6, 9, 1));
    }
    {
        PacketBuilder b = eth().mpls(16, true).control_word();
        add("mpls ethernet pseudowire with control word", mirrored_echo(b));
    }
    {
        PacketBuilder b = eth().mpls(16, true);
        // A destination MAC whose first nibble (2) is neither IP nor a control word.
        add("mpls ethernet pseudowire without control word", v4_layer(b.ethernet({0x22, 0, 0, 0, 0, 2}))
                                                                .icmp_echo(kEchoRequest, 9, 1));
    }
    {
        PacketBuilder b = eth();
        for (int i = 1; i < ICMP_STEER_MAX_MPLS_LABELS; ++i) b.mpls(static_cast<uint32_t>(i), false);
        b.mpls(99, true);
        add("mpls stack of exactly the bound", v4_layer(b).icmp_echo(kEchoRequest, 9, 1));
    }
    add("gre, ipv4 echo", v4_layer(outer().gre()).icmp_echo(kEchoRequest, 9, 1));
    add("gre with checksum, key and sequence, ipv6 echo",
        v6_layer(outer().gre(0x1234, 7, true)).icmpv6_echo(kEchoRequestV6, 9, 1));
    add("gre over ipv6, mpls, ipv4 echo", v4_layer(outer6().gre().mpls(77, true)).icmp_echo(kEchoRequest, 9, 1));
    {
        PacketBuilder b = outer().gre(5);
        add("gre transparent ethernet bridging (gretap)", mirrored_echo(b));
    }
    {
        PacketBuilder b = outer().gre().erspan1();
        add("erspan type I", mirrored_echo(b));
    }
    {
        PacketBuilder b = outer().gre(std::nullopt, 1).erspan2(513, 10);
        add("erspan type II", mirrored_echo(b));
    }
    {
        PacketBuilder b = outer().gre(std::nullopt, 1).erspan3(1023, true);
        add("erspan type III with platform sub-header", mirrored_echo(b));
    }
    {
        PacketBuilder b = outer().gre(std::nullopt, 1).erspan3(9, false, 2, 44);
        add("erspan type III carrying an ipv6 packet", v6_layer(b).icmpv6_echo(kEchoRequestV6, 9, 1));
    }
    {
        PacketBuilder b = outer().udp(40000, 4789).vxlan(0xABCDEF);
        add("vxlan on 4789", mirrored_echo(b));
    }
    {
        PacketBuilder b = outer6().udp(1, 8472).vxlan(7);
        b.ethernet().vlan(5, 0x88a8).vlan(6);
        add("vxlan on 8472 (linux) over ipv6, two tags inside", v4_layer(b).icmp_echo(kEchoRequest, 9, 1));
    }
    {
        PacketBuilder b = outer().udp(40000, 6081).geneve(0x10203, 3);
        add("geneve with options, ethernet", mirrored_echo(b));
    }
    {
        PacketBuilder b = outer().udp(40000, 6081).geneve(1);
        add("geneve, ipv4 packet", v4_layer(b).icmp_echo(kEchoRequest, 9, 1));
    }
    {
        PacketBuilder b = outer().gre(std::nullopt, 1).erspan2(3);
        b.ethernet();
        b.ipv4(v4("192.0.2.1"), v4("192.0.2.2")).udp(9, 4789).vxlan(66);
        add("vxlan inside erspan (two tunnel layers)", mirrored_echo(b));
    }
    {
        // A mirror that cut the frame (ERSPAN T flag, AWS packet length):
        // the inner IP header says 1028 octets, 60 were copied.
        support::Ipv4Fields f;
        f.total_length = 1028;
        PacketBuilder b = outer().udp(40000, 4789).vxlan(1);
        add("vxlan carrying a truncated mirror copy", v4_layer(b.ethernet(), f).icmp_echo(kEchoRequest, 9, 1)
                                                           .payload_counting(32));
    }
    return c;
}

std::vector<Case> encapsulated_other_cases() {
    std::vector<Case> c;
    auto add = [&c](std::string name, PacketBuilder b, Expect e) { c.push_back({std::move(name), b.build(), e}); };
    {
        PacketBuilder b = outer().udp(40000, 4789).vxlan(1);
        add("vxlan carrying tcp", mirrored_tcp(b), Expect::kOther);
    }
    {
        PacketBuilder b = outer().gre(std::nullopt, 1).erspan2(1);
        add("erspan type II carrying tcp", mirrored_tcp(b), Expect::kOther);
    }
    {
        PacketBuilder b = outer().udp(40000, 4790).vxlan(1);
        add("vxlan header on a port that is not configured", mirrored_echo(b), Expect::kOther);
    }
    add("gre version 1 (pptp)", v4_layer(outer().gre(std::nullopt, std::nullopt, false, 1))
                                    .icmp_echo(kEchoRequest, 9, 1),
        Expect::kOther);
    {
        PacketBuilder b = outer().udp(40000, 4789).vxlan(1, 0x00);
        add("vxlan without the I flag", mirrored_echo(b), Expect::kMalformed);
    }
    {
        PacketBuilder b = outer().gre(std::nullopt, 1).erspan2(1, 0, 2);
        add("erspan type II header saying version 2", mirrored_echo(b), Expect::kMalformed);
    }
    {
        PacketBuilder b = outer().gre(std::nullopt, 1).erspan3(1, false, 0, 0, 1);
        add("erspan type III header saying version 1", mirrored_echo(b), Expect::kMalformed);
    }
    {
        PacketBuilder b = eth();
        for (int i = 0; i <= ICMP_STEER_MAX_MPLS_LABELS; ++i) b.mpls(static_cast<uint32_t>(i), false);
        add("mpls stack without bottom within the bound", v4_layer(b).icmp_echo(kEchoRequest, 9, 1),
            Expect::kMalformed);
    }
    {
        // Each VXLAN layer is one tunnel layer: one more than the bound.
        PacketBuilder b = eth();
        for (int i = 0; i <= ICMP_STEER_MAX_ENCAP; ++i) {
            b.ipv4(v4("10.0.0.1"), v4("10.0.0.2")).udp(1, 4789).vxlan(static_cast<uint32_t>(i));
            b.ethernet();
        }
        add("vxlan one layer deeper than the bound", v4_layer(b).icmp_echo(kEchoRequest, 9, 1), Expect::kOther);
    }
    {
        support::Ipv4Fields first_fragment;
        first_fragment.more_fragments = true;
        PacketBuilder b = eth().ipv4(v4("10.0.0.1"), v4("10.0.0.2"), first_fragment).udp(1, 4789).vxlan(1);
        add("first fragment of a vxlan packet (inner header may be cut)", mirrored_echo(b), Expect::kOther);
    }
    return c;
}

std::vector<Case> other_cases() {
    std::vector<Case> c;
    c.push_back({"ipv4 tcp", v4_layer(eth()).tcp(40000, 80).payload_counting(100).build(), Expect::kOther});
    c.push_back({"ipv4 udp, two tags", v4_layer(eth().vlan(1, 0x88a8).vlan(2)).udp(5353, 53).build(),
                 Expect::kOther});
    c.push_back({"ipv6 tcp", v6_layer(eth()).tcp(40000, 443).build(), Expect::kOther});
    c.push_back({"ipv6 udp behind hop-by-hop and fragment",
                 v6_layer(eth()).ipv6_hop_by_hop().ipv6_fragment(1, 0, true).udp(1, 2).build(), Expect::kOther});
    c.push_back({"ipv6 non-first fragment of udp",
                 v6_layer(eth()).ipv6_fragment(1, 20, false).protocol(17).payload_counting(8).build(),
                 Expect::kOther});
    support::Ipv4Fields later_fragment;
    later_fragment.fragment_offset = 185;
    c.push_back({"ipv4 non-first fragment of udp",
                 v4_layer(eth(), later_fragment).protocol(17).payload_counting(16).build(), Expect::kOther});
    c.push_back({"ipv6 esp", v6_layer(eth()).esp().payload_counting(32).build(), Expect::kOther});
    c.push_back({"ipv6 no next header", v6_layer(eth()).no_next_header().build(), Expect::kOther});
    c.push_back({"arp", eth().ethertype(0x0806).payload_counting(28).pad_to(60).build(), Expect::kOther});
    c.push_back({"6in4 carrying tcp", v6_layer(v4_layer(eth())).tcp(1, 2).build(), Expect::kOther});
    PacketBuilder deep = eth();
    for (int i = 0; i <= ICMP_STEER_MAX_ENCAP + 1; ++i) deep = v4_layer(deep);
    c.push_back({"icmp in one ip-in-ip layer more than the bound (deeper than flowgen parses)",
                 deep.icmp_echo(kEchoRequest, 4, 1).build(), Expect::kOther});
    support::Ipv4Fields fragmented_tunnel;
    fragmented_tunnel.more_fragments = true;
    c.push_back({"first fragment of a 6in4 packet (inner header may be cut)",
                 v6_layer(v4_layer(eth(), fragmented_tunnel)).icmpv6_echo(kEchoRequestV6, 4, 2).build(),
                 Expect::kOther});
    return c;
}

std::vector<Case> malformed_cases() {
    std::vector<Case> c;
    support::Ipv4Fields f;
    f.ihl = 4;
    c.push_back({"ipv4 ihl 4", v4_layer(eth(), f).icmp_echo(kEchoRequest, 1, 1).build(), Expect::kMalformed});
    f = {};
    f.version = 5;
    c.push_back({"ipv4 ethertype, version 5", v4_layer(eth(), f).icmp_echo(kEchoRequest, 1, 1).build(),
                 Expect::kMalformed});
    f = {};
    f.total_length = 19;
    c.push_back({"ipv4 total length below header length",
                 v4_layer(eth(), f).icmp_echo(kEchoRequest, 1, 1).build(), Expect::kMalformed});
    f = {};
    f.total_length = 200;
    c.push_back({"ipv4 total length beyond the frame",
                 v4_layer(eth(), f).icmp_echo(kEchoRequest, 1, 1).payload_counting(20).build(), Expect::kMalformed});
    f = {};
    f.total_length = 20 + 7;
    c.push_back({"ipv4 icmp shorter than its 8-byte header",
                 v4_layer(eth(), f).icmp_echo(kEchoRequest, 1, 1).build(), Expect::kMalformed});
    support::Ipv6Fields g;
    g.payload_length = 500;
    c.push_back({"ipv6 payload length beyond the frame",
                 v6_layer(eth(), g).icmpv6_echo(kEchoRequestV6, 1, 1).build(), Expect::kMalformed});
    g = {};
    g.payload_length = 4;
    c.push_back({"ipv6 icmpv6 shorter than its 8-byte header",
                 v6_layer(eth(), g).icmpv6_echo(kEchoRequestV6, 1, 1).build(), Expect::kMalformed});
    g = {};
    g.version = 4;
    c.push_back({"ipv6 ethertype, version 4", v6_layer(eth(), g).icmpv6_echo(kEchoRequestV6, 1, 1).build(),
                 Expect::kMalformed});
    PacketBuilder nine = v6_layer(eth());
    for (int i = 0; i <= ICMP_STEER_MAX_IPV6_EXT; ++i) nine.ipv6_hop_by_hop();
    c.push_back({"ipv6, one extension header more than the bound",
                 nine.icmpv6_echo(kEchoRequestV6, 1, 1).build(), Expect::kMalformed});
    g = {};
    g.payload_length = 16;  // the routing header says 24 bytes
    c.push_back({"ipv6 extension header running past the datagram",
                 v6_layer(eth(), g).ipv6_routing(24).icmpv6_echo(kEchoRequestV6, 1, 1).build(), Expect::kMalformed});
    PacketBuilder tags = eth();
    for (int i = 0; i <= ICMP_STEER_MAX_VLAN_TAGS; ++i) tags.vlan(static_cast<uint16_t>(i + 1));
    c.push_back({"one vlan tag more than the bound", v4_layer(tags).icmp_echo(kEchoRequest, 1, 1).build(),
                 Expect::kMalformed});
    return c;
}

const char* expect_name(Expect e) {
    switch (e) {
    case Expect::kIcmp: return "icmp";
    case Expect::kOther: return "other";
    case Expect::kMalformed: return "malformed";
    }
    return "?";
}

// Runs one frame and checks both the action and which counters moved, and
// that flowgen::parse_frame (default options, as the steer object's config)
// agrees on whether it is ICMP.
void check(const SteerObject& steer, const Case& c, bool drop_other) {
    BOOST_TEST_CONTEXT(c.name << " (" << c.frame.size() << " bytes, expect " << expect_name(c.expect)
                              << (drop_other ? ", drop-other" : "") << ")") {
        flowgen::PacketInfo info;
        const flowgen::ParseStatus status =
            flowgen::parse_frame(flowgen::LinkType::kEthernet, c.frame, 0, flowgen::ParseOptions{}, info);
        BOOST_TEST((status == flowgen::ParseStatus::kIcmp) == (c.expect == Expect::kIcmp));
        const probe::XdpCounters before = steer.counters();
        const uint32_t action = steer.run(c.frame);
        const probe::XdpCounters d = steer.counters() - before;
        BOOST_TEST(d.redirected == 0u);  // no socket in xsks_map
        switch (c.expect) {
        case Expect::kIcmp:
            BOOST_TEST(action == static_cast<uint32_t>(XDP_PASS));  // bpf_redirect_map's fallback
            BOOST_TEST(d.no_socket == 1u);
            BOOST_TEST(d.passed == 1u);
            BOOST_TEST(d.dropped == 0u);
            BOOST_TEST(d.malformed == 0u);
            break;
        case Expect::kOther:
            BOOST_TEST(action == static_cast<uint32_t>(drop_other ? XDP_DROP : XDP_PASS));
            BOOST_TEST(d.passed == (drop_other ? 0u : 1u));
            BOOST_TEST(d.dropped == (drop_other ? 1u : 0u));
            BOOST_TEST(d.no_socket == 0u);
            BOOST_TEST(d.malformed == 0u);
            break;
        case Expect::kMalformed:
            BOOST_TEST(action == static_cast<uint32_t>(XDP_PASS));  // even with drop-other
            BOOST_TEST(d.passed == 1u);
            BOOST_TEST(d.malformed == 1u);
            BOOST_TEST(d.dropped == 0u);
            BOOST_TEST(d.no_socket == 0u);
            break;
        }
    }
}

struct SteerFixture {
    SteerFixture() { enter_private_namespaces(); }
    SteerObject steer;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(icmp_steer, SteerFixture)

BOOST_AUTO_TEST_CASE(icmp_and_icmpv6_behind_tags_options_extension_headers_and_tunnels_are_steered) {
    for (const Case& c : icmp_cases()) check(steer, c, false);
}

BOOST_AUTO_TEST_CASE(icmp_is_steered_in_drop_other_mode_too) {
    steer.set_flags(ICMP_STEER_DROP_OTHER);
    for (const Case& c : icmp_cases()) check(steer, c, true);
}

BOOST_AUTO_TEST_CASE(icmp_inside_mpls_gre_erspan_vxlan_and_geneve_is_steered) {
    for (const Case& c : encapsulated_icmp_cases()) check(steer, c, false);
}

BOOST_AUTO_TEST_CASE(encapsulated_non_icmp_stays_in_the_kernel_and_bad_tunnel_headers_are_malformed) {
    for (const Case& c : encapsulated_other_cases()) check(steer, c, false);
}

// --decap none: only tags and one level of IP-in-IP, as parse_frame with
// ParseOptions::decap false; everything in a mirror tunnel is "other".
BOOST_AUTO_TEST_CASE(with_decap_none_no_mirror_tunnel_is_followed) {
    flowgen::ParseOptions options;
    options.decap = false;
    steer.set_config(probe::steer_config_for(options, false));
    size_t checked = 0;
    for (const Case& c : encapsulated_icmp_cases()) {
        flowgen::PacketInfo info;
        const bool parser_icmp = flowgen::parse_frame(flowgen::LinkType::kEthernet, c.frame, 0, options, info) ==
                                 flowgen::ParseStatus::kIcmp;
        const probe::XdpCounters before = steer.counters();
        (void)steer.run(c.frame);
        const probe::XdpCounters d = steer.counters() - before;
        BOOST_TEST_CONTEXT(c.name) {
            BOOST_TEST(d.no_socket == 0u);
            BOOST_TEST(!parser_icmp);
        }
        ++checked;
    }
    BOOST_TEST(checked > 10u);
}

// The VXLAN ports come from the config map: a port added there is followed,
// one removed is not.
BOOST_AUTO_TEST_CASE(vxlan_ports_are_the_configured_ones) {
    PacketBuilder b = outer().udp(40000, 4790).vxlan(1);
    const std::vector<uint8_t> frame = mirrored_echo(b).build();
    auto steered = [&] {
        const probe::XdpCounters before = steer.counters();
        (void)steer.run(frame);
        return (steer.counters() - before).no_socket == 1;
    };
    BOOST_TEST(!steered());
    flowgen::ParseOptions options;
    options.vxlan_ports[options.vxlan_port_count++] = 4790;
    steer.set_config(probe::steer_config_for(options, false));
    BOOST_TEST(steered());
    options.vxlan_port_count = 0;
    options.vxlan_ports[0] = 4790;  // beyond the count: not a port
    steer.set_config(probe::steer_config_for(options, false));
    BOOST_TEST(!steered());
}

// Every cut of an encapsulated echo: XDP and parser agree, and a cut that
// ends before the innermost ICMP header does is never steered. (A cut after
// it is a mirror's truncated copy: ICMP to both.)
BOOST_AUTO_TEST_CASE(every_truncation_of_encapsulated_echoes_is_judged_alike_and_never_steered_without_icmp_header) {
    size_t runs = 0, steered = 0;
    for (const Case& w : encapsulated_icmp_cases()) {
        flowgen::PacketInfo whole;
        const bool whole_icmp = flowgen::parse_frame(flowgen::LinkType::kEthernet, w.frame, 0,
                                                     flowgen::ParseOptions{}, whole) == flowgen::ParseStatus::kIcmp;
        BOOST_TEST_REQUIRE(whole_icmp, w.name);
        const size_t icmp_end = static_cast<size_t>(whole.payload - w.frame.data());  // past the 8-byte header
        for (size_t len = 14; len < w.frame.size(); ++len) {
            const std::vector<uint8_t> cut(w.frame.begin(), w.frame.begin() + len);
            flowgen::PacketInfo info;
            const bool parser_icmp = flowgen::parse_frame(flowgen::LinkType::kEthernet, cut, 0,
                                                          flowgen::ParseOptions{}, info) == flowgen::ParseStatus::kIcmp;
            const probe::XdpCounters before = steer.counters();
            (void)steer.run(cut);
            const probe::XdpCounters d = steer.counters() - before;
            BOOST_TEST_CONTEXT(w.name << " cut to " << len << " (icmp header ends at " << icmp_end << ")") {
                BOOST_TEST((d.no_socket == 1u) == parser_icmp);
                if (len < icmp_end) BOOST_TEST(d.no_socket == 0u);
            }
            steered += d.no_socket;
            ++runs;
        }
    }
    BOOST_TEST(runs > 1000u);
    BOOST_TEST(steered > 0u);  // the mirror-cut copies
}

BOOST_AUTO_TEST_CASE(non_icmp_frames_are_passed_by_default) {
    for (const Case& c : other_cases()) check(steer, c, false);
}

BOOST_AUTO_TEST_CASE(non_icmp_frames_are_dropped_with_drop_other) {
    steer.set_flags(ICMP_STEER_DROP_OTHER);
    for (const Case& c : other_cases()) check(steer, c, true);
}

BOOST_AUTO_TEST_CASE(inconsistent_headers_are_passed_and_counted_malformed_in_both_modes) {
    for (const Case& c : malformed_cases()) check(steer, c, false);
    steer.set_flags(ICMP_STEER_DROP_OTHER);
    for (const Case& c : malformed_cases()) check(steer, c, true);
}

// Every cut of a frame shorter than its IP datagram (from 14 bytes, the
// least BPF_PROG_TEST_RUN accepts, to one byte short) is malformed: never
// steered, passed even in drop-other mode, counted.
BOOST_AUTO_TEST_CASE(every_truncation_of_icmp_and_tcp_frames_is_passed_as_malformed) {
    std::vector<Case> whole = {
        {"ipv4 echo in two tags",
         v4_layer(eth().vlan(1, 0x88a8).vlan(2)).icmp_echo(kEchoRequest, 1, 1).payload_counting(24).build(),
         Expect::kMalformed},
        {"ipv6 echo behind extension headers",
         v6_layer(eth().vlan(3)).ipv6_hop_by_hop().ipv6_fragment(9, 0, true).icmpv6_echo(kEchoRequestV6, 1, 1).build(),
         Expect::kMalformed},
        {"6in4 echo", v6_layer(v4_layer(eth())).icmpv6_echo(kEchoRequestV6, 1, 1).payload_counting(4).build(),
         Expect::kMalformed},
        {"ipv4 tcp", v4_layer(eth()).tcp(1, 2).payload_counting(30).build(), Expect::kMalformed},
    };
    size_t runs = 0;
    for (bool drop_other : {false, true}) {
        steer.set_flags(drop_other ? ICMP_STEER_DROP_OTHER : 0);
        for (const Case& w : whole) {
            for (size_t len = 14; len < w.frame.size(); ++len) {
                Case cut{w.name + " cut to " + std::to_string(len), {w.frame.begin(), w.frame.begin() + len},
                         Expect::kMalformed};
                check(steer, cut, drop_other);
                ++runs;
            }
        }
    }
    BOOST_TEST(runs > 300u);  // the loops did run over every length
}

// The counters add up: every frame the program saw is in exactly one of
// redirected, passed, dropped.
BOOST_AUTO_TEST_CASE(redirected_passed_dropped_account_for_every_frame) {
    steer.set_flags(ICMP_STEER_DROP_OTHER);
    size_t frames = 0;
    for (const auto& set : {icmp_cases(), other_cases(), malformed_cases()}) {
        for (const Case& c : set) {
            (void)steer.run(c.frame);
            ++frames;
        }
    }
    const probe::XdpCounters total = steer.counters();
    BOOST_TEST(total.redirected + total.passed + total.dropped == frames);
    BOOST_TEST(total.no_socket == icmp_cases().size());
    BOOST_TEST(total.dropped == other_cases().size());
    BOOST_TEST(total.malformed == malformed_cases().size());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace tests::bpf
