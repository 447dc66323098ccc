// probe/counters.hpp and probe/stats.cpp: every counter of the table reaches
// the --stats-json object (telemetry iterates the same table; the live-ports
// integration test compares its answer with the JSON), with its own value,
// and collect() sums the workers' counters into it.
#include <boost/test/unit_test.hpp>

#include <cinttypes>
#include <cstdio>
#include <set>
#include <string>

#include "probe/export_loop.hpp"
#include "probe/stats.hpp"
#include "probe/worker.hpp"
#include "tests/support/packet_builder.hpp"

using tests::support::PacketBuilder;

namespace {

// The value of "name" in a flat JSON object of numbers, or -1 when absent.
long long json_value(const std::string& json, const std::string& name) {
    const std::string key = "\"" + name + "\":";
    const size_t at = json.find(key);
    if (at == std::string::npos) return -1;
    return std::stoll(json.substr(at + key.size()));
}

size_t json_keys(const std::string& json) {
    size_t n = 0;
    for (size_t at = json.find("\":"); at != std::string::npos; at = json.find("\":", at + 2)) ++n;
    return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stats)

BOOST_AUTO_TEST_CASE(every_counter_of_the_table_is_in_the_json_with_its_own_value) {
    probe::RunStats s;
    s.have_xdp = true;
    uint64_t v = 100;
    for (const probe::CounterInfo& c : probe::kCounters) s.*c.field = v++;
    const std::string json = probe::stats_json(s);
    v = 100;
    std::set<std::string> names;
    for (const probe::CounterInfo& c : probe::kCounters) {
        BOOST_TEST_INFO(c.name);
        BOOST_TEST(json_value(json, c.name) == static_cast<long long>(v++));
        BOOST_TEST(names.insert(c.name).second);  // no name twice
        BOOST_TEST(std::string(c.description).size() > 0u);
    }
    BOOST_TEST(json_keys(json) == std::size(probe::kCounters) + 1);  // + elapsed_seconds
    BOOST_TEST(json.find("\"elapsed_seconds\":") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(xdp_counters_are_left_out_without_xdp) {
    probe::RunStats s;
    const std::string json = probe::stats_json(s);
    size_t xdp = 0;
    for (const probe::CounterInfo& c : probe::kCounters) {
        const bool is_xdp = c.source == probe::CounterSource::kXdp;
        xdp += is_xdp;
        BOOST_TEST_INFO(c.name);
        BOOST_TEST((json_value(json, c.name) == -1) == is_xdp);
    }
    BOOST_TEST(xdp == 3u);
}

BOOST_AUTO_TEST_CASE(collect_sums_the_workers_and_keeps_what_the_caller_set) {
    detect::Config detection;
    probe::WorkerSettings ws;
    ws.cache.capacity = 64;
    ws.detection = &detection;
    probe::Worker a(ws), b(ws);
    BOOST_REQUIRE(a.init().ok());
    BOOST_REQUIRE(b.init().ok());
    const auto frame = PacketBuilder{}
                           .ethernet()
                           .ipv4(tests::support::v4("192.0.2.1"), tests::support::v4("192.0.2.2"))
                           .icmp_echo(8, 1, 1)
                           .payload_counting(56)
                           .build();
    const auto tcp = PacketBuilder{}
                         .ethernet()
                         .ipv4(tests::support::v4("192.0.2.1"), tests::support::v4("192.0.2.2"))
                         .tcp(40000, 443)
                         .pad_to(60)
                         .build();
    a.handle(flowgen::LinkType::kEthernet, frame, 1000, 0);
    b.handle(flowgen::LinkType::kEthernet, frame, 1000, 0);
    b.handle(flowgen::LinkType::kEthernet, tcp, 1000, 0);
    probe::ExportLoop exporter;  // never opened: no collector, its counters are 0
    probe::RunStats s;
    s.nic_missed = 7;
    s.elapsed_seconds = 2.5;
    s.rx_packets = 1000;  // overwritten: collect() starts the worker sums from 0
    probe::Worker* workers[] = {&a, &b};
    probe::collect(workers, exporter, s);
    BOOST_TEST(s.rx_packets == 3u);
    BOOST_TEST(s.icmp_packets == 2u);
    BOOST_TEST(s.tcp_packets == 1u);
    BOOST_TEST(s.other_packets == 1u);
    BOOST_TEST(s.rx_bytes == 2 * frame.size() + tcp.size());
    BOOST_TEST(s.flows_created == 2u);
    BOOST_TEST(s.flows_active == 2u);
    BOOST_TEST(s.cache_slots == 128u);
    BOOST_TEST(s.records_exported == 0u);
    BOOST_TEST(s.nic_missed == 7u);
    BOOST_TEST(s.elapsed_seconds == 2.5);
}

BOOST_AUTO_TEST_SUITE_END()
