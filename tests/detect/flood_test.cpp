// Flood tracker (per worker) and flood monitor (merge, start, end, rate
// limit, bounded tables).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "detect/alert_json.hpp"
#include "detect/flood.hpp"
#include "detect/flood_monitor.hpp"

using namespace detect;

namespace {

flowgen::PacketInfo packet_v4(uint32_t src, uint32_t dst, uint32_t ip_length = 28) {
    flowgen::PacketInfo p;
    std::memset(p.src.bytes, 0, 16);
    std::memset(p.dst.bytes, 0, 16);
    for (int i = 0; i < 4; ++i) {
        p.src.bytes[i] = static_cast<uint8_t>(src >> (24 - 8 * i));
        p.dst.bytes[i] = static_cast<uint8_t>(dst >> (24 - 8 * i));
    }
    p.family = flowgen::Family::kIpv4;
    p.ip_length = ip_length;
    return p;
}

constexpr uint32_t kVictim = 0xC0000201;  // 192.0.2.1

// A deterministic stream of distinct spoofed sources (odd multiplier mod 2^32: a bijection).
uint32_t spoofed(uint32_t i) { return i * 2654435761u + 0x0A000000u; }

FloodVictim victim_v4(uint32_t dst) { return FloodVictim{packet_v4(0, dst).dst, flowgen::Family::kIpv4}; }

// A sample as a worker would report it: `n` new conversations from `n`
// distinct sources (starting at source index `first`).
FloodSample sample(uint32_t dst, uint64_t interval, uint32_t n, uint32_t first = 0) {
    FloodSample s;
    s.victim = victim_v4(dst);
    s.interval = interval;
    s.first_ms = interval * 1000 + 10;
    s.last_ms = interval * 1000 + 900;
    s.conversations = n;
    s.octets = uint64_t{n} * 28;
    for (uint32_t i = 0; i < n; ++i) s.sources.add(source_hash(flowgen::Family::kIpv4, packet_v4(spoofed(first + i), 0).src));
    return s;
}

Config flood_config() {
    Config c;
    c.flood_pps = 1000;
    c.flood_min_sources = 100;
    c.flood_end_intervals = 3;
    c.flood_max_victims = 4;
    c.flood_alerts_per_second = 10;
    return c;
}

size_t count(const std::vector<FloodEvent>& events, FloodEvent::Kind kind) {
    size_t n = 0;
    for (const FloodEvent& e : events) n += e.kind == kind;
    return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(flood_sketch)

BOOST_AUTO_TEST_CASE(estimates_distinct_sources_within_three_standard_errors) {
    for (uint32_t n : {1u, 10u, 100u, 1000u, 10000u, 50000u}) {
        BOOST_TEST_CONTEXT("n = " << n) {
            SourceSketch s;
            for (uint32_t i = 0; i < n; ++i) {
                const auto h = source_hash(flowgen::Family::kIpv4, packet_v4(spoofed(i), 0).src);
                s.add(h);
                s.add(h);  // a repeated source counts once
            }
            const double e = static_cast<double>(s.estimate());
            BOOST_TEST(std::fabs(e - n) <= 3 * SourceSketch::kStandardError * n + 1, "estimate " << e);
        }
    }
}

BOOST_AUTO_TEST_CASE(merge_is_the_union) {
    SourceSketch a, b, both;
    for (uint32_t i = 0; i < 20000; ++i) {
        const auto h = source_hash(flowgen::Family::kIpv4, packet_v4(spoofed(i), 0).src);
        (i % 2 ? a : b).add(h);
        both.add(h);
    }
    a.merge(b);
    BOOST_TEST(a.estimate() == both.estimate());
    BOOST_TEST(a.estimate() > 15000u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(flood_tracker)

BOOST_AUTO_TEST_CASE(reports_heavy_victims_per_interval_and_not_light_ones) {
    auto t = std::make_unique<FloodTracker>();
    t->init(50);
    FloodSample out[FloodTracker::kMaxReports];
    BOOST_TEST(t->interval_due(5000));
    BOOST_TEST(t->close_interval(5000, out) == 0u);  // starts interval 5
    for (uint32_t i = 0; i < 300; ++i) t->add(packet_v4(spoofed(i), kVictim, 84), 5000 + i);
    for (uint32_t i = 0; i < 49; ++i) t->add(packet_v4(spoofed(i), kVictim + 1), 5100);  // below report_min
    BOOST_TEST(!t->interval_due(5999));
    BOOST_TEST(t->interval_due(6000));
    const uint32_t n = t->close_interval(6000, out);
    BOOST_TEST_REQUIRE(n == 1u);
    BOOST_TEST((out[0].victim == victim_v4(kVictim)));
    BOOST_TEST(out[0].interval == 5u);
    BOOST_TEST(out[0].conversations == 300u);
    BOOST_TEST(out[0].octets == 300u * 84);
    BOOST_TEST(out[0].first_ms == 5000u);
    BOOST_TEST(out[0].last_ms == 5299u);
    BOOST_TEST(std::fabs(double(out[0].sources.estimate()) - 300) <= 3 * SourceSketch::kStandardError * 300);
    // The table is empty again.
    BOOST_TEST(t->close_interval(7000, out) == 0u);
}

BOOST_AUTO_TEST_CASE(a_heavy_victim_keeps_its_entry_against_a_churn_of_destinations) {
    auto t = std::make_unique<FloodTracker>();
    t->init(100);
    FloodSample out[FloodTracker::kMaxReports];
    t->close_interval(0, out);
    // 2,000 conversations to the victim interleaved with 20,000 to distinct
    // destinations (far more than the table holds).
    for (uint32_t i = 0; i < 20000; ++i) {
        t->add(packet_v4(spoofed(i), 0x0B000000u + i), 1);
        if (i % 10 == 0) t->add(packet_v4(spoofed(i), kVictim), 1);
    }
    BOOST_TEST(t->stats().evictions.get() > 0u);
    const uint32_t n = t->close_interval(1000, out);
    BOOST_TEST_REQUIRE(n == 1u);
    BOOST_TEST((out[0].victim == victim_v4(kVictim)));
    BOOST_TEST(out[0].conversations == 2000u);
}

BOOST_AUTO_TEST_CASE(reports_at_most_the_heaviest_kMaxReports_and_counts_the_rest) {
    auto t = std::make_unique<FloodTracker>();
    t->init(10);
    FloodSample out[FloodTracker::kMaxReports];
    t->close_interval(0, out);
    const uint32_t victims = FloodTracker::kMaxReports + 4;
    for (uint32_t v = 0; v < victims; ++v)
        for (uint32_t i = 0; i < 20 + v; ++i) t->add(packet_v4(spoofed(i), kVictim + v), 1);
    const uint32_t n = t->close_interval(1000, out);
    BOOST_TEST(n == FloodTracker::kMaxReports);
    BOOST_TEST(t->stats().reports_capped.get() == 4u);
    for (uint32_t i = 0; i < n; ++i) BOOST_TEST(out[i].conversations == 20 + victims - 1 - i);
}

BOOST_AUTO_TEST_CASE(segments_keep_victims_apart) {
    auto t = std::make_unique<FloodTracker>();
    t->init(10);
    FloodSample out[FloodTracker::kMaxReports];
    t->close_interval(0, out);
    for (uint32_t i = 0; i < 30; ++i) {
        flowgen::PacketInfo p = packet_v4(spoofed(i), kVictim);
        t->add(p, 1);
        p.vlan_id = 7;
        t->add(p, 1);
    }
    BOOST_TEST(t->close_interval(1000, out) == 2u);
    BOOST_TEST(out[0].conversations == 30u);
    BOOST_TEST(out[1].conversations == 30u);
    BOOST_TEST(out[0].victim.vlan_id + out[1].victim.vlan_id == 7);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(flood_monitor)

BOOST_AUTO_TEST_CASE(starts_once_and_ends_after_the_quiet_intervals) {
    FloodMonitor m;
    m.init(flood_config());
    std::vector<FloodEvent> seen;
    auto take = [&] {
        seen.insert(seen.end(), m.events().begin(), m.events().end());
        m.clear_events();
    };
    for (uint64_t k = 10; k < 15; ++k) {
        m.add(sample(kVictim, k, 1500, uint32_t(k) * 1500));
        m.tick(k * 1000 + 999);  // not yet: the interval may still get late samples
        take();
        m.tick((k + 1) * 1000 + FloodMonitor::kLateMs);
        take();
    }
    BOOST_TEST_REQUIRE(seen.size() == 1u);
    const FloodEvent& start = seen[0];
    BOOST_TEST((start.kind == FloodEvent::Kind::kStart));
    BOOST_TEST(start.alert);
    BOOST_TEST((start.victim == victim_v4(kVictim)));
    BOOST_TEST(start.pps == 1500u);
    BOOST_TEST(start.bps == 1500u * 28 * 8);
    BOOST_TEST(start.start_ms == 10010u);
    BOOST_TEST(m.stats().active.get() == 1u);
    // Two quiet intervals: still on; the third ends it.
    m.tick(17 * 1000 + FloodMonitor::kLateMs);
    take();
    BOOST_TEST(seen.size() == 1u);
    m.tick(18 * 1000 + FloodMonitor::kLateMs);
    take();
    BOOST_TEST_REQUIRE(seen.size() == 2u);
    const FloodEvent& end = seen[1];
    BOOST_TEST((end.kind == FloodEvent::Kind::kEnd));
    BOOST_TEST(end.packets == 5u * 1500);
    BOOST_TEST(end.octets == 5u * 1500 * 28);
    BOOST_TEST(end.start_ms == 10010u);
    BOOST_TEST(end.end_ms == 14900u);
    BOOST_TEST(end.peak_pps == 1500u);
    BOOST_TEST(std::fabs(double(end.sources) - 7500) <= 3 * SourceSketch::kStandardError * 7500);
    BOOST_TEST(m.stats().started.get() == 1u);
    BOOST_TEST(m.stats().ended.get() == 1u);
    BOOST_TEST(m.stats().active.get() == 0u);
}

BOOST_AUTO_TEST_CASE(merges_the_workers_of_one_interval) {
    // Each of two workers sees 600/s: neither alone crosses 1000/s.
    FloodMonitor m;
    m.init(flood_config());
    m.add(sample(kVictim, 3, 600, 0));
    m.add(sample(kVictim, 3, 600, 600));
    m.tick(4000 + FloodMonitor::kLateMs);
    BOOST_TEST_REQUIRE(m.events().size() == 1u);
    BOOST_TEST(m.events()[0].pps == 1200u);
    BOOST_TEST(std::fabs(double(m.events()[0].sources) - 1200) <= 3 * SourceSketch::kStandardError * 1200);
}

BOOST_AUTO_TEST_CASE(one_worker_alone_below_the_rate_is_no_flood) {
    FloodMonitor m;
    m.init(flood_config());
    m.add(sample(kVictim, 3, 600, 0));
    m.tick(4000 + FloodMonitor::kLateMs);
    BOOST_TEST(m.events().empty());
    m.finish(5000);
    BOOST_TEST(m.events().empty());
    BOOST_TEST(m.stats().started.get() == 0u);
}

BOOST_AUTO_TEST_CASE(few_sources_is_no_flood) {
    // 5,000 new conversations a second from 20 hosts: a busy pinger, not a spoofed flood.
    FloodMonitor m;
    m.init(flood_config());
    FloodSample s = sample(kVictim, 3, 20, 0);
    s.conversations = 5000;
    m.add(s);
    m.tick(4000 + FloodMonitor::kLateMs);
    BOOST_TEST(m.events().empty());
}

BOOST_AUTO_TEST_CASE(finish_decides_the_last_interval_and_ends_every_flood) {
    FloodMonitor m;
    m.init(flood_config());
    m.add(sample(kVictim, 8, 5000, 0));
    m.finish(8600);
    BOOST_TEST_REQUIRE(m.events().size() == 2u);
    BOOST_TEST((m.events()[0].kind == FloodEvent::Kind::kStart));
    BOOST_TEST((m.events()[1].kind == FloodEvent::Kind::kEnd));
    BOOST_TEST(m.events()[1].packets == 5000u);
    BOOST_TEST(m.stats().active.get() == 0u);
}

BOOST_AUTO_TEST_CASE(alerts_over_the_budget_are_counted_not_written) {
    Config c = flood_config();
    c.flood_alerts_per_second = 2;
    FloodMonitor m;
    m.init(c);
    for (uint32_t v = 0; v < 4; ++v) m.add(sample(kVictim + v, 3, 2000, v * 2000));
    m.tick(4000 + FloodMonitor::kLateMs);
    BOOST_TEST_REQUIRE(m.events().size() == 4u);
    size_t alerts = 0;
    for (const FloodEvent& e : m.events()) alerts += e.alert;
    BOOST_TEST(alerts == 2u);
    BOOST_TEST(m.stats().alerts_suppressed.get() == 2u);
    BOOST_TEST(m.stats().started.get() == 4u);
}

BOOST_AUTO_TEST_CASE(the_victim_table_is_bounded_and_counts_what_it_drops) {
    FloodMonitor m;
    m.init(flood_config());  // 4 victims
    for (uint32_t v = 0; v < 6; ++v) m.add(sample(kVictim + v, 3, 2000, v * 2000));
    BOOST_TEST(m.stats().victims_dropped.get() == 2u);
    m.tick(4000 + FloodMonitor::kLateMs);
    BOOST_TEST(count(m.events(), FloodEvent::Kind::kStart) == 4u);
    m.clear_events();
    // Once the floods end their entries are free again.
    m.finish(5000);
    BOOST_TEST(count(m.events(), FloodEvent::Kind::kEnd) == 4u);
    m.clear_events();
    m.add(sample(kVictim + 5, 9, 2000, 0));
    BOOST_TEST(m.stats().victims_dropped.get() == 2u);
    m.finish(10000);
    BOOST_TEST(count(m.events(), FloodEvent::Kind::kStart) == 1u);
}

BOOST_AUTO_TEST_CASE(a_later_sample_closes_the_open_interval) {
    // --pcap: one worker; the next interval's sample decides the previous.
    FloodMonitor m;
    m.init(flood_config());
    m.add(sample(kVictim, 3, 2000, 0));
    BOOST_TEST(m.events().empty());
    m.add(sample(kVictim, 4, 2000, 2000));
    BOOST_TEST_REQUIRE(m.events().size() == 1u);
    m.clear_events();
    // A gap of three silent intervals ends it when the next sample comes.
    m.add(sample(kVictim, 8, 10, 0));
    BOOST_TEST_REQUIRE(m.events().size() == 1u);
    BOOST_TEST((m.events()[0].kind == FloodEvent::Kind::kEnd));
    BOOST_TEST(m.events()[0].packets == 4000u);
}

BOOST_AUTO_TEST_CASE(the_second_before_the_crossing_is_the_floods_start) {
    // A flood that straddles a second boundary: 600 in one second (below
    // the rate), 2,000 in the next.
    FloodMonitor m;
    m.init(flood_config());
    m.add(sample(kVictim, 3, 600, 0));
    m.tick(4000 + FloodMonitor::kLateMs);
    BOOST_TEST(m.events().empty());
    m.add(sample(kVictim, 4, 2000, 600));
    m.tick(5000 + FloodMonitor::kLateMs);
    BOOST_TEST_REQUIRE(m.events().size() == 1u);
    BOOST_TEST(m.events()[0].start_ms == 3010u);
    BOOST_TEST(m.events()[0].pps == 2000u);  // the crossing second's rate
    m.clear_events();
    m.finish(6000);
    BOOST_TEST_REQUIRE(m.events().size() == 1u);
    BOOST_TEST(m.events()[0].packets == 2600u);
    BOOST_TEST(std::fabs(double(m.events()[0].sources) - 2600) <= 3 * SourceSketch::kStandardError * 2600);
}

BOOST_AUTO_TEST_CASE(an_older_second_below_the_rate_is_not_the_start) {
    FloodMonitor m;
    m.init(flood_config());
    m.add(sample(kVictim, 2, 600, 0));
    m.tick(3000 + FloodMonitor::kLateMs);
    m.tick(4000 + FloodMonitor::kLateMs);  // second 3: nothing; the candidate is forgotten
    m.add(sample(kVictim, 4, 2000, 600));
    m.finish(5000);
    BOOST_TEST_REQUIRE(m.events().size() == 2u);
    BOOST_TEST(m.events()[0].start_ms == 4010u);
    BOOST_TEST(m.events()[1].packets == 2000u);
}

BOOST_AUTO_TEST_CASE(a_heavy_victim_takes_a_light_candidates_entry_in_a_full_table) {
    FloodMonitor m;
    m.init(flood_config());  // 4 victims
    for (uint32_t v = 0; v < 4; ++v) m.add(sample(kVictim + v, 3, 200 + v, v * 1000));
    m.add(sample(kVictim + 9, 3, 5000, 10000));
    BOOST_TEST(m.stats().victims_dropped.get() == 1u);  // the lightest candidate's count
    m.add(sample(kVictim + 10, 3, 100, 20000));          // lighter than every candidate: dropped
    BOOST_TEST(m.stats().victims_dropped.get() == 2u);
    m.tick(4000 + FloodMonitor::kLateMs);
    BOOST_TEST_REQUIRE(m.events().size() == 1u);
    BOOST_TEST((m.events()[0].victim == victim_v4(kVictim + 9)));
}

BOOST_AUTO_TEST_CASE(off_when_flood_pps_is_zero) {
    Config c = flood_config();
    c.flood_pps = 0;
    FloodMonitor m;
    m.init(c);
    m.add(sample(kVictim, 3, 5000, 0));
    m.finish(9000);
    BOOST_TEST(m.events().empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(flood_json)

BOOST_AUTO_TEST_CASE(start_and_end_lines_say_flood_with_the_figures) {
    FloodEvent e;
    e.victim = victim_v4(kVictim);
    e.victim.vlan_id = 12;
    e.time_ms = 1796083202000;
    e.start_ms = 1796083201000;
    e.end_ms = 1796083201499;
    e.pps = 50000;
    e.bps = 11200000;
    e.sources = 51234;
    e.peak_pps = 50000;
    e.peak_bps = 11200000;
    e.packets = 50000;
    e.octets = 1400000;
    std::string line;
    format_flood_json(e, 0, line);
    BOOST_TEST(line ==
               "{\"time\":\"2026-12-01T00:00:02.000Z\",\"verdict\":\"flood\",\"event\":\"start\",\"victim\":\"192.0.2.1\","
               "\"family\":\"ipv4\",\"vlan\":12,\"pps\":50000,\"bps\":11200000,\"sources\":51234,"
               "\"start\":\"2026-12-01T00:00:01.000Z\",\"end\":\"2026-12-01T00:00:01.499Z\",\"peak_pps\":50000,"
               "\"peak_bps\":11200000,\"packets\":50000,\"bytes\":1400000,\"explanation\":\"50000 new ICMP conversations "
               "a second from about 51234 distinct sources, one packet each: a spoofed-source flood\"}\n");
    e.kind = FloodEvent::Kind::kEnd;
    line.clear();
    format_flood_json(e, 1000, line);  // the wall-clock offset moves every time
    BOOST_TEST(line.find("\"time\":\"2026-12-01T00:00:03.000Z\",\"verdict\":\"flood\",\"event\":\"end\"") == 1u);
    BOOST_TEST(line.find("\"start\":\"2026-12-01T00:00:02.000Z\",\"end\":\"2026-12-01T00:00:02.499Z\"") !=
               std::string::npos);
    BOOST_TEST(line.find("flood over: 50000 new conversations") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

