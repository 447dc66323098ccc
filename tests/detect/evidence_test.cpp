// Text at ordinary ping sizes and the long-window host budgets: the evidence
// for exfiltration that keeps to default sizes or to one packet a minute.
#include <boost/test/unit_test.hpp>

#include <string>

#include "detect/alert_json.hpp"
#include "detect/pipeline.hpp"
#include "tests/detect/payloads.hpp"

using namespace detect;
using flowgen::Family;
using tests::detect::addr4;
using tests::detect::icmp;
using tests::detect::Payload;

namespace {

const std::string kShippedFile = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";
const flowgen::IpAddress kClient = addr4(192, 0, 2, 10);
const flowgen::IpAddress kServer = addr4(198, 51, 100, 20);
constexpr uint64_t kT0 = 1'764'115'200'000;  // an hour and day boundary

Config test_config() {
    Config c;
    c.patterns_path = kShippedFile;
    return c;
}

bool has(uint32_t reasons, Reason r) { return (reasons & bit(r)) != 0; }

// `size` bytes of base64 text, different for every chunk number.
Payload base64_chunk(size_t size, uint32_t chunk) {
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    Payload p(size);
    uint32_t x = 2463534242u ^ (chunk * 2654435761u);
    for (auto& b : p) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = static_cast<uint8_t>(kAlphabet[x % 64]);
    }
    return p;
}

Payload hex_chunk(size_t size, uint32_t chunk) {
    Payload p = base64_chunk(size, chunk);
    for (auto& b : p) b = static_cast<uint8_t>("0123456789abcdef"[b % 16]);
    return p;
}

