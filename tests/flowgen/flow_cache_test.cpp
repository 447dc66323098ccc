// Flow cache behaviour with a controlled clock: grouping, directions,
// eviction, idle/active timeouts and their lateness, conservation of counts.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "flowgen/flow_cache.hpp"
#include "tests/support/printers.hpp"

using namespace flowgen;

namespace {

IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    IpAddress x{};
    x.bytes[0] = a;
    x.bytes[1] = b;
    x.bytes[2] = c;
    x.bytes[3] = d;
    return x;
}

PacketInfo echo(IpAddress src, IpAddress dst, bool reply, uint16_t id, uint16_t payload = 56) {
    PacketInfo p;
    p.src = src;
    p.dst = dst;
    p.family = Family::kIpv4;
    p.l4_protocol = kProtoIcmp;
    p.icmp_type = reply ? 0 : 8;
    p.icmp_id = id;
    p.has_icmp_header = true;
    p.ip_length = 20 + 8 + payload;
    p.payload_wire_length = payload;
    return p;
}

struct Collected {
    std::vector<ConversationRecord> records;
    void operator()(const ConversationRecord& r, uint32_t) { records.push_back(r); }
};

struct Fixture {
    FlowCache cache;
    Collected out;
    FlowCache::Hit feed(const PacketInfo& p, uint64_t now_ms) {
        FlowKey key;
        const bool reply = make_key(p, key);
        return cache.update(key, reply, p, 3, now_ms, out);
    }
};

constexpr uint64_t kT0 = 1'700'000'000'000ULL;  // epoch ms

}  // namespace

BOOST_AUTO_TEST_SUITE(flow_cache)

BOOST_AUTO_TEST_CASE(request_and_reply_form_one_conversation_with_two_directions) {
    Fixture f;
    BOOST_REQUIRE(f.cache.init({.capacity = 64, .idle_timeout_ms = 1000, .active_timeout_ms = 60000}).ok());
    const auto a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
    auto h1 = f.feed(echo(a, b, false, 77), kT0);
    auto h2 = f.feed(echo(b, a, true, 77), kT0 + 1);
    auto h3 = f.feed(echo(a, b, false, 78), kT0 + 2);  // other identifier: other conversation
    BOOST_TEST(h1.created);
    BOOST_TEST(!h2.created);
    BOOST_TEST(h1.slot == h2.slot);
    BOOST_TEST(h1.dir == 0);
    BOOST_TEST(h2.dir == 1);
    BOOST_TEST(h3.created);
    BOOST_TEST(h3.slot != h1.slot);
    BOOST_TEST(f.cache.stats().active.get() == 2u);

    f.cache.flush_all(kT0 + 10, EndReason::kForcedEnd, f.out);
    BOOST_REQUIRE(f.out.records.size() == 2u);
    const ConversationRecord* r = nullptr;
    for (const auto& x : f.out.records)
        if (x.icmp_id == 77) r = &x;
    BOOST_REQUIRE(r);
    BOOST_TEST(r->initiator == a);
    BOOST_TEST(r->responder == b);
    BOOST_TEST(r->key_type == 8);
    BOOST_TEST(r->dir[0].packets == 1u);
    BOOST_TEST(r->dir[1].packets == 1u);
    BOOST_TEST(r->dir[0].icmp_type == 8);
    BOOST_TEST(r->dir[1].icmp_type == 0);
    BOOST_TEST(r->dir[0].octets == 84u);
    BOOST_TEST(r->dir[0].first_ms == kT0);
    BOOST_TEST(r->dir[1].first_ms == kT0 + 1);
    BOOST_TEST(r->dir[1].last_ms == kT0 + 1);
    BOOST_TEST(r->ingress_port == 3);
    BOOST_TEST(r->end_reason == EndReason::kForcedEnd);
    BOOST_TEST(f.cache.stats().active.get() == 0u);
}

BOOST_AUTO_TEST_CASE(ping_to_self_splits_directions_by_request_and_reply) {
    Fixture f;
    BOOST_REQUIRE(f.cache.init({.capacity = 8, .idle_timeout_ms = 1000, .active_timeout_ms = 60000}).ok());
    const auto lo = v4(127, 0, 0, 1);
    auto h1 = f.feed(echo(lo, lo, false, 5), kT0);
    auto h2 = f.feed(echo(lo, lo, true, 5), kT0);
    BOOST_TEST(h1.slot == h2.slot);
    BOOST_TEST(h1.dir == 0);
    BOOST_TEST(h2.dir == 1);
}

