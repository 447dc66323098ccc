// The IPFIX encoder from arbitrary conversation records: every message stays
// within the MTU, decodes cleanly with the independent test decoder
// (tests/flowgen/ipfix_decode.hpp, RFC 7011 §3), and gives back the counts,
// times, addresses and flow ids that went in (uniflow: one record per
// direction that saw packets; RFC 5103 biflow: one, the reverse counters
// under PEN 29305).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "flowgen/ipfix_encoder.hpp"
#include "flowgen/ipfix_exporter.hpp"
#include "tests/flowgen/ipfix_decode.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using flowgen::ConversationRecord;

ConversationRecord record_from(FuzzedDataProvider& in) {
    ConversationRecord r{};
    r.family = in.ConsumeBool() ? flowgen::Family::kIpv6 : flowgen::Family::kIpv4;
    const size_t addr = r.family == flowgen::Family::kIpv6 ? 16 : 4;  // IPv4: the tail stays zero
    for (flowgen::IpAddress* a : {&r.initiator, &r.responder})
        for (size_t i = 0; i < addr; ++i) a->bytes[i] = in.ConsumeIntegral<uint8_t>();
    r.key_type = in.ConsumeIntegral<uint8_t>();
    r.icmp_id = in.ConsumeIntegral<uint16_t>();
    r.end_reason = static_cast<flowgen::EndReason>(in.ConsumeIntegralInRange<uint8_t>(1, 5));
    r.ingress_port = in.ConsumeIntegral<uint16_t>();
    r.flow_id = in.ConsumeIntegral<uint64_t>();
    for (flowgen::DirectionCounters& d : r.dir) {
        d.packets = in.ConsumeBool() ? in.ConsumeIntegral<uint64_t>() : 0;
        d.octets = in.ConsumeIntegral<uint64_t>();
        d.first_ms = in.ConsumeIntegral<uint64_t>();
        d.last_ms = d.first_ms + in.ConsumeIntegral<uint32_t>();
        d.min_ip_length = in.ConsumeIntegral<uint16_t>();
        d.max_ip_length = in.ConsumeIntegral<uint16_t>();
        d.icmp_type = in.ConsumeIntegral<uint8_t>();
        d.icmp_code = in.ConsumeIntegral<uint8_t>();
        d.min_payload = in.ConsumeIntegral<uint16_t>();
        d.max_payload = in.ConsumeIntegral<uint16_t>();
        d.payload_octets = in.ConsumeIntegral<uint64_t>();
    }
    r.detection.score = in.ConsumeIntegralInRange<uint16_t>(0, 1000);
    r.detection.reason_flags = in.ConsumeIntegral<uint32_t>();
    r.detection.entropy_milli = in.ConsumeIntegralInRange<uint16_t>(0, 8000);
    r.detection.signature_id = in.ConsumeIntegral<uint16_t>();
    r.detection.verdict = in.ConsumeIntegralInRange<uint8_t>(0, 2);
    return r;
}

std::vector<uint8_t> address(const flowgen::IpAddress& a, flowgen::Family f) {
    return {a.bytes, a.bytes + (f == flowgen::Family::kIpv6 ? 16 : 4)};
}

