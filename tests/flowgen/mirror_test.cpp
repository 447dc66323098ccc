// Mirrored traffic beyond the parser: segments keep conversations apart in
// the flow cache and reach the IPFIX records; the mirror deduplicator drops
// a second copy of the same inner packet within its window and nothing else.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "flowgen/flow_cache.hpp"
#include "flowgen/ipfix_encoder.hpp"
#include "flowgen/mirror_dedup.hpp"
#include "tests/flowgen/ipfix_decode.hpp"
#include "tests/support/packet_builder.hpp"

using flowgen::ConversationRecord;
using flowgen::FlowCache;
using flowgen::FlowKey;
using flowgen::LinkType;
using flowgen::MirrorDedup;
using flowgen::PacketInfo;
using flowgen::ParseStatus;
using flowgen::SegmentType;
using tests::support::PacketBuilder;
using tests::support::v4;

// Ipv4Fields{.ttl = ...} names only the field a case changes.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

constexpr uint64_t kT0 = 1'700'000'000'000ULL;

// The same echo request, mirrored in VXLAN with `vni`, its inner IPv4 TTL
// `ttl`, payload filled from `first`.
std::vector<uint8_t> vxlan_echo(uint32_t vni, uint8_t ttl = 64, uint8_t first = 0, uint16_t seq = 1) {
    PacketBuilder b;
    b.ethernet().ipv4(v4("192.0.2.1"), v4("192.0.2.2")).udp(1, 4789).vxlan(vni).ethernet();
    b.ipv4(v4("10.0.0.1"), v4("10.0.0.2"), {.ttl = ttl}).icmp_echo(8, 0x42, seq).payload_counting(32, first);
    return b.with_checksums().build();
}

struct Parsed {
    std::vector<uint8_t> bytes;
    PacketInfo info;
};

Parsed parse(std::vector<uint8_t> frame) {
    Parsed p{std::move(frame), {}};
    BOOST_REQUIRE(flowgen::parse_frame(LinkType::kEthernet, p.bytes, p.info) == ParseStatus::kIcmp);
    return p;
}