BOOST_AUTO_TEST_CASE(full_set_evicts_oldest_and_reports_lack_of_resources) {
    Fixture f;
    // Capacity 8 = one bucket of 8 ways: the ninth conversation must evict.
    BOOST_REQUIRE(f.cache.init({.capacity = 8, .idle_timeout_ms = 100000, .active_timeout_ms = 100000}).ok());
    const auto a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
    for (uint16_t id = 1; id <= 8; ++id) f.feed(echo(a, b, false, id), kT0 + id);
    f.feed(echo(a, b, false, 1), kT0 + 20);  // id 1 is now the most recent; id 2 the oldest
    BOOST_TEST(f.out.records.empty());
    auto h = f.feed(echo(a, b, false, 9), kT0 + 30);
    BOOST_TEST(h.created);
    BOOST_REQUIRE(f.out.records.size() == 1u);
    BOOST_TEST(f.out.records[0].icmp_id == 2);
    BOOST_TEST(f.out.records[0].end_reason == EndReason::kLackOfResources);
    BOOST_TEST(f.cache.stats().evicted.get() == 1u);
    BOOST_TEST(f.cache.stats().active.get() == 8u);
}

BOOST_AUTO_TEST_CASE(idle_conversation_is_exported_within_one_second_of_its_timeout) {
    Fixture f;
    constexpr uint32_t kIdle = 2000;
    BOOST_REQUIRE(f.cache.init({.capacity = 1u << 14, .idle_timeout_ms = kIdle, .active_timeout_ms = 600000}).ok());
    std::map<uint64_t, uint64_t> last_packet;  // flow id -> time of its last packet
    std::mt19937 rng(42);
    uint64_t now = kT0;
    // 3000 conversations send one packet each at scattered times over 3 s,
    // then go quiet; the clock moves in 7 ms steps, as a lightly loaded
    // lcore's would, and expire() is called at every step.
    std::vector<uint64_t> starts(3000);
    for (auto& t : starts) t = kT0 + (rng() % 3000);
    std::sort(starts.begin(), starts.end());
    std::map<uint64_t, uint64_t> exported_at;
    size_t next = 0;
    for (now = kT0; now < kT0 + 3000 + kIdle + 3000; now += 7) {
        for (; next < starts.size() && starts[next] <= now; ++next) {
            const int i = static_cast<int>(next);
            f.feed(echo(v4(10, 1, i >> 8, i & 0xff), v4(10, 2, 0, 1), false, static_cast<uint16_t>(i)), now);
        }
        const size_t before = f.out.records.size();
        f.cache.expire(now, f.out);
        for (size_t k = before; k < f.out.records.size(); ++k) exported_at[f.out.records[k].flow_id] = now;
    }
    BOOST_TEST(exported_at.size() == 3000u);
    uint64_t worst = 0;
    for (const auto& r : f.out.records) {
        BOOST_TEST(r.end_reason == EndReason::kIdleTimeout);
        const uint64_t deadline = r.dir[0].last_ms + kIdle;
        const uint64_t at = exported_at[r.flow_id];
        BOOST_TEST(at >= deadline);
        worst = std::max(worst, at - deadline);
    }
    BOOST_TEST(worst <= 1000u, "worst lateness " << worst << " ms");
    BOOST_TEST(f.cache.stats().active.get() == 0u);
}

BOOST_AUTO_TEST_CASE(active_timeout_exports_a_slice_and_the_conversation_continues) {
    Fixture f;
    BOOST_REQUIRE(f.cache.init({.capacity = 64, .idle_timeout_ms = 5000, .active_timeout_ms = 10000}).ok());
    const auto a = v4(192, 0, 2, 1), b = v4(198, 51, 100, 7);
    uint64_t now = kT0;
    uint32_t slot = 0;
    for (int i = 0; i < 30; ++i, now += 1000) {
        slot = f.feed(echo(a, b, false, 1), now).slot;
        f.feed(echo(b, a, true, 1), now + 1);
        f.cache.expire(now + 2, f.out);
    }
    f.cache.flush_all(now, EndReason::kForcedEnd, f.out);
    BOOST_REQUIRE(f.out.records.size() >= 3u);
    uint64_t requests = 0, replies = 0;
    for (size_t i = 0; i < f.out.records.size(); ++i) {
        const auto& r = f.out.records[i];
        BOOST_TEST(r.flow_id == f.out.records[0].flow_id);  // same conversation throughout
        BOOST_TEST(r.initiator == a);
        requests += r.dir[0].packets;
        replies += r.dir[1].packets;
        if (i + 1 < f.out.records.size()) {
            BOOST_TEST(r.end_reason == EndReason::kActiveTimeout);
            BOOST_TEST(r.dir[0].last_ms - r.dir[0].first_ms < 10000u + FlowCache::kScanPeriodMs + 1000);
            BOOST_TEST(f.out.records[i + 1].dir[0].first_ms > r.dir[0].last_ms);  // slices do not overlap
        }
    }
    BOOST_TEST(requests == 30u);
    BOOST_TEST(replies == 30u);
    (void)slot;
}

