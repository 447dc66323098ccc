// The per-sender table: direct-mapped, forgets on window end and collision.
#include <boost/test/unit_test.hpp>

#include "detect/source_table.hpp"
#include "tests/detect/payloads.hpp"

using namespace detect;
using tests::detect::addr4;

BOOST_AUTO_TEST_SUITE(source_table)

BOOST_AUTO_TEST_CASE(size_must_be_a_power_of_two_and_zero_disables) {
    SourceTable t;
    BOOST_TEST(!t.init(1000).ok());
    BOOST_TEST(t.init(0).ok());
    BOOST_TEST(!t.enabled());
    BOOST_TEST(t.init(1024).ok());
    BOOST_TEST(t.enabled());
}

BOOST_AUTO_TEST_CASE(activity_accumulates_per_source_until_the_window_ends) {
    SourceTable t;
    BOOST_REQUIRE(t.init(1024).ok());
    const uint64_t t0 = 1'764'128'000'000, window = 600'000;
    t.touch(flowgen::Family::kIpv4, addr4(10, 0, 0, 1), t0, window).novel_bytes += 100;
    t.touch(flowgen::Family::kIpv4, addr4(10, 0, 0, 2), t0, window).novel_bytes += 7;
    BOOST_TEST(t.touch(flowgen::Family::kIpv4, addr4(10, 0, 0, 1), t0 + 1000, window).novel_bytes == 100u);
    BOOST_TEST(t.touch(flowgen::Family::kIpv4, addr4(10, 0, 0, 1), t0 + window - 1000, window).novel_bytes == 100u);
    BOOST_TEST(t.touch(flowgen::Family::kIpv4, addr4(10, 0, 0, 1), t0 + window + 1000, window).novel_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(a_colliding_source_replaces_the_entry_instead_of_sharing_it) {
    SourceTable t;
    BOOST_REQUIRE(t.init(1).ok());  // every source shares the one slot
    const uint64_t now = 1'764'128'000'000;
    t.touch(flowgen::Family::kIpv4, addr4(10, 0, 0, 1), now, 600'000).novel_bytes = 500;
    BOOST_TEST(t.touch(flowgen::Family::kIpv4, addr4(10, 0, 0, 2), now, 600'000).novel_bytes == 0u);
    BOOST_TEST(t.touch(flowgen::Family::kIpv6, addr4(10, 0, 0, 2), now, 600'000).novel_bytes == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
