// The shared sender table: direct-mapped, windows that forget, counted
// eviction, sliding long windows, and one entry seen from several threads.
#include <boost/test/unit_test.hpp>

#include <thread>
#include <vector>

#include "detect/source_table.hpp"
#include "tests/detect/payloads.hpp"

using namespace detect;
using tests::detect::addr4;

namespace {
constexpr uint64_t kT0 = 1'764'115'200'000;  // 2025-11-26 00:00:00 UTC: a day (and hour) boundary
constexpr uint64_t kWindow = 600'000;
}  // namespace

BOOST_AUTO_TEST_SUITE(source_table)

BOOST_AUTO_TEST_CASE(size_must_be_a_power_of_two_and_zero_disables) {
    SourceTable t;
    BOOST_TEST(!t.init(1000).ok());
    BOOST_TEST(t.init(0).ok());
    BOOST_TEST(!t.enabled());
    BOOST_TEST(t.init(1024).ok());
    BOOST_TEST(t.enabled());
    BOOST_TEST(t.entries() == 1024u);
}

BOOST_AUTO_TEST_CASE(text_bytes_accumulate_per_sender_until_the_short_window_ends) {
    SourceTable t;
    BOOST_REQUIRE(t.init(1024).ok());
    auto& a = t.sender(flowgen::Family::kIpv4, addr4(10, 0, 0, 1));
    SourceTable::add_payload(a, kT0, kWindow, 11, 100, 100, 1, nullptr);
    SourceTable::add_payload(t.sender(flowgen::Family::kIpv4, addr4(10, 0, 0, 2)), kT0, kWindow, 12, 7, 7, 1, nullptr);
    BOOST_TEST(SourceTable::add_payload(a, kT0 + 1000, kWindow, 13, 50, 50, 1, nullptr).recent_bytes == 150u);
    BOOST_TEST(SourceTable::read(a, kT0 + kWindow - 1, kWindow).recent_bytes == 150u);
    BOOST_TEST(SourceTable::read(a, kT0 + kWindow + 1000, kWindow).recent_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(a_repeated_payload_counts_once) {
    SourceTable t;
    BOOST_REQUIRE(t.init(64).ok());
    auto& a = t.sender(flowgen::Family::kIpv4, addr4(10, 0, 0, 1));
    bool counted = false;
    SourceTable::add_payload(a, kT0, kWindow, 42, 56, 56, 1, &counted);
    BOOST_TEST(counted);
    const ActivityView v = SourceTable::add_payload(a, kT0 + 60'000, kWindow, 42, 56, 56, 1, &counted);
    BOOST_TEST(!counted);
    BOOST_TEST(v.hour.payloads == 1u);
    BOOST_TEST(v.hour.bytes == 56u);
}

BOOST_AUTO_TEST_CASE(hour_and_day_windows_slide_and_keep_across_the_short_window) {
    SourceTable t;
    BOOST_REQUIRE(t.init(64).ok());
    auto& a = t.sender(flowgen::Family::kIpv4, addr4(10, 0, 0, 1));
    // One 56-byte payload a minute for an hour: the short window forgets,
    // the hour window holds them all.
    ActivityView v;
    for (uint32_t m = 0; m < 60; ++m) v = SourceTable::add_payload(a, kT0 + m * 60'000, kWindow, 2 * m + 100, 56, 56, 1, nullptr);
    BOOST_TEST(v.hour.payloads == 60u);
    BOOST_TEST(v.hour.bytes == 60u * 56u);
    BOOST_TEST(v.recent_bytes == 10u * 56u);
    // Half an hour later the previous hour counts half; a day later the
    // day window counts the hour and the hour window is empty.
    BOOST_TEST(SourceTable::read(a, kT0 + 90 * 60'000, kWindow).hour.payloads == 30u);
    BOOST_TEST(SourceTable::read(a, kT0 + 90 * 60'000, kWindow).day.payloads == 60u);
    BOOST_TEST(SourceTable::read(a, kT0 + 3 * 3'600'000, kWindow).hour.payloads == 0u);
    BOOST_TEST(SourceTable::read(a, kT0 + 36 * 3'600'000, kWindow).day.payloads == 30u);
    BOOST_TEST(SourceTable::read(a, kT0 + 49 * 3'600'000, kWindow).day.payloads == 0u);
}

BOOST_AUTO_TEST_CASE(pairs_are_unordered_and_distinct_from_senders) {
    SourceTable t;
    BOOST_REQUIRE(t.init(1u << 16).ok());
    const auto a = addr4(10, 0, 0, 1), b = addr4(10, 0, 0, 2);
    BOOST_TEST(&t.pair(flowgen::Family::kIpv4, a, b) == &t.pair(flowgen::Family::kIpv4, b, a));
    BOOST_TEST(&t.pair(flowgen::Family::kIpv4, a, b) != &t.sender(flowgen::Family::kIpv4, a));
    BOOST_TEST(t.find_pair(flowgen::Family::kIpv4, b, a) == &t.pair(flowgen::Family::kIpv4, a, b));
    BOOST_TEST(t.find_sender(flowgen::Family::kIpv4, addr4(10, 0, 0, 9)) == nullptr);
}

BOOST_AUTO_TEST_CASE(a_colliding_key_replaces_the_entry_and_is_counted) {
    SourceTable t;
    BOOST_REQUIRE(t.init(1).ok());  // every key shares the one slot
    auto& a = t.sender(flowgen::Family::kIpv4, addr4(10, 0, 0, 1));
    SourceTable::add_payload(a, kT0, kWindow, 1, 500, 500, 1, nullptr);
    BOOST_TEST(t.evictions() == 0u);
    auto& b = t.sender(flowgen::Family::kIpv4, addr4(10, 0, 0, 2));
    BOOST_TEST(SourceTable::read(b, kT0, kWindow).recent_bytes == 0u);
    BOOST_TEST(SourceTable::read(b, kT0, kWindow).hour.bytes == 0u);
    BOOST_TEST(t.evictions() == 1u);
    BOOST_TEST(t.find_sender(flowgen::Family::kIpv4, addr4(10, 0, 0, 1)) == nullptr);
}

BOOST_AUTO_TEST_CASE(fills_are_distinct_bins_within_the_short_window) {
    SourceTable t;
    BOOST_REQUIRE(t.init(64).ok());
    auto& a = t.sender(flowgen::Family::kIpv4, addr4(10, 0, 0, 1));
    bool added = false;
    SourceTable::add_fill(a, kT0, kWindow, 1u << 3, &added);
    BOOST_TEST(added);
    BOOST_TEST(SourceTable::add_fill(a, kT0, kWindow, 1u << 3, &added).fills == 1u);
    BOOST_TEST(!added);
    BOOST_TEST(SourceTable::add_fill(a, kT0, kWindow, 1u << 5, &added).fills == 2u);
    BOOST_TEST(SourceTable::add_fill(a, kT0 + kWindow, kWindow, 1u << 5, &added).fills == 1u);
}

BOOST_AUTO_TEST_CASE(updates_from_several_threads_all_count) {
    SourceTable t;
    BOOST_REQUIRE(t.init(64).ok());
    auto& a = t.sender(flowgen::Family::kIpv4, addr4(10, 0, 0, 1));
    std::vector<std::thread> threads;
    for (uint32_t k = 0; k < 4; ++k)
        threads.emplace_back([&a, k] {
            for (uint32_t i = 0; i < 10'000; ++i) SourceTable::add_payload(a, kT0, kWindow, 2 * (k * 10'000 + i) + 2, 0, 3, 1, nullptr);
        });
    for (auto& th : threads) th.join();
    // Consecutive payloads of one thread always differ; two threads may
    // interleave equal hashes only if they shared one, which they never do.
    BOOST_TEST(SourceTable::read(a, kT0, kWindow).hour.payloads == 40'000u);
    BOOST_TEST(SourceTable::read(a, kT0, kWindow).hour.bytes == 120'000u);
}

BOOST_AUTO_TEST_SUITE_END()