BOOST_AUTO_TEST_CASE(non_first_fragments_join_their_first_fragment_or_count_as_unattributed) {
    Fixture f;
    BOOST_REQUIRE(f.cache.init({.capacity = 64, .idle_timeout_ms = 5000, .active_timeout_ms = 10000}).ok());
    FragmentMap frags(64);
    const auto a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
    PacketInfo first = echo(a, b, false, 900, 1472);
    first.is_fragment = true;
    first.fragment_id = 0x1234;
    FlowKey key;
    make_key(first, key);
    frags.remember(first, key);
    auto h1 = f.cache.update(key, false, first, 0, kT0, f.out);

    PacketInfo later;
    later.src = a;
    later.dst = b;
    later.family = Family::kIpv4;
    later.l4_protocol = kProtoIcmp;
    later.is_fragment = true;
    later.fragment_id = 0x1234;
    later.ip_length = 1000;
    FlowKey k2;
    BOOST_TEST(frags.key_for(later, k2));
    auto h2 = f.cache.update(k2, false, later, 0, kT0 + 1, f.out);
    BOOST_TEST(h2.slot == h1.slot);

    later.fragment_id = 0x9999;  // its first fragment was never seen
    BOOST_TEST(!frags.key_for(later, k2));
    BOOST_TEST(k2.key_type == kUnattributedFragment);
    auto h3 = f.cache.update(k2, false, later, 0, kT0 + 2, f.out);
    BOOST_TEST(h3.created);

    f.cache.flush_all(kT0 + 3, EndReason::kForcedEnd, f.out);
    uint64_t packets = 0, octets = 0;
    for (const auto& r : f.out.records) {
        packets += r.dir[0].packets;
        octets += r.dir[0].octets;
    }
    BOOST_TEST(packets == 3u);
    BOOST_TEST(octets == (20u + 8 + 1472) + 1000 + 1000);
    // The unattributed one says its type is unknown (255/255), not 0/0 (an
    // echo reply to nfdump); the joined one keeps its echo type.
    unsigned unattributed = 0;
    for (const auto& r : f.out.records) {
        if (r.key_type == kUnattributedFragment) {
            ++unattributed;
            BOOST_TEST(r.dir[0].icmp_type == 255);
            BOOST_TEST(r.dir[0].icmp_code == 255);
        } else {
            BOOST_TEST(r.dir[0].icmp_type == 8);
        }
    }
    BOOST_TEST(unattributed == 1u);
}

BOOST_AUTO_TEST_CASE(every_packet_is_counted_in_exactly_one_record_under_churn) {
    Fixture f;
    BOOST_REQUIRE(f.cache.init({.capacity = 256, .idle_timeout_ms = 300, .active_timeout_ms = 1000}).ok());
    std::mt19937 rng(7);
    uint64_t fed_packets = 0, fed_octets = 0, now = kT0;
    for (int i = 0; i < 200000; ++i) {
        now += rng() % 3;
        const uint32_t host = rng() % 2000;  // far more conversations than slots: evictions
        const bool reply = rng() & 1;
        const auto a = v4(10, 9, host >> 8, host & 0xff), b = v4(10, 8, 0, 1);
        PacketInfo p = reply ? echo(b, a, true, host, rng() % 1400) : echo(a, b, false, host, rng() % 1400);
        f.feed(p, now);
        fed_packets += 1;
        fed_octets += p.ip_length;
        if (i % 16 == 0) f.cache.expire(now, f.out);
    }
    f.cache.flush_all(now, EndReason::kForcedEnd, f.out);
    uint64_t packets = 0, octets = 0;
    for (const auto& r : f.out.records)
        for (const auto& d : r.dir) {
            packets += d.packets;
            octets += d.octets;
        }
    BOOST_TEST(packets == fed_packets);
    BOOST_TEST(octets == fed_octets);
    const auto& s = f.cache.stats();
    BOOST_TEST(s.evicted.get() > 0u);
    BOOST_TEST(s.exported_idle.get() > 0u);
    BOOST_TEST(s.created.get() ==
               s.evicted.get() + s.exported_idle.get() + s.exported_forced.get() + s.ended_silent.get());
}