struct Collected {
    std::vector<ConversationRecord> records;
    void operator()(const ConversationRecord& r, uint32_t) { records.push_back(r); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(mirror)

BOOST_AUTO_TEST_CASE(same_addresses_in_two_segments_are_two_conversations_each_with_its_segment) {
    FlowCache cache;
    BOOST_REQUIRE(cache.init({.capacity = 64, .idle_timeout_ms = 1000, .active_timeout_ms = 60000}).ok());
    Collected out;
    for (uint32_t vni : {100u, 200u, 100u}) {
        const Parsed p = parse(vxlan_echo(vni));
        FlowKey key;
        const bool reply = flowgen::make_key(p.info, key);
        BOOST_TEST(key.segment_id == vni);
        cache.update(key, reply, p.info, 0, kT0, out);
    }
    BOOST_TEST(cache.stats().created.get() == 2u);
    cache.flush_all(kT0 + 1, flowgen::EndReason::kForcedEnd, out);
    BOOST_REQUIRE(out.records.size() == 2u);
    for (const ConversationRecord& r : out.records) {
        BOOST_TEST((r.segment_type == SegmentType::kVxlan));
        BOOST_TEST(r.dir[0].packets == (r.segment_id == 100u ? 2u : 1u));
    }
}

BOOST_AUTO_TEST_CASE(segment_elements_carry_vlan_layer2_segment_id_and_echoflow_segment) {
    flowgen::EncoderConfig c;
    c.segment_elements = true;
    flowgen::IpfixEncoder enc(c);
    ConversationRecord r;
    r.family = flowgen::Family::kIpv4;
    r.key_type = 8;
    r.vlan_id = 300;
    r.dir[0] = flowgen::DirectionCounters{84, 1, kT0, kT0, 84, 84, 8, 0, 56, 56, 56};
    std::vector<uint8_t> buf(1472);
    struct Row { SegmentType type; uint32_t id; uint64_t layer2; uint64_t ours; };
    const Row rows[] = {
        {SegmentType::kVxlan, 0xABCDEF, (uint64_t{1} << 56) | 0xABCDEF, (uint64_t{1} << 56) | 0xABCDEF},
        {SegmentType::kGeneve, 77, 0, (uint64_t{2} << 56) | 77},
        {SegmentType::kErspan, 1023, 0, (uint64_t{3} << 56) | 1023},
        {SegmentType::kNone, 0, 0, 0},
    };
    for (const Row& row : rows) {
        r.segment_type = row.type;
        r.segment_id = row.id;
        flowgen::IpfixMessage m;
        m.begin(buf);
        BOOST_REQUIRE_EQUAL(enc.add_templates(m), 4u);
        BOOST_REQUIRE_EQUAL(enc.add_conversation(m, r), 1);
        const size_t len = m.finish(1, 0, 1);
        ipfix_test::Decoder d;
        const auto decoded = d.decode(m.data(), len);
        BOOST_REQUIRE(decoded.error.empty());
        BOOST_REQUIRE_EQUAL(decoded.records.size(), 1u);
        BOOST_TEST(decoded.records[0].u(58) == 300u);                   // vlanId
        BOOST_TEST(decoded.records[0].u(351) == row.layer2);            // layer2SegmentId
        BOOST_TEST(decoded.records[0].u(9, c.enterprise_number) == row.ours);  // echoflowSegment
    }
    // The RFC 5610 type record names the enterprise element.
    BOOST_TEST(enc.type_record_count() == 9u);
}

BOOST_AUTO_TEST_CASE(second_copy_within_the_window_is_a_duplicate_whatever_its_ttl_or_tunnel) {
    MirrorDedup dedup;
    BOOST_REQUIRE(dedup.init(10).ok());
    const Parsed first = parse(vxlan_echo(100, 64));
    const Parsed hop_later = parse(vxlan_echo(200, 63));  // another tunnel, one router later
    BOOST_TEST(!dedup.duplicate(first.info, kT0));
    BOOST_TEST(dedup.duplicate(hop_later.info, kT0 + 3));
    // A window after the first copy the same bytes are a new packet, and
    // its mirror copy a duplicate again.
    BOOST_TEST(!dedup.duplicate(first.info, kT0 + 11));
    BOOST_TEST(dedup.duplicate(first.info, kT0 + 21));
}

BOOST_AUTO_TEST_CASE(a_flood_of_identical_packets_loses_only_one) {
    MirrorDedup dedup;
    BOOST_REQUIRE(dedup.init(10).ok());
    const Parsed p = parse(vxlan_echo(1));
    unsigned dropped = 0;
    for (int i = 0; i < 1000; ++i) dropped += dedup.duplicate(p.info, kT0 + i / 200);
    BOOST_TEST(dropped == 1u);
}

BOOST_AUTO_TEST_CASE(distinct_packets_are_never_duplicates) {
    MirrorDedup dedup;
    BOOST_REQUIRE(dedup.init(10).ok());
    for (uint16_t seq = 1; seq <= 2000; ++seq)
        BOOST_TEST(!dedup.duplicate(parse(vxlan_echo(100, 64, 0, seq)).info, kT0));
    // Same sequence number, different payload byte.
    BOOST_TEST(!dedup.duplicate(parse(vxlan_echo(100, 64, 1, 1)).info, kT0));
}

BOOST_AUTO_TEST_CASE(window_zero_keeps_every_copy) {
    MirrorDedup dedup;
    BOOST_REQUIRE(dedup.init(0).ok());
    BOOST_TEST(!dedup.enabled());
    const Parsed p = parse(vxlan_echo(1));
    BOOST_TEST(!dedup.duplicate(p.info, kT0));
    BOOST_TEST(!dedup.duplicate(p.info, kT0));
}

// The hash's definition, byte by byte: the first kHashedBytes of the IP
// packet as captured (zero beyond), with what a hop may rewrite zeroed,
// mixed 16 bytes at a time, then the stated and captured lengths. The
// probe's version loads words from the packet and masks them in registers;
// it must give the same value for every length and both families.
namespace {
uint64_t mix_ref(uint64_t a, uint64_t b) {
    const __uint128_t r = static_cast<__uint128_t>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}
uint64_t mirror_hash_by_bytes(const PacketInfo& p) {
    uint8_t buf[MirrorDedup::kHashedBytes] = {};
    const size_t n = p.ip_captured < sizeof buf ? p.ip_captured : sizeof buf;
    if (p.ip_header != nullptr) std::memcpy(buf, p.ip_header, n);
    if (p.family == flowgen::Family::kIpv4 && n >= 20) {
        buf[1] = buf[8] = buf[10] = buf[11] = 0;
    } else if (p.family == flowgen::Family::kIpv6 && n >= 40) {
        buf[0] &= 0xF0;
        buf[1] &= 0x0F;
        buf[7] = 0;
    }
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    for (size_t i = 0; i < sizeof buf; i += 16) {
        uint64_t a, b;
        std::memcpy(&a, buf + i, 8);
        std::memcpy(&b, buf + i + 8, 8);
        h = mix_ref(a ^ h ^ 0xa0761d6478bd642fULL, b ^ 0xe7037ed1a0b428dbULL);
    }
    h = mix_ref(h ^ p.ip_length, 0x8ebc6af09c88c6e3ULL ^ p.ip_captured);
    return h ? h : 1;
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_hash_is_its_bytewise_definition_at_every_length) {
    std::mt19937 rng(11);
    std::vector<uint8_t> packet(200);
    unsigned differ = 0, cases = 0;
    for (const auto family : {flowgen::Family::kIpv4, flowgen::Family::kIpv6, flowgen::Family::kNone}) {
        for (uint32_t captured = 0; captured <= 160; ++captured) {
            for (int k = 0; k < 4; ++k) {
                for (auto& b : packet) b = static_cast<uint8_t>(rng());
                PacketInfo p;
                p.family = family;
                p.ip_header = k == 3 ? nullptr : packet.data();
                p.ip_captured = captured;
                p.ip_length = captured + static_cast<uint32_t>(rng() % 3);
                ++cases;
                if (flowgen::mirror_hash(p) != mirror_hash_by_bytes(p)) ++differ;
            }
        }
    }
    BOOST_TEST(differ == 0u, differ << " of " << cases << " differ");
}

BOOST_AUTO_TEST_SUITE_END()
