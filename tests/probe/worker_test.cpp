// probe::Worker: handle() on a burst of parsed frames must give exactly what
// it gives frame by frame: the same counters,
// the same conversation records in the same order (evictions included), the
// same detector verdicts. The burst path reorders work (all frames parsed and
// hashed first, then the cache), so this pins that the reordering is
// invisible: fragments, non-ICMP frames, malformed frames and evictions are
// mixed into the bursts on purpose.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "probe/worker.hpp"
#include "tests/support/packet_builder.hpp"

using tests::support::Ipv4Fields;
using tests::support::PacketBuilder;

namespace {

using Frame = std::vector<uint8_t>;

tests::support::Ipv4Address host(uint32_t i) {
    return {10, 9, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
}

// A mixed capture: echo conversations (more than the small cache holds, so
// some are evicted), ICMPv6 echoes, an ICMP error, IPv4 fragments of an echo
// (first, middle, last) and an orphan non-first fragment, TCP, UDP, ARP and
// truncated frames.
std::vector<Frame> mixed_frames() {
    std::vector<Frame> frames;
    std::mt19937 rng(11);
    const auto server = tests::support::v4("192.0.2.1");
    for (int round = 0; round < 6; ++round) {
        for (uint32_t c = 0; c < 150; ++c) {
            const uint16_t id = static_cast<uint16_t>(100 + c);
            const uint16_t seq = static_cast<uint16_t>(round);
            frames.push_back(PacketBuilder{}.ethernet().ipv4(host(c), server).icmp_echo(8, id, seq)
                                 .payload_counting(static_cast<size_t>(8 + rng() % 120)).build());
            if (rng() % 4 != 0)
                frames.push_back(PacketBuilder{}.ethernet().ipv4(server, host(c)).icmp_echo(0, id, seq)
                                     .payload_counting(56).build());
            switch (rng() % 8) {
            case 0:
                frames.push_back(PacketBuilder{}.ethernet().ipv4(host(c), server).tcp(40000, 443).pad_to(60).build());
                break;
            case 1:
                frames.push_back(PacketBuilder{}.ethernet().ipv4(server, host(c)).udp(53, 40000).payload_fill(30, 1)
                                     .build());
                break;
            case 2:
                frames.push_back(PacketBuilder{}.ethernet().ethertype(0x0806).payload_fill(28, 0).pad_to(60).build());
                break;
            case 3: {
                Frame f = PacketBuilder{}.ethernet().ipv4(host(c), server).icmp_echo(8, id, seq).build();
                f.resize(30);  // cut inside the IPv4 header
                frames.push_back(f);
                break;
            }
            case 4:
                frames.push_back(PacketBuilder{}.ethernet().ipv6(tests::support::v6("2001:db8::1"),
                                                                  tests::support::v6("2001:db8::2"))
                                     .icmpv6_echo(128, id, seq).payload_counting(32).build());
                break;
            case 5: {
                // An echo in three fragments, then a fragment whose first was never seen.
                // (Assigned, not designated: GCC 12 warns about the members
                // left to their default initialisers.)
                Ipv4Fields first, middle, last;
                first.identification = middle.identification = last.identification =
                    static_cast<uint16_t>(7000 + c);
                first.more_fragments = middle.more_fragments = true;
                middle.fragment_offset = 4;
                last.fragment_offset = 8;
                frames.push_back(PacketBuilder{}.ethernet().ipv4(host(c), server, first).icmp_echo(8, id, seq)
                                     .payload_counting(24).build());
                frames.push_back(PacketBuilder{}.ethernet().ipv4(host(c), server, middle).protocol(1)
                                     .payload_counting(32).build());
                frames.push_back(PacketBuilder{}.ethernet().ipv4(host(c), server, last).protocol(1)
                                     .payload_counting(16).build());
                Ipv4Fields orphan;
                orphan.identification = static_cast<uint16_t>(9000 + c);
                orphan.fragment_offset = 8;
                frames.push_back(PacketBuilder{}.ethernet().ipv4(host(c), server, orphan).protocol(1)
                                     .payload_counting(16).build());
                break;
            }
            case 6:
                // Destination unreachable quoting a UDP datagram.
                frames.push_back(PacketBuilder{}.ethernet().ipv4(server, host(c)).icmp(3, 3)
                                     .payload_counting(28).build());
                break;
            default:
                break;
            }
        }
    }
    return frames;
}

struct Run {
    std::unique_ptr<probe::Worker> worker;
    std::vector<flowgen::ConversationRecord> records;
    uint64_t alerts = 0;

    explicit Run(const detect::Config& detection, uint32_t capacity = 64, uint32_t initial_capacity = 0) {
        probe::WorkerSettings ws;
        ws.cache.capacity = capacity;  // 64 = 8 buckets: the 150+ conversations evict each other
        ws.cache.initial_capacity = initial_capacity;
        ws.cache.idle_timeout_ms = 2000;
        ws.detection = &detection;
        worker = std::make_unique<probe::Worker>(ws);
        BOOST_REQUIRE(worker->init().ok());
    }
    void drain() {
        flowgen::ConversationRecord r;
        while (worker->records().pop(r)) records.push_back(r);
        probe::AlertEvent a;
        while (worker->alerts().pop(a)) ++alerts;
    }
};

void check_same_record(const flowgen::ConversationRecord& a, const flowgen::ConversationRecord& b) {
    BOOST_TEST(a.flow_id == b.flow_id);
    BOOST_TEST(std::memcmp(a.initiator.bytes, b.initiator.bytes, 16) == 0);
    BOOST_TEST(std::memcmp(a.responder.bytes, b.responder.bytes, 16) == 0);
    BOOST_TEST(static_cast<int>(a.key_type) == static_cast<int>(b.key_type));
    BOOST_TEST(a.icmp_id == b.icmp_id);
    BOOST_TEST(static_cast<int>(a.end_reason) == static_cast<int>(b.end_reason));
    for (int d = 0; d < 2; ++d) {
        BOOST_TEST(a.dir[d].packets == b.dir[d].packets);
        BOOST_TEST(a.dir[d].octets == b.dir[d].octets);
        BOOST_TEST(a.dir[d].first_ms == b.dir[d].first_ms);
        BOOST_TEST(a.dir[d].last_ms == b.dir[d].last_ms);
        BOOST_TEST(a.dir[d].payload_octets == b.dir[d].payload_octets);
    }
    BOOST_TEST(a.detection.score == b.detection.score);
    BOOST_TEST(a.detection.reason_flags == b.detection.reason_flags);
    BOOST_TEST(static_cast<int>(a.detection.verdict) == static_cast<int>(b.detection.verdict));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(worker)

BOOST_AUTO_TEST_CASE(burst_handling_gives_exactly_what_frame_by_frame_handling_gives) {
    detect::Config detection;
    detection.patterns_path = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";
    const std::vector<Frame> frames = mixed_frames();
    Run single(detection), burst(detection);

    // Bursts of uneven sizes, including ones beyond a pass of the worker.
    const unsigned sizes[] = {1, 7, 32, 5, 100, 64, 3, 31, 300};
    uint64_t now = 1'764'128'000'000ULL;
    size_t at = 0;
    for (unsigned k = 0; at < frames.size(); ++k) {
        const size_t n = std::min<size_t>(sizes[k % std::size(sizes)], frames.size() - at);
        std::vector<probe::ParsedFrame> pf(n);
        for (size_t i = 0; i < n; ++i) {
            const Frame& f = frames[at + i];
            single.worker->handle(flowgen::LinkType::kEthernet, {f.data(), f.size()}, now, 2);
            probe::parse_into(pf[i], flowgen::LinkType::kEthernet, {f.data(), f.size()}, 2);
        }
        burst.worker->handle(pf.data(), static_cast<unsigned>(n), now);
        for (Run* r : {&single, &burst}) {
            r->worker->expire(now);
            r->drain();
        }
        at += n;
        now += 7 + (k % 3) * 400;  // time passes: some conversations go idle
    }
    for (Run* r : {&single, &burst}) {
        r->worker->flush(now, flowgen::EndReason::kForcedEnd);
        r->drain();
    }

    // The case is only meaningful if every path was exercised.
    const probe::WorkerStats& s = single.worker->stats();
    BOOST_TEST_REQUIRE(single.worker->cache_stats().evicted.get() > 0u);
    BOOST_TEST_REQUIRE(single.worker->cache_stats().exported_idle.get() > 0u);
    BOOST_TEST_REQUIRE(s.tcp_packets.get() > 0u);
    BOOST_TEST_REQUIRE(s.non_ip_packets.get() > 0u);
    BOOST_TEST_REQUIRE(s.malformed_packets.get() > 0u);
    BOOST_TEST_REQUIRE(s.unattributed_fragments.get() > 0u);
    BOOST_TEST(s.rx_packets.get() == frames.size());

    for (Run* r : {&burst}) {
        const probe::WorkerStats& t = r->worker->stats();
        BOOST_TEST(t.rx_packets.get() == s.rx_packets.get());
        BOOST_TEST(t.rx_bytes.get() == s.rx_bytes.get());
        BOOST_TEST(t.icmp_packets.get() == s.icmp_packets.get());
        BOOST_TEST(t.icmp_octets.get() == s.icmp_octets.get());
        BOOST_TEST(t.icmp_frame_bytes.get() == s.icmp_frame_bytes.get());
        BOOST_TEST(t.other_packets.get() == s.other_packets.get());
        BOOST_TEST(t.malformed_packets.get() == s.malformed_packets.get());
        BOOST_TEST(t.tcp_packets.get() == s.tcp_packets.get());
        BOOST_TEST(t.udp_packets.get() == s.udp_packets.get());
        BOOST_TEST(t.non_ip_packets.get() == s.non_ip_packets.get());
        BOOST_TEST(t.unattributed_fragments.get() == s.unattributed_fragments.get());
        BOOST_TEST(t.records_queued.get() == s.records_queued.get());
        BOOST_TEST(r->worker->cache_stats().created.get() == single.worker->cache_stats().created.get());
        BOOST_TEST(r->worker->cache_stats().evicted.get() == single.worker->cache_stats().evicted.get());
        BOOST_TEST(r->alerts == single.alerts);
        BOOST_TEST_REQUIRE(r->records.size() == single.records.size());
        for (size_t i = 0; i < single.records.size(); ++i) check_same_record(r->records[i], single.records[i]);
    }
}

BOOST_AUTO_TEST_CASE(a_growing_cache_carries_the_detector_state_along) {
    // The offline reader starts with a small table that doubles
    // (FlowCacheConfig::initial_capacity). Growth moves conversations to
    // new slots; their detector state must move with them, so the records
    // and verdicts equal those of a table allocated whole. Idle exports come
    // in slot order, which differs: records are compared by flow id.
    detect::Config detection;
    detection.patterns_path = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";
    const std::vector<Frame> frames = mixed_frames();
    Run whole(detection, 1u << 14), grown(detection, 1u << 14, 16);
    uint64_t now = 1'764'128'000'000ULL;
    for (size_t i = 0; i < frames.size(); ++i) {
        for (Run* r : {&whole, &grown}) {
            r->worker->handle(flowgen::LinkType::kEthernet, {frames[i].data(), frames[i].size()}, now, 2);
            if (i % 50 == 0) r->worker->expire_all_due(now);
            r->drain();
        }
        now += (i % 97 == 0) ? 900 : 1;
    }
    // The scan finds an idle conversation within a period of its timeout,
    // at a moment that depends on its slot: let every timeout pass (the
    // clock-jump path exports all as of when they were due), then flush.
    now += 60'000;
    for (Run* r : {&whole, &grown}) {
        r->worker->expire_all_due(now);
        r->worker->flush(now, flowgen::EndReason::kForcedEnd);
        r->drain();
    }
    BOOST_TEST_REQUIRE(grown.worker->cache_stats().grown.get() >= 3u);
    BOOST_TEST(grown.worker->cache_stats().evicted.get() == 0u);
    BOOST_TEST(whole.worker->cache_stats().grown.get() == 0u);
    BOOST_TEST(grown.alerts == whole.alerts);
    uint32_t flagged = 0;
    for (const auto& r : whole.records) flagged += r.detection.reason_flags != 0;
    BOOST_TEST_REQUIRE(flagged > 0u);  // the verdicts compared below are not all empty
    auto by_flow = [](const flowgen::ConversationRecord& a, const flowgen::ConversationRecord& b) {
        return a.flow_id < b.flow_id || (a.flow_id == b.flow_id && a.dir[0].first_ms < b.dir[0].first_ms);
    };
    std::sort(whole.records.begin(), whole.records.end(), by_flow);
    std::sort(grown.records.begin(), grown.records.end(), by_flow);
    BOOST_TEST_REQUIRE(grown.records.size() == whole.records.size());
    for (size_t i = 0; i < whole.records.size(); ++i) check_same_record(grown.records[i], whole.records[i]);
}

BOOST_AUTO_TEST_CASE(a_double_mirror_counts_once_frame_by_frame_and_in_a_burst_with_its_encapsulation_counters) {
    detect::Config detection;
    detection.patterns_path = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";
    // 20 echo requests, each delivered twice: in VXLAN from one mirror
    // source and in ERSPAN II from another, one router hop later (TTL - 1).
    std::vector<Frame> frames;
    for (uint16_t seq = 0; seq < 20; ++seq) {
        for (int copy = 0; copy < 2; ++copy) {
            PacketBuilder b;
            b.ethernet().ipv4(tests::support::v4("198.18.0.1"), tests::support::v4("198.18.0.2"));
            if (copy == 0) b.udp(40000, 4789).vxlan(7).ethernet();
            else b.gre(std::nullopt, seq).erspan2(5).ethernet();
            Ipv4Fields inner;
            inner.ttl = static_cast<uint8_t>(64 - copy);
            b.ipv4(host(1), tests::support::v4("192.0.2.1"), inner).icmp_echo(8, 0x77, seq).payload_counting(56);
            frames.push_back(b.with_checksums().build());
        }
    }
    // A VXLAN header cut short (the IP and UDP lengths agree with the frame).
    frames.push_back(PacketBuilder{}.ethernet().ipv4(tests::support::v4("198.18.0.1"), tests::support::v4("198.18.0.2"))
                         .udp(40000, 4789).payload_fill(4, 0x08).build());
    Run single(detection), burst(detection);
    const uint64_t now = 1'764'128'000'000ULL;
    std::vector<probe::ParsedFrame> pf(frames.size());
    for (size_t i = 0; i < frames.size(); ++i) {
        single.worker->handle(flowgen::LinkType::kEthernet, {frames[i].data(), frames[i].size()}, now, 0);
        probe::parse_into(pf[i], flowgen::LinkType::kEthernet, {frames[i].data(), frames[i].size()}, 0, 0,
                          burst.worker->parse_options());
    }
    burst.worker->handle(pf.data(), static_cast<unsigned>(pf.size()), now);
    for (Run* r : {&single, &burst}) {
        const probe::WorkerStats& t = r->worker->stats();
        BOOST_TEST(t.rx_packets.get() == 41u);
        BOOST_TEST(t.icmp_packets.get() == 20u);
        BOOST_TEST(t.mirror_duplicates.get() == 20u);
        BOOST_TEST(t.malformed_packets.get() == 1u);
        BOOST_TEST(t.decap_vxlan_packets.get() == 21u);
        BOOST_TEST(t.decap_vxlan_malformed.get() == 1u);
        BOOST_TEST(t.decap_erspan2_packets.get() == 20u);
        BOOST_TEST(t.decap_gre_packets.get() == 0u);
        BOOST_TEST(t.rx_packets.get() ==
                   t.icmp_packets.get() + t.other_packets.get() + t.malformed_packets.get() + t.mirror_duplicates.get());
    }
}

// --fold-above through the worker: one-packet conversations past the
// threshold of a second leave as aggregates (when they are evicted, when
// their second ends at expire(), at flush), and what leaves the worker adds
// up to exactly what came in.
BOOST_AUTO_TEST_CASE(one_packet_conversations_past_the_threshold_fold_with_exact_totals) {
    detect::Config detection;
    detection.patterns_path = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";
    probe::WorkerSettings ws;
    ws.cache.capacity = 64;  // the flood evicts as it goes
    ws.detection = &detection;
    ws.fold = {100, 32};
    probe::Worker worker(ws);
    BOOST_REQUIRE(worker.init().ok());
    std::vector<flowgen::ConversationRecord> records;
    auto drain = [&] {
        flowgen::ConversationRecord r;
        while (worker.records().pop(r)) records.push_back(r);
        probe::AlertEvent a;
        while (worker.alerts().pop(a)) {
        }
    };
    std::mt19937 rng(5);
    const auto victim = tests::support::v4("192.0.2.1");
    const auto client = tests::support::v4("198.51.100.9");
    uint64_t now = 1'764'128'000'000ULL;
    for (int i = 0; i < 3000; ++i) {  // 3,000 packets in one second
        now += i % 4 == 0;  // 750 ms: the second has not ended yet
        const uint32_t src = rng();
        const tests::support::Ipv4Address a{uint8_t(src >> 24), uint8_t(src >> 16), uint8_t(src >> 8), uint8_t(src)};
        const Frame f = PacketBuilder{}.ethernet().ipv4(a, victim).icmp_echo(8, uint16_t(i), 1)
                            .payload_counting(size_t(rng() % 64)).build();
        worker.handle(flowgen::LinkType::kEthernet, {f.data(), f.size()}, now, 1);
        if (i % 500 == 0) {  // an answered ping now and then: two packets, never folded
            const Frame q = PacketBuilder{}.ethernet().ipv4(client, victim).icmp_echo(8, uint16_t(i), 1).build();
            const Frame r = PacketBuilder{}.ethernet().ipv4(victim, client).icmp_echo(0, uint16_t(i), 1).build();
            worker.handle(flowgen::LinkType::kEthernet, {q.data(), q.size()}, now, 1);
            worker.handle(flowgen::LinkType::kEthernet, {r.data(), r.size()}, now, 1);
        }
        worker.expire(now);
        drain();
    }
    const probe::WorkerStats& s = worker.stats();
    BOOST_TEST_REQUIRE(s.singletons_folded.get() > 0u);
    const uint64_t aggregates_before = s.aggregate_records.get();
    // The second ends: its aggregates leave at the next expire(), no packet needed.
    worker.expire(now + 1000);
    drain();
    BOOST_TEST(s.aggregate_records.get() > aggregates_before);
    worker.flush(now + 1000, flowgen::EndReason::kForcedEnd);
    drain();

    uint64_t packets = 0, octets = 0, conversations = 0, folded = 0, aggregates = 0, singles = 0, pings = 0;
    for (const flowgen::ConversationRecord& r : records) {
        packets += r.dir[0].packets + r.dir[1].packets;
        octets += r.dir[0].octets + r.dir[1].octets;
        conversations += r.flow_count;
        if (r.is_aggregate()) {
            ++aggregates;
            folded += r.flow_count;
            BOOST_TEST(r.detection.verdict == 0);
        } else if (r.dir[0].packets + r.dir[1].packets == 1) {
            ++singles;
        } else {
            ++pings;
        }
    }
    BOOST_TEST(packets == s.icmp_packets.get());
    BOOST_TEST(octets == s.icmp_octets.get());
    BOOST_TEST(conversations == worker.cache_stats().created.get());
    BOOST_TEST(folded == s.singletons_folded.get());
    BOOST_TEST(aggregates == s.aggregate_records.get());
    BOOST_TEST(records.size() == s.records_queued.get());
    BOOST_TEST(pings == 6u);
    // 100 singles one by one in the flood's second, at most 100 more in the
    // next (the flush): the rest is folded.
    BOOST_TEST(singles <= 200u);
    BOOST_TEST(records.size() < 3000u / 4);
}

// A one-packet conversation that alerted keeps its own record (and its
// verdict in IPFIX) even while one-packet conversations are being folded.
BOOST_AUTO_TEST_CASE(an_alerted_one_packet_conversation_is_never_folded) {
    detect::Config detection;
    detection.patterns_path = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";
    detection.defer_above = 0;  // inspect every first packet: the alert comes from the first
    probe::WorkerSettings ws;
    ws.cache.capacity = 64;
    ws.detection = &detection;
    ws.fold = {1, 16};
    probe::Worker worker(ws);
    BOOST_REQUIRE(worker.init().ok());
    std::vector<flowgen::ConversationRecord> records;
    std::mt19937 rng(9);
    const auto victim = tests::support::v4("192.0.2.1");
    uint64_t now = 1'764'128'000'000ULL;
    // ptunnel's 28-byte header (magic 0xD5200880) and some data, in one request.
    std::vector<uint8_t> ptunnel = {0xD5, 0x20, 0x08, 0x80, 10, 0, 0, 1, 0, 0, 0, 22, 0x40, 0, 0, 1,
                                    0, 0, 0, 0, 0, 0, 0, 16, 0, 1, 0x42, 0x42};
    for (int i = 0; i < 16; ++i) ptunnel.push_back(static_cast<uint8_t>(rng()));
    for (int i = 0; i < 400; ++i) {
        const uint32_t src = rng();
        const tests::support::Ipv4Address a{uint8_t(src >> 24), uint8_t(src >> 16), uint8_t(src >> 8), uint8_t(src)};
        const Frame f = i == 200 ? PacketBuilder{}.ethernet().ipv4(tests::support::v4("198.51.100.7"), victim)
                                       .icmp_echo(8, 4242, 1).payload(ptunnel).build()
                                 : PacketBuilder{}.ethernet().ipv4(a, victim).icmp_echo(8, uint16_t(i), 1).build();
        worker.handle(flowgen::LinkType::kEthernet, {f.data(), f.size()}, now, 1);
        worker.expire(now);
    }
    worker.flush(now, flowgen::EndReason::kForcedEnd);
    flowgen::ConversationRecord r;
    while (worker.records().pop(r)) records.push_back(r);
    BOOST_TEST_REQUIRE(worker.stats().alerts.get() == 1u);
    BOOST_TEST_REQUIRE(worker.stats().singletons_folded.get() > 300u);
    int tunnel_records = 0;
    for (const auto& rec : records)
        if (!rec.is_aggregate() && rec.initiator.bytes[0] == 198 && rec.initiator.bytes[1] == 51 &&
            rec.initiator.bytes[2] == 100 && rec.initiator.bytes[3] == 7) {
            ++tunnel_records;
            BOOST_TEST(rec.detection.verdict == 2);
        }
    BOOST_TEST(tunnel_records == 1);
}


BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(worker_directions)

// Pinned because tests/fuzz/worker_fuzz relies on it: the initiator is the
// sender of the first packet, except between equal addresses, where only
// the type can tell the request's sender (FlowCache::update): a reply seen
// first there is direction 1, and active-timeout slices may start with
// either direction.
BOOST_AUTO_TEST_CASE(a_reply_seen_first_is_direction_0_unless_both_addresses_are_equal) {
    detect::Config detection;
    detection.patterns_path = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";
    Run run(detection);
    const auto a = tests::support::v4("198.51.100.7"), b = tests::support::v4("198.51.100.8");
    const Frame reply = PacketBuilder{}.ethernet().ipv4(a, b).icmp_echo(0, 0x42, 1).payload_counting(8).build();
    const Frame self = PacketBuilder{}.ethernet().ipv4(a, a).icmp_echo(0, 0x43, 1).payload_counting(8).build();
    const uint64_t now = 1'764'128'000'000ULL;
    run.worker->handle(flowgen::LinkType::kEthernet, {reply.data(), reply.size()}, now, 0);
    run.worker->handle(flowgen::LinkType::kEthernet, {self.data(), self.size()}, now, 0);
    run.worker->flush(now + 1, flowgen::EndReason::kForcedEnd);
    run.drain();
    BOOST_REQUIRE(run.records.size() == 2u);
    for (const auto& r : run.records) {
        BOOST_TEST_CONTEXT("icmp id " << r.icmp_id) {
            const bool equal = r.initiator == r.responder;
            BOOST_TEST(r.dir[0].packets == (equal ? 0u : 1u));
            BOOST_TEST(r.dir[1].packets == (equal ? 1u : 0u));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