BOOST_AUTO_TEST_CASE(a_one_bucket_cache_still_expires_and_flushes) {
    // The smallest table (8 slots, a single bucket) once reported capacity
    // 0: nothing expired, nothing flushed, and expiry owed itself forever.
    Fixture f;
    BOOST_REQUIRE(f.cache.init({.capacity = 8, .idle_timeout_ms = 1000, .active_timeout_ms = 60000}).ok());
    BOOST_TEST(f.cache.capacity() == 8u);
    const auto a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
    for (uint16_t id = 1; id <= 3; ++id) f.feed(echo(a, b, false, id), kT0);
    f.cache.expire(kT0, f.out);
    // A long pause (a capture's clock jumps): one bounded pass catches up
    // and nothing stays owed.
    int calls = 0;
    do {
        f.cache.expire(kT0 + 3'600'000, f.out);
    } while (f.cache.expire_backlog() && ++calls < 1000);
    BOOST_TEST(calls < 1000);
    BOOST_TEST(f.out.records.size() == 3u);
    f.feed(echo(a, b, false, 9), kT0 + 3'600'001);
    BOOST_TEST(f.cache.flush_all(kT0 + 3'600'002, EndReason::kForcedEnd, f.out) == 1u);
    BOOST_TEST(f.out.records.size() == 4u);
    BOOST_TEST(f.cache.stats().active.get() == 0u);
}

BOOST_AUTO_TEST_CASE(a_pause_longer_than_49_days_ends_conversations_with_their_own_times) {
    // Stored times are 32-bit ms: a capture that pauses for 2^32 ms or more
    // must not merge a conversation with its namesake after the pause, nor
    // misdate it.
    Fixture f;
    BOOST_REQUIRE(f.cache.init({.capacity = 64, .idle_timeout_ms = 15000, .active_timeout_ms = 60000}).ok());
    const auto a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
    f.feed(echo(a, b, false, 7), kT0);
    f.feed(echo(b, a, true, 7), kT0 + 3);
    f.cache.expire(kT0 + 3, f.out);
    for (const uint64_t later : {kT0 + 60ULL * 86400 * 1000, kT0 + (1ULL << 32) + 5000}) {
        // The caller expires before accounting a packet at the new time.
        do f.cache.expire(later, f.out);
        while (f.cache.expire_backlog());
        BOOST_REQUIRE(f.out.records.size() == 1u);
        const auto& r = f.out.records[0];
        BOOST_TEST(r.end_reason == EndReason::kIdleTimeout);
        BOOST_TEST(r.dir[0].first_ms == kT0);
        BOOST_TEST(r.dir[1].last_ms == kT0 + 3);
        BOOST_TEST(f.feed(echo(a, b, false, 7), later).created);
        f.cache.flush_all(later, EndReason::kForcedEnd, f.out);
        BOOST_REQUIRE(f.out.records.size() == 2u);
        BOOST_TEST(f.out.records[1].dir[0].first_ms == later);
        BOOST_TEST(f.out.records[1].dir[0].packets == 1u);
        f.out.records.clear();
        // The same start again, on a fresh table, for the next jump.
        BOOST_REQUIRE(f.cache.init({.capacity = 64, .idle_timeout_ms = 15000, .active_timeout_ms = 60000}).ok());
        f.feed(echo(a, b, false, 7), kT0);
        f.feed(echo(b, a, true, 7), kT0 + 3);
        f.cache.expire(kT0 + 3, f.out);
        f.out.records.clear();
    }
}

