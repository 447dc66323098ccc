// IpfixEncoder byte for byte against hand-annotated golden messages
// (RFC 7011 §3 message/set/template layout, IANA element numbers, RFC 5103
// reverse elements, RFC 5610 type records).
#include <boost/test/unit_test.hpp>

#include <array>
#include <tuple>
#include <vector>

#include "flowgen/ipfix_encoder.hpp"
#include "tests/flowgen/ipfix_decode.hpp"
#include "tests/flowgen/ipfix_golden.hpp"

using namespace flowgen;
using ipfix_test::Golden;

namespace {

constexpr uint32_t kPen = 32473;
constexpr uint32_t kOdid = 7;
constexpr uint32_t kExportTime = 1700000002;
constexpr uint64_t kT0 = 1700000000000;  // ms

IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    IpAddress x{};
    x.bytes[0] = a, x.bytes[1] = b, x.bytes[2] = c, x.bytes[3] = d;
    return x;
}

IpAddress v6_doc(uint8_t last) {  // 2001:db8::last
    IpAddress x{};
    x.bytes[0] = 0x20, x.bytes[1] = 0x01, x.bytes[2] = 0x0d, x.bytes[3] = 0xb8;
    x.bytes[15] = last;
    return x;
}

EncoderConfig config(bool biflow, bool detection) {
    EncoderConfig c;
    c.observation_domain_id = kOdid;
    c.observation_point_id = 9;
    c.biflow = biflow;
    c.detection_elements = detection;
    c.enterprise_number = kPen;
    return c;
}

// Two pings of 84 bytes (56 data bytes) from 192.0.2.1 to 198.51.100.7, both answered.
ConversationRecord ping_v4() {
    ConversationRecord r;
    r.initiator = v4(192, 0, 2, 1);
    r.responder = v4(198, 51, 100, 7);
    r.family = Family::kIpv4;
    r.key_type = 8;
    r.icmp_id = 0x1234;
    r.end_reason = EndReason::kIdleTimeout;
    r.ingress_port = 3;
    r.flow_id = 42;
    r.dir[0] = DirectionCounters{168, 2, kT0, kT0 + 1000, 84, 84, 8, 0, 56, 56, 112};
    r.dir[1] = DirectionCounters{168, 2, kT0 + 1, kT0 + 1001, 84, 84, 0, 0, 56, 56, 112};
    r.detection = DetectionSummary{750, 0x5, 7900, 3, 2};
    return r;
}

