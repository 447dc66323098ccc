// Alert lines parse as JSON and carry the fields README.md lists.
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "detect/alert_json.hpp"
#include "tests/detect/payloads.hpp"

using namespace detect;
using namespace tests::detect;
namespace pt = boost::property_tree;

namespace {

const std::string kShippedFile = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";

struct Alerted {
    Pipeline pipeline;
    ConversationState state{};
    flowgen::ConversationRecord record;
    Payload trigger = ptunnel_packet(0xD5200880u, random_bytes(100, 1), 1);

    explicit Alerted(bool hex) {
        Config c;
        c.patterns_path = kShippedFile;
        c.emit_payload_hex = hex;
        c.payload_hex_max_bytes = 8;
        BOOST_REQUIRE(pipeline.init(c).ok());
        const auto p = icmp(flowgen::Family::kIpv4, 8, 0x4242, 1, trigger, addr4(192, 0, 2, 1), addr4(203, 0, 113, 9));
        BOOST_REQUIRE(pipeline.on_packet(state, p, 0, 1'764'128'000'250));
        record.initiator = p.src;
        record.responder = p.dst;
        record.family = flowgen::Family::kIpv4;
        record.key_type = 8;
        record.icmp_id = 0x4242;
        record.flow_id = 77;
        record.dir[0].packets = 3;
        record.dir[0].octets = 3 * 156;
        record.dir[0].first_ms = 1'764'128'000'000;
        record.dir[0].last_ms = 1'764'128'000'250;
        record.dir[0].min_payload = 100;
        record.dir[0].max_payload = 156;
        record.dir[0].payload_octets = 100 + 128 + 156;
        record.detection = pipeline.summarize(state);
    }
    pt::ptree parse(const std::string& line) {
        std::istringstream in(line);
        pt::ptree tree;
        pt::read_json(in, tree);
        return tree;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(alert_json)

BOOST_AUTO_TEST_CASE(alert_line_is_one_json_object_with_the_issue_fields) {
    Alerted a(false);
    std::string out;
    format_alert_json(a.record, a.pipeline, 1'764'128'000'250, out, a.trigger);
    BOOST_TEST_MESSAGE(out);
    BOOST_REQUIRE(!out.empty());
    BOOST_TEST(out.back() == '\n');
    BOOST_TEST(out.find('\n') == out.size() - 1);
    const pt::ptree j = a.parse(out);
    BOOST_TEST(j.get<std::string>("time") == "2025-11-26T03:33:20.250Z");
    BOOST_TEST(j.get<std::string>("src") == "192.0.2.1");
    BOOST_TEST(j.get<std::string>("dst") == "203.0.113.9");
    BOOST_TEST(j.get<std::string>("family") == "ipv4");
    BOOST_TEST(j.get<int>("icmp_id") == 0x4242);
    BOOST_TEST(j.get<std::string>("verdict") == "tunnel");
    BOOST_TEST(j.get<int>("score") == a.record.detection.score);
    BOOST_TEST(j.get<std::string>("signature") == "ptunnel");
    BOOST_TEST(j.get<int>("packets") == 3);
    BOOST_TEST(j.get<int>("bytes") == 3 * 156);
    BOOST_TEST(j.get<std::string>("first_seen") == "2025-11-26T03:33:20.000Z");
    BOOST_TEST(j.get<int>("payload.min") == 100);
    BOOST_TEST(j.get<int>("payload.max") == 156);
    BOOST_TEST(j.get<double>("payload.mean") == 128.0);
    std::string reasons;
    for (const auto& r : j.get_child("reasons")) reasons += r.second.get_value<std::string>() + ",";
    BOOST_TEST(reasons.find("tunnel-signature,") != std::string::npos);
    BOOST_TEST(reasons.find("tunnel-framing,") != std::string::npos);
    // One explanation per reason, in the same order, from the reason table.
    std::vector<std::string> names, explanations;
    for (const auto& r : j.get_child("reasons")) names.push_back(r.second.get_value<std::string>());
    for (const auto& e : j.get_child("explanations")) explanations.push_back(e.second.get_value<std::string>());
    BOOST_TEST_REQUIRE(explanations.size() == names.size());
    for (size_t i = 0; i < names.size(); ++i)
        BOOST_TEST(explanations[i] == detect::reason_info(detect::reason_index(names[i]))->description);
    BOOST_TEST(j.count("payload_hex") == 0u);  // no raw bytes unless asked
}

BOOST_AUTO_TEST_CASE(payload_hex_only_when_asked_and_capped) {
    Alerted a(true);
    std::string out;
    format_alert_json(a.record, a.pipeline, 1'764'128'000'250, out, a.trigger);
    const pt::ptree j = a.parse(out);
    BOOST_TEST(j.get<std::string>("payload_hex") == "d52008807f000001");
}

BOOST_AUTO_TEST_CASE(ipv6_addresses_and_null_signature) {
    Alerted a(false);
    a.record.family = flowgen::Family::kIpv6;
    a.record.initiator = flowgen::IpAddress{};
    a.record.initiator.bytes[0] = 0x20, a.record.initiator.bytes[1] = 0x01, a.record.initiator.bytes[2] = 0x0d,
    a.record.initiator.bytes[3] = 0xb8, a.record.initiator.bytes[15] = 1;
    a.record.detection.signature_id = 0;
    std::string out;
    format_alert_json(a.record, a.pipeline, 0, out);
    const pt::ptree j = a.parse(out);
    BOOST_TEST(j.get<std::string>("src") == "2001:db8::1");
    BOOST_TEST(j.get<std::string>("family") == "ipv6");
    BOOST_TEST(j.get<std::string>("signature") == "null");  // property_tree reads JSON null as "null"
    BOOST_TEST(j.get<std::string>("time") == "1970-01-01T00:00:00.000Z");
}

BOOST_AUTO_TEST_CASE(fingerprint_names_the_ping_program_of_the_alerting_packet) {
    // Looked up only when an alert is raised (Pipeline::fingerprint), never
    // per packet: a ping's data names its program, a tunnel's names none.
    Alerted a(false);
    const Payload ping = linux_ping(56, 3);
    const uint16_t id = a.pipeline.fingerprint(ping);
    BOOST_REQUIRE(id != 0);
    BOOST_TEST(a.pipeline.fingerprint(a.trigger) == 0u);
    BOOST_TEST(a.pipeline.fingerprint(windows_ping(32)) != id);
    std::string out;
    format_alert_json(a.record, a.pipeline, 0, out, {}, id);
    BOOST_TEST(a.parse(out).get<std::string>("fingerprint") == "iputils-ping");
    out.clear();
    format_alert_json(a.record, a.pipeline, 0, out, a.trigger, a.pipeline.fingerprint(a.trigger));
    BOOST_TEST(a.parse(out).get<std::string>("fingerprint") == "null");
}

BOOST_AUTO_TEST_CASE(mirrored_conversation_names_its_vlan_and_segment_bare_one_neither) {
    Alerted a(false);
    std::string bare;
    format_alert_json(a.record, a.pipeline, 1'764'128'000'250, bare, a.trigger);
    const pt::ptree b = a.parse(bare);
    BOOST_TEST(!b.get_child_optional("vlan"));
    BOOST_TEST(!b.get_child_optional("segment"));

    struct Row { flowgen::SegmentType type; const char* name; };
    for (const Row r : {Row{flowgen::SegmentType::kVxlan, "vxlan"}, Row{flowgen::SegmentType::kGeneve, "geneve"},
                        Row{flowgen::SegmentType::kErspan, "erspan"}}) {
        a.record.vlan_id = 300;
        a.record.segment_type = r.type;
        a.record.segment_id = 4242;
        std::string out;
        format_alert_json(a.record, a.pipeline, 1'764'128'000'250, out, a.trigger);
        const pt::ptree j = a.parse(out);
        BOOST_TEST(j.get<int>("vlan") == 300);
        BOOST_TEST(j.get<std::string>("segment.type") == r.name);
        BOOST_TEST(j.get<int>("segment.id") == 4242);
    }
}

BOOST_AUTO_TEST_SUITE_END()