BOOST_AUTO_TEST_CASE(a_stalled_caller_that_accounts_before_it_expires_never_ends_a_flow_before_it_starts) {
    // A live worker that did not run for longer than the idle timeout (a VM
    // steal, SIGSTOP) accounts the burst that waited in the NIC ring, then
    // expires. The conversations of that burst are active: neither ended as
    // idle nor dated before their own packets.
    Fixture f;
    BOOST_REQUIRE(f.cache.init({.capacity = 64, .idle_timeout_ms = 1000, .active_timeout_ms = 60000}).ok());
    const auto a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
    for (const uint64_t stall : {3'000ULL, 600'000ULL, 20ULL * 86400 * 1000}) {
        const uint64_t later = kT0 + stall;
        f.out.records.clear();
        BOOST_REQUIRE(f.cache.init({.capacity = 64, .idle_timeout_ms = 1000, .active_timeout_ms = 60000}).ok());
        f.feed(echo(a, b, false, 1), kT0);  // idle through the stall
        f.feed(echo(a, b, false, 2), kT0);  // idle, then seen again after it
        f.cache.expire(kT0, f.out);
        f.feed(echo(a, b, false, 2), later);
        f.feed(echo(a, b, false, 3), later);  // new after the stall
        f.cache.expire(later, f.out);
        for (const auto& r : f.out.records) {
            BOOST_TEST(r.dir[0].last_ms >= r.dir[0].first_ms);
            BOOST_TEST(r.dir[0].last_ms <= later);
            BOOST_TEST(r.icmp_id != 3, "the conversation opened after the stall is not ended");
        }
        f.cache.flush_all(later + 1, EndReason::kForcedEnd, f.out);
        uint64_t packets = 0;
        for (const auto& r : f.out.records) {
            BOOST_TEST(r.dir[0].first_ms >= kT0);
            BOOST_TEST(r.dir[0].last_ms >= r.dir[0].first_ms);
            BOOST_TEST(r.dir[0].last_ms <= later);
            if (r.icmp_id == 1) {
                BOOST_TEST(r.end_reason == EndReason::kIdleTimeout);
                BOOST_TEST(r.dir[0].last_ms == kT0);
            }
            if (r.icmp_id == 3) {
                BOOST_TEST(r.end_reason == EndReason::kForcedEnd);
                BOOST_TEST(r.dir[0].first_ms == later);
            }
            packets += r.dir[0].packets;
        }
        BOOST_TEST(packets == 4u);
    }
}

BOOST_AUTO_TEST_CASE(a_conversation_silent_after_an_active_export_ends_without_an_empty_record) {
    Fixture f;
    BOOST_REQUIRE(f.cache.init({.capacity = 64, .idle_timeout_ms = 5000, .active_timeout_ms = 10000}).ok());
    const auto a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
    uint64_t now = kT0;
    for (; now < kT0 + 11000; now += 1000) {
        f.feed(echo(a, b, false, 1), now);
        f.cache.expire(now, f.out);
    }
    // The last packet (at 10 s) went out with the active-timeout export at
    // 10 s; the silence after it must not produce an empty record.
    for (; now < kT0 + 40000; now += 100) f.cache.expire(now, f.out);
    uint64_t packets = 0;
    for (const auto& r : f.out.records) {
        BOOST_TEST(r.dir[0].packets + r.dir[1].packets > 0u);
        packets += r.dir[0].packets;
    }
    BOOST_TEST(packets == 11u);
    BOOST_TEST(f.cache.stats().active.get() == 0u);
    BOOST_TEST(f.cache.stats().exported_active.get() >= 1u);
}

namespace {

// What a conversation's record must say, from its packets alone.
struct Expected {
    IpAddress initiator, responder;
    DirectionCounters dir[2];
    bool has_type[2] = {false, false};
};

void expect_packet(Expected& e, unsigned d, const PacketInfo& p, uint64_t now) {
    DirectionCounters& o = e.dir[d];
    const uint16_t len = static_cast<uint16_t>(std::min<uint32_t>(p.ip_length, 0xffff));
    if (o.packets == 0) {
        o.first_ms = now;
        o.min_ip_length = o.max_ip_length = len;
    }
    o.min_ip_length = std::min(o.min_ip_length, len);
    o.max_ip_length = std::max(o.max_ip_length, len);
    o.packets += 1;
    o.octets += p.ip_length;
    o.last_ms = now;
    if (p.has_icmp_header) {
        if (!e.has_type[d]) {
            e.has_type[d] = true;
            o.icmp_type = p.icmp_type;
            o.icmp_code = p.icmp_code;
            o.min_payload = o.max_payload = p.payload_wire_length;
        }
        o.min_payload = std::min(o.min_payload, p.payload_wire_length);
        o.max_payload = std::max(o.max_payload, p.payload_wire_length);
        o.payload_octets += p.payload_wire_length;
    }
}

}  // namespace

