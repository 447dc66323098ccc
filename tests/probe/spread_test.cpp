// probe/spread.hpp: how a port is set up for several workers, and which ICMP
// frames a worker hands to the owner of their (inner) addresses. The point:
// a mirror session arrives between two fixed tunnel endpoints, so RSS on the
// outer header would put all of it on one queue; its request and reply must
// still meet in one cache, and its conversations spread over the workers.
#include <boost/test/unit_test.hpp>

#include <set>
#include <vector>

#include "flowgen/packet.hpp"
#include "probe/spread.hpp"
#include "tests/support/packet_builder.hpp"

using probe::Spread;
using tests::support::PacketBuilder;
using tests::support::v4;

namespace {

flowgen::PacketInfo parse(const std::vector<uint8_t>& frame) {
    flowgen::PacketInfo info;
    const flowgen::ParseStatus status =
        flowgen::parse_frame(flowgen::LinkType::kEthernet, frame, 0, flowgen::ParseOptions{}, info);
    BOOST_TEST_REQUIRE(static_cast<int>(status) == static_cast<int>(flowgen::ParseStatus::kIcmp));
    return info;
}

// An echo between a and b, mirrored in VXLAN between the same two tunnel
// endpoints whatever a and b are.
std::vector<uint8_t> vxlan_echo(const char* a, const char* b, uint8_t type) {
    PacketBuilder p = PacketBuilder{}.ethernet().ipv4(v4("10.200.0.3"), v4("10.200.0.224")).udp(40000, 4789).vxlan(7);
    p.ethernet();
    return p.ipv4(v4(a), v4(b)).icmp_echo(type, 1, 1).payload_counting(32).build();
}

std::vector<uint8_t> bare_echo(const char* a, const char* b, uint8_t type) {
    return PacketBuilder{}.ethernet().ipv4(v4(a), v4(b)).icmp_echo(type, 1, 1).build();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spread)

BOOST_AUTO_TEST_CASE(one_worker_meters_everything_itself) {
    for (bool rss : {false, true}) {
        const probe::PortSpread p = probe::plan_port(false, 8, rss, rss, 1);
        BOOST_TEST(p.queues == 1u);
        BOOST_TEST(!p.rss);
        BOOST_TEST((p.spread == Spread::kNone));
    }
}

BOOST_AUTO_TEST_CASE(inner_rss_is_asked_for_when_the_port_offers_it_and_then_the_nic_spreads) {
    const probe::PortSpread p = probe::plan_port(false, 16, true, true, 4);
    BOOST_TEST(p.queues == 4u);
    BOOST_TEST(p.rss);
    BOOST_TEST(p.inner_rss);
    BOOST_TEST((p.spread == Spread::kNone));
}

BOOST_AUTO_TEST_CASE(outer_only_rss_leaves_tunnelled_frames_to_software) {
    const probe::PortSpread p = probe::plan_port(false, 16, true, false, 4);
    BOOST_TEST(p.rss);
    BOOST_TEST(!p.inner_rss);
    BOOST_TEST((p.spread == Spread::kTunnelled));
    BOOST_TEST(!probe::spread_in_software(p.spread, parse(bare_echo("192.0.2.1", "192.0.2.2", 8))));
    BOOST_TEST(probe::spread_in_software(p.spread, parse(vxlan_echo("192.0.2.1", "192.0.2.2", 8))));
    // Behind MPLS labels a NIC finds no IP header to hash.
    PacketBuilder mpls = PacketBuilder{}.ethernet().mpls(100, true);
    BOOST_TEST(probe::spread_in_software(
        p.spread, parse(mpls.ipv4(v4("192.0.2.1"), v4("192.0.2.2")).icmp_echo(8, 1, 1).build())));
}

BOOST_AUTO_TEST_CASE(ports_without_rss_or_with_too_few_queues_spread_everything_in_software) {
    BOOST_TEST((probe::plan_port(false, 1, true, true, 2).spread == Spread::kAll));  // one queue
    BOOST_TEST((probe::plan_port(false, 8, false, false, 2).spread == Spread::kAll));
    const probe::PortSpread af_xdp = probe::plan_port(true, 3, false, false, 2);
    BOOST_TEST(af_xdp.queues == 3u);  // every queue of an af_xdp port is read
    BOOST_TEST((af_xdp.spread == Spread::kAll));
    BOOST_TEST(probe::spread_in_software(Spread::kAll, parse(bare_echo("192.0.2.1", "192.0.2.2", 8))));
}

// The owner comes from the inner addresses: request and reply of one
// mirrored conversation meet, and many conversations between the same two
// tunnel endpoints spread over all workers.
BOOST_AUTO_TEST_CASE(tunnelled_conversations_are_owned_by_their_inner_addresses) {
    constexpr unsigned kWorkers = 4;
    std::set<unsigned> owners;
    for (int host = 1; host <= 64; ++host) {
        const std::string a = "172.16.0." + std::to_string(host);
        const unsigned request = probe::owner_of(parse(vxlan_echo(a.c_str(), "172.16.1.1", 8)), kWorkers);
        const unsigned reply = probe::owner_of(parse(vxlan_echo("172.16.1.1", a.c_str(), 0)), kWorkers);
        BOOST_TEST(request == reply);
        BOOST_TEST(request < kWorkers);
        // The same conversation bare lands on the same worker.
        BOOST_TEST(probe::owner_of(parse(bare_echo(a.c_str(), "172.16.1.1", 8)), kWorkers) == request);
        owners.insert(request);
    }
    BOOST_TEST(owners.size() == kWorkers);
}

BOOST_AUTO_TEST_SUITE_END()
