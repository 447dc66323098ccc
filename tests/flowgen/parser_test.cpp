// Unit tests of flowgen::parse_frame and icmp_request_reply_type: frames
// built with tests/support/packet_builder.hpp, then real captures from the
// nDPI corpus read with libpcap.
#include <pcap/pcap.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "flowgen/packet.hpp"
#include "tests/support/corpus.hpp"
#include "tests/support/packet_builder.hpp"

using flowgen::Family;
using flowgen::LinkType;
using flowgen::PacketInfo;
using flowgen::ParseStatus;
using tests::support::Ipv4Fields;
using tests::support::Ipv6Fields;
using tests::support::PacketBuilder;
using tests::support::v4;
using tests::support::v6;

// Ipv4Fields{.more_fragments = true} names only the fields a case changes;
// the others keep their defaults, which is what GCC 12 warns about.
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

// Parses a copy of the frame in an exactly-sized heap buffer, so that
// AddressSanitizer reports any read past its end.
struct Parsed {
    std::vector<uint8_t> bytes;
    PacketInfo info{};
    ParseStatus status = ParseStatus::kMalformed;
};

// `wire_length` 0: the frame is complete (live ports); otherwise the
// frame's length on the wire, as a capture's orig_len gives it.
Parsed parse(const std::vector<uint8_t>& frame, LinkType link = LinkType::kEthernet, size_t wire_length = 0) {
    Parsed p;
    p.bytes = frame;
    p.bytes.shrink_to_fit();
    const std::span<const uint8_t> bytes(p.bytes.data(), p.bytes.size());
    p.status = wire_length ? flowgen::parse_frame(link, bytes, wire_length, p.info)
                           : flowgen::parse_frame(link, bytes, p.info);
    return p;
}

flowgen::IpAddress addr4(const char* text) {
    flowgen::IpAddress a{};
    const auto b = v4(text);
    std::memcpy(a.bytes, b.data(), 4);
    return a;
}

flowgen::IpAddress addr6(const char* text) {
    flowgen::IpAddress a{};
    const auto b = v6(text);
    std::memcpy(a.bytes, b.data(), 16);
    return a;
}

std::vector<uint8_t> payload_of(const PacketInfo& info) {
    if (info.payload == nullptr) return {};
    return std::vector<uint8_t>(info.payload, info.payload + info.payload_length);
}

std::vector<uint8_t> counting(size_t n, uint8_t first = 0) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(first + i);
    return v;
}

#define CHECK_STATUS(actual, expected) BOOST_TEST(name(actual) == name(expected))

PacketBuilder ipv4_eth(const char* src = "192.0.2.1", const char* dst = "198.51.100.7", Ipv4Fields f = {}) {
    PacketBuilder b;
    b.ethernet().ipv4(v4(src), v4(dst), std::move(f));
    return b;
}