// A conversation's first packet is held in its head and spread into its
// counters by the second: the records must be those of counting every
// packet from the start, whatever the number of packets, the direction of
// the first (a conversation with itself may start with its reply), a packet
// without an ICMP header or an IPv6 packet too long for the head.
BOOST_AUTO_TEST_CASE(records_count_every_packet_however_many_a_conversation_has) {
    for (const uint32_t seed : {1u, 2u, 3u, 4u}) {
        Fixture f;
        BOOST_REQUIRE(f.cache.init({.capacity = 4096, .idle_timeout_ms = 600000, .active_timeout_ms = 600000}).ok());
        std::mt19937 rng(seed);
        constexpr uint16_t kConversations = 400;
        std::map<uint16_t, Expected> expected;  // by echo id: one conversation each
        uint64_t now = kT0;
        for (int i = 0; i < 3000; ++i) {
            // Ids 1-200 get one packet at most; the others many.
            const uint16_t id = static_cast<uint16_t>(1 + (i < 200 ? i : 200 + rng() % (kConversations - 200)));
            const bool v6 = id % 3 == 0;
            const bool self = id % 11 == 0;
            IpAddress a{}, b{};
            a.bytes[0] = 10;
            a.bytes[15] = static_cast<uint8_t>(id);
            a.bytes[14] = static_cast<uint8_t>(id >> 8);
            b = a;
            if (!self) b.bytes[13] = 1;
            const bool reply = rng() % 2 == 1;
            uint16_t payload = static_cast<uint16_t>(rng() % 1500);
            PacketInfo p = reply ? echo(b, a, true, id, payload) : echo(a, b, false, id, payload);
            if (v6) {
                p.family = Family::kIpv6;
                p.l4_protocol = kProtoIcmpv6;
                p.icmp_type = reply ? 129 : 128;
                // The largest IPv6 packet without a jumbogram: 40 + 65,535.
                if (rng() % 7 == 0) payload = 65535 - 8;
                p.payload_wire_length = payload;
                p.ip_length = 40 + 8 + payload;
            }
            p.icmp_code = static_cast<uint8_t>(rng() % 3);
            FlowKey key;
            const bool is_reply = make_key(p, key);
            if (rng() % 9 == 0) p.has_icmp_header = false;  // a later fragment, keyed by its first
            now += 1 + rng() % 3;
            const FlowCache::Hit hit = f.cache.update(key, is_reply, p, 3, now, f.out);
            Expected& e = expected[id];
            if (hit.created) {
                e.initiator = p.src;
                e.responder = p.dst;
            }
            expect_packet(e, hit.dir, p, now);
        }
        BOOST_TEST(f.out.records.empty());
        f.cache.flush_all(now + 1, EndReason::kForcedEnd, f.out);
        BOOST_REQUIRE(f.out.records.size() == expected.size());
        unsigned one_packet = 0, mismatches = 0;
        for (const ConversationRecord& r : f.out.records) {
            const auto it = expected.find(r.icmp_id);
            BOOST_REQUIRE(it != expected.end());
            const Expected& e = it->second;
            if (r.dir[0].packets + r.dir[1].packets == 1) ++one_packet;
            bool same = r.initiator == e.initiator && r.responder == e.responder;
            for (unsigned d = 0; d < 2; ++d) {
                const DirectionCounters &x = r.dir[d], &y = e.dir[d];
                same = same && x.packets == y.packets && x.octets == y.octets && x.first_ms == y.first_ms &&
                       x.last_ms == y.last_ms && x.min_ip_length == y.min_ip_length &&
                       x.max_ip_length == y.max_ip_length && x.icmp_type == y.icmp_type &&
                       x.icmp_code == y.icmp_code && x.min_payload == y.min_payload &&
                       x.max_payload == y.max_payload && x.payload_octets == y.payload_octets;
            }
            if (!same) {
                ++mismatches;
                BOOST_TEST_MESSAGE("id " << r.icmp_id << ": " << r.dir[0].packets << "/" << r.dir[1].packets
                                         << " packets, octets " << r.dir[0].octets << "/" << r.dir[1].octets
                                         << ", expected " << e.dir[0].octets << "/" << e.dir[1].octets);
            }
        }
        BOOST_TEST(mismatches == 0u, "seed " << seed);
        BOOST_TEST(one_packet >= 100u);  // the head-only shape was exercised
    }
}