// Mirrored pings of `payloads` in one conversation; returns the 1-based
// packet number of the first alert, or -1.
int first_alert_in_one_conversation(Pipeline& pipeline, ConversationState& s, const std::vector<Payload>& payloads) {
    uint64_t now = kT0 + 5000;
    int packets = 0;
    for (size_t i = 0; i < payloads.size(); ++i) {
        const uint16_t seq = static_cast<uint16_t>(i + 1);
        ++packets;
        if (pipeline.on_packet(s, icmp(Family::kIpv4, 8, 77, seq, payloads[i], kClient, kServer), 0, now)) return packets;
        ++packets;
        if (pipeline.on_packet(s, icmp(Family::kIpv4, 0, 77, seq, payloads[i], kServer, kClient), 1, now + 20))
            return packets;
        now += 1000;
    }
    return -1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(evidence)

// Windows 32, Linux/BSD 56, and a 24-byte payload (timestamp room).
BOOST_AUTO_TEST_CASE(changing_text_at_default_sizes_alerts_by_the_third_distinct_payload) {
    for (size_t size : {24u, 32u, 56u, 64u}) {
        for (bool hex : {false, true}) {
            BOOST_TEST_CONTEXT("size " << size << (hex ? " hex" : " base64")) {
                Pipeline pipeline;
                BOOST_REQUIRE(pipeline.init(test_config()).ok());
                ConversationState s{};
                std::vector<Payload> chunks;
                for (uint32_t i = 0; i < 10; ++i) chunks.push_back(hex ? hex_chunk(size, i) : base64_chunk(size, i));
                const int at = first_alert_in_one_conversation(pipeline, s, chunks);
                BOOST_TEST(at > 0);
                BOOST_TEST(at <= 6);  // third request: packet 5
                const Evaluation e = pipeline.evaluate(s);
                BOOST_TEST(has(e.reasons, Reason::kChangingText));
                BOOST_TEST(has(e.reasons, Reason::kTextPayload));
                BOOST_TEST((s.evidence & (hex ? ConversationState::kTextHex : ConversationState::kTextBase64)) != 0);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(the_same_text_in_every_packet_is_a_fill_not_data) {
    Pipeline pipeline;
    BOOST_REQUIRE(pipeline.init(test_config()).ok());
    ConversationState s{};
    const std::vector<Payload> same(10, base64_chunk(56, 1));
    BOOST_TEST(first_alert_in_one_conversation(pipeline, s, same) == -1);
    BOOST_TEST(!has(pipeline.evaluate(s).reasons, Reason::kChangingText));
}

BOOST_AUTO_TEST_CASE(text_after_a_binary_timestamp_is_still_text) {
    Pipeline pipeline;
    BOOST_REQUIRE(pipeline.init(test_config()).ok());
    ConversationState s{};
    std::vector<Payload> chunks;
    for (uint32_t i = 0; i < 6; ++i) {
        Payload p = tests::detect::random_bytes(16, i);  // a timeval
        const Payload t = base64_chunk(40, i);
        p.insert(p.end(), t.begin(), t.end());
        chunks.push_back(p);
    }
    BOOST_TEST(first_alert_in_one_conversation(pipeline, s, chunks) > 0);
    BOOST_TEST(has(pipeline.evaluate(s).reasons, Reason::kChangingText));
}

// One 56-byte base64 ping a minute, each its own conversation: nothing in
// any conversation; the pair's hourly budget alerts, and says so.
BOOST_AUTO_TEST_CASE(one_text_ping_a_minute_alerts_on_the_pair_hour_budget_with_window_and_amount) {
    Pipeline pipeline;
    const Config config = test_config();
    BOOST_REQUIRE(pipeline.init(config).ok());
    int first = -1;
    std::string line;
    for (uint32_t m = 0; m < 60 && first < 0; ++m) {
        const uint64_t now = kT0 + m * 60'000;
        ConversationState s{};
        const Payload p = base64_chunk(56, m);
        const uint16_t id = static_cast<uint16_t>(100 + m);
        const bool a = pipeline.on_packet(s, icmp(Family::kIpv4, 8, id, 1, p, kClient, kServer), 0, now);
        const bool b = pipeline.on_packet(s, icmp(Family::kIpv4, 0, id, 1, p, kServer, kClient), 1, now + 20);
        if (a || b) {
            first = static_cast<int>(m) + 1;
            BOOST_TEST(has(pipeline.evaluate(s).reasons, Reason::kHostBudget));
            flowgen::ConversationRecord r{};
            r.initiator = kClient;
            r.responder = kServer;
            r.family = Family::kIpv4;
            r.detection = pipeline.summarize(s);
            format_alert_json(r, pipeline, now, line, {}, 0, &s);
        }
    }
    BOOST_TEST(first == static_cast<int>(config.pair_hour.payloads));
    BOOST_TEST(line.find("host-budget") != std::string::npos);
    BOOST_TEST(line.find("this host pair exchanged 32 distinct unexplained payloads (1792 bytes) in the last hour") !=
                   std::string::npos,
               line);
}

// A check that sends one constant text a minute moves no data.
BOOST_AUTO_TEST_CASE(a_constant_text_every_minute_for_a_day_never_alerts) {
    Pipeline pipeline;
    BOOST_REQUIRE(pipeline.init(test_config()).ok());
    const Payload p = base64_chunk(36, 7);
    for (uint32_t m = 0; m < 24 * 60; ++m) {
        ConversationState s{};
        const uint64_t now = kT0 + m * 60'000ull;
        const uint16_t id = static_cast<uint16_t>(m);
        BOOST_TEST(!pipeline.on_packet(s, icmp(Family::kIpv4, 8, id, 1, p, kClient, kServer), 0, now));
        BOOST_TEST(!pipeline.on_packet(s, icmp(Family::kIpv4, 0, id, 1, p, kServer, kClient), 1, now + 20));
    }
}

// A sender spreading text over many peers, handled by several pipelines
// (workers) sharing one table: the sender budget sees the sum.
BOOST_AUTO_TEST_CASE(the_sender_budget_sums_over_pipelines_sharing_the_table) {
    const Config config = test_config();
    for (bool shared : {true, false}) {
        SourceTable table;
        BOOST_REQUIRE(table.init(config.source_table_entries).ok());
        Pipeline workers[4];
        for (auto& w : workers) BOOST_REQUIRE(w.init(config, shared ? &table : nullptr).ok());
        int first = -1;
        for (uint32_t i = 0; i < 200 && first < 0; ++i) {
            const flowgen::IpAddress peer = addr4(203, 0, 113, static_cast<uint8_t>(1 + i % 16));
            Pipeline& w = workers[i % 4];  // each peer's pair always on one worker, the sender on all
            ConversationState s{};
            const uint64_t now = kT0 + i * 10'000ull;
            const Payload p = base64_chunk(56, i);
            const uint16_t id = static_cast<uint16_t>(i);
            if (w.on_packet(s, icmp(Family::kIpv4, 8, id, 1, p, kClient, peer), 0, now) ||
                w.on_packet(s, icmp(Family::kIpv4, 0, id, 1, p, peer, kClient), 1, now + 20))
                first = static_cast<int>(i) + 1;
        }
        if (shared) {
            BOOST_TEST(first == static_cast<int>(config.sender_hour.payloads));
        } else {
            BOOST_TEST(first == -1);  // a table per worker sees a quarter each: the design this replaces
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