PacketBuilder ipv6_eth(const char* src = "2001:db8::1", const char* dst = "2001:db8::2", Ipv6Fields f = {}) {
    PacketBuilder b;
    b.ethernet().ipv6(v6(src), v6(dst), std::move(f));
    return b;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(parser)

BOOST_AUTO_TEST_CASE(ipv4_echo_untagged_yields_addresses_id_seq_and_payload) {
    const auto p = parse(ipv4_eth().icmp_echo(8, 0x1234, 7).payload_counting(56).build());
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST((p.info.family == Family::kIpv4));
    BOOST_TEST((p.info.src == addr4("192.0.2.1")));
    BOOST_TEST((p.info.dst == addr4("198.51.100.7")));
    BOOST_TEST(p.info.l4_protocol == flowgen::kProtoIcmp);
    BOOST_TEST(p.info.has_icmp_header);
    BOOST_TEST(p.info.icmp_type == 8);
    BOOST_TEST(p.info.icmp_code == 0);
    BOOST_TEST(p.info.icmp_id == 0x1234);
    BOOST_TEST(p.info.icmp_seq == 7);
    BOOST_TEST(p.info.ip_length == 20u + 8u + 56u);
    BOOST_TEST(p.info.payload_length == 56);
    BOOST_TEST(p.info.payload_wire_length == 56);
    BOOST_TEST(payload_of(p.info) == counting(56), boost::test_tools::per_element());
    BOOST_TEST(p.info.payload == p.bytes.data() + 14 + 20 + 8);
    BOOST_TEST(!p.info.is_fragment);
    BOOST_TEST(p.info.vlan_count == 0);
    BOOST_TEST(p.info.tunnel_depth == 0);
}

BOOST_AUTO_TEST_CASE(ipv4_echo_over_two_vlan_tags_yields_id_seq_and_payload) {
    struct Row { uint16_t outer_tpid; uint16_t inner_tpid; };
    for (const Row r : {Row{0x8100, 0x8100}, Row{0x88A8, 0x8100}, Row{0x9100, 0x8100}, Row{0x88A8, 0x88A8}}) {
        BOOST_TEST_CONTEXT("tpids " << std::hex << r.outer_tpid << "/" << r.inner_tpid) {
            PacketBuilder b;
            b.ethernet().vlan(100, r.outer_tpid, 5).vlan(200, r.inner_tpid);
            b.ipv4(v4("10.0.0.1"), v4("10.0.0.2")).icmp_echo(0, 0xBEEF, 0xFFFF).payload("abcdefgh");
            const auto p = parse(b.build());
            CHECK_STATUS(p.status, ParseStatus::kIcmp);
            BOOST_TEST(p.info.vlan_count == 2);
            BOOST_TEST(p.info.vlan_id == 100);
            BOOST_TEST(p.info.icmp_type == 0);
            BOOST_TEST(p.info.icmp_id == 0xBEEF);
            BOOST_TEST(p.info.icmp_seq == 0xFFFF);
            BOOST_TEST(p.info.payload_length == 8);
            BOOST_TEST(std::string(reinterpret_cast<const char*>(p.info.payload), 8) == "abcdefgh");
        }
    }
}

BOOST_AUTO_TEST_CASE(single_vlan_tag_sets_count_and_id) {
    PacketBuilder b;
    b.ethernet().vlan(4095).ipv6(v6("fe80::1"), v6("ff02::1")).icmpv6_echo(128, 1, 2);
    const auto p = parse(b.build());
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST(p.info.vlan_count == 1);
    BOOST_TEST(p.info.vlan_id == 4095);
}

BOOST_AUTO_TEST_CASE(vlan_tags_up_to_the_bound_parse_and_one_more_is_malformed) {
    PacketBuilder b;
    b.ethernet();
    for (int i = 0; i < flowgen::kMaxVlanTags; ++i) b.vlan(static_cast<uint16_t>(i + 1), i == 0 ? 0x88A8 : 0x8100);
    b.ipv4(v4("10.0.0.1"), v4("10.0.0.2")).icmp_echo(8, 1, 1);
    const auto p = parse(b.build());
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST(p.info.vlan_count == flowgen::kMaxVlanTags);
    BOOST_TEST(p.info.vlan_id == 1);

    PacketBuilder c;
    c.ethernet();
    for (int i = 0; i <= flowgen::kMaxVlanTags; ++i) c.vlan(static_cast<uint16_t>(i + 1));
    c.ipv4(v4("10.0.0.1"), v4("10.0.0.2")).icmp_echo(8, 1, 1);
    const auto q = parse(c.build());
    CHECK_STATUS(q.status, ParseStatus::kMalformed);
    BOOST_TEST((q.info.malformed_layer == flowgen::Encap::kVlan));
}

BOOST_AUTO_TEST_CASE(request_reply_pairs_are_recognised_by_family_and_type) {
    struct Row { Family family; uint8_t type; bool pair; uint8_t request; bool reply; };
    const Row rows[] = {
        {Family::kIpv4, 8, true, 8, false},    {Family::kIpv4, 0, true, 8, true},
        {Family::kIpv4, 13, true, 13, false},  {Family::kIpv4, 14, true, 13, true},
        {Family::kIpv4, 15, true, 15, false},  {Family::kIpv4, 16, true, 15, true},
        {Family::kIpv4, 17, true, 17, false},  {Family::kIpv4, 18, true, 17, true},
        {Family::kIpv6, 128, true, 128, false}, {Family::kIpv6, 129, true, 128, true},
        {Family::kIpv4, 3, false, 0, false},   {Family::kIpv4, 11, false, 0, false},
        {Family::kIpv4, 128, false, 0, false}, {Family::kIpv6, 8, false, 0, false},
        {Family::kIpv6, 0, false, 0, false},   {Family::kIpv6, 135, false, 0, false},
        {Family::kNone, 8, false, 0, false},
    };
    for (const Row& r : rows) {
        BOOST_TEST_CONTEXT("family " << int(r.family) << " type " << int(r.type)) {
            uint8_t request = 0xEE;
            bool reply = false;
            BOOST_TEST(flowgen::icmp_request_reply_type(r.family, r.type, &request, &reply) == r.pair);
            if (r.pair) {
                BOOST_TEST(request == r.request);
                BOOST_TEST(reply == r.reply);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(echo_like_types_carry_id_and_seq_other_types_do_not) {
    struct Row { uint8_t type; bool has_id; };
    for (const Row r : {Row{13, true}, Row{14, true}, Row{15, true}, Row{16, true}, Row{17, true}, Row{18, true},
                        Row{3, false}, Row{5, false}, Row{9, false}, Row{165, false}}) {
        BOOST_TEST_CONTEXT("type " << int(r.type)) {
            const auto p = parse(ipv4_eth().icmp(r.type, 1, 0xABCD0102).payload_fill(12, 0).build());
            CHECK_STATUS(p.status, ParseStatus::kIcmp);
            BOOST_TEST(p.info.icmp_type == r.type);
            BOOST_TEST(p.info.icmp_code == 1);
            BOOST_TEST(p.info.icmp_id == (r.has_id ? 0xABCD : 0));
            BOOST_TEST(p.info.icmp_seq == (r.has_id ? 0x0102 : 0));
            BOOST_TEST(p.info.payload_length == 12);
        }
    }
}

BOOST_AUTO_TEST_CASE(ipv4_options_are_skipped_before_the_icmp_header) {
    for (size_t option_bytes : {4u, 8u, 20u, 40u}) {
        BOOST_TEST_CONTEXT(option_bytes << " option bytes") {
            Ipv4Fields f;
            f.options.assign(option_bytes, 1);  // NOPs
            const auto p = parse(ipv4_eth("192.0.2.1", "192.0.2.2", f).icmp_echo(8, 9, 10).payload_counting(4).build());
            CHECK_STATUS(p.status, ParseStatus::kIcmp);
            BOOST_TEST(p.info.icmp_id == 9);
            BOOST_TEST(p.info.icmp_seq == 10);
            BOOST_TEST(p.info.ip_length == 20 + option_bytes + 8 + 4);
            BOOST_TEST(payload_of(p.info) == counting(4), boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(bad_ipv4_headers_are_malformed) {
    struct Row { const char* what; Ipv4Fields f; };
    std::vector<Row> rows;
    rows.push_back({"ihl 4", {.ihl = 4}});
    rows.push_back({"ihl 0", {.ihl = 0}});
    rows.push_back({"ihl 15 beyond a 36-byte packet", {.ihl = 15}});
    rows.push_back({"version 5", {.version = 5}});
    rows.push_back({"version 6 under ethertype IPv4", {.version = 6}});
    for (const Row& r : rows) {
        BOOST_TEST_CONTEXT(r.what) {
            CHECK_STATUS(parse(ipv4_eth("192.0.2.1", "192.0.2.2", r.f).icmp_echo(8, 1, 1).payload_fill(8, 0).build()).status,
                         ParseStatus::kMalformed);
        }
    }
}

BOOST_AUTO_TEST_CASE(total_length_shorter_than_header_is_malformed) {
    for (uint16_t total : {0, 1, 19}) {
        BOOST_TEST_CONTEXT("total length " << total) {
            const auto p = parse(ipv4_eth("192.0.2.1", "192.0.2.2", {.total_length = total}).icmp_echo(8, 1, 1).build());
            CHECK_STATUS(p.status, ParseStatus::kMalformed);
        }
    }
    Ipv4Fields with_options;
    with_options.options.assign(8, 1);
    with_options.total_length = 24;  // header is 28
    CHECK_STATUS(parse(ipv4_eth("192.0.2.1", "192.0.2.2", with_options).icmp_echo(8, 1, 1).build()).status,
                 ParseStatus::kMalformed);
}

BOOST_AUTO_TEST_CASE(ip_header_cut_by_the_capture_is_malformed) {
    const auto v4frame = ipv4_eth().icmp_echo(8, 1, 1).build();
    const auto v6frame = ipv6_eth().icmpv6_echo(128, 1, 1).build();
    for (size_t n : {14u, 15u, 33u}) {
        CHECK_STATUS(parse({v4frame.begin(), v4frame.begin() + n}).status, ParseStatus::kMalformed);
    }
    for (size_t n : {14u, 53u}) {
        CHECK_STATUS(parse({v6frame.begin(), v6frame.begin() + n}).status, ParseStatus::kMalformed);
    }
}

BOOST_AUTO_TEST_CASE(total_length_beyond_the_capture_is_a_snaplen_cut_not_malformed) {
    // A 1000-byte echo (1014 on the wire) captured with a 100-byte snap length.
    const auto p = parse(ipv4_eth().icmp_echo(8, 5, 6).payload_counting(972).capture_length(100).build(),
                         LinkType::kEthernet, 14 + 1000);
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST(p.info.ip_length == 1000u);
    BOOST_TEST(p.info.payload_length == 100 - 14 - 20 - 8);
    BOOST_TEST(p.info.payload_wire_length == 972);
    BOOST_TEST(payload_of(p.info) == counting(58), boost::test_tools::per_element());

    const auto q = parse(ipv6_eth().icmpv6_echo(129, 5, 6).payload_counting(1000).capture_length(90).build(),
                         LinkType::kEthernet, 14 + 40 + 8 + 1000);
    CHECK_STATUS(q.status, ParseStatus::kIcmp);
    BOOST_TEST(q.info.ip_length == 40u + 8u + 1000u);
    BOOST_TEST(q.info.payload_length == 90 - 14 - 40 - 8);
    BOOST_TEST(q.info.payload_wire_length == 1000);
}

BOOST_AUTO_TEST_CASE(total_length_beyond_the_wire_length_is_malformed) {
    // The same frames, but complete on the wire: the IP header lies about
    // its length (it would inflate the octet counts), so it is malformed.
    const auto v4 = ipv4_eth().icmp_echo(8, 5, 6).payload_counting(972).capture_length(100).build();
    CHECK_STATUS(parse(v4).status, ParseStatus::kMalformed);
    CHECK_STATUS(parse(v4, LinkType::kEthernet, 100).status, ParseStatus::kMalformed);
    CHECK_STATUS(parse(v4, LinkType::kEthernet, 14 + 999).status, ParseStatus::kMalformed);
    CHECK_STATUS(parse(v4, LinkType::kEthernet, 14 + 1000).status, ParseStatus::kIcmp);
    const auto v6 = ipv6_eth().icmpv6_echo(129, 5, 6).payload_counting(1000).capture_length(90).build();
    CHECK_STATUS(parse(v6).status, ParseStatus::kMalformed);
    CHECK_STATUS(parse(v6, LinkType::kEthernet, 14 + 40 + 8 + 1000).status, ParseStatus::kIcmp);
}

BOOST_AUTO_TEST_CASE(ethernet_padding_is_not_payload) {
    // nmap-style echo without data: 42 bytes, padded to the 60-byte minimum.
    const auto p = parse(ipv4_eth().icmp_echo(8, 77, 1).padding(18, 0xEE).build());
    BOOST_TEST(p.bytes.size() == 60u);
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST(p.info.ip_length == 28u);
    BOOST_TEST(p.info.payload_length == 0);
    BOOST_TEST(p.info.payload_wire_length == 0);

    const auto q = parse(ipv4_eth().icmp_echo(8, 77, 1).payload("xy").pad_to(60).build());
    CHECK_STATUS(q.status, ParseStatus::kIcmp);
    BOOST_TEST(q.info.payload_length == 2);
    BOOST_TEST(q.info.payload_wire_length == 2);

    const auto r = parse(ipv6_eth().icmpv6_echo(128, 77, 1).padding(20, 0xEE).build());
    CHECK_STATUS(r.status, ParseStatus::kIcmp);
    BOOST_TEST(r.info.payload_length == 0);
}

BOOST_AUTO_TEST_CASE(truncated_icmp_header_is_malformed) {
    // Captured bytes end inside the ICMP header.
    const auto v4frame = ipv4_eth().icmp_echo(8, 1, 1).build();
    CHECK_STATUS(parse({v4frame.begin(), v4frame.end() - 1}).status, ParseStatus::kMalformed);
    const auto v6frame = ipv6_eth().icmpv6_echo(128, 1, 1).build();
    CHECK_STATUS(parse({v6frame.begin(), v6frame.end() - 4}).status, ParseStatus::kMalformed);
    // The IP length ends inside the ICMP header, padding behind it.
    CHECK_STATUS(parse(ipv4_eth("192.0.2.1", "192.0.2.2", {.total_length = 27}).icmp_echo(8, 1, 1).build()).status,
                 ParseStatus::kMalformed);
    CHECK_STATUS(parse(ipv6_eth("::1", "::2", {.payload_length = 7}).icmpv6_echo(128, 1, 1).build()).status,
                 ParseStatus::kMalformed);
    // A first fragment that holds only 4 bytes of ICMP.
    CHECK_STATUS(parse(ipv4_eth("192.0.2.1", "192.0.2.2", {.more_fragments = true}).icmp(8).build()).status,
                 ParseStatus::kIcmp);  // 8 bytes: complete
    PacketBuilder tiny;
    tiny.ethernet().ipv4(v4("192.0.2.1"), v4("192.0.2.2"), {.more_fragments = true}).protocol(1).payload_fill(4, 8);
    CHECK_STATUS(parse(tiny.build()).status, ParseStatus::kMalformed);
}

BOOST_AUTO_TEST_CASE(icmp_error_exposes_the_quoted_packet_as_payload) {
    PacketBuilder quote;
    quote.ipv4(v4("198.51.100.7"), v4("192.0.2.1")).udp(33434, 33435);
    const auto quoted = quote.build();
    const auto p = parse(ipv4_eth().icmp(11, 0).payload(quoted).build());
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST(p.info.icmp_type == 11);
    BOOST_TEST(p.info.icmp_id == 0);
    BOOST_TEST(payload_of(p.info) == quoted, boost::test_tools::per_element());

    PacketBuilder quote6;
    quote6.ipv6(v6("2001:db8::2"), v6("2001:db8::1")).udp(1, 2).payload_fill(1232 - 48, 0);
    const auto quoted6 = quote6.build();
    const auto q = parse(ipv6_eth().icmpv6(2, 0, 1280).payload(quoted6).build());
    CHECK_STATUS(q.status, ParseStatus::kIcmp);
    BOOST_TEST(q.info.icmp_type == 2);
    BOOST_TEST(q.info.ip_length == 1280u);
    BOOST_TEST(payload_of(q.info) == quoted6, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(ipv4_first_fragment_has_icmp_header_and_fragment_id) {
    const auto p = parse(ipv4_eth("192.0.2.1", "192.0.2.2", {.identification = 0xCAFE, .more_fragments = true})
                             .icmp_echo(8, 3, 4)
                             .payload_counting(1472)
                             .build());
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST(p.info.is_fragment);
    BOOST_TEST(p.info.has_icmp_header);
    BOOST_TEST(p.info.fragment_id == 0xCAFEu);
    BOOST_TEST(p.info.icmp_id == 3);
    BOOST_TEST(p.info.payload_length == 1472);
    BOOST_TEST(p.info.ip_length == 1500u);
}

BOOST_AUTO_TEST_CASE(ipv4_non_first_fragment_has_no_icmp_header) {
    for (bool more : {true, false}) {
        BOOST_TEST_CONTEXT("MF " << more) {
            const auto p = parse(ipv4_eth("192.0.2.1", "192.0.2.2",
                                          {.identification = 0xCAFE, .more_fragments = more, .fragment_offset = 185})
                                     .protocol(flowgen::kProtoIcmp)
                                     .payload_counting(520)
                                     .build());
            CHECK_STATUS(p.status, ParseStatus::kIcmp);
            BOOST_TEST(p.info.is_fragment);
            BOOST_TEST(!p.info.has_icmp_header);
            BOOST_TEST(p.info.fragment_id == 0xCAFEu);
            BOOST_TEST(p.info.l4_protocol == flowgen::kProtoIcmp);
            BOOST_TEST(p.info.ip_length == 540u);
            BOOST_TEST(p.info.payload_length == 0);
            BOOST_TEST(p.info.icmp_id == 0);
        }
    }
    // Even a tiny non-first fragment is fine: it has no ICMP header to cut.
    CHECK_STATUS(parse(ipv4_eth("192.0.2.1", "192.0.2.2", {.fragment_offset = 1}).protocol(1).payload_fill(2, 0).build()).status,
                 ParseStatus::kIcmp);
}

BOOST_AUTO_TEST_CASE(unfragmented_ipv4_has_no_fragment_id) {
    const auto p = parse(ipv4_eth("192.0.2.1", "192.0.2.2", {.identification = 0x4242, .dont_fragment = true})
                             .icmp_echo(8, 1, 1).build());
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST(!p.info.is_fragment);
    BOOST_TEST(p.info.fragment_id == 0u);
}

BOOST_AUTO_TEST_CASE(ipv6_echo_yields_addresses_id_seq_and_payload) {
    const auto p = parse(ipv6_eth().icmpv6_echo(129, 0xFEED, 0x0101).payload_counting(56, 0x10).build());
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST((p.info.family == Family::kIpv6));
    BOOST_TEST((p.info.src == addr6("2001:db8::1")));
    BOOST_TEST((p.info.dst == addr6("2001:db8::2")));
    BOOST_TEST(p.info.l4_protocol == flowgen::kProtoIcmpv6);
    BOOST_TEST(p.info.icmp_type == 129);
    BOOST_TEST(p.info.icmp_id == 0xFEED);
    BOOST_TEST(p.info.icmp_seq == 0x0101);
    BOOST_TEST(p.info.ip_length == 40u + 8u + 56u);
    BOOST_TEST(payload_of(p.info) == counting(56, 0x10), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(ipv6_neighbour_discovery_has_type_and_body_but_no_id) {
    const auto p = parse(ipv6_eth("fe80::1", "ff02::1:ff00:2").icmpv6(135, 0, 0).payload_fill(24, 0x20).build());
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST(p.info.icmp_type == 135);
    BOOST_TEST(p.info.icmp_id == 0);
    BOOST_TEST(p.info.payload_length == 24);
}

BOOST_AUTO_TEST_CASE(ipv6_extension_headers_are_walked_to_icmpv6) {
    struct Row { const char* what; void (*add)(PacketBuilder&); size_t bytes; };
    const Row rows[] = {
        {"hop-by-hop", [](PacketBuilder& b) { b.ipv6_hop_by_hop(); }, 8},
        {"hop-by-hop 24", [](PacketBuilder& b) { b.ipv6_hop_by_hop(24); }, 24},
        {"routing", [](PacketBuilder& b) { b.ipv6_routing(40); }, 40},
        {"destination options", [](PacketBuilder& b) { b.ipv6_destination_options(16); }, 16},
        {"AH (4-byte units)", [](PacketBuilder& b) { b.ipv6_ah(7, 12); }, 24},
        {"AH with a 16-byte ICV", [](PacketBuilder& b) { b.ipv6_ah(7, 16); }, 28},
        {"atomic fragment", [](PacketBuilder& b) { b.ipv6_fragment(9, 0, false); }, 8},
        {"all of them", [](PacketBuilder& b) {
             b.ipv6_hop_by_hop().ipv6_destination_options().ipv6_routing(24).ipv6_fragment(9).ipv6_ah().ipv6_destination_options();
         }, 8 + 8 + 24 + 8 + 24 + 8},
        {"eight destination options", [](PacketBuilder& b) { for (int i = 0; i < 8; ++i) b.ipv6_destination_options(); }, 64},
    };
    for (const Row& r : rows) {
        BOOST_TEST_CONTEXT(r.what) {
            PacketBuilder b = ipv6_eth();
            r.add(b);
            b.icmpv6_echo(128, 0x55, 0x66).payload_counting(10);
            const auto p = parse(b.build());
            CHECK_STATUS(p.status, ParseStatus::kIcmp);
            BOOST_TEST(p.info.icmp_id == 0x55);
            BOOST_TEST(p.info.icmp_seq == 0x66);
            BOOST_TEST(p.info.ip_length == 40 + r.bytes + 8 + 10);
            BOOST_TEST(p.info.payload_wire_length == 10);
            BOOST_TEST(!p.info.is_fragment);
            BOOST_TEST(payload_of(p.info) == counting(10), boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(more_than_eight_ipv6_extension_headers_are_malformed) {
    PacketBuilder b = ipv6_eth();
    for (int i = 0; i < 9; ++i) b.ipv6_destination_options();
    CHECK_STATUS(parse(b.icmpv6_echo(128, 1, 1).build()).status, ParseStatus::kMalformed);
}

BOOST_AUTO_TEST_CASE(extension_header_beyond_the_capture_or_payload_length_is_malformed) {
    const auto frame = ipv6_eth().ipv6_routing(64).icmpv6_echo(128, 1, 1).build();
    CHECK_STATUS(parse({frame.begin(), frame.begin() + 14 + 40 + 32}).status, ParseStatus::kMalformed);
    // Payload length says 16 bytes, the routing header claims 64.
    CHECK_STATUS(parse(ipv6_eth("::1", "::2", {.payload_length = 16}).ipv6_routing(64).icmpv6_echo(128, 1, 1).build()).status,
                 ParseStatus::kMalformed);
}

BOOST_AUTO_TEST_CASE(esp_and_no_next_header_end_the_walk_as_other) {
    const auto esp = parse(ipv6_eth().ipv6_hop_by_hop().esp().payload_fill(40, 0x99).build());
    CHECK_STATUS(esp.status, ParseStatus::kOther);
    BOOST_TEST(esp.info.l4_protocol == 50);
    BOOST_TEST(esp.info.ip_length == 40u + 8u + 8u + 40u);
    const auto none = parse(ipv6_eth().ipv6_destination_options().no_next_header().build());
    CHECK_STATUS(none.status, ParseStatus::kOther);
    BOOST_TEST(none.info.l4_protocol == 59);
}

BOOST_AUTO_TEST_CASE(ipv6_fragment_first_has_icmp_header_and_32_bit_id) {
    const auto p = parse(ipv6_eth().ipv6_fragment(0xDEADBEEF, 0, true).icmpv6_echo(128, 0x10, 0x20).payload_counting(1000).build());
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST(p.info.is_fragment);
    BOOST_TEST(p.info.has_icmp_header);
    BOOST_TEST(p.info.fragment_id == 0xDEADBEEFu);
    BOOST_TEST(p.info.icmp_id == 0x10);
    BOOST_TEST(p.info.payload_length == 1000);
}

BOOST_AUTO_TEST_CASE(ipv6_fragment_non_first_has_no_icmp_header) {
    const auto p = parse(ipv6_eth().ipv6_fragment(0x01020304, 129, false).protocol(58).payload_counting(100).build());
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST(p.info.is_fragment);
    BOOST_TEST(!p.info.has_icmp_header);
    BOOST_TEST(p.info.fragment_id == 0x01020304u);
    BOOST_TEST(p.info.l4_protocol == flowgen::kProtoIcmpv6);
    BOOST_TEST(p.info.ip_length == 40u + 8u + 100u);
    BOOST_TEST(p.info.payload_length == 0);

    // The bytes after a non-first fragment header are data, even if they
    // look like another extension header.
    const auto q = parse(ipv6_eth().ipv6_fragment(5, 8, true).protocol(58).payload_fill(2, 0).build());
    CHECK_STATUS(q.status, ParseStatus::kIcmp);

    const auto udp = parse(ipv6_eth().ipv6_fragment(5, 8, true).protocol(17).payload_fill(16, 0).build());
    CHECK_STATUS(udp.status, ParseStatus::kOther);
    BOOST_TEST(udp.info.l4_protocol == 17);
}

BOOST_AUTO_TEST_CASE(ip_in_ip_parses_the_inner_icmp_for_all_four_combinations) {
    struct Row { const char* what; bool outer6; bool inner6; };
    for (const Row r : {Row{"4in4", false, false}, Row{"6in4", false, true}, Row{"4in6", true, false}, Row{"6in6", true, true}}) {
        BOOST_TEST_CONTEXT(r.what) {
            PacketBuilder b;
            b.ethernet();
            if (r.outer6) b.ipv6(v6("2001:db8:ffff::1"), v6("2001:db8:ffff::2"));
            else b.ipv4(v4("203.0.113.1"), v4("203.0.113.2"));
            if (r.inner6) b.ipv6(v6("2001:db8::a"), v6("2001:db8::b")).icmpv6_echo(128, 0x77, 3);
            else b.ipv4(v4("10.1.1.1"), v4("10.2.2.2")).icmp_echo(8, 0x77, 3);
            b.payload_counting(32);
            const auto p = parse(b.build());
            CHECK_STATUS(p.status, ParseStatus::kIcmp);
            BOOST_TEST(p.info.tunnel_depth == 1);
            BOOST_TEST((p.info.family == (r.inner6 ? Family::kIpv6 : Family::kIpv4)));
            BOOST_TEST((p.info.src == (r.inner6 ? addr6("2001:db8::a") : addr4("10.1.1.1"))));
            BOOST_TEST((p.info.dst == (r.inner6 ? addr6("2001:db8::b") : addr4("10.2.2.2"))));
            BOOST_TEST(p.info.ip_length == (r.inner6 ? 40u : 20u) + 8u + 32u);
            BOOST_TEST(p.info.icmp_id == 0x77);
            BOOST_TEST(payload_of(p.info) == counting(32), boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(without_decapsulation_a_second_level_tunnel_is_other_with_the_tunnel_protocol) {
    PacketBuilder b;
    b.ethernet().ipv4(v4("203.0.113.1"), v4("203.0.113.2")).ipv4(v4("10.1.1.1"), v4("10.2.2.2"));
    b.ipv6(v6("2001:db8::a"), v6("2001:db8::b")).icmpv6_echo(128, 1, 1);
    const auto frame = b.build();
    flowgen::ParseOptions none;
    none.decap = false;
    PacketInfo info;
    const auto s = flowgen::parse_frame(LinkType::kEthernet, frame, 0, none, info);
    CHECK_STATUS(s, ParseStatus::kOther);
    BOOST_TEST(info.l4_protocol == 41);
    BOOST_TEST((info.src == addr4("10.1.1.1")));
    BOOST_TEST(info.ip_length == 20u + 40u + 8u);
    // With decapsulation (the default) the second level is followed.
    const auto p = parse(frame);
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST(p.info.tunnel_depth == 2);
}

BOOST_AUTO_TEST_CASE(tunnels_nested_beyond_the_bound_are_other_with_the_tunnel_protocol) {
    PacketBuilder b;
    b.ethernet();
    for (int i = 0; i <= flowgen::kMaxDecapLayers; ++i) b.ipv4(v4("203.0.113.1"), v4("203.0.113.2"));
    b.ipv4(v4("10.1.1.1"), v4("10.2.2.2")).icmp_echo(8, 1, 1);
    const auto p = parse(b.build());
    CHECK_STATUS(p.status, ParseStatus::kOther);
    BOOST_TEST(p.info.l4_protocol == 4);
    BOOST_TEST((p.info.src == addr4("203.0.113.1")));
    BOOST_TEST(p.info.tunnel_depth == flowgen::kMaxDecapLayers);
    BOOST_TEST(p.info.ip_length == 20u + 20u + 8u);  // the last header entered
}

BOOST_AUTO_TEST_CASE(fragmented_tunnel_packet_is_other) {
    PacketBuilder b;
    b.ethernet().ipv4(v4("203.0.113.1"), v4("203.0.113.2"), {.more_fragments = true});
    b.ipv4(v4("10.1.1.1"), v4("10.2.2.2")).icmp_echo(8, 1, 1);
    const auto p = parse(b.build());
    CHECK_STATUS(p.status, ParseStatus::kOther);
    BOOST_TEST(p.info.l4_protocol == 4);
    BOOST_TEST((p.info.src == addr4("203.0.113.1")));
}

BOOST_AUTO_TEST_CASE(malformed_inner_header_makes_the_frame_malformed) {
    PacketBuilder b;
    b.ethernet().ipv6(v6("2001:db8::1"), v6("2001:db8::2")).protocol(4).payload_fill(12, 0x45);
    CHECK_STATUS(parse(b.build()).status, ParseStatus::kMalformed);
}

BOOST_AUTO_TEST_CASE(icmp_of_the_other_family_is_other) {
    const auto v6_in_v4 = parse(ipv4_eth().icmpv6_echo(128, 1, 1).build());
    CHECK_STATUS(v6_in_v4.status, ParseStatus::kOther);
    BOOST_TEST(v6_in_v4.info.l4_protocol == 58);
    const auto v4_in_v6 = parse(ipv6_eth().icmp_echo(8, 1, 1).build());
    CHECK_STATUS(v4_in_v6.status, ParseStatus::kOther);
    BOOST_TEST(v4_in_v6.info.l4_protocol == 1);
}

BOOST_AUTO_TEST_CASE(non_icmp_reports_family_addresses_protocol_and_length) {
    const auto u = parse(ipv4_eth("192.0.2.9", "192.0.2.10").udp(53, 5353).payload_fill(100, 1).build());
    CHECK_STATUS(u.status, ParseStatus::kOther);
    BOOST_TEST((u.info.family == Family::kIpv4));
    BOOST_TEST((u.info.src == addr4("192.0.2.9")));
    BOOST_TEST((u.info.dst == addr4("192.0.2.10")));
    BOOST_TEST(u.info.l4_protocol == 17);
    BOOST_TEST(u.info.ip_length == 128u);
    const auto t = parse(ipv6_eth().ipv6_hop_by_hop().tcp(443, 50000).build());
    CHECK_STATUS(t.status, ParseStatus::kOther);
    BOOST_TEST((t.info.family == Family::kIpv6));
    BOOST_TEST((t.info.src == addr6("2001:db8::1")));
    BOOST_TEST(t.info.l4_protocol == 6);
    BOOST_TEST(t.info.ip_length == 40u + 8u + 20u);
}

BOOST_AUTO_TEST_CASE(arp_lldp_and_802_3_frames_are_not_ip) {
    for (uint16_t type : {0x0806, 0x88CC, 0x8035, 0x0100}) {
        BOOST_TEST_CONTEXT("ethertype " << std::hex << type) {
            PacketBuilder b;
            b.ethernet().ethertype(type).payload_fill(46, 0);
            CHECK_STATUS(parse(b.build()).status, ParseStatus::kNotIp);
            PacketBuilder tagged;
            tagged.ethernet().vlan(10).ethertype(type).payload_fill(46, 0);
            CHECK_STATUS(parse(tagged.build()).status, ParseStatus::kNotIp);
        }
    }
}

BOOST_AUTO_TEST_CASE(raw_linux_sll_and_sll2_link_types_parse_the_same_echo) {
    struct Row { const char* what; LinkType link; void (*link_layer)(PacketBuilder&); };
    const Row rows[] = {
        {"raw", LinkType::kRaw, [](PacketBuilder&) {}},
        {"sll", LinkType::kLinuxSll, [](PacketBuilder& b) { b.linux_sll(); }},
        {"sll2", LinkType::kLinuxSll2, [](PacketBuilder& b) { b.linux_sll2(); }},
        {"sll with a vlan tag", LinkType::kLinuxSll, [](PacketBuilder& b) { b.linux_sll().vlan(33); }},
    };
    for (const Row& r : rows) {
        BOOST_TEST_CONTEXT(r.what) {
            PacketBuilder b4;
            r.link_layer(b4);
            b4.ipv4(v4("192.0.2.1"), v4("192.0.2.2")).icmp_echo(8, 0x4321, 9).payload_counting(20);
            const auto p = parse(b4.build(), r.link);
            CHECK_STATUS(p.status, ParseStatus::kIcmp);
            BOOST_TEST(p.info.icmp_id == 0x4321);
            BOOST_TEST(payload_of(p.info) == counting(20), boost::test_tools::per_element());
            PacketBuilder b6;
            r.link_layer(b6);
            b6.ipv6(v6("2001:db8::1"), v6("2001:db8::2")).icmpv6_echo(128, 0x4321, 9);
            const auto q = parse(b6.build(), r.link);
            CHECK_STATUS(q.status, ParseStatus::kIcmp);
            BOOST_TEST(q.info.icmp_seq == 9);
        }
    }
}

BOOST_AUTO_TEST_CASE(empty_or_short_link_headers_and_bad_raw_versions_are_malformed) {
    for (LinkType link : {LinkType::kEthernet, LinkType::kRaw, LinkType::kLinuxSll, LinkType::kLinuxSll2}) {
        CHECK_STATUS(parse({}, link).status, ParseStatus::kMalformed);
    }
    CHECK_STATUS(parse(std::vector<uint8_t>(13, 0), LinkType::kEthernet).status, ParseStatus::kMalformed);
    CHECK_STATUS(parse(std::vector<uint8_t>(15, 0), LinkType::kLinuxSll).status, ParseStatus::kMalformed);
    CHECK_STATUS(parse(std::vector<uint8_t>(19, 0), LinkType::kLinuxSll2).status, ParseStatus::kMalformed);
    std::vector<uint8_t> raw(40, 0);
    raw[0] = 0x55;
    CHECK_STATUS(parse(raw, LinkType::kRaw).status, ParseStatus::kMalformed);
    // A VLAN tag cut short.
    PacketBuilder b;
    b.ethernet().vlan(1).ipv4(v4("10.0.0.1"), v4("10.0.0.2")).icmp_echo(8, 1, 1);
    const auto frame = b.build();
    CHECK_STATUS(parse({frame.begin(), frame.begin() + 16}).status, ParseStatus::kMalformed);
}

BOOST_AUTO_TEST_CASE(unknown_link_type_is_not_ip) {
    const auto frame = ipv4_eth().icmp_echo(8, 1, 1).build();
    CHECK_STATUS(parse(frame, static_cast<LinkType>(147)).status, ParseStatus::kNotIp);
}

BOOST_AUTO_TEST_CASE(fields_of_a_previous_packet_do_not_leak_into_the_next) {
    PacketInfo info;
    const auto v6frame = ipv6_eth().ipv6_fragment(77, 0, true).icmpv6_echo(128, 9, 9).payload_counting(8).build();
    PacketBuilder vlan6;
    vlan6.ethernet().vlan(7).ipv6(v6("ffff::ffff"), v6("ffff::fffe")).ipv4(v4("10.0.0.1"), v4("10.0.0.2")).icmp(3, 1);
    const auto v4frame = vlan6.build();
    BOOST_TEST(name(flowgen::parse_frame(LinkType::kEthernet, v6frame, info)) == "kIcmp");
    BOOST_TEST(name(flowgen::parse_frame(LinkType::kEthernet, v4frame, info)) == "kIcmp");
    BOOST_TEST((info.src == addr4("10.0.0.1")));  // bytes 4..15 zero, not left from IPv6
    BOOST_TEST((info.dst == addr4("10.0.0.2")));
    BOOST_TEST(!info.is_fragment);
    BOOST_TEST(info.fragment_id == 0u);
    BOOST_TEST(info.icmp_id == 0);
    BOOST_TEST(info.tunnel_depth == 1);
    BOOST_TEST(info.vlan_count == 1);
    const auto arp = PacketBuilder{}.ethernet().ethertype(0x0806).payload_fill(28, 0).build();
    BOOST_TEST(name(flowgen::parse_frame(LinkType::kEthernet, arp, info)) == "kNotIp");
    BOOST_TEST(info.vlan_count == 0);
    BOOST_TEST(info.payload == nullptr);
}

BOOST_AUTO_TEST_CASE(truncation_at_every_offset_never_reads_past_the_span) {
    struct Row { const char* what; LinkType link; std::vector<uint8_t> frame; };
    std::vector<Row> rows;
    rows.push_back({"vlan ipv4 options echo", LinkType::kEthernet,
                    PacketBuilder{}.ethernet().vlan(1, 0x88A8).vlan(2)
                        .ipv4(v4("10.0.0.1"), v4("10.0.0.2"), {.options = std::vector<uint8_t>(12, 1)})
                        .icmp_echo(8, 1, 2).payload_counting(40).build()});
    rows.push_back({"ipv6 extension chain fragment echo", LinkType::kEthernet,
                    PacketBuilder{}.ethernet().ipv6(v6("::1"), v6("::2")).ipv6_hop_by_hop(16).ipv6_routing()
                        .ipv6_ah().ipv6_fragment(1, 0, true).ipv6_destination_options().icmpv6_echo(128, 1, 1)
                        .payload_counting(16).build()});
    rows.push_back({"6in4 echo", LinkType::kEthernet,
                    PacketBuilder{}.ethernet().ipv4(v4("1.1.1.1"), v4("2.2.2.2")).ipv6(v6("::1"), v6("::2"))
                        .ipv6_destination_options().icmpv6_echo(129, 1, 1).payload_counting(8).build()});
    rows.push_back({"4in6 error over sll", LinkType::kLinuxSll,
                    PacketBuilder{}.linux_sll().ipv6(v6("::1"), v6("::2")).ipv4(v4("1.1.1.1"), v4("2.2.2.2"))
                        .icmp(3, 3).payload_counting(28).build()});
    rows.push_back({"raw ipv6 non-first fragment", LinkType::kRaw,
                    PacketBuilder{}.ipv6(v6("::1"), v6("::2")).ipv6_fragment(3, 10).protocol(58).payload_counting(24).build()});
    rows.push_back({"sll2 udp", LinkType::kLinuxSll2,
                    PacketBuilder{}.linux_sll2().ipv4(v4("1.1.1.1"), v4("2.2.2.2")).udp(1, 2).payload_counting(8).build()});
    for (const Row& r : rows) {
        const auto full = parse(r.frame, r.link);
        BOOST_TEST_CONTEXT(r.what) {
            BOOST_TEST(name(full.status) != name(ParseStatus::kMalformed));
            size_t malformed = 0;
            for (size_t n = 0; n <= r.frame.size(); ++n) {
                // An exactly-sized heap copy: ASan flags any read past it.
                const auto p = parse({r.frame.begin(), r.frame.begin() + static_cast<std::ptrdiff_t>(n)}, r.link);
                const bool known = p.status == ParseStatus::kIcmp || p.status == ParseStatus::kOther ||
                                   p.status == ParseStatus::kNotIp || p.status == ParseStatus::kMalformed;
                BOOST_TEST(known);
                if (p.status == ParseStatus::kMalformed) ++malformed;
                if (p.info.payload != nullptr) {
                    BOOST_TEST(p.info.payload >= p.bytes.data());
                    BOOST_TEST(p.info.payload + p.info.payload_length <= p.bytes.data() + p.bytes.size());
                }
            }
            // Every cut through the headers must be caught.
            BOOST_TEST(malformed > 0u);
        }
    }
}

BOOST_AUTO_TEST_CASE(random_header_corruption_keeps_every_result_inside_the_span) {
    // A fixed-seed xorshift walk: flip 1..4 bytes among the first 100 of
    // several frames, cut at a random length, and check the invariants
    // packet.hpp promises. Under ASan this is a small deterministic fuzz.
    const std::vector<std::vector<uint8_t>> seeds = {
        PacketBuilder{}.ethernet().vlan(1, 0x88A8).vlan(2).ipv4(v4("10.0.0.1"), v4("10.0.0.2"), {.options = {1, 1, 1, 1}})
            .icmp_echo(8, 1, 2).payload_counting(40).build(),
        PacketBuilder{}.ethernet().ipv6(v6("::1"), v6("::2")).ipv6_hop_by_hop().ipv6_ah().ipv6_fragment(1, 0, true)
            .icmpv6_echo(128, 1, 1).payload_counting(30).build(),
        PacketBuilder{}.ethernet().ipv6(v6("::1"), v6("::2")).ipv4(v4("1.1.1.1"), v4("2.2.2.2")).icmp(3, 4)
            .payload_counting(28).build(),
    };
    uint64_t state = 0x9E3779B97F4A7C15ull;
    auto next = [&state]() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    size_t statuses[4] = {};
    size_t violations = 0;
    for (int i = 0; i < 6000; ++i) {
        std::vector<uint8_t> frame = seeds[next() % seeds.size()];
        for (int flips = 1 + static_cast<int>(next() % 4); flips > 0; --flips) {
            frame[next() % std::min<size_t>(frame.size(), 100)] = static_cast<uint8_t>(next());
        }
        frame.resize(next() % (frame.size() + 1));
        const auto p = parse(frame);
        statuses[static_cast<int>(p.status)]++;
        if (p.status == ParseStatus::kIcmp && p.info.payload != nullptr) {
            const bool inside = p.info.payload >= p.bytes.data() &&
                                p.info.payload + p.info.payload_length <= p.bytes.data() + p.bytes.size();
            if (!inside || p.info.payload_length > p.info.payload_wire_length) ++violations;
        }
    }
    BOOST_TEST(violations == 0u);
    // The walk reaches every outcome, so it exercises more than one path.
    for (int s = 0; s < 4; ++s) BOOST_TEST_CONTEXT("status " << s) { BOOST_TEST(statuses[s] > 0u); }
}

// --- real captures (the nDPI test corpus, ECHOFLOW_NDPI_CORPUS; skipped when absent) ---

namespace {

// ECHOFLOW_NDPI_DIR points the cases at another copy of the corpus.
std::string ndpi_dir() {
    if (const char* env = std::getenv("ECHOFLOW_NDPI_DIR"); env != nullptr && *env != '\0') return env;
    return ECHOFLOW_NDPI_CORPUS;
}

std::map<std::string, size_t> parse_capture(const std::string& file, size_t* frames,
                                            std::vector<std::string>* statuses = nullptr) {
    std::map<std::string, size_t> counts;
    char errbuf[PCAP_ERRBUF_SIZE];
    const std::string path = ndpi_dir() + "/" + file;
    pcap_t* pcap = pcap_open_offline(path.c_str(), errbuf);
    BOOST_TEST_REQUIRE(pcap != nullptr, path << ": " << errbuf);
    const auto link = static_cast<LinkType>(pcap_datalink(pcap));
    pcap_pkthdr* header;
    const u_char* data;
    *frames = 0;
    while (pcap_next_ex(pcap, &header, &data) == 1) {
        const auto p = parse(std::vector<uint8_t>(data, data + header->caplen), link, header->len);
        counts[name(p.status)]++;
        if (p.status == ParseStatus::kOther) counts["proto " + std::to_string(p.info.l4_protocol)]++;
        if (statuses) statuses->push_back(name(p.status));
        ++*frames;
    }
    pcap_close(pcap);
    return counts;
}

boost::test_tools::assertion_result ndpi_present(boost::unit_test::test_unit_id) {
    return tests::support::corpus_present(ndpi_dir());
}

size_t count_of(const std::map<std::string, size_t>& counts, const std::string& key) {
    const auto it = counts.find(key);
    return it == counts.end() ? 0 : it->second;
}

}  // namespace

BOOST_AUTO_TEST_CASE(ndpi_malformed_icmp_is_a_complete_icmp_header_of_unknown_type_165, *boost::unit_test::precondition(ndpi_present)) {
    // `tshark -r malformed_icmp.pcap -V`: IPv4 total length 28, ICMP type 165
    // code 0, checksum correct: 8 bytes of ICMP, an unknown type but no
    // truncation, so the parser must accept it (the README calls it ICMPv6;
    // the frame is IPv4).
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t* pcap = pcap_open_offline((ndpi_dir() + "/malformed_icmp.pcap").c_str(), errbuf);
    BOOST_TEST_REQUIRE(pcap != nullptr, errbuf);
    pcap_pkthdr* header;
    const u_char* data;
    BOOST_TEST_REQUIRE(pcap_next_ex(pcap, &header, &data) == 1);
    const auto p = parse(std::vector<uint8_t>(data, data + header->caplen));
    pcap_close(pcap);
    CHECK_STATUS(p.status, ParseStatus::kIcmp);
    BOOST_TEST((p.info.family == Family::kIpv4));
    BOOST_TEST((p.info.src == addr4("218.152.179.213")));
    BOOST_TEST(p.info.icmp_type == 165);
    BOOST_TEST(p.info.icmp_code == 0);
    BOOST_TEST(p.info.ip_length == 28u);
    BOOST_TEST(p.info.payload_length == 0);
}

BOOST_AUTO_TEST_CASE(ndpi_badpackets_are_truncated_frames_and_malformed, *boost::unit_test::precondition(ndpi_present)) {
    // `tshark -r badpackets.pcap -T fields -e frame.len -e frame.cap_len -e ip.len`:
    // 93 IPv4/UDP frames whose IP total length (1500, one 1404) exceeds the
    // frame's length on the wire (frame.len = cap_len, 108..1194): not a
    // snap-length cut but truncated frames, so every one is malformed.
    size_t frames = 0;
    const auto counts = parse_capture("badpackets.pcap", &frames);
    BOOST_TEST(frames == 93u);
    BOOST_TEST(count_of(counts, "kMalformed") == 93u);
}

BOOST_AUTO_TEST_CASE(ndpi_icmp_tunnel_icmp_count_matches_tshark, *boost::unit_test::precondition(ndpi_present)) {
    size_t frames = 0;
    const auto counts = parse_capture("icmp-tunnel.pcap", &frames);
    BOOST_TEST(frames == 961u);
    // `tshark -r icmp-tunnel.pcap -Y icmp | wc -l` prints 863; the other 98
    // frames are ARP (`tshark -r icmp-tunnel.pcap -T fields -e frame.protocols | sort | uniq -c`).
    BOOST_TEST(count_of(counts, "kIcmp") == 863u);
    BOOST_TEST(count_of(counts, "kNotIp") == 98u);
    BOOST_TEST(count_of(counts, "kMalformed") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