// A one-packet conversation cut by the active timeout goes on counted: its
// next packet starts a new slice, and a silent one ends without a record.
BOOST_AUTO_TEST_CASE(a_one_packet_conversation_survives_an_active_export) {
    Fixture f;
    BOOST_REQUIRE(f.cache.init({.capacity = 64, .idle_timeout_ms = 5000, .active_timeout_ms = 1000}).ok());
    const auto a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
    f.feed(echo(a, b, false, 1, 100), kT0);
    for (uint64_t t = kT0; t <= kT0 + 1600; t += 100) f.cache.expire(t, f.out);
    BOOST_REQUIRE(f.out.records.size() == 1u);
    BOOST_TEST(f.out.records[0].end_reason == EndReason::kActiveTimeout);
    BOOST_TEST(f.out.records[0].dir[0].packets == 1u);
    BOOST_TEST(f.out.records[0].dir[0].octets == 128u);
    BOOST_TEST(f.out.records[0].dir[0].first_ms == kT0);
    f.feed(echo(b, a, true, 1, 100), kT0 + 2000);
    f.cache.flush_all(kT0 + 2500, EndReason::kForcedEnd, f.out);
    BOOST_REQUIRE(f.out.records.size() == 2u);
    const ConversationRecord& r = f.out.records[1];
    BOOST_TEST(r.dir[0].packets == 0u);
    BOOST_TEST(r.dir[1].packets == 1u);
    BOOST_TEST(r.dir[1].first_ms == kT0 + 2000);
    BOOST_TEST(r.dir[1].icmp_type == 0);
    BOOST_TEST(r.dir[1].min_payload == 100u);
    BOOST_TEST(f.cache.stats().ended_silent.get() == 0u);
}

BOOST_AUTO_TEST_CASE(a_conversation_costs_128_bytes_including_its_index) {
    BOOST_TEST(FlowCache::bytes_per_conversation() == 128u);
    FlowCache cache;
    BOOST_REQUIRE(cache.init({.capacity = 1000, .idle_timeout_ms = 1, .active_timeout_ms = 1}).ok());
    BOOST_TEST(cache.capacity() == 1024u);  // rounded up to a power of two
}

BOOST_AUTO_TEST_CASE(invalid_configuration_is_refused_with_a_reason) {
    FlowCache cache;
    auto s = cache.init({.capacity = 4, .idle_timeout_ms = 1, .active_timeout_ms = 1});
    BOOST_TEST(!s.ok());
    BOOST_TEST(s.message().find("cache size") != std::string::npos);
    s = cache.init({.capacity = 64, .idle_timeout_ms = 0, .active_timeout_ms = 1});
    BOOST_TEST(s.message().find("idle timeout") != std::string::npos);
}

// A growing table (offline readers) must give the records a full-size table
// gives: the same conversations, counts and times, nothing evicted on the
// way, and any per-slot companion table must follow every move.
namespace {

struct GrowthRun {
    std::vector<ConversationRecord> records;
    FlowCacheStats stats;
    uint32_t capacity = 0;
    uint32_t companion_mismatches = 0;
    uint32_t relocations = 0;
    uint32_t refusals = 0;
};

// Companion table: the flow id of the conversation in each slot, as the
// worker keeps detector state. Checked against the cache after every packet.
struct Companion {
    std::vector<uint64_t> flow_of_slot;
    uint32_t calls = 0;
    uint32_t refused = 0;
    bool refuse = false;
    static bool grow(void* ctx, uint32_t new_capacity, const uint32_t* new_slot, uint32_t old_capacity) {
        auto& c = *static_cast<Companion*>(ctx);
        if (c.refuse) {
            ++c.refused;
            return false;
        }
        ++c.calls;
        std::vector<uint64_t> moved(new_capacity, 0);
        for (uint32_t s = 0; s < old_capacity; ++s)
            if (new_slot[s] != SlotRelocator::kNoSlot) moved[new_slot[s]] = c.flow_of_slot[s];
        c.flow_of_slot = std::move(moved);
        return true;
    }
};

GrowthRun run_conversations(uint32_t capacity, uint32_t initial, uint32_t conversations, bool refuse = false) {
    GrowthRun run;
    FlowCache cache;
    BOOST_REQUIRE(cache.init({.capacity = capacity, .idle_timeout_ms = 600000, .active_timeout_ms = 600000,
                              .initial_capacity = initial})
                      .ok());
    Companion companion;
    companion.refuse = refuse;
    companion.flow_of_slot.assign(cache.capacity(), 0);
    cache.set_relocator({&Companion::grow, &companion});
    Collected out;
    std::mt19937 rng(7);
    // Every conversation: a request, later its reply, in shuffled order.
    std::vector<std::pair<uint32_t, bool>> order;
    for (uint32_t i = 0; i < conversations; ++i) order.push_back({i, false});
    std::shuffle(order.begin(), order.end(), rng);
    for (uint32_t i = 0; i < conversations; ++i) order.push_back({i, true});
    uint64_t t = kT0;
    for (const auto& [i, reply] : order) {
        const IpAddress host = v4(10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i));
        const IpAddress server = v4(192, 0, 2, 1);
        const PacketInfo p = reply ? echo(server, host, true, static_cast<uint16_t>(i), 56 + i % 7)
                                   : echo(host, server, false, static_cast<uint16_t>(i), 56 + i % 7);
        FlowKey key;
        const bool is_reply = make_key(p, key);
        const FlowCache::Hit hit = cache.update(key, is_reply, p, 1, ++t, out);
        if (hit.created) companion.flow_of_slot[hit.slot] = cache.at(hit.slot).flow_seq;
        if (companion.flow_of_slot[hit.slot] != cache.at(hit.slot).flow_seq) ++run.companion_mismatches;
    }
    cache.for_each([&](uint32_t slot, const Conversation& c) {
        if (companion.flow_of_slot[slot] != c.flow_seq) ++run.companion_mismatches;
    });
    run.capacity = cache.capacity();
    run.relocations = companion.calls;
    run.refusals = companion.refused;
    cache.flush_all(t + 1, EndReason::kForcedEnd, out);
    run.records = std::move(out.records);
    run.stats = cache.stats();
    return run;
}

