// Conversation log lines (--conversations) parse as JSON and carry every
// field docs/conversations.md documents, with the record's values.
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>

#include "detect/conversation_json.hpp"
#include "tests/detect/payloads.hpp"

using namespace detect;
using namespace tests::detect;
namespace pt = boost::property_tree;

namespace {

const std::string kShippedFile = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";

pt::ptree parse(const std::string& line) {
    std::istringstream in(line);
    pt::ptree tree;
    pt::read_json(in, tree);
    return tree;
}

// A Linux ping conversation: 3 requests of 56 bytes, 2 replies, seen by a
// pipeline with the shipped patterns.
struct PingConversation {
    Pipeline pipeline;
    ConversationState state{};
    flowgen::ConversationRecord record;

    PingConversation() {
        Config c;
        c.patterns_path = kShippedFile;
        c.fingerprint_conversations = true;
        BOOST_REQUIRE(pipeline.init(c).ok());
        const auto src = addr4(192, 0, 2, 1), dst = addr4(203, 0, 113, 9);
        for (uint32_t seq = 1; seq <= 3; ++seq) {
            const Payload data = linux_ping(56, seq);
            pipeline.on_packet(state, icmp(flowgen::Family::kIpv4, 8, 0x4242, seq, data, src, dst), 0,
                               1'764'128'000'000 + seq * 1000);
            if (seq < 3)
                pipeline.on_packet(state, icmp(flowgen::Family::kIpv4, 0, 0x4242, seq, data, dst, src), 1,
                                   1'764'128'000'010 + seq * 1000);
        }
        record.initiator = src;
        record.responder = dst;
        record.family = flowgen::Family::kIpv4;
        record.key_type = 8;
        record.icmp_id = 0x4242;
        record.end_reason = flowgen::EndReason::kActiveTimeout;
        record.ingress_port = 3;
        record.flow_id = 9'000'000'001;
        auto& a = record.dir[0];
        a.packets = 3, a.octets = 3 * 84, a.first_ms = 1'764'128'001'000, a.last_ms = 1'764'128'003'000;
        a.icmp_type = 8, a.icmp_code = 0, a.min_payload = 56, a.max_payload = 56, a.payload_octets = 3 * 56;
        auto& b = record.dir[1];
        b.packets = 2, b.octets = 2 * 84, b.first_ms = 1'764'128'001'010, b.last_ms = 1'764'128'002'010;
        b.icmp_type = 0, b.min_payload = 48, b.max_payload = 56, b.payload_octets = 48 + 56;
        record.detection = pipeline.summarize(state);
    }
};

std::string reasons_of(const pt::ptree& j) {
    std::string out;
    for (const auto& r : j.get_child("reasons")) out += r.second.get_value<std::string>() + ",";
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(conversation_json)

BOOST_AUTO_TEST_CASE(line_is_one_json_object_with_every_documented_field) {
    PingConversation c;
    std::string out;
    format_conversation_json(c.record, &c.pipeline, 1'764'128'010'500, out);
    BOOST_TEST_MESSAGE(out);
    BOOST_REQUIRE(!out.empty());
    BOOST_TEST(out.back() == '\n');
    BOOST_TEST(out.find('\n') == out.size() - 1);
    const pt::ptree j = parse(out);
    BOOST_TEST(j.get<std::string>("time") == "2025-11-26T03:33:30.500Z");
    BOOST_TEST(j.get<uint64_t>("flow_id") == 9'000'000'001u);
    BOOST_TEST(j.get<std::string>("start") == "2025-11-26T03:33:21.000Z");
    BOOST_TEST(j.get<std::string>("end") == "2025-11-26T03:33:23.000Z");
    BOOST_TEST(j.get<std::string>("duration") == "2.000");
    BOOST_TEST(j.get<std::string>("src") == "192.0.2.1");
    BOOST_TEST(j.get<std::string>("dst") == "203.0.113.9");
    BOOST_TEST(j.get<std::string>("family") == "ipv4");
    BOOST_TEST(j.get<int>("icmp_type") == 8);
    BOOST_TEST(j.get<int>("icmp_code") == 0);
    BOOST_TEST(j.get<int>("icmp_id") == 0x4242);
    BOOST_TEST(j.get<std::string>("end_reason") == "active-timeout");
    BOOST_TEST(j.get<int>("ingress_port") == 3);
    BOOST_TEST(j.get<std::string>("segment") == "null");  // property_tree reads JSON null as "null"
    BOOST_TEST(j.get<int>("packets") == 5);
    BOOST_TEST(j.get<int>("octets") == 5 * 84);
    BOOST_TEST(j.get<int>("src_packets") == 3);
    BOOST_TEST(j.get<int>("src_octets") == 3 * 84);
    BOOST_TEST(j.get<int>("dst_packets") == 2);
    BOOST_TEST(j.get<int>("dst_octets") == 2 * 84);
    BOOST_TEST(j.get<int>("payload.octets") == 5 * 56 - 8);
    BOOST_TEST(j.get<int>("payload.min") == 48);
    BOOST_TEST(j.get<int>("payload.max") == 56);
    BOOST_TEST(j.get<std::string>("payload.mean") == "54.4");
    BOOST_TEST(j.get<double>("payload.entropy") == c.record.detection.entropy_milli / 1000.0, boost::test_tools::tolerance(0.001));
    BOOST_TEST(j.get<double>("payload.entropy") > 0.0);
    BOOST_TEST(j.get<int>("payload.unexplained") == 0);  // a counter fill explains itself
    BOOST_TEST(j.get<std::string>("fingerprint") == "iputils-ping");
    BOOST_TEST(j.get<std::string>("signature") == "null");
    BOOST_TEST(j.get<int>("signature_id") == 0);
    BOOST_TEST(j.get<int>("score") == c.record.detection.score);
    BOOST_TEST(j.get<std::string>("verdict") == "benign");
    BOOST_TEST(j.get_child("reasons").empty());
    BOOST_TEST(j.get<std::string>("aggregate") == "null");  // one conversation
    // Nothing beyond the documented fields: adding one is a documented change.
    BOOST_TEST(j.size() == 28u);
    BOOST_TEST(j.get_child("payload").size() == 6u);
}

BOOST_AUTO_TEST_CASE(fingerprint_is_looked_for_only_when_the_conversation_log_asks) {
    // Off by default: a flood of new conversations pays no extra scan.
    for (const bool wanted : {false, true}) {
        Pipeline pipeline;
        Config cfg;
        cfg.patterns_path = kShippedFile;
        cfg.fingerprint_conversations = wanted;
        BOOST_REQUIRE(pipeline.init(cfg).ok());
        ConversationState state{};
        pipeline.on_packet(state, icmp(flowgen::Family::kIpv4, 8, 1, 1, windows_ping(32), addr4(10, 0, 0, 1), addr4(10, 0, 0, 2)),
                           0, 1'764'128'000'000);
        const flowgen::DetectionSummary d = pipeline.summarize(state);
        if (wanted)
            BOOST_TEST(std::string(pipeline.signature_name(d.fingerprint_id)) == "windows-ping");
        else
            BOOST_TEST(d.fingerprint_id == 0u);
    }
}

BOOST_AUTO_TEST_CASE(tunnel_conversation_carries_signature_reasons_and_unexplained_bytes) {
    Pipeline pipeline;
    Config cfg;
    cfg.patterns_path = kShippedFile;
    BOOST_REQUIRE(pipeline.init(cfg).ok());
    ConversationState state{};
    const auto src = addr4(10, 0, 0, 1), dst = addr4(10, 0, 0, 2);
    for (uint32_t seq = 1; seq <= 6; ++seq)
        pipeline.on_packet(state, icmp(flowgen::Family::kIpv4, 8, 7, seq, ptunnel_packet(0xD5200880u, random_bytes(300, seq), seq), src, dst),
                           0, 1'764'128'000'000 + seq * 100);
    flowgen::ConversationRecord r;
    r.initiator = src, r.responder = dst, r.family = flowgen::Family::kIpv4, r.key_type = 8, r.icmp_id = 7;
    r.dir[0].packets = 6, r.dir[0].octets = 6 * 356, r.dir[0].first_ms = 1'764'128'000'100, r.dir[0].last_ms = 1'764'128'000'600;
    r.dir[0].min_payload = r.dir[0].max_payload = 328, r.dir[0].payload_octets = 6 * 328;
    r.detection = pipeline.summarize(state);
    std::string out;
    format_conversation_json(r, &pipeline, 1'764'128'001'000, out);
    const pt::ptree j = parse(out);
    BOOST_TEST(j.get<std::string>("verdict") == "tunnel");
    BOOST_TEST(j.get<std::string>("signature") == "ptunnel");
    BOOST_TEST(j.get<int>("signature_id") == 1);
    BOOST_TEST(j.get<std::string>("fingerprint") == "null");
    BOOST_TEST(j.get<int>("payload.unexplained") == static_cast<int>(r.detection.unexplained_bytes));
    BOOST_TEST(reasons_of(j).find("tunnel-signature,") != std::string::npos);
    BOOST_TEST(j.get<std::string>("dst_packets") == "0");
    BOOST_TEST(j.get<std::string>("end_reason") == "idle-timeout");
}

BOOST_AUTO_TEST_CASE(segment_names_the_vlan_and_the_overlay_it_was_seen_on) {
    PingConversation c;
    std::string out;
    c.record.vlan_id = 100;
    c.record.segment_type = flowgen::SegmentType::kVxlan;
    c.record.segment_id = 4243;
    format_conversation_json(c.record, &c.pipeline, 0, out);
    pt::ptree j = parse(out);
    BOOST_TEST(j.get<int>("segment.vlan") == 100);
    BOOST_TEST(j.get<std::string>("segment.type") == "vxlan");
    BOOST_TEST(j.get<int>("segment.id") == 4243);
    BOOST_TEST(j.size() == 28u);

    // A VLAN alone: the overlay half is null.
    c.record.segment_type = flowgen::SegmentType::kNone;
    c.record.segment_id = 0;
    out.clear();
    format_conversation_json(c.record, &c.pipeline, 0, out);
    j = parse(out);
    BOOST_TEST(j.get<int>("segment.vlan") == 100);
    BOOST_TEST(j.get<std::string>("segment.type") == "null");
    BOOST_TEST(j.get<std::string>("segment.id") == "null");

    // An ERSPAN session on untagged underlay.
    c.record.vlan_id = 0;
    c.record.segment_type = flowgen::SegmentType::kErspan;
    c.record.segment_id = 7;
    out.clear();
    format_conversation_json(c.record, &c.pipeline, 0, out);
    j = parse(out);
    BOOST_TEST(j.get<std::string>("segment.vlan") == "null");
    BOOST_TEST(j.get<std::string>("segment.type") == "erspan");
    BOOST_TEST(j.get<int>("segment.id") == 7);
}

BOOST_AUTO_TEST_CASE(without_detection_the_verdict_fields_are_null) {
    flowgen::ConversationRecord r;
    r.family = flowgen::Family::kIpv6;
    r.initiator = flowgen::IpAddress{};
    r.responder = flowgen::IpAddress{};
    r.initiator.bytes[0] = 0x20, r.initiator.bytes[1] = 0x01, r.initiator.bytes[2] = 0x0d, r.initiator.bytes[3] = 0xb8;
    r.initiator.bytes[15] = 1;
    r.key_type = 128;
    r.end_reason = flowgen::EndReason::kLackOfResources;
    // Only the responder's direction was seen: times come from it.
    r.dir[1].packets = 1, r.dir[1].octets = 48, r.dir[1].first_ms = r.dir[1].last_ms = 1'764'128'000'123;
    r.dir[1].icmp_code = 3;
    std::string out;
    format_conversation_json(r, nullptr, 0, out);
    const pt::ptree j = parse(out);
    BOOST_TEST(j.get<std::string>("src") == "2001:db8::1");
    BOOST_TEST(j.get<std::string>("family") == "ipv6");
    BOOST_TEST(j.get<std::string>("start") == "2025-11-26T03:33:20.123Z");
    BOOST_TEST(j.get<std::string>("end") == "2025-11-26T03:33:20.123Z");
    BOOST_TEST(j.get<int>("icmp_code") == 3);
    BOOST_TEST(j.get<std::string>("end_reason") == "lack-of-resources");
    BOOST_TEST(j.get<std::string>("score") == "null");
    BOOST_TEST(j.get<std::string>("verdict") == "null");
    BOOST_TEST(j.get<std::string>("payload.entropy") == "null");
    BOOST_TEST(j.get<std::string>("fingerprint") == "null");
    BOOST_TEST(j.size() == 28u);
}

BOOST_AUTO_TEST_CASE(an_aggregate_of_one_packet_conversations_says_so) {
    // 500 echo requests from 203.0.113.0/24 to 198.51.100.7 folded into one
    // record (flowgen/singleton_fold.hpp).
    flowgen::ConversationRecord r;
    r.family = flowgen::Family::kIpv4;
    r.initiator = addr4(203, 0, 113, 0);
    r.responder = addr4(198, 51, 100, 7);
    r.key_type = 8;
    r.flow_id = 0;
    r.dir[0].packets = 500, r.dir[0].octets = 500 * 84, r.dir[0].icmp_type = 8;
    r.dir[0].first_ms = 1'764'128'000'000, r.dir[0].last_ms = 1'764'128'000'999;
    r.source_prefix_length = 24;
    r.destination_prefix_length = 32;
    r.flow_count = 500;
    std::string out;
    format_conversation_json(r, nullptr, 0, out);
    const pt::ptree j = parse(out);
    BOOST_TEST(j.get<std::string>("src") == "203.0.113.0");
    BOOST_TEST(j.get<std::string>("dst") == "198.51.100.7");
    BOOST_TEST(j.get<int>("packets") == 500);
    BOOST_TEST(j.get<int>("aggregate.source_prefix") == 24);
    BOOST_TEST(j.get<int>("aggregate.destination_prefix") == 32);
    BOOST_TEST(j.get<int>("aggregate.flows") == 500);
    BOOST_TEST(j.get_child("aggregate").size() == 3u);
    BOOST_TEST(j.size() == 28u);
}

BOOST_AUTO_TEST_CASE(strings_are_escaped_and_stay_valid_utf8) {
    struct Case {
        std::string in;
        std::string want;
    };
    const Case cases[] = {
        {"plain-name_1.2", "\"plain-name_1.2\""},
        {"quote\" back\\slash", "\"quote\\\" back\\\\slash\""},
        {"nl\ncr\rtab\t", "\"nl\\ncr\\rtab\\t\""},
        {std::string("nul\0bel\x07" "del\x7f", 12), "\"nul\\u0000bel\\u0007del\\u007f\""},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7\""},  // é € penguin kept
        {"bad \xff lone \xc3 overlong \xc0\xaf", "\"bad \\u00ff lone \\u00c3 overlong \\u00c0\\u00af\""},
        {"surrogate \xed\xa0\x80", "\"surrogate \\u00ed\\u00a0\\u0080\""},
        {"", "\"\""},
    };
    for (const Case& c : cases) {
        std::string out;
        append_json_string(c.in, out);
        BOOST_TEST(out == c.want);
        // And a JSON parser reads it back as one string.
        const pt::ptree j = parse("{\"k\":" + out + "}");
        BOOST_TEST(j.count("k") == 1u);
    }
}

BOOST_AUTO_TEST_CASE(every_end_reason_has_a_name) {
    BOOST_TEST(std::string(end_reason_name(flowgen::EndReason::kIdleTimeout)) == "idle-timeout");
    BOOST_TEST(std::string(end_reason_name(flowgen::EndReason::kActiveTimeout)) == "active-timeout");
    BOOST_TEST(std::string(end_reason_name(flowgen::EndReason::kEndOfFlow)) == "end-of-flow");
    BOOST_TEST(std::string(end_reason_name(flowgen::EndReason::kForcedEnd)) == "forced-end");
    BOOST_TEST(std::string(end_reason_name(flowgen::EndReason::kLackOfResources)) == "lack-of-resources");
}

BOOST_AUTO_TEST_SUITE_END()