void check_record(const ipfix_test::Record& got, const ConversationRecord& r, int fwd, bool biflow, uint32_t pen,
                  bool detection) {
    const bool v6 = r.family == flowgen::Family::kIpv6;
    const flowgen::DirectionCounters& f = r.dir[fwd];
    FUZZ_CHECK(got.u(1) == f.octets);
    FUZZ_CHECK(got.u(2) == f.packets);
    FUZZ_CHECK(got.u(148) == r.flow_id);
    FUZZ_CHECK(got.u(136) == static_cast<uint8_t>(r.end_reason));
    FUZZ_CHECK(got.u(4) == (v6 ? 58u : 1u));
    const flowgen::IpAddress& src = fwd == 0 ? r.initiator : r.responder;
    const flowgen::IpAddress& dst = fwd == 0 ? r.responder : r.initiator;
    auto it = got.fields.find({0, uint16_t(v6 ? 27 : 8)});
    FUZZ_CHECK(it != got.fields.end() && it->second == address(src, r.family));
    it = got.fields.find({0, uint16_t(v6 ? 28 : 12)});
    FUZZ_CHECK(it != got.fields.end() && it->second == address(dst, r.family));
    if (!biflow) {
        FUZZ_CHECK(got.u(152) == f.first_ms && got.u(153) == f.last_ms);
    } else {
        const flowgen::DirectionCounters& v = r.dir[1 - fwd];
        if (v.packets > 0) FUZZ_CHECK(got.u(1, flowgen::kReversePen) == v.octets);
        FUZZ_CHECK(got.u(2, flowgen::kReversePen) == v.packets);
        // The conversation's span: it starts no later and ends no earlier
        // than the forward direction.
        FUZZ_CHECK(got.u(152) <= f.first_ms && got.u(153) >= f.last_ms);
    }
    if (detection) {
        FUZZ_CHECK(got.u(1, pen) == r.detection.score);
        FUZZ_CHECK(got.u(7, pen) == r.detection.signature_id);
        FUZZ_CHECK(got.u(8, pen) == r.detection.verdict);
    } else {
        FUZZ_CHECK(!got.has(1, pen));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    flowgen::EncoderConfig ec;
    ec.biflow = in.ConsumeBool();
    ec.detection_elements = in.ConsumeBool();
    ec.enterprise_number = in.ConsumeIntegralInRange<uint32_t>(1, 1u << 20);
    if (ec.enterprise_number == flowgen::kReversePen) ec.enterprise_number = 32473;  // refused by validate()
    ec.observation_domain_id = in.ConsumeIntegral<uint32_t>();
    ec.observation_point_id = in.ConsumeIntegral<uint32_t>();
    const size_t mtu = in.ConsumeIntegralInRange<size_t>(flowgen::kMinMessageBytes, 9000);
    const flowgen::IpfixEncoder encoder(ec);
    std::vector<uint8_t> buffer(mtu);
    ipfix_test::Decoder decoder;

    // Templates and type records, each message within the MTU.
    flowgen::IpfixMessage m;
    for (size_t first = 0; first < encoder.template_count();) {
        m.begin(buffer);
        const size_t added = encoder.add_templates(m, first);
        FUZZ_CHECK(added > 0);  // every template fits an empty message of the smallest MTU
        first += added;
        const size_t len = m.finish(0, 0, ec.observation_domain_id);
        FUZZ_CHECK(len <= mtu);
        FUZZ_CHECK(decoder.decode(buffer.data(), len).error.empty());
    }
    for (size_t first = 0; first < encoder.type_record_count();) {
        m.begin(buffer);
        const size_t added = encoder.add_type_records(m, first);
        FUZZ_CHECK(added > 0);
        first += added;
        const size_t len = m.finish(0, 0, ec.observation_domain_id);
        FUZZ_CHECK(len <= mtu);
        FUZZ_CHECK(decoder.decode(buffer.data(), len).error.empty());
    }

    std::vector<ConversationRecord> pending;  // in the open message
    uint32_t sequence = 0;
    auto close_message = [&] {
        const size_t len = m.finish(1'764'128'000u, sequence, ec.observation_domain_id);
        FUZZ_CHECK(len <= mtu);
        const ipfix_test::Message msg = decoder.decode(buffer.data(), len);
        FUZZ_CHECK(msg.error.empty());
        FUZZ_CHECK(msg.sequence == sequence && msg.odid == ec.observation_domain_id);
        FUZZ_CHECK(msg.records.size() == m.data_records());
        size_t at = 0;
        for (const ConversationRecord& r : pending) {
            const int n = encoder.records_for(r);
            if (ec.biflow) {
                check_record(msg.records.at(at), r, r.dir[0].packets > 0 ? 0 : 1, true, ec.enterprise_number,
                             ec.detection_elements);
            } else {
                for (int d = 0, k = 0; d < 2; ++d)
                    if (r.dir[d].packets > 0)
                        check_record(msg.records.at(at + k++), r, d, false, ec.enterprise_number,
                                     ec.detection_elements);
            }
            at += static_cast<size_t>(n);
        }
        FUZZ_CHECK(at == msg.records.size());
        sequence += m.data_records();  // RFC 7011 §3.1: data records sent before this message
        pending.clear();
    };
    m.begin(buffer);
    while (in.remaining_bytes() > 0) {
        const ConversationRecord r = record_from(in);
        int n = encoder.add_conversation(m, r);
        if (n < 0) {
            FUZZ_CHECK(!m.empty());  // a conversation always fits an empty message
            close_message();
            m.begin(buffer);
            n = encoder.add_conversation(m, r);
            FUZZ_CHECK(n >= 0);
        }
        FUZZ_CHECK(n == encoder.records_for(r));
        if (n > 0) pending.push_back(r);
    }
    if (!m.empty()) close_message();

    flowgen::ProcessStats ps{};
    ps.observed_packets = in.ConsumeIntegral<uint64_t>();
    m.begin(buffer);
    FUZZ_CHECK(encoder.add_process_stats(m, ps, flowgen::ExportTotals{}));
    const size_t len = m.finish(0, sequence, ec.observation_domain_id);
    FUZZ_CHECK(len <= mtu && decoder.decode(buffer.data(), len).error.empty());
    return 0;
}