// Records without the flow id (slots, hence numbering, may differ), sorted.
std::vector<std::string> canonical(const std::vector<ConversationRecord>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) {
        char line[256];
        std::snprintf(line, sizeof line, "%u.%u.%u.%u %u %llu/%llu %llu/%llu %llu-%llu %llu-%llu %d",
                      r.initiator.bytes[0], r.initiator.bytes[1], r.initiator.bytes[2], r.initiator.bytes[3],
                      r.icmp_id, static_cast<unsigned long long>(r.dir[0].packets),
                      static_cast<unsigned long long>(r.dir[1].packets),
                      static_cast<unsigned long long>(r.dir[0].octets), static_cast<unsigned long long>(r.dir[1].octets),
                      static_cast<unsigned long long>(r.dir[0].first_ms), static_cast<unsigned long long>(r.dir[0].last_ms),
                      static_cast<unsigned long long>(r.dir[1].first_ms), static_cast<unsigned long long>(r.dir[1].last_ms),
                      static_cast<int>(r.end_reason));
        out.push_back(line);
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_growing_table_gives_the_records_of_a_full_size_table) {
    const GrowthRun full = run_conversations(1u << 16, 0, 3000);
    const GrowthRun grown = run_conversations(1u << 16, 64, 3000);
    BOOST_TEST(full.stats.grown.get() == 0u);
    BOOST_TEST(full.stats.evicted.get() == 0u);
    BOOST_TEST(grown.stats.grown.get() >= 4u);  // 64 slots cannot hold 3000
    BOOST_TEST(grown.capacity > 3000u);
    BOOST_TEST(grown.capacity < (1u << 16));
    BOOST_TEST(grown.stats.evicted.get() == 0u);  // doubled instead
    BOOST_TEST(grown.relocations == grown.stats.grown.get());
    BOOST_TEST(grown.companion_mismatches == 0u);
    BOOST_TEST(grown.records.size() == 3000u);
    const auto a = canonical(full.records), b = canonical(grown.records);
    BOOST_TEST(a == b, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_growing_table_evicts_once_at_its_maximum) {
    // 3000 conversations into at most 512 slots: grows to 512, then evicts
    // (lack of resources), and every packet is still in exactly one record.
    const GrowthRun run = run_conversations(512, 16, 3000);
    BOOST_TEST(run.capacity == 512u);
    BOOST_TEST(run.stats.grown.get() == 5u);  // 16 -> 32 -> ... -> 512
    BOOST_TEST(run.stats.evicted.get() > 0u);
    BOOST_TEST(run.companion_mismatches == 0u);
    uint64_t packets = 0;
    for (const auto& r : run.records) packets += r.dir[0].packets + r.dir[1].packets;
    BOOST_TEST(packets == 6000u);
}

BOOST_AUTO_TEST_CASE(a_table_whose_companion_cannot_grow_stays_and_evicts) {
    const GrowthRun run = run_conversations(8192, 64, 300, /*refuse=*/true);
    BOOST_TEST(run.capacity == 64u);
    BOOST_TEST(run.stats.grown.get() == 0u);
    BOOST_TEST(run.refusals == 1u);  // asked once, not again on every later full bucket
    BOOST_TEST(run.stats.evicted.get() > 0u);
    BOOST_TEST(run.companion_mismatches == 0u);
    uint64_t packets = 0;
    for (const auto& r : run.records) packets += r.dir[0].packets + r.dir[1].packets;
    BOOST_TEST(packets == 600u);
}

BOOST_AUTO_TEST_SUITE_END()
