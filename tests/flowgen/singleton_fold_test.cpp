// SingletonFold: one-packet conversations past the threshold of a second are
// folded into aggregates with exact totals, a bounded number of records per
// second, and coarser keys when the table is full.
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <map>
#include <random>
#include <tuple>
#include <vector>

#include "flowgen/singleton_fold.hpp"

using namespace flowgen;

namespace {

constexpr uint64_t kT0 = 1700000000000;  // ms, the start of a second

IpAddress v4(uint32_t a) {
    IpAddress x{};
    x.bytes[0] = uint8_t(a >> 24), x.bytes[1] = uint8_t(a >> 16), x.bytes[2] = uint8_t(a >> 8), x.bytes[3] = uint8_t(a);
    return x;
}

// One echo request of `ip_length` bytes from `src` to `dst` at `t`, ended
// by eviction: what a spoofed flood packet becomes.
ConversationRecord single(IpAddress src, IpAddress dst, uint64_t t, uint16_t ip_length = 84,
                          Family family = Family::kIpv4) {
    ConversationRecord r;
    r.initiator = src;
    r.responder = dst;
    r.family = family;
    r.key_type = family == Family::kIpv6 ? 128 : 8;
    r.icmp_id = static_cast<uint16_t>(t);
    r.end_reason = EndReason::kLackOfResources;
    r.ingress_port = 1;
    r.flow_id = t;
    const uint16_t payload = static_cast<uint16_t>(ip_length - 28);
    r.dir[0] = DirectionCounters{ip_length, 1, t, t, ip_length, ip_length, r.key_type, 0, payload, payload, payload};
    return r;
}

struct Totals {
    uint64_t packets = 0, octets = 0, flows = 0, payload = 0;
    void add(const ConversationRecord& r) {
        packets += r.dir[0].packets + r.dir[1].packets;
        octets += r.dir[0].octets + r.dir[1].octets;
        payload += r.dir[0].payload_octets + r.dir[1].payload_octets;
        flows += r.flow_count;
    }
};

// What reaches the exporter: the records offer() left to export and the
// aggregates it emitted, each tagged with the second it left in.
struct Out {
    std::vector<ConversationRecord> records;
    std::vector<uint64_t> second;
    Totals totals;
    uint64_t now_second = 0;
    void operator()(const ConversationRecord& r) {
        records.push_back(r);
        second.push_back(now_second);
        totals.add(r);
    }
};

void offer(SingletonFold& f, Out& out, const ConversationRecord& r, uint64_t now_ms) {
    out.now_second = now_ms / 1000;
    if (f.offer(r, now_ms, out) == FoldOutcome::kExport) out(r);
}

void init(SingletonFold& f, uint32_t singles, uint32_t entries) {
    const Status s = f.init({singles, entries});
    BOOST_TEST_REQUIRE(s.ok(), s.message());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(singleton_fold)

BOOST_AUTO_TEST_CASE(random_sources_fold_with_exact_totals_and_bounded_records) {
    SingletonFold f;
    BOOST_TEST_REQUIRE(f.init({100, 64}).ok());
    std::mt19937 rng(7);
    Out out;
    Totals in;
    const IpAddress victim = v4(0xC6336407);  // 198.51.100.7
    // 3 s of a 20,000 packets/s flood from random sources at one victim,
    // random sizes; then the sources of a few /24s repeat.
    constexpr int kPackets = 60000;
    for (int i = 0; i < kPackets; ++i) {
        const uint64_t t = kT0 + uint64_t(i) * 3000 / kPackets;
        const uint32_t src = i % 4 == 0 ? 0xCB007100u | (rng() & 0x3FF) : rng();  // 203.0.113.x .. 203.0.116.x
        const ConversationRecord r = single(v4(src), victim, t, uint16_t(28 + rng() % 1400));
        in.add(r);
        offer(f, out, r, t);
        if (i % 64 == 0) {
            out.now_second = t / 1000;
            f.close_second(t, out);
        }
    }
    out.now_second = 99;
    f.flush(out);
    BOOST_TEST(f.held() == 0u);
    BOOST_TEST(out.totals.packets == in.packets);
    BOOST_TEST(out.totals.octets == in.octets);
    BOOST_TEST(out.totals.payload == in.payload);
    BOOST_TEST(out.totals.flows == uint64_t(kPackets));
    // Records per second: at most 100 singles + 64 entries + 2 catch-alls.
    std::map<uint64_t, uint64_t> per_second;
    uint64_t aggregates = 0, singles = 0;
    for (size_t i = 0; i < out.records.size(); ++i) {
        ++per_second[out.second[i]];
        const ConversationRecord& r = out.records[i];
        if (r.is_aggregate()) {
            ++aggregates;
            BOOST_TEST(r.dir[1].packets == 0u);
            BOOST_TEST(r.dir[0].packets == uint64_t(r.flow_count));
            BOOST_TEST(r.dir[0].first_ms <= r.dir[0].last_ms);
        } else {
            ++singles;
        }
    }
    for (const auto& [second, n] : per_second) BOOST_TEST(n <= f.records_per_second_bound(), "second " << second);
    BOOST_TEST(singles == 300u);  // 100 in each of the 3 seconds
    BOOST_TEST(aggregates > 0u);
    BOOST_TEST(out.records.size() < size_t(kPackets) / 50);
}

BOOST_AUTO_TEST_CASE(below_the_threshold_nothing_is_folded) {
    SingletonFold f;
    init(f, 1000, 64);
    Out out;
    for (int s = 0; s < 3; ++s)
        for (int i = 0; i < 1000; ++i) offer(f, out, single(v4(0x0A000000u + uint32_t(i)), v4(0x0A010101), kT0 + s * 1000 + i % 1000), kT0 + s * 1000 + i % 1000);
    f.flush(out);
    BOOST_TEST(out.records.size() == 3000u);
    for (const ConversationRecord& r : out.records) BOOST_TEST(!r.is_aggregate());
}

BOOST_AUTO_TEST_CASE(never_folds_when_off_or_for_conversations_of_more_than_one_packet) {
    SingletonFold off;
    init(off, 0, 0);
    BOOST_TEST(!off.enabled());
    Out out;
    for (int i = 0; i < 100; ++i) offer(off, out, single(v4(uint32_t(i)), v4(1), kT0), kT0);
    BOOST_TEST(out.records.size() == 100u);

    SingletonFold f;
    init(f, 1, 16);
    Out out2;
    ConversationRecord ping = single(v4(0x0A000001), v4(0x0A000002), kT0);
    ping.dir[1] = ping.dir[0];  // answered: two packets
    ConversationRecord slice = single(v4(0x0A000003), v4(0x0A000002), kT0);
    slice.end_reason = EndReason::kActiveTimeout;  // a slice of a longer conversation
    BOOST_TEST(!SingletonFold::is_singleton(ping));
    BOOST_TEST(!SingletonFold::is_singleton(slice));
    for (int i = 0; i < 10; ++i) {
        offer(f, out2, ping, kT0);
        offer(f, out2, slice, kT0);
    }
    BOOST_TEST(out2.records.size() == 20u);
}

BOOST_AUTO_TEST_CASE(aggregates_are_keyed_by_destination_source_prefix_type_and_segment) {
    SingletonFold f;
    init(f, 1, 64);
    Out out;
    offer(f, out, single(v4(0x01010101), v4(0x02020202), kT0), kT0);  // the one single
    // Four /24 sources x two victims, five packets each, 100 bytes.
    for (uint32_t p = 0; p < 4; ++p)
        for (uint32_t v = 0; v < 2; ++v)
            for (uint32_t k = 0; k < 5; ++k)
                offer(f, out, single(v4(0xC0000200u + (p << 8) + k * 7), v4(0xC6336400u + v), kT0 + 10 + k, 100),
                      kT0 + 10 + k);
    // Same source and victim on VLAN 20: its own aggregate.
    ConversationRecord tagged = single(v4(0xC0000201), v4(0xC6336400), kT0 + 20, 100);
    tagged.vlan_id = 20;
    offer(f, out, tagged, kT0 + 20);
    BOOST_TEST(out.records.size() == 1u);  // nothing before the second ends
    out.now_second = 1;
    f.close_second(kT0 + 1000, out);
    BOOST_TEST_REQUIRE(out.records.size() == 1u + 8u + 1u);
    for (size_t i = 1; i < 9; ++i) {
        const ConversationRecord& r = out.records[i];
        BOOST_TEST(r.is_aggregate());
        BOOST_TEST(r.source_prefix_length == 24);
        BOOST_TEST(r.destination_prefix_length == 32);
        BOOST_TEST(r.flow_count == 5u);
        BOOST_TEST(r.dir[0].packets == 5u);
        BOOST_TEST(r.dir[0].octets == 500u);
        BOOST_TEST(r.initiator.bytes[3] == 0);  // the network address of the /24
        BOOST_TEST(r.dir[0].first_ms == kT0 + 10);
        BOOST_TEST(r.dir[0].last_ms == kT0 + 14);
        BOOST_TEST(r.dir[0].icmp_type == 8);
        BOOST_TEST(r.flow_id == 0u);
    }
    BOOST_TEST(out.records[9].vlan_id == 20);
    BOOST_TEST(out.records[9].flow_count == 1u);
    BOOST_TEST(f.held() == 0u);
}

BOOST_AUTO_TEST_CASE(a_full_table_coarsens_to_the_destination_then_to_a_catch_all) {
    // 16 entries: 12 for prefix keys, then destination keys up to 16.
    SingletonFold f;
    init(f, 1, 16);
    Out out;
    offer(f, out, single(v4(0x01010101), v4(0x02020202), kT0), kT0);
    std::vector<FoldOutcome> outcomes;
    // 20 /24 sources at victim A: 12 prefix entries, then A's /0 entry.
    for (uint32_t p = 0; p < 20; ++p)
        outcomes.push_back(f.offer(single(v4(0x0A000001u + (p << 8)), v4(0xC6336401), kT0 + 1), kT0 + 1, out));
    for (uint32_t p = 0; p < 12; ++p) BOOST_TEST((outcomes[p] == FoldOutcome::kFolded));
    for (uint32_t p = 12; p < 20; ++p) BOOST_TEST((outcomes[p] == FoldOutcome::kFoldedCoarse));
    // 10 more victims from new /24s: 3 destination entries fit (16 in all), the rest go to the catch-all.
    outcomes.clear();
    for (uint32_t v = 0; v < 10; ++v)
        outcomes.push_back(f.offer(single(v4(0x0B000001u + (v << 8)), v4(0xC6336410u + v), kT0 + 2), kT0 + 2, out));
    for (uint32_t v = 0; v < 3; ++v) BOOST_TEST((outcomes[v] == FoldOutcome::kFoldedCoarse));
    for (uint32_t v = 3; v < 10; ++v) BOOST_TEST((outcomes[v] == FoldOutcome::kFoldedCatchAll));
    // IPv6 has a catch-all of its own.
    IpAddress s6{}, d6{};
    s6.bytes[0] = 0x20, s6.bytes[1] = 0x01, s6.bytes[15] = 1;
    d6.bytes[0] = 0x20, d6.bytes[1] = 0x01, d6.bytes[15] = 2;
    BOOST_TEST((f.offer(single(s6, d6, kT0 + 3, 104, Family::kIpv6), kT0 + 3, out) == FoldOutcome::kFoldedCatchAll));
    BOOST_TEST(f.held() == 16u + 2u);
    out.now_second = 9;
    f.flush(out);
    BOOST_TEST_REQUIRE(out.records.size() == 1u + 16u + 2u);
    const ConversationRecord& coarse_a = out.records[13];
    BOOST_TEST(coarse_a.source_prefix_length == 0);
    BOOST_TEST(coarse_a.destination_prefix_length == 32);
    BOOST_TEST(coarse_a.flow_count == 8u);
    const IpAddress zero{};
    BOOST_TEST((coarse_a.initiator == zero));
    const ConversationRecord& all4 = out.records[17];
    BOOST_TEST((all4.family == Family::kIpv4));
    BOOST_TEST(all4.source_prefix_length == 0);
    BOOST_TEST(all4.destination_prefix_length == 0);
    BOOST_TEST(all4.flow_count == 7u);
    BOOST_TEST((all4.responder == zero));
    const ConversationRecord& all6 = out.records[18];
    BOOST_TEST((all6.family == Family::kIpv6));
    BOOST_TEST(all6.flow_count == 1u);
    BOOST_TEST(all6.dir[0].octets == 104u);
    BOOST_TEST(out.totals.flows == 1u + 20u + 10u + 1u);
}

BOOST_AUTO_TEST_CASE(ipv6_sources_fold_by_64) {
    SingletonFold f;
    init(f, 1, 16);
    Out out;
    IpAddress d6{};
    d6.bytes[0] = 0x20, d6.bytes[1] = 0x01, d6.bytes[2] = 0x0d, d6.bytes[3] = 0xb8, d6.bytes[15] = 7;
    for (uint8_t i = 0; i < 9; ++i) {
        IpAddress s6 = d6;
        s6.bytes[7] = 1;                // one /64 ...
        s6.bytes[8] = i, s6.bytes[15] = i;  // ... many interface ids
        offer(f, out, single(s6, d6, kT0 + i, 104, Family::kIpv6), kT0 + i);
    }
    f.flush(out);
    BOOST_TEST_REQUIRE(out.records.size() == 2u);
    const ConversationRecord& a = out.records[1];
    BOOST_TEST(a.source_prefix_length == 64);
    BOOST_TEST(a.destination_prefix_length == 128);
    BOOST_TEST(a.flow_count == 8u);
    BOOST_TEST(a.initiator.bytes[7] == 1);
    BOOST_TEST(a.initiator.bytes[8] == 0);
    BOOST_TEST(a.initiator.bytes[15] == 0);
}

BOOST_AUTO_TEST_CASE(a_new_second_brings_a_new_budget_and_emits_the_last_ones_aggregates_first) {
    SingletonFold f;
    init(f, 2, 16);
    Out out;
    for (int i = 0; i < 5; ++i) offer(f, out, single(v4(0x0A000001u + uint32_t(i)), v4(0x0A0000FF), kT0 + 500), kT0 + 500);
    BOOST_TEST(out.records.size() == 2u);
    offer(f, out, single(v4(0x0A000001), v4(0x0A0000FF), kT0 + 1200), kT0 + 1200);
    BOOST_TEST_REQUIRE(out.records.size() == 4u);
    BOOST_TEST(out.records[2].is_aggregate());
    BOOST_TEST(out.records[2].flow_count == 3u);
    BOOST_TEST(!out.records[3].is_aggregate());  // the new second's first single
}

BOOST_AUTO_TEST_CASE(table_size_is_validated) {
    BOOST_TEST(!validate(SingletonFoldConfig{1000, 8}).ok());
    BOOST_TEST(!validate(SingletonFoldConfig{1000, kMaxFoldEntries + 1}).ok());
    BOOST_TEST(validate(SingletonFoldConfig{1000, 16}).ok());
    BOOST_TEST(validate(SingletonFoldConfig{0, 0}).ok());  // off: no table
}

BOOST_AUTO_TEST_SUITE_END()
