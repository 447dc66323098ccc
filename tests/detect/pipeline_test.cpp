// The verdict over whole conversations: real pings never alert, tunnels do,
// with the reasons an analyst would check.
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "detect/pipeline.hpp"
#include "tests/detect/payloads.hpp"

using namespace detect;
using namespace tests::detect;
using flowgen::Family;

namespace {

const std::string kShippedFile = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";

Config test_config() {
    Config c;
    c.patterns_path = kShippedFile;
    return c;
}

const flowgen::IpAddress kClient = addr4(192, 0, 2, 10);
const flowgen::IpAddress kServer = addr4(198, 51, 100, 20);

bool has(uint32_t reasons, Reason r) { return (reasons & bit(r)) != 0; }

// One conversation fed packet by packet with a controlled clock.
struct Conversation {
    Pipeline pipeline;
    ConversationState state{};
    uint64_t now_ms = 1'764'128'000'000;
    uint64_t step_ms = 1000;
    int packets = 0;
    int alerts = 0;
    int first_alert = -1;  // 1-based packet number of the first alert
    Family family = Family::kIpv4;
    uint16_t id = 0x4d2;

    explicit Conversation(Config config = test_config()) {
        const auto status = pipeline.init(config);
        BOOST_REQUIRE_MESSAGE(status.ok(), status.message());
    }
    void feed(const flowgen::PacketInfo& p, unsigned dir) {
        ++packets;
        if (pipeline.on_packet(state, p, dir, now_ms)) {
            ++alerts;
            if (first_alert < 0) first_alert = packets;
        }
        now_ms += step_ms;
    }
    uint8_t request_type() const { return family == Family::kIpv6 ? 128 : 8; }
    uint8_t reply_type() const { return family == Family::kIpv6 ? 129 : 0; }
    void request(uint16_t seq, const Payload& p, uint8_t code = 0) {
        feed(icmp(family, request_type(), id, seq, p, kClient, kServer, code), 0);
    }
    void reply(uint16_t seq, const Payload& p, uint8_t code = 0) {
        feed(icmp(family, reply_type(), id, seq, p, kServer, kClient, code), 1);
    }
    // A ping: request and its mirrored reply (RFC 792).
    void ping(uint16_t seq, const Payload& p) {
        request(seq, p);
        reply(seq, p);
    }
    Evaluation evaluation() const { return pipeline.evaluate(state); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(pipeline)

BOOST_AUTO_TEST_CASE(conversation_state_is_small_and_zero_means_fresh) {
    BOOST_TEST(sizeof(ConversationState) <= 128u);
    Conversation c;
    BOOST_TEST(c.evaluation().score == 0);
    BOOST_TEST(c.evaluation().reasons == 0u);
}

BOOST_AUTO_TEST_CASE(real_pings_of_every_os_and_size_never_alert) {
    struct Case {
        const char* sender;
        std::function<Payload(uint16_t)> make;
    };
    const Case cases[] = {
        {"linux 56", [](uint16_t s) { return linux_ping(56, s); }},
        {"linux 1472", [](uint16_t s) { return linux_ping(1472, s); }},
        {"linux -s 8", [](uint16_t s) { return linux_ping(8, s); }},
        {"linux -s 16", [](uint16_t s) { return linux_ping(16, s); }},
        {"linux -s 24", [](uint16_t s) { return linux_ping(24, s); }},
        {"linux -s 4000", [](uint16_t s) { return linux_ping(4000, s); }},
        {"bsd 56", [](uint16_t s) { return bsd_ping(56, s); }},
        {"windows 32", [](uint16_t) { return windows_ping(32); }},
        {"windows -l 1000", [](uint16_t) { return windows_ping(1000); }},
        {"busybox 56", [](uint16_t s) { return busybox_ping(56, s); }},
        {"fping 56", [](uint16_t) { return Payload(56, 0); }},
        {"cisco 72", [](uint16_t) { return cisco_ping(72); }},
        {"ping -p 16 bytes", [](uint16_t s) { return pattern_ping(56, s, text("0123456789abcdef")); }},
        {"nping 0", [](uint16_t) { return Payload{}; }},
        {"blackbox exporter", [](uint16_t) { return text("Prometheus Blackbox Exporter"); }},
        {"blackbox exporter 64", [](uint16_t) { Payload p = text("Prometheus Blackbox Exporter"); p.resize(64, 0); return p; }},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.sender) {
            for (Family family : {Family::kIpv4, Family::kIpv6}) {
                Conversation conv;
                conv.family = family;
                for (uint16_t seq = 1; seq <= 300; ++seq) conv.ping(seq, c.make(seq));
                BOOST_TEST(conv.alerts == 0);
                const auto d = conv.pipeline.summarize(conv.state);
                BOOST_TEST(d.score < conv.pipeline.config().suspicious_score);
                BOOST_TEST(d.verdict == 0);
                BOOST_TEST(conv.state.replies_matched == 300);
                BOOST_TEST(conv.state.random_packets + conv.state.text_packets + conv.state.binary_packets == 0);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(pinging_a_dead_host_or_seeing_one_direction_does_not_alert) {
    Conversation dead;
    for (uint16_t seq = 1; seq <= 500; ++seq) dead.request(seq, linux_ping(56, seq));
    BOOST_TEST(dead.alerts == 0);
    BOOST_TEST(has(dead.evaluation().reasons, Reason::kUnansweredRequests));

    Conversation replies_only;
    for (uint16_t seq = 1; seq <= 500; ++seq) replies_only.reply(seq, linux_ping(56, seq));
    BOOST_TEST(replies_only.alerts == 0);
    BOOST_TEST(replies_only.state.replies_unsolicited == 500);
}

BOOST_AUTO_TEST_CASE(nmap_os_probes_do_not_alert) {
    Conversation c;
    c.request(295, Payload(120, 0), 9);  // nmap -O IE probe 1: code 9, 120 zeros
    c.reply(295, Payload(120, 0), 9);
    BOOST_TEST(c.alerts == 0);
    BOOST_TEST(has(c.evaluation().reasons, Reason::kUnusualCode));
}

BOOST_AUTO_TEST_CASE(mirrored_random_payloads_are_noted_but_alert_only_on_volume) {
    // fping -R: random data, mirrored. Only tens of kilobytes make it an alert.
    Conversation c;
    for (uint16_t seq = 1; seq <= 20; ++seq) c.ping(seq, random_bytes(56, seq));
    BOOST_TEST(c.alerts == 0);
    BOOST_TEST(has(c.evaluation().reasons, Reason::kRandomPayload));
    BOOST_TEST(c.state.replies_matched == 20);
}

BOOST_AUTO_TEST_CASE(random_payloads_with_replies_that_differ_alert_within_a_few_packets) {
    for (size_t size : {64u, 1000u}) {
        BOOST_TEST_CONTEXT("size " << size) {
            Conversation c;
            for (uint16_t seq = 1; seq <= 20; ++seq) {
                c.request(seq, random_bytes(size, seq));
                c.reply(seq, random_bytes(size, 1000 + seq));
            }
            BOOST_TEST(c.alerts == 1);
            BOOST_TEST(c.first_alert > 0);
            BOOST_TEST(c.first_alert <= 6);
            const auto e = c.evaluation();
            BOOST_TEST(has(e.reasons, Reason::kRandomPayload));
            BOOST_TEST(has(e.reasons, Reason::kReplyMismatch));
            BOOST_TEST(c.state.replies_mismatched == 20);
            BOOST_TEST(c.state.replies_matched == 0);
            const auto d = c.pipeline.summarize(c.state);
            BOOST_TEST(d.verdict == 2);
            BOOST_TEST(d.reason_flags == e.reasons);
            BOOST_TEST(d.entropy_milli > static_cast<uint16_t>(expected_random_entropy(size) * 1000 - 400));
        }
    }
}

BOOST_AUTO_TEST_CASE(one_way_random_data_of_varying_size_alerts) {
    Conversation c;
    for (uint16_t seq = 1; seq <= 20; ++seq) c.request(seq, random_bytes(40 + 37 * seq, seq));
    BOOST_TEST(c.alerts == 1);
    BOOST_TEST(c.first_alert <= 5);
    BOOST_TEST(has(c.evaluation().reasons, Reason::kSizeVaries));
}

BOOST_AUTO_TEST_CASE(ptunnel_magic_alerts_on_the_first_packet_and_names_the_signature) {
    Conversation c;
    c.request(1, ptunnel_packet(0xD5200880u, random_bytes(200, 1), 1));
    BOOST_TEST(c.first_alert == 1);
    const auto d = c.pipeline.summarize(c.state);
    BOOST_TEST(has(d.reason_flags, Reason::kTunnelSignature));
    BOOST_TEST(has(d.reason_flags, Reason::kTunnelFraming));
    BOOST_REQUIRE(c.pipeline.signature_name(d.signature_id) != nullptr);
    BOOST_TEST(std::string(c.pipeline.signature_name(d.signature_id)) == "ptunnel");
}

BOOST_AUTO_TEST_CASE(ptunnel_ng_with_a_custom_magic_alerts_on_its_framing) {
    Conversation c;
    c.request(1, ptunnel_packet(0x01020304u, text("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), 1));
    BOOST_TEST(c.first_alert == 1);
    BOOST_TEST(has(c.evaluation().reasons, Reason::kTunnelFraming));
    BOOST_TEST(!has(c.evaluation().reasons, Reason::kTunnelSignature));
}

BOOST_AUTO_TEST_CASE(ip_in_icmp_alerts_on_the_first_packet) {
    Conversation c;
    c.request(0, ipv4_packet(random_bytes(100, 3)));
    BOOST_TEST(c.first_alert == 1);
    BOOST_TEST(has(c.evaluation().reasons, Reason::kIpInPayload));
}

BOOST_AUTO_TEST_CASE(icmpsh_style_shell_alerts_with_text_and_mismatch_reasons) {
    Conversation c;
    const char* commands[] = {"whoami\n", "ipconfig\n", "dir\n", "type secret.txt\n"};
    const char* outputs[] = {"desktop-7\\bob\r\n", "Windows IP Configuration\r\n\r\nEthernet adapter\r\n",
                             " Directory of C:\\Users\\bob\r\n\r\n", "the launch codes are 0000\r\n"};
    for (uint16_t i = 0; i < 4; ++i) {
        c.request(i, text(commands[i]));
        c.reply(i, text(outputs[i]));
    }
    BOOST_TEST(c.alerts == 1);
    BOOST_TEST(c.first_alert <= 6);
    const auto e = c.evaluation();
    BOOST_TEST(has(e.reasons, Reason::kReplyMismatch));
    BOOST_TEST(has(e.reasons, Reason::kSuspiciousContent));
}

BOOST_AUTO_TEST_CASE(icmpsh_with_empty_polls_and_short_unlisted_commands_alerts) {
    // The master answers the slave's empty polls with commands no pattern lists.
    Conversation c;
    const char* commands[] = {"net view", "Get-Process", "query user", "arp -a"};
    for (uint16_t i = 0; i < 4; ++i) {
        c.request(i, Payload{});
        c.reply(i, text(commands[i]));
        c.request(static_cast<uint16_t>(100 + i), text("ok, output follows: 4 entries, elapsed 0.02 s\r\n"));
    }
    BOOST_TEST(c.alerts == 1);
    BOOST_TEST(has(c.evaluation().reasons, Reason::kReplyMismatch));
    BOOST_TEST(has(c.evaluation().reasons, Reason::kTextPayload));
}

BOOST_AUTO_TEST_CASE(short_windows_and_timestamp_payloads_are_not_text) {
    Conversation c;
    for (uint16_t seq = 1; seq <= 50; ++seq) c.ping(seq, windows_ping(8));   // ping -l 8
    for (uint16_t seq = 51; seq <= 100; ++seq) c.ping(seq, linux_ping(16, seq));
    BOOST_TEST(c.state.text_packets == 0);
    BOOST_TEST(c.alerts == 0);
}

BOOST_AUTO_TEST_CASE(mirrored_replies_match_and_differing_or_unsolicited_replies_are_counted) {
    Conversation c;
    c.ping(1, linux_ping(56, 1));
    c.request(2, linux_ping(56, 2));
    Payload altered = linux_ping(56, 2);
    altered[40] ^= 0xFF;
    c.reply(2, altered);
    c.reply(3, linux_ping(56, 3));  // never requested
    c.request(4, linux_ping(56, 4));
    c.reply(4, linux_ping(56, 4));
    c.reply(4, linux_ping(56, 4));  // DUP!
    BOOST_TEST(c.state.replies_matched == 3);
    BOOST_TEST(c.state.replies_mismatched == 1);
    BOOST_TEST(c.state.replies_unsolicited == 1);
}

BOOST_AUTO_TEST_CASE(requests_evicted_unanswered_are_counted) {
    Conversation c;
    for (uint16_t seq = 1; seq <= 20; ++seq) c.request(seq, linux_ping(56, seq));
    BOOST_TEST(c.state.requests_unanswered == 12);  // 20 requests, ring of 8
}

BOOST_AUTO_TEST_CASE(slow_exfiltration_in_normal_sized_pings_alerts_within_twenty_requests) {
    // hping3 -E file -d 56, one every 5 s; the target's kernel mirrors them.
    const std::string document =
        "Q3 revenue forecast (confidential)\nRegion,Target,Actual\nNorth,1200000,1184000\nSouth,950000,"
        "1010000\nEast,700000,688000\nWest,1500000,1530000\nNotes: do not distribute outside the board. "
        "Acquisition of Initech to close in November, price 41.5M. Layoffs planned in West region.\n";
    for (int kind = 0; kind < 2; ++kind) {
        BOOST_TEST_CONTEXT((kind == 0 ? "text file" : "binary file")) {
            Conversation c;
            c.step_ms = 2500;
            for (uint16_t seq = 0; seq < 40; ++seq) {
                Payload chunk = kind == 0 ? Payload(56, 0) : binary_bytes(56, seq);
                if (kind == 0)
                    for (size_t i = 0; i < 56; ++i) chunk[i] = static_cast<uint8_t>(document[(seq * 56 + i) % document.size()]);
                c.ping(seq, chunk);
            }
            BOOST_TEST(c.first_alert > 0);
            BOOST_TEST(c.first_alert <= 20);  // 10 requests and their replies
            BOOST_TEST(has(c.evaluation().reasons, Reason::kVolume));
        }
    }
}

BOOST_AUTO_TEST_CASE(ping_p_with_a_changing_pattern_alerts) {
    Conversation c;
    for (uint16_t seq = 1; seq <= 10; ++seq) {
        Payload pattern = random_bytes(16, seq);  // 16 bytes of secret per packet
        c.ping(seq, pattern_ping(56, seq, pattern));
    }
    BOOST_TEST(c.alerts == 1);
    BOOST_TEST(c.first_alert <= 6);
    BOOST_TEST(has(c.evaluation().reasons, Reason::kFillChanges));
}

// One `ping -c 1 -p` per 16 bytes of a file: every conversation is a single
// diagnostic-looking ping; only the sender's history shows the exfiltration.
BOOST_AUTO_TEST_CASE(ping_p_exfiltration_one_conversation_per_chunk_alerts_on_sender_activity) {
    Pipeline pipeline;
    BOOST_REQUIRE(pipeline.init(test_config()).ok());
    const std::string secret = "root:x:0:0:root:/root:/bin/bash\nsvc:x:998:998::/var/backups:/bin/sh\nAWS_SECRET=wJalrXUtnFEMI/K7MDENG\n";
    uint64_t now = 1'764'128'000'000;
    int first_alert_conversation = -1;
    for (size_t chunk = 0; chunk * 16 < secret.size(); ++chunk) {
        Payload pattern(16, 0);
        for (size_t i = 0; i < 16 && chunk * 16 + i < secret.size(); ++i) pattern[i] = static_cast<uint8_t>(secret[chunk * 16 + i]);
        const Payload p = pattern_ping(56, 1, pattern);
        ConversationState s{};
        const uint16_t id = static_cast<uint16_t>(3000 + chunk);  // a new process per chunk
        const bool a1 = pipeline.on_packet(s, icmp(Family::kIpv4, 8, id, 1, p, kClient, kServer), 0, now);
        const bool a2 = pipeline.on_packet(s, icmp(Family::kIpv4, 0, id, 1, p, kServer, kClient), 1, now + 1);
        now += 1200;
        if ((a1 || a2) && first_alert_conversation < 0) {
            first_alert_conversation = static_cast<int>(chunk) + 1;
            BOOST_TEST(has(pipeline.evaluate(s).reasons, Reason::kSourceActivity));
        }
    }
    BOOST_TEST(first_alert_conversation == static_cast<int>(test_config().source_min_fills));
}

BOOST_AUTO_TEST_CASE(a_sender_using_a_few_fills_or_random_data_in_many_runs_does_not_alert) {
    Pipeline pipeline;
    BOOST_REQUIRE(pipeline.init(test_config()).ok());
    uint64_t now = 1'764'128'000'000;
    const std::function<Payload(uint16_t)> runs[] = {
        [](uint16_t s) { return pattern_ping(56, s, {0xff, 0x00}); },   // ping -p ff00
        [](uint16_t s) { return pattern_ping(56, s, {0xaa, 0x55}); },   // ping -p aa55
        [](uint16_t) { return windows_ping(32); },
        [](uint16_t) { return cisco_ping(72); },
        [](uint16_t s) { return linux_ping(56, s); },
        [](uint16_t s) { return random_bytes(56, s); },                 // fping -R
        [](uint16_t) { return Payload(56, 0); },                        // fping
    };
    int alerts = 0;
    for (uint16_t run = 0; run < 70; ++run) {  // 10 rounds of each tool, one conversation per run
        ConversationState s{};
        const uint16_t id = static_cast<uint16_t>(100 + run);
        for (uint16_t seq = 1; seq <= 5; ++seq) {
            const Payload p = runs[run % 7](static_cast<uint16_t>(run * 5 + seq));
            alerts += pipeline.on_packet(s, icmp(Family::kIpv4, 8, id, seq, p, kClient, kServer), 0, now);
            alerts += pipeline.on_packet(s, icmp(Family::kIpv4, 0, id, seq, p, kServer, kClient), 1, now + 1);
            now += 1000;
        }
    }
    BOOST_TEST(alerts == 0);
}

BOOST_AUTO_TEST_CASE(data_in_timestamp_messages_is_flagged) {
    Conversation c;
    c.feed(icmp(Family::kIpv4, 13, 7, 1, Payload(12, 0), kClient, kServer), 0);
    BOOST_TEST(!has(c.evaluation().reasons, Reason::kDatalessTypeData));
    for (uint16_t seq = 2; seq <= 4; ++seq)
        c.feed(icmp(Family::kIpv4, 13, 7, seq, random_bytes(200, seq), kClient, kServer), 0);
    BOOST_TEST(has(c.evaluation().reasons, Reason::kDatalessTypeData));
    BOOST_TEST(c.alerts == 1);
}

BOOST_AUTO_TEST_CASE(errors_that_quote_no_ip_header_are_bogus_and_real_ones_are_not) {
    Conversation real;
    Payload quote = ipv4_packet(Payload(8, 0), 17);  // the offending UDP datagram's header + 8 bytes
    for (uint16_t i = 0; i < 20; ++i) real.feed(icmp(Family::kIpv4, 3, 0, 0, quote, kServer, kClient, 3), 0);
    BOOST_TEST(real.evaluation().reasons == 0u);

    Conversation bogus;
    for (uint16_t i = 0; i < 5; ++i)
        bogus.feed(icmp(Family::kIpv4, 3, 0, 0, random_bytes(200, i), kServer, kClient, 3), 0);
    BOOST_TEST(has(bogus.evaluation().reasons, Reason::kBogusError));
    BOOST_TEST(has(bogus.evaluation().reasons, Reason::kRandomPayload));
    BOOST_TEST(bogus.alerts == 1);

    Conversation oversized;
    oversized.feed(icmp(Family::kIpv4, 11, 0, 0, ipv4_packet(Payload(600, 0), 17), kServer, kClient), 0);
    BOOST_TEST(has(oversized.evaluation().reasons, Reason::kOversizedError));
    BOOST_TEST(oversized.alerts == 0);
}

BOOST_AUTO_TEST_CASE(allow_listed_endpoints_never_alert) {
    Config config = test_config();
    config.allow_list = {"198.51.100.0/24"};
    Conversation c(config);
    for (uint16_t seq = 1; seq <= 10; ++seq) c.request(seq, ptunnel_packet(0xD5200880u, random_bytes(100, seq), seq));
    BOOST_TEST(c.alerts == 0);
    const auto d = c.pipeline.summarize(c.state);
    BOOST_TEST(d.score == 0);
    BOOST_TEST(d.reason_flags == bit(Reason::kAllowListed));

    Config other = test_config();
    other.allow_list = {"198.51.101.0/24", "2001:db8::/32"};
    Conversation d2(other);
    d2.request(1, ptunnel_packet(0xD5200880u, random_bytes(100, 1), 1));
    BOOST_TEST(d2.alerts == 1);
}

BOOST_AUTO_TEST_CASE(escalation_alerts_again_only_after_the_rate_limit) {
    Config config = test_config();
    config.escalate_interval_ms = 60'000;
    Conversation c(config);
    c.step_ms = 1000;
    // ptunnel-ng with its own magic: framing alone crosses the threshold.
    c.request(1, ptunnel_packet(0x01020304u, random_bytes(64, 1), 1));
    BOOST_TEST(c.first_alert == 1);
    const uint16_t first_score = c.state.alerted_score;
    BOOST_TEST(first_score < 800);
    int second_alert = -1;
    for (uint16_t seq = 2; seq <= 60 && second_alert < 0; ++seq) {
        // Replies that differ from their requests add evidence within seconds ...
        c.request(seq, ptunnel_packet(0x01020304u, random_bytes(64, seq), seq));
        c.reply(seq, ptunnel_packet(0x01020304u, random_bytes(64, 500 + seq), seq));
        if (c.alerts == 2) second_alert = c.packets;
    }
    // ... but the escalation is reported only once the minute has passed.
    BOOST_TEST(c.alerts == 2);
    BOOST_TEST(second_alert - c.first_alert >= 60);
    BOOST_TEST(c.state.alerted_score >= first_score + config.escalate_step);
}

BOOST_AUTO_TEST_CASE(ipv6_echo_tunnels_are_caught_like_ipv4) {
    Conversation c;
    c.family = Family::kIpv6;
    for (uint16_t seq = 1; seq <= 5; ++seq) {
        c.request(seq, random_bytes(300, seq));
        c.reply(seq, random_bytes(300, 50 + seq));
    }
    BOOST_TEST(c.alerts == 1);
}

BOOST_AUTO_TEST_CASE(sampling_after_the_first_packets_still_counts_volume) {
    Config config = test_config();
    config.inspect_first_packets = 4;
    config.inspect_every = 8;
    Conversation c(config);
    for (uint16_t seq = 1; seq <= 200; ++seq) c.ping(seq, random_bytes(56, seq));
    BOOST_TEST(c.state.inspected < 60);
    BOOST_TEST(c.state.unexplained_bytes >= 56u * 100u);
}

BOOST_AUTO_TEST_CASE(arbitrary_messages_and_truncated_payloads_keep_the_state_consistent) {
    // Every type and code, captured lengths shorter than the wire length,
    // both families: run under ASan/UBSan this is the detectors' fuzz test.
    Conversation c;
    std::mt19937 rng(42);
    int alerts = 0;
    for (int i = 0; i < 20000; ++i) {
        const Payload p = (i % 3 == 0) ? random_bytes(rng() % 1600, static_cast<uint32_t>(i))
                                       : (i % 3 == 1) ? ipv4_packet(random_bytes(rng() % 64, static_cast<uint32_t>(i)))
                                                      : ptunnel_packet(rng(), random_bytes(rng() % 64, 1), 1, rng());
        flowgen::PacketInfo info = icmp(i % 2 ? Family::kIpv6 : Family::kIpv4, static_cast<uint8_t>(rng()),
                                        static_cast<uint16_t>(rng()), static_cast<uint16_t>(rng()), p, kClient, kServer,
                                        static_cast<uint8_t>(rng() % 4 == 0 ? rng() : 0));
        info.payload_length = static_cast<uint16_t>(p.empty() ? 0 : rng() % (p.size() + 1));
        info.payload_wire_length = static_cast<uint16_t>(p.size() + rng() % 3);
        info.has_icmp_header = rng() % 16 != 0;
        ConversationState fresh{};
        alerts += c.pipeline.on_packet(i % 7 ? c.state : fresh, info, rng() % 2, 1'764'128'000'000 + i);
        const auto d = c.pipeline.summarize(c.state);
        BOOST_REQUIRE(d.score <= 1000);
        BOOST_REQUIRE(d.verdict <= 2);
    }
    BOOST_TEST(alerts >= 1);  // the long-lived conversation certainly looks like a tunnel
    BOOST_TEST(c.state.packets > 10000u);
}


// Flood budget (Config::defer_above): a spoofed-source flood of iputils-like
// requests, `n` new conversations at `now`, each from a new random source.
namespace {
struct Flood {
    std::mt19937 rng{99};
    Payload data = linux_ping(56, 1);
    std::vector<ConversationState> states;
    void send(Pipeline& pipeline, int n, uint64_t now) {
        for (int i = 0; i < n; ++i) {
            const uint32_t r = rng();
            states.emplace_back();
            pipeline.on_packet(states.back(),
                               icmp(Family::kIpv4, 8, static_cast<uint16_t>(r), 1, data,
                                    addr4(static_cast<uint8_t>(r >> 24), static_cast<uint8_t>(r >> 16),
                                          static_cast<uint8_t>(r >> 8), static_cast<uint8_t>(r)),
                                    kServer),
                               0, now);
        }
    }
    uint32_t inspected() const {
        uint32_t n = 0;
        for (const auto& s : states) n += s.inspected;
        return n;
    }
};

Config flood_config(uint32_t defer_above) {
    Config c = test_config();
    c.defer_above = defer_above;
    return c;
}
}  // namespace

BOOST_AUTO_TEST_CASE(without_a_flood_no_first_packet_waits) {
    Conversation c(flood_config(1000));
    for (uint16_t seq = 0; seq < 20; ++seq) c.ping(seq, linux_ping(56, seq));
    BOOST_TEST(c.state.inspected == 40u);  // every request and reply: within inspect_first_packets
    BOOST_TEST(c.pipeline.defer_stats().deferred.get() == 0u);
}

BOOST_AUTO_TEST_CASE(under_a_flood_first_packets_wait_and_one_ping_per_chunk_exfiltration_still_alerts) {
    // As ping_p_exfiltration_one_conversation_per_chunk_alerts_on_sender_activity,
    // with 300 flood conversations in the same 100 ms before each chunk: the
    // request is deferred and inspected through its mirrored reply, as the
    // request of its own sender.
    Pipeline pipeline;
    BOOST_REQUIRE(pipeline.init(flood_config(1000)).ok());
    Flood flood;
    const std::string secret = "root:x:0:0:root:/root:/bin/bash\nsvc:x:998:998::/var/backups:/bin/sh\nAWS_SECRET=wJalrXUtnFEMI/K7MDENG\n";
    uint64_t now = 1'764'128'000'000;
    int first_alert_conversation = -1;
    for (size_t chunk = 0; chunk * 16 < secret.size(); ++chunk) {
        flood.send(pipeline, 300, now);
        Payload pattern(16, 0);
        for (size_t i = 0; i < 16 && chunk * 16 + i < secret.size(); ++i) pattern[i] = static_cast<uint8_t>(secret[chunk * 16 + i]);
        const Payload p = pattern_ping(56, 1, pattern);
        ConversationState s{};
        const uint16_t id = static_cast<uint16_t>(3000 + chunk);
        const bool a1 = pipeline.on_packet(s, icmp(Family::kIpv4, 8, id, 1, p, kClient, kServer), 0, now);
        const bool a2 = pipeline.on_packet(s, icmp(Family::kIpv4, 0, id, 1, p, kServer, kClient), 1, now + 1);
        now += 1200;
        if ((a1 || a2) && first_alert_conversation < 0) {
            first_alert_conversation = static_cast<int>(chunk) + 1;
            BOOST_TEST(has(pipeline.evaluate(s).reasons, Reason::kSourceActivity));
        }
    }
    BOOST_TEST(first_alert_conversation == static_cast<int>(test_config().source_min_fills));
    const DeferStats& d = pipeline.defer_stats();
    BOOST_TEST(d.inspected_on_reply.get() >= 1u);
    BOOST_TEST(d.pressure_windows.get() >= 1u);
    // Each burst comes after a quiet second: its first 100 conversations
    // (defer_above for 100 ms) are inspected; of the rest, all but one in
    // defer_sample wait.
    const size_t bursts = flood.states.size() / 300, over = flood.states.size() - 100 * bursts;
    BOOST_TEST(d.deferred.get() >= over * 9 / 10);
    BOOST_TEST(flood.inspected() <= 100 * bursts + over / 10);
}

BOOST_AUTO_TEST_CASE(under_a_flood_a_one_way_tunnel_with_a_new_id_per_packet_still_alerts) {
    // Requests only (the mirror sees one direction), a new echo id and a
    // 56-byte text chunk per packet: each conversation is one packet. The
    // 1-in-defer_sample sample finds the sender; from then on its sender
    // history gets every later first packet inspected.
    auto run = [](uint32_t defer_above, uint64_t* deferred) {
        Pipeline pipeline;
        BOOST_REQUIRE(pipeline.init(flood_config(defer_above)).ok());
        Flood flood;
        uint64_t now = 1'764'128'000'000;
        int first_alert = -1;
        for (int k = 0; k < 400 && first_alert < 0; ++k) {
            flood.send(pipeline, 150, now);
            Payload chunk(56, 0);
            for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<uint8_t>("abcdefghijklmnopqrstuvwxyz0123456789 ,.;"[(k * 7 + i * 13) % 40]);
            ConversationState s{};
            if (pipeline.on_packet(s, icmp(Family::kIpv4, 8, static_cast<uint16_t>(7000 + k), 1, chunk, kClient, kServer), 0, now))
                first_alert = k + 1;
            now += 150;
        }
        *deferred = pipeline.defer_stats().deferred.get();
        return first_alert;
    };
    uint64_t deferred_off = 0, deferred_on = 0;
    const int without = run(0, &deferred_off);
    const int with = run(1000, &deferred_on);
    BOOST_TEST(deferred_off == 0u);
    BOOST_TEST(deferred_on > 0u);
    BOOST_TEST(without > 0);
    BOOST_TEST(with > 0);
    BOOST_TEST(with <= without + 2 * static_cast<int>(test_config().defer_sample));
}


// A worker reuses a slot: start_conversation() writes only the first cache
// line, the second still holds the previous conversation's bytes. Whatever
// they are, the conversation must score, summarise and alert exactly as in a
// zeroed state.
BOOST_AUTO_TEST_CASE(a_reused_slot_behaves_as_a_fresh_state_whatever_its_second_line_holds) {
    struct Step {
        bool reply;
        Payload data;
        uint8_t code;
    };
    std::vector<std::vector<Step>> conversations;
    conversations.push_back({{false, linux_ping(56, 1), 0}, {true, linux_ping(56, 1), 0}});
    conversations.push_back({{false, linux_ping(56, 1), 0}});  // one packet
    std::vector<Step> tunnel;
    for (uint32_t i = 0; i < 12; ++i) {
        tunnel.push_back({false, random_bytes(64 + 16 * (i % 5), i), 0});
        tunnel.push_back({true, random_bytes(80 + 8 * (i % 3), 100 + i), 0});
    }
    conversations.push_back(tunnel);
    std::vector<Step> shell;
    for (uint32_t i = 0; i < 8; ++i) shell.push_back({i % 2 == 1, text("uid=0(root) gid=0(root) ls -la /etc " + std::to_string(i)), 0});
    conversations.push_back(shell);
    conversations.push_back({{false, Payload(8, 0x41), 3}, {false, Payload(8, 0x42), 3}, {true, Payload(8, 0x43), 0}});

    for (size_t k = 0; k < conversations.size(); ++k) {
        BOOST_TEST_CONTEXT("conversation " << k) {
            Pipeline fresh_p, reused_p;
            BOOST_REQUIRE(fresh_p.init(test_config()).ok());
            BOOST_REQUIRE(reused_p.init(test_config()).ok());
            // The reference is zeroed and wide from the start: every field
            // it writes is read back, lazily zeroed or not.
            ConversationState fresh{};
            fresh.flags = ConversationState::kFlagWide;
            ConversationState reused;
            std::memset(static_cast<void*>(&reused), 0xA5, sizeof reused);
            start_conversation(reused);
            uint64_t now = 1'764'128'000'000;
            uint16_t seq = 0;
            for (const Step& st : conversations[k]) {
                const auto p = st.reply ? icmp(Family::kIpv4, 0, 77, seq, st.data, kServer, kClient, st.code)
                                        : icmp(Family::kIpv4, 8, 77, seq, st.data, kClient, kServer, st.code);
                if (st.reply) ++seq;
                const bool a = fresh_p.on_packet(fresh, p, st.reply ? 1 : 0, now);
                const bool b = reused_p.on_packet(reused, p, st.reply ? 1 : 0, now);
                BOOST_TEST(a == b);
                // Field for field, as readers see them (the kFlagWide bit aside).
                ConversationState tf, tr;
                ConversationState sf = settled(fresh, tf), sr = settled(reused, tr);
                sf.flags &= static_cast<uint8_t>(~ConversationState::kFlagWide);
                sr.flags &= static_cast<uint8_t>(~ConversationState::kFlagWide);
                BOOST_TEST(std::memcmp(&sf, &sr, sizeof sf) == 0);
                now += 700;
            }
            const Evaluation ef = fresh_p.evaluate(fresh), er = reused_p.evaluate(reused);
            BOOST_TEST(ef.score == er.score);
            BOOST_TEST(ef.reasons == er.reasons);
            const flowgen::DetectionSummary sf = fresh_p.summarize(fresh), sr = reused_p.summarize(reused);
            BOOST_TEST(sf.entropy_milli == sr.entropy_milli);
            BOOST_TEST(sf.unexplained_bytes == sr.unexplained_bytes);
            BOOST_TEST(sf.signature_id == sr.signature_id);
            BOOST_TEST(sf.verdict == sr.verdict);
        }
    }
}

// A state that never wrote its second line is scored as if that line were
// zero, without reading it: whatever the line holds, and whatever the
// thresholds (the lowest allowed, 1, must still not be met by it).
BOOST_AUTO_TEST_CASE(a_narrow_state_scores_as_its_zeroed_copy) {
    std::mt19937 rng(5);
    Config lowest = test_config();
    lowest.min_random_packets = lowest.min_text_packets = lowest.min_binary_packets = 1;
    lowest.min_size_changes = lowest.min_reply_mismatches = lowest.min_fill_changes = 1;
    lowest.min_bogus_errors = lowest.min_text_changes = 1;
    lowest.volume_bytes = 1;
    const Config configs[2] = {test_config(), lowest};
    Pipeline pipelines[2];
    for (int k = 0; k < 2; ++k) BOOST_REQUIRE(pipelines[k].init(configs[k]).ok());
    unsigned differ = 0, alerts = 0;
    for (int round = 0; round < 2000; ++round) {
        const Config& c = configs[round % 2];
        const Pipeline& pipeline = pipelines[round % 2];
        ConversationState narrow;
        auto* bytes = reinterpret_cast<uint8_t*>(&narrow);
        for (size_t k = 0; k < sizeof narrow; ++k) bytes[k] = static_cast<uint8_t>(rng());
        narrow.flags &= static_cast<uint8_t>(~(ConversationState::kFlagWide | ConversationState::kFlagAllowListed));
        ConversationState tmp;
        ConversationState zeroed = settled(narrow, tmp);
        zeroed.flags |= ConversationState::kFlagWide;
        const Evaluation a = pipeline.evaluate(narrow), b = pipeline.evaluate(zeroed);
        if (a.score != b.score || a.reasons != b.reasons) ++differ;
        if (b.score >= c.alert_score) ++alerts;
    }
    BOOST_TEST(differ == 0u);
    BOOST_TEST(alerts > 0u);  // the random states reach every kind of score
}

BOOST_AUTO_TEST_SUITE_END()