struct Buf {
    std::array<uint8_t, 1472> bytes{};
    IpfixMessage m;
    Buf() { m.begin(bytes); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(ipfix_encoder)

BOOST_AUTO_TEST_CASE(ipv4_uniflow_templates_match_golden) {
    IpfixEncoder enc(config(false, true));
    Buf b;
    BOOST_REQUIRE_EQUAL(enc.add_templates(b.m), 4u);
    const size_t len = b.m.finish(kExportTime, 0, kOdid);

    Golden g;
    g.at(0).u16(10).u16(356).u32(kExportTime).u32(0).u32(kOdid);  // header: version 10, length, export time, seq 0, odid 7
    g.at(16).u16(2).u16(260);               // 16: template set (id 2), length 4 + 2*128
    g.at(20).u16(256).u16(23);              // 20: template 256 (IPv4), 23 fields
    g.at(24).ie(152, 8);                    // 24: flowStartMilliseconds
    g.at(28).ie(153, 8);                    // 28: flowEndMilliseconds
    g.at(32).ie(8, 4);                      // 32: sourceIPv4Address
    g.at(36).ie(12, 4);                     // 36: destinationIPv4Address
    g.at(40).ie(4, 1);                      // 40: protocolIdentifier
    g.at(44).ie(1, 8);                      // 44: octetDeltaCount
    g.at(48).ie(2, 8);                      // 48: packetDeltaCount
    g.at(52).ie(25, 2);                     // 52: minimumIpTotalLength (reduced size)
    g.at(56).ie(26, 2);                     // 56: maximumIpTotalLength (reduced size)
    g.at(60).ie(32, 2);                     // 60: icmpTypeCodeIPv4
    g.at(64).ie(136, 1);                    // 64: flowEndReason
    g.at(68).ie(10, 4);                     // 68: ingressInterface
    g.at(72).ie(138, 4);                    // 72: observationPointId
    g.at(76).ie(148, 8);                    // 76: flowId
    g.at(80).ie(239, 1);                    // 80: biflowDirection
    g.at(84).ent(1, 2, kPen);               // 84: PEN 32473 / 1 detection score
    g.at(92).ent(2, 4, kPen);               // 92: / 2 reason flags
    g.at(100).ent(3, 2, kPen);              // 100: / 3 payload entropy milli
    g.at(108).ent(4, 2, kPen);              // 108: / 4 payload min
    g.at(116).ent(5, 2, kPen);              // 116: / 5 payload max
    g.at(124).ent(6, 2, kPen);              // 124: / 6 payload mean
    g.at(132).ent(7, 2, kPen);              // 132: / 7 signature id
    g.at(140).ent(8, 1, kPen);              // 140: / 8 verdict
    g.at(148).u16(257).u16(23);             // 148: template 257 (IPv6), 23 fields
    g.at(152).ie(152, 8).ie(153, 8);        // 152: flowStart/EndMilliseconds
    g.at(160).ie(27, 16).ie(28, 16);        // 160: sourceIPv6Address, destinationIPv6Address
    g.at(168).ie(4, 1).ie(1, 8).ie(2, 8);   // 168: protocolIdentifier, octetDeltaCount, packetDeltaCount
    g.at(180).ie(25, 2).ie(26, 2);          // 180: min/maximumIpTotalLength
    g.at(188).ie(139, 2);                   // 188: icmpTypeCodeIPv6
    g.at(192).ie(136, 1).ie(10, 4).ie(138, 4).ie(148, 8).ie(239, 1);  // 192..211: as in 256
    g.at(212).ent(1, 2, kPen).ent(2, 4, kPen).ent(3, 2, kPen).ent(4, 2, kPen);  // 212..243
    g.at(244).ent(5, 2, kPen).ent(6, 2, kPen).ent(7, 2, kPen).ent(8, 1, kPen);  // 244..275
    g.at(276).u16(3).u16(50);               // 276: options template set (id 3), length 4 + 46
    g.at(280).u16(260).u16(10).u16(1);      // 280: template 260, 10 fields, 1 scope field
    g.at(286).ie(149, 4);                   // 286: scope observationDomainId
    g.at(290).ie(40, 8);                    // 290: exportedOctetTotalCount
    g.at(294).ie(41, 8);                    // 294: exportedMessageTotalCount
    g.at(298).ie(42, 8);                    // 298: exportedFlowRecordTotalCount
    g.at(302).ie(163, 8);                   // 302: observedFlowTotalCount
    g.at(306).ie(164, 8);                   // 306: ignoredPacketTotalCount
    g.at(310).ie(165, 8);                   // 310: ignoredOctetTotalCount
    g.at(314).ie(166, 8);                   // 314: notSentFlowTotalCount
    g.at(318).ie(86, 8);                    // 318: packetTotalCount (observed packets)
    g.at(322).ie(85, 8);                    // 322: octetTotalCount (observed octets)
    g.at(326).u16(3).u16(30);               // 326: second options template set: one template per set
    g.at(330).u16(261).u16(5).u16(2);       // 330: template 261 (RFC 5610 §3.9), 5 fields, 2 scope
    g.at(336).ie(303, 2);                   // 336: scope informationElementId
    g.at(340).ie(346, 4);                   // 340: scope privateEnterpriseNumber
    g.at(344).ie(339, 1);                   // 344: informationElementDataType
    g.at(348).ie(344, 1);                   // 348: informationElementSemantics
    g.at(352).ie(341, 0xFFFF);              // 352: informationElementName, variable length
    g.at(356);
    ipfix_test::check_bytes(b.m.data(), len, g.bytes());
}

BOOST_AUTO_TEST_CASE(ipv4_uniflow_conversation_is_two_records_matching_golden) {
    IpfixEncoder enc(config(false, true));
    Buf b;
    BOOST_REQUIRE_EQUAL(enc.add_conversation(b.m, ping_v4()), 2);
    const size_t len = b.m.finish(kExportTime, 1000, kOdid);
    BOOST_CHECK_EQUAL(b.m.data_records(), 2u);

    Golden g;
    g.at(0).u16(10).u16(184).u32(kExportTime).u32(1000).u32(kOdid);  // header, seq 1000
    g.at(16).u16(256).u16(168);             // 16: data set 256, length 4 + 2*82
    // record 1: the initiator's direction
    g.at(20).u64(kT0);                      // 20: flowStartMilliseconds
    g.at(28).u64(kT0 + 1000);               // 28: flowEndMilliseconds
    g.at(36).ip4(192, 0, 2, 1);             // 36: sourceIPv4Address
    g.at(40).ip4(198, 51, 100, 7);          // 40: destinationIPv4Address
    g.at(44).u8(1);                         // 44: protocolIdentifier ICMP
    g.at(45).u64(168);                      // 45: octetDeltaCount
    g.at(53).u64(2);                        // 53: packetDeltaCount
    g.at(61).u16(84);                       // 61: minimumIpTotalLength
    g.at(63).u16(84);                       // 63: maximumIpTotalLength
    g.at(65).u16(8 * 256 + 0);              // 65: icmpTypeCodeIPv4 echo request
    g.at(67).u8(1);                         // 67: flowEndReason idle timeout
    g.at(68).u32(3);                        // 68: ingressInterface
    g.at(72).u32(9);                        // 72: observationPointId
    g.at(76).u64(42);                       // 76: flowId
    g.at(84).u8(1);                         // 84: biflowDirection initiator
    g.at(85).u16(750);                      // 85: score
    g.at(87).u32(0x5);                      // 87: reason flags
    g.at(91).u16(7900);                     // 91: entropy milli
    g.at(93).u16(56);                       // 93: payload min
    g.at(95).u16(56);                       // 95: payload max
    g.at(97).u16(56);                       // 97: payload mean 112/2
    g.at(99).u16(3);                        // 99: signature id
    g.at(101).u8(2);                        // 101: verdict tunnel
    // record 2: the responder's direction, addresses swapped
    g.at(102).u64(kT0 + 1).u64(kT0 + 1001); // 102: flowStart/EndMilliseconds
    g.at(118).ip4(198, 51, 100, 7);         // 118: sourceIPv4Address
    g.at(122).ip4(192, 0, 2, 1);            // 122: destinationIPv4Address
    g.at(126).u8(1).u64(168).u64(2);        // 126: protocol, octets, packets
    g.at(143).u16(84).u16(84);              // 143: min/max IP length
    g.at(147).u16(0);                       // 147: icmpTypeCodeIPv4 echo reply (0,0)
    g.at(149).u8(1).u32(3).u32(9).u64(42);  // 149: end reason, ingress, obs point, flowId
    g.at(166).u8(2);                        // 166: biflowDirection reverseInitiator
    g.at(167).u16(750).u32(0x5).u16(7900);  // 167: score, reasons, entropy
    g.at(175).u16(56).u16(56).u16(56);      // 175: payload min/max/mean
    g.at(181).u16(3).u8(2);                 // 181: signature, verdict
    g.at(184);
    ipfix_test::check_bytes(b.m.data(), len, g.bytes());
}

BOOST_AUTO_TEST_CASE(ipv6_unanswered_echo_is_one_record_matching_golden) {
    IpfixEncoder enc(config(false, false));
    ConversationRecord r;
    r.initiator = v6_doc(1);
    r.responder = v6_doc(2);
    r.family = Family::kIpv6;
    r.key_type = 128;
    r.end_reason = EndReason::kForcedEnd;
    r.flow_id = 0x0102030405060708;
    r.dir[0] = DirectionCounters{312, 3, kT0, kT0 + 2000, 104, 104, 128, 0, 56, 56, 168};
    Buf b;
    BOOST_REQUIRE_EQUAL(enc.add_conversation(b.m, r), 1);
    const size_t len = b.m.finish(kExportTime, 5, kOdid);

    Golden g;
    g.at(0).u16(10).u16(109).u32(kExportTime).u32(5).u32(kOdid);  // header
    g.at(16).u16(257).u16(93);              // 16: data set 257, length 4 + 89
    g.at(20).u64(kT0).u64(kT0 + 2000);      // 20: flowStart/EndMilliseconds
    g.at(36).raw({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});  // 36: sourceIPv6Address
    g.at(52).raw({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});  // 52: destinationIPv6Address
    g.at(68).u8(58);                        // 68: protocolIdentifier ICMPv6
    g.at(69).u64(312).u64(3);               // 69: octetDeltaCount, packetDeltaCount
    g.at(85).u16(104).u16(104);             // 85: min/max IP length
    g.at(89).u16(128 * 256);                // 89: icmpTypeCodeIPv6 echo request
    g.at(91).u8(4);                         // 91: flowEndReason forced end
    g.at(92).u32(0).u32(9);                 // 92: ingressInterface 0, observationPointId 9
    g.at(100).u64(0x0102030405060708);      // 100: flowId
    g.at(108).u8(1);                        // 108: biflowDirection initiator
    g.at(109);
    ipfix_test::check_bytes(b.m.data(), len, g.bytes());

    // The template this record uses, as a collector would read it.
    Buf t;
    BOOST_REQUIRE_EQUAL(enc.add_templates(t.m), 4u);
    const size_t tlen = t.m.finish(kExportTime, 5, kOdid);
    ipfix_test::Decoder d;
    BOOST_REQUIRE(d.decode(t.m.data(), tlen).error.empty());
    std::vector<uint16_t> ids;
    for (const auto& f : d.templates().at(257)) ids.push_back(f.id);
    const std::vector<uint16_t> want{152, 153, 27, 28, 4, 1, 2, 25, 26, 139, 136, 10, 138, 148, 239};
    BOOST_TEST(ids == want, boost::test_tools::per_element());
    const auto m = d.decode(b.m.data(), len);
    BOOST_REQUIRE(m.error.empty());
    BOOST_REQUIRE_EQUAL(m.records.size(), 1u);
    BOOST_CHECK_EQUAL(m.records[0].u(139), 128u * 256);
}

BOOST_AUTO_TEST_CASE(ipv4_biflow_template_and_record_match_golden) {
    IpfixEncoder enc(config(true, true));
    Buf t;
    BOOST_REQUIRE_EQUAL(enc.add_templates(t.m), 4u);
    (void)t.m.finish(kExportTime, 0, kOdid);
    Golden g;
    g.at(0).u16(10).u16(16 + 4 + 2 * 184 + 4 + 46 + 4 + 26).u32(kExportTime).u32(0).u32(kOdid);  // header
    g.at(16).u16(2).u16(372);               // 16: template set, length 4 + 2*184
    g.at(20).u16(258).u16(30);              // 20: template 258 (IPv4 biflow), 30 fields
    g.at(24).ie(152, 8).ie(153, 8).ie(8, 4).ie(12, 4).ie(4, 1);  // 24..43: times, addresses, protocol
    g.at(44).ie(1, 8).ie(2, 8).ie(25, 2).ie(26, 2).ie(32, 2);    // 44..63: forward counters, type/code
    g.at(64).ie(136, 1).ie(10, 4).ie(138, 4).ie(148, 8).ie(239, 1);  // 64..83
    g.at(84).ent(1, 8, 29305);              // 84: reverseOctetDeltaCount (RFC 5103 PEN 29305)
    g.at(92).ent(2, 8, 29305);              // 92: reversePacketDeltaCount
    g.at(100).ent(25, 2, 29305);            // 100: reverseMinimumIpTotalLength
    g.at(108).ent(26, 2, 29305);            // 108: reverseMaximumIpTotalLength
    g.at(116).ent(1, 2, kPen).ent(2, 4, kPen).ent(3, 2, kPen);  // 116: score, reasons, entropy
    g.at(140).ent(4, 2, kPen).ent(5, 2, kPen).ent(6, 2, kPen);  // 140: payload min/max/mean
    g.at(164).ent(0x4004, 2, kPen);         // 164: reverse payload min (RFC 5103 §6.2 bit 14)
    g.at(172).ent(0x4005, 2, kPen);         // 172: reverse payload max
    g.at(180).ent(0x4006, 2, kPen);         // 180: reverse payload mean
    g.at(188).ent(7, 2, kPen).ent(8, 1, kPen);  // 188: signature, verdict
    g.at(204);
    ipfix_test::check_bytes(t.m.data(), g.size(), g.bytes());  // prefix: header + template 258

    Buf b;
    BOOST_REQUIRE_EQUAL(enc.add_conversation(b.m, ping_v4()), 1);
    const size_t len = b.m.finish(kExportTime, 0, kOdid);
    Golden d;
    d.at(0).u16(10).u16(128).u32(kExportTime).u32(0).u32(kOdid);  // header
    d.at(16).u16(258).u16(112);             // 16: data set 258, length 4 + 108
    d.at(20).u64(kT0).u64(kT0 + 1001);      // 20: flowStart/End of the whole conversation
    d.at(36).ip4(192, 0, 2, 1).ip4(198, 51, 100, 7);  // 36: initiator, responder
    d.at(44).u8(1).u64(168).u64(2);         // 44: protocol, forward octets, packets
    d.at(61).u16(84).u16(84).u16(8 * 256);  // 61: forward min/max length, echo request
    d.at(67).u8(1).u32(3).u32(9).u64(42);   // 67: end reason, ingress, obs point, flowId
    d.at(84).u8(1);                         // 84: biflowDirection initiator
    d.at(85).u64(168).u64(2);               // 85: reverse octets, packets
    d.at(101).u16(84).u16(84);              // 101: reverse min/max length
    d.at(105).u16(750).u32(5).u16(7900);    // 105: score, reasons, entropy
    d.at(113).u16(56).u16(56).u16(56);      // 113: forward payload min/max/mean
    d.at(119).u16(56).u16(56).u16(56);      // 119: reverse payload min/max/mean
    d.at(125).u16(3).u8(2);                 // 125: signature, verdict
    d.at(128);
    ipfix_test::check_bytes(b.m.data(), len, d.bytes());
}

BOOST_AUTO_TEST_CASE(type_records_and_process_stats_match_golden) {
    IpfixEncoder enc(config(false, true));
    BOOST_REQUIRE_EQUAL(enc.type_record_count(), 8u);
    std::array<uint8_t, 16 + 4 + 31 + 28> small{};  // room for exactly two type records
    IpfixMessage m;
    m.begin(small);
    BOOST_REQUIRE_EQUAL(enc.add_type_records(m), 2u);
    const size_t len = m.finish(kExportTime, 3, kOdid);
    Golden g;
    g.at(0).u16(10).u16(79).u32(kExportTime).u32(3).u32(kOdid);  // header
    g.at(16).u16(261).u16(63);              // 16: data set 261, length 4 + 31 + 28
    g.at(20).u16(1).u32(kPen);              // 20: informationElementId 1, PEN
    g.at(26).u8(2).u8(1);                   // 26: dataType unsigned16, semantics quantity
    g.at(28).u8(22).text("echoflowDetectionScore");  // 28: name, length 22
    g.at(51).u16(2).u32(kPen);              // 51: informationElementId 2, PEN
    g.at(57).u8(3).u8(5);                   // 57: dataType unsigned32, semantics flags
    g.at(59).u8(19).text("echoflowReasonFlags");     // 59: name, length 19
    g.at(79);
    ipfix_test::check_bytes(m.data(), len, g.bytes());
    BOOST_CHECK_EQUAL(enc.add_type_records(m, 2), 0u);  // message full: nothing more added

    Buf b;
    ProcessStats ps{1000, 84000, 7, 700, 12, 1};
    BOOST_REQUIRE(enc.add_process_stats(b.m, ps, ExportTotals{5000, 10, 24}));
    const size_t slen = b.m.finish(kExportTime, 26, kOdid);
    Golden s;
    s.at(0).u16(10).u16(96).u32(kExportTime).u32(26).u32(kOdid);  // header
    s.at(16).u16(260).u16(80);              // 16: data set 260, length 4 + 76
    s.at(20).u32(kOdid);                    // 20: scope observationDomainId
    s.at(24).u64(5000);                     // 24: exportedOctetTotalCount
    s.at(32).u64(10);                       // 32: exportedMessageTotalCount
    s.at(40).u64(24);                       // 40: exportedFlowRecordTotalCount
    s.at(48).u64(12);                       // 48: observedFlowTotalCount
    s.at(56).u64(7);                        // 56: ignoredPacketTotalCount
    s.at(64).u64(700);                      // 64: ignoredOctetTotalCount
    s.at(72).u64(1);                        // 72: notSentFlowTotalCount
    s.at(80).u64(1000);                     // 80: packetTotalCount
    s.at(88).u64(84000);                    // 88: octetTotalCount
    s.at(96);
    ipfix_test::check_bytes(b.m.data(), slen, s.bytes());
}

BOOST_AUTO_TEST_CASE(flood_report_template_and_record_match_golden) {
    EncoderConfig c = config(false, true);
    BOOST_CHECK_EQUAL(IpfixEncoder(c).template_count(), 4u);
    Buf off;
    BOOST_CHECK(!IpfixEncoder(c).add_flood_report(off.m, FloodReport{}));  // off: nothing
    BOOST_CHECK(off.m.empty());
    c.flood_reports = true;
    IpfixEncoder enc(c);
    BOOST_REQUIRE_EQUAL(enc.template_count(), 6u);
    // Detection's 8 type records, plus echoflowSegment and the 5 flood elements.
    BOOST_CHECK_EQUAL(enc.type_record_count(), 14u);

    Buf t;
    BOOST_REQUIRE_EQUAL(enc.add_templates(t.m, 4), 2u);  // templates 264 and 265 only
    const size_t tlen = t.m.finish(kExportTime, 0, kOdid);
    Golden tg;
    tg.at(0).u16(10).u16(164).u32(kExportTime).u32(0).u32(kOdid);  // header
    // RFC 7011 §3.4.2.2: options template sets (3), one template per set.
    for (const auto& [at, id, scope_ie, scope_len] : {std::tuple{16, 264, 12, 4}, std::tuple{90, 265, 28, 16}}) {
        const size_t o = static_cast<size_t>(at);
        tg.at(o).u16(3).u16(74);                        // set 3, length 4 + 6 + 4 * 4 + 6 * 8
        tg.at(o + 4).u16(id).u16(10).u16(1);            // template id, 10 fields, 1 scope field
        tg.at(o + 10).u16(scope_ie).u16(scope_len);     // scope: destinationIPv4/IPv6Address
        tg.at(o + 14).u16(58).u16(2);                   // vlanId
        tg.at(o + 18).u16(0x8000 | 9).u16(8).u32(kPen); // echoflowSegment
        tg.at(o + 26).u16(152).u16(8);                  // flowStartMilliseconds
        tg.at(o + 30).u16(153).u16(8);                  // flowEndMilliseconds
        for (uint16_t e = 20; e <= 24; ++e)             // echoflowFlood{Packets,Octets,Sources,PeakPackets/BitsPerSecond}
            tg.at(o + 34 + 8 * (e - 20u)).u16(0x8000 | e).u16(8).u32(kPen);
    }
    tg.at(164);
    ipfix_test::check_bytes(t.m.data(), tlen, tg.bytes());

    Buf b;
    FloodReport r;
    r.family = Family::kIpv4;
    r.victim = v4(198, 51, 100, 80);
    r.vlan_id = 12;
    r.segment_type = SegmentType::kVxlan;
    r.segment_id = 5000;
    r.start_ms = kT0;
    r.end_ms = kT0 + 499;
    r.packets = 50000;
    r.octets = 1400000;
    r.sources = 51234;
    r.peak_pps = 50000;
    r.peak_bps = 11200000;
    BOOST_REQUIRE(enc.add_flood_report(b.m, r));
    const size_t len = b.m.finish(kExportTime, 5, kOdid);
    Golden g;
    g.at(0).u16(10).u16(90).u32(kExportTime).u32(5).u32(kOdid);  // header: one data record
    g.at(16).u16(264).u16(74);              // 16: data set 264, length 4 + 70
    g.at(20).u8(198).u8(51).u8(100).u8(80); // 20: scope: the victim
    g.at(24).u16(12);                       // 24: vlanId
    g.at(26).u64(uint64_t{1} << 56 | 5000); // 26: echoflowSegment: SegmentType::kVxlan << 56 | VNI
    g.at(34).u64(kT0).u64(kT0 + 499);       // 34: start, end
    g.at(50).u64(50000).u64(1400000);       // 50: packets, octets
    g.at(66).u64(51234);                    // 66: sources
    g.at(74).u64(50000).u64(11200000);      // 74: peak packets and bits per second
    g.at(90);
    ipfix_test::check_bytes(b.m.data(), len, g.bytes());
    BOOST_CHECK_EQUAL(b.m.data_records(), 1u);

    // With the aggregate templates too: 262/263 before 264/265.
    c.aggregate_templates = true;
    IpfixEncoder both(c);
    BOOST_REQUIRE_EQUAL(both.template_count(), 8u);
    Buf t2;
    BOOST_REQUIRE_EQUAL(both.add_templates(t2.m, 6), 2u);
    BOOST_CHECK_EQUAL(ipfix_test::be16(t2.m.data() + 20), 264u);
    Buf t3;
    BOOST_REQUIRE_EQUAL(both.add_templates(t3.m, 4), 4u);
    BOOST_CHECK_EQUAL(ipfix_test::be16(t3.m.data() + 20), 262u);
}

// 1,000 one-packet echo requests of 84 bytes from 203.0.113.0/24 to
// 198.51.100.7, folded into one aggregate (flowgen/singleton_fold.hpp).
ConversationRecord aggregate_v4() {
    ConversationRecord r;
    r.initiator = v4(203, 0, 113, 0);
    r.responder = v4(198, 51, 100, 7);
    r.family = Family::kIpv4;
    r.key_type = 8;
    r.end_reason = EndReason::kLackOfResources;
    r.ingress_port = 2;
    r.flow_id = 0;
    r.dir[0] = DirectionCounters{84000, 1000, kT0, kT0 + 999, 84, 84, 8, 0, 56, 56, 56000};
    r.source_prefix_length = 24;
    r.destination_prefix_length = 32;
    r.flow_count = 1000;
    return r;
}

BOOST_AUTO_TEST_CASE(aggregate_ipv4_record_matches_golden) {
    EncoderConfig c = config(false, false);
    c.aggregate_templates = true;
    IpfixEncoder enc(c);
    Buf b;
    BOOST_REQUIRE_EQUAL(enc.add_conversation(b.m, aggregate_v4()), 1);
    const size_t len = b.m.finish(kExportTime, 3, kOdid);

    Golden g;
    g.at(0).u16(10).u16(85).u32(kExportTime).u32(3).u32(kOdid);  // header
    g.at(16).u16(262).u16(69);              // 16: data set 262 (IPv4 aggregate), length 4 + 65
    g.at(20).u64(kT0).u64(kT0 + 999);       // 20: flowStart/EndMilliseconds: first and last packet folded in
    g.at(36).raw({203, 0, 113, 0});         // 36: sourceIPv4Address: the prefix's network address
    g.at(40).u8(24);                        // 40: sourceIPv4PrefixLength (IANA 9)
    g.at(41).raw({198, 51, 100, 7});        // 41: destinationIPv4Address
    g.at(45).u8(32);                        // 45: destinationIPv4PrefixLength (IANA 13)
    g.at(46).u8(1);                         // 46: protocolIdentifier ICMP
    g.at(47).u64(84000).u64(1000);          // 47: octetDeltaCount, packetDeltaCount
    g.at(63).u64(1000);                     // 63: deltaFlowCount (IANA 3): conversations folded in
    g.at(71).u16(84).u16(84);               // 71: min/maximumIpTotalLength
    g.at(75).u16(8 * 256);                  // 75: icmpTypeCodeIPv4 echo request
    g.at(77).u32(2).u32(9);                 // 77: ingressInterface, observationPointId
    g.at(85);
    ipfix_test::check_bytes(b.m.data(), len, g.bytes());
}

BOOST_AUTO_TEST_CASE(aggregates_round_trip_through_their_own_templates) {
    EncoderConfig c = config(true, true);  // biflow: aggregates stay one direction
    c.segment_elements = true;
    c.aggregate_templates = true;
    IpfixEncoder enc(c);
    BOOST_TEST(enc.template_count() == 6u);
    ipfix_test::Decoder d;
    for (size_t done = 0; done < enc.template_count();) {
        Buf t;
        const size_t n = enc.add_templates(t.m, done);
        BOOST_REQUIRE(n > 0u);
        done += n;
        const size_t tlen = t.m.finish(kExportTime, 0, kOdid);
        BOOST_REQUIRE(d.decode(t.m.data(), tlen).error.empty());
    }
    BOOST_REQUIRE(d.templates().count(kTemplateAggregateIpv4) == 1u);
    BOOST_REQUIRE(d.templates().count(kTemplateAggregateIpv6) == 1u);
    std::vector<uint16_t> ids;
    for (const auto& f : d.templates().at(kTemplateAggregateIpv6))
        if (f.pen == 0) ids.push_back(f.id);
    const std::vector<uint16_t> want{152, 153, 27, 29, 28, 30, 4, 1, 2, 3, 25, 26, 139, 10, 138, 58, 351};
    BOOST_TEST(ids == want, boost::test_tools::per_element());

    ConversationRecord a4 = aggregate_v4();
    a4.vlan_id = 30;
    ConversationRecord a6 = a4;  // a catch-all: both addresses unspecified, prefix lengths 0
    a6.family = Family::kIpv6;
    a6.initiator = IpAddress{};
    a6.responder = IpAddress{};
    a6.source_prefix_length = 0;
    a6.destination_prefix_length = 0;
    a6.flow_count = 77;
    a6.dir[0] = DirectionCounters{7700, 77, kT0 + 5, kT0 + 6, 100, 100, 128, 0, 52, 52, 4004};
    Buf b;
    BOOST_REQUIRE_EQUAL(enc.add_conversation(b.m, a4), 1);
    BOOST_REQUIRE_EQUAL(enc.add_conversation(b.m, a6), 1);
    const size_t len = b.m.finish(kExportTime, 1, kOdid);
    const auto m = d.decode(b.m.data(), len);
    BOOST_REQUIRE(m.error.empty());
    BOOST_REQUIRE_EQUAL(m.records.size(), 2u);
    const auto& r4 = m.records[0];
    BOOST_TEST(r4.template_id == kTemplateAggregateIpv4);
    BOOST_TEST(r4.u(8) == 0xCB007100u);  // 203.0.113.0
    BOOST_TEST(r4.u(9) == 24u);
    BOOST_TEST(r4.u(12) == 0xC6336407u);
    BOOST_TEST(r4.u(13) == 32u);
    BOOST_TEST(r4.u(1) == 84000u);
    BOOST_TEST(r4.u(2) == 1000u);
    BOOST_TEST(r4.u(3) == 1000u);
    BOOST_TEST(r4.u(58) == 30u);
    BOOST_TEST(r4.u(8, kPen) == 0u);  // verdict: an aggregate has none of its own
    BOOST_TEST(r4.u(6, kPen) == 56u);  // mean payload
    BOOST_TEST(!r4.has(148));          // no flowId: no one conversation
    BOOST_TEST(!r4.has(2, kReversePen));
    const auto& r6 = m.records[1];
    BOOST_TEST(r6.template_id == kTemplateAggregateIpv6);
    BOOST_TEST(r6.u(29) == 0u);
    BOOST_TEST(r6.u(30) == 0u);
    BOOST_TEST(r6.fields.at({0, 27}) == std::vector<uint8_t>(16, 0), boost::test_tools::per_element());
    BOOST_TEST(r6.u(3) == 77u);
    BOOST_TEST(r6.u(2) == 77u);
    BOOST_TEST(r6.u(139) == 128u * 256);
    BOOST_TEST(r6.u(152) == kT0 + 5);
}

BOOST_AUTO_TEST_CASE(without_aggregate_templates_the_templates_are_as_before_and_aggregates_are_not_encoded) {
    IpfixEncoder enc(config(false, true));
    BOOST_TEST(enc.template_count() == 4u);
    Buf b;
    BOOST_TEST(enc.add_conversation(b.m, aggregate_v4()) == 0);
    BOOST_TEST(b.m.empty());
}

BOOST_AUTO_TEST_CASE(conversation_that_does_not_fit_leaves_message_unchanged) {
    IpfixEncoder enc(config(false, true));
    std::array<uint8_t, 16 + 4 + 82 + 10> buf{};  // one record fits, two do not
    IpfixMessage m;
    m.begin(buf);
    BOOST_CHECK_EQUAL(enc.add_conversation(m, ping_v4()), -1);
    BOOST_CHECK(m.empty());
    BOOST_CHECK_EQUAL(m.size(), 16u);
    ConversationRecord silent = ping_v4();
    silent.dir[0].packets = silent.dir[1].packets = 0;
    BOOST_CHECK_EQUAL(enc.add_conversation(m, silent), 0);
    BOOST_CHECK(m.empty());
}

BOOST_AUTO_TEST_SUITE_END()
