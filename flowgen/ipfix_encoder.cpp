// IPFIX encoder: templates and records are generated from one field table
// per template, so a template and the records it describes cannot disagree.
#include "flowgen/ipfix_encoder.hpp"

#include <algorithm>
#include <cstring>

#include "flowgen/bytes.hpp"

namespace flowgen {

namespace {

// What the encoder writes into a field. "Fwd"/"Rev" are the record's
// forward/reverse direction (uniflow records only have a forward one).
enum Value : uint8_t {
    kVStart, kVEnd, kVSrc4, kVDst4, kVSrc6, kVDst6, kVProto, kVOctets, kVPackets,
    kVMinLen, kVMaxLen, kVTypeCode, kVEndReason, kVIngress, kVObsPoint, kVFlowId,
    kVBiflowDir, kVRevOctets, kVRevPackets, kVRevMinLen, kVRevMaxLen, kVScore, kVReasons,
    kVEntropy, kVPayMin, kVPayMax, kVPayMean,
    kVRevPayMin, kVRevPayMax, kVRevPayMean, kVSignature, kVVerdict,
    kVVlan, kVL2Segment, kVSegment, kVSrcPrefix, kVDstPrefix, kVFlowCount,
    // options records
    kVOdid, kVExpOctets, kVExpMessages, kVExpRecords, kVObsFlows, kVIgnPackets,
    kVIgnOctets, kVNotSent, kVObsPackets, kVObsOctets,
    kVIeId, kVIePen, kVIeType, kVIeSemantics, kVIeName,
    kVFlood,  // flood report fields: written in order by add_flood_report
};

constexpr uint16_t kEnterpriseBit = 0x8000;  // RFC 7011 §3.2

// The RFC 5610 type records of template 261: every enterprise element of
// flowgen/ipfix_elements.hpp in table order, then (biflow only) the
// reverse elements of those that have one.
struct TypeRecord {
    uint16_t id;
    uint8_t type;
    uint8_t semantics;
    const char* name;
};

constexpr size_t kEnterpriseElements = 0
#define ECHOFLOW_COUNT(...) +1
    ECHOFLOW_ENTERPRISE_ELEMENTS(ECHOFLOW_COUNT)
#undef ECHOFLOW_COUNT
    ;

constexpr size_t count_reversible() {
    size_t n = 0;
    for (const IpfixElement& e : kElements) n += e.enterprise && e.reverse_name != nullptr;
    return n;
}

struct TypeRecords {
    TypeRecord rows[kEnterpriseElements + count_reversible()] = {};
    constexpr TypeRecords() {
        size_t n = 0;
        for (const IpfixElement& e : kElements)
            if (e.enterprise) rows[n++] = {e.id, e.type, e.semantics, e.name};
        for (const IpfixElement& e : kElements)
            if (e.enterprise && e.reverse_name)
                rows[n++] = {static_cast<uint16_t>(e.id | kReverseEnterpriseBit), e.type, e.semantics, e.reverse_name};
    }
};
constexpr TypeRecords kTypeRecords;

// IANA layer2SegmentId (351): the top octet is the segment type, of which
// the registry assigns 0x01 VxLAN (24-bit VNI) and 0x02 NVGRE; there is no
// type for Geneve or ERSPAN, which therefore go out as 0 there and only in
// echoflowSegment (flowgen::SegmentType in the top octet).
constexpr uint64_t kLayer2SegmentVxlan = uint64_t{0x01} << 56;

uint64_t layer2_segment_id(const ConversationRecord& r) {
    return r.segment_type == SegmentType::kVxlan ? kLayer2SegmentVxlan | r.segment_id : 0;
}

uint64_t echoflow_segment(const ConversationRecord& r) {
    if (r.segment_type == SegmentType::kNone) return 0;
    return (static_cast<uint64_t>(r.segment_type) << 56) | r.segment_id;
}

void push(TemplateLayout& t, Ie ie, uint32_t pen, uint8_t value) {
    const IpfixElement& e = element(ie);
    t.fields[t.field_count++] = TemplateField{e.id, e.length, pen, value};
    if (e.length != kIpfixVariableLength) t.record_bytes = static_cast<uint16_t>(t.record_bytes + e.length);
}
// An IANA element.
void push(TemplateLayout& t, Ie ie, uint8_t value) { push(t, ie, 0, value); }
// RFC 5103 §6.1: the reverse of an IANA element: same id under PEN 29305.
void push_reverse(TemplateLayout& t, Ie ie, uint8_t value) { push(t, ie, kReversePen, value); }
// One of ours under `pen`.
void push_enterprise(TemplateLayout& t, Ie ie, uint32_t pen, uint8_t value) { push(t, ie, pen, value); }
// RFC 5103 §6.2: the reverse of one of ours: bit 14 set, same PEN.
void push_enterprise_reverse(TemplateLayout& t, Ie ie, uint32_t pen, uint8_t value) {
    push(t, ie, pen, value);
    t.fields[t.field_count - 1].id |= kReverseEnterpriseBit;
}

void build_flow_layout(TemplateLayout& t, bool v6, const EncoderConfig& c) {
    t = TemplateLayout{};
    t.id = c.biflow ? (v6 ? kTemplateBiflowIpv6 : kTemplateBiflowIpv4) : (v6 ? kTemplateIpv6 : kTemplateIpv4);
    // In a biflow record flowStart/End span the whole conversation (both
    // directions), and the ICMP type/code is the forward direction's.
    push(t, Ie::kFlowStartMilliseconds, kVStart);
    push(t, Ie::kFlowEndMilliseconds, kVEnd);
    push(t, v6 ? Ie::kSourceIpv6Address : Ie::kSourceIpv4Address, v6 ? kVSrc6 : kVSrc4);
    push(t, v6 ? Ie::kDestinationIpv6Address : Ie::kDestinationIpv4Address, v6 ? kVDst6 : kVDst4);
    push(t, Ie::kProtocolIdentifier, kVProto);
    push(t, Ie::kOctetDeltaCount, kVOctets);
    push(t, Ie::kPacketDeltaCount, kVPackets);
    push(t, Ie::kMinimumIpTotalLength, kVMinLen);
    push(t, Ie::kMaximumIpTotalLength, kVMaxLen);
    push(t, v6 ? Ie::kIcmpTypeCodeIpv6 : Ie::kIcmpTypeCodeIpv4, kVTypeCode);
    push(t, Ie::kFlowEndReason, kVEndReason);
    push(t, Ie::kIngressInterface, kVIngress);
    push(t, Ie::kObservationPointId, kVObsPoint);
    push(t, Ie::kFlowId, kVFlowId);
    push(t, Ie::kBiflowDirection, kVBiflowDir);
    if (c.segment_elements) {
        push(t, Ie::kVlanId, kVVlan);
        push(t, Ie::kLayer2SegmentId, kVL2Segment);
        push_enterprise(t, Ie::kSegment, c.enterprise_number, kVSegment);
    }
    if (c.biflow) {
        // Only reverse elements that nfdump 1.7.1 maps to their own slots:
        // it stores reverse icmpTypeCode (32/139) and reverse flowStart/End
        // (152/153) over the forward values (seen with nfdump -o raw), so
        // those are left out; the record's times cover both directions.
        push_reverse(t, Ie::kOctetDeltaCount, kVRevOctets);
        push_reverse(t, Ie::kPacketDeltaCount, kVRevPackets);
        push_reverse(t, Ie::kMinimumIpTotalLength, kVRevMinLen);
        push_reverse(t, Ie::kMaximumIpTotalLength, kVRevMaxLen);
    }
    if (c.detection_elements) {
        const uint32_t pen = c.enterprise_number;
        push_enterprise(t, Ie::kDetectionScore, pen, kVScore);
        push_enterprise(t, Ie::kReasonFlags, pen, kVReasons);
        push_enterprise(t, Ie::kPayloadEntropyMilli, pen, kVEntropy);
        push_enterprise(t, Ie::kPayloadMinOctets, pen, kVPayMin);
        push_enterprise(t, Ie::kPayloadMaxOctets, pen, kVPayMax);
        push_enterprise(t, Ie::kPayloadMeanOctets, pen, kVPayMean);
        if (c.biflow) {
            push_enterprise_reverse(t, Ie::kPayloadMinOctets, pen, kVRevPayMin);
            push_enterprise_reverse(t, Ie::kPayloadMaxOctets, pen, kVRevPayMax);
            push_enterprise_reverse(t, Ie::kPayloadMeanOctets, pen, kVRevPayMean);
        }
        push_enterprise(t, Ie::kSignatureId, pen, kVSignature);
        push_enterprise(t, Ie::kVerdict, pen, kVVerdict);
    }
}

// An aggregate of one-packet conversations (flowgen/singleton_fold.hpp):
// one direction, no flowId (no one conversation), the prefix lengths that
// say what the addresses stand for (IANA 9/13, 29/30) and the number of
// conversations (IANA 3 deltaFlowCount).
void build_aggregate_layout(TemplateLayout& t, bool v6, const EncoderConfig& c) {
    t = TemplateLayout{};
    t.id = v6 ? kTemplateAggregateIpv6 : kTemplateAggregateIpv4;
    push(t, Ie::kFlowStartMilliseconds, kVStart);
    push(t, Ie::kFlowEndMilliseconds, kVEnd);
    push(t, v6 ? Ie::kSourceIpv6Address : Ie::kSourceIpv4Address, v6 ? kVSrc6 : kVSrc4);
    push(t, v6 ? Ie::kSourceIpv6PrefixLength : Ie::kSourceIpv4PrefixLength, kVSrcPrefix);
    push(t, v6 ? Ie::kDestinationIpv6Address : Ie::kDestinationIpv4Address, v6 ? kVDst6 : kVDst4);
    push(t, v6 ? Ie::kDestinationIpv6PrefixLength : Ie::kDestinationIpv4PrefixLength, kVDstPrefix);
    push(t, Ie::kProtocolIdentifier, kVProto);
    push(t, Ie::kOctetDeltaCount, kVOctets);
    push(t, Ie::kPacketDeltaCount, kVPackets);
    push(t, Ie::kDeltaFlowCount, kVFlowCount);
    push(t, Ie::kMinimumIpTotalLength, kVMinLen);
    push(t, Ie::kMaximumIpTotalLength, kVMaxLen);
    push(t, v6 ? Ie::kIcmpTypeCodeIpv6 : Ie::kIcmpTypeCodeIpv4, kVTypeCode);
    push(t, Ie::kIngressInterface, kVIngress);
    push(t, Ie::kObservationPointId, kVObsPoint);
    if (c.segment_elements) {
        push(t, Ie::kVlanId, kVVlan);
        push(t, Ie::kLayer2SegmentId, kVL2Segment);
        push_enterprise(t, Ie::kSegment, c.enterprise_number, kVSegment);
    }
    if (c.detection_elements) {
        const uint32_t pen = c.enterprise_number;
        push_enterprise(t, Ie::kDetectionScore, pen, kVScore);
        push_enterprise(t, Ie::kReasonFlags, pen, kVReasons);
        push_enterprise(t, Ie::kPayloadEntropyMilli, pen, kVEntropy);
        push_enterprise(t, Ie::kPayloadMinOctets, pen, kVPayMin);
        push_enterprise(t, Ie::kPayloadMaxOctets, pen, kVPayMax);
        push_enterprise(t, Ie::kPayloadMeanOctets, pen, kVPayMean);
        push_enterprise(t, Ie::kSignatureId, pen, kVSignature);
        push_enterprise(t, Ie::kVerdict, pen, kVVerdict);
    }
}

// RFC 7011 §3.4.2.2: the victim address is the scope; then the segment,
// the flood's first and last new conversation, and its figures.
void build_flood_layout(TemplateLayout& t, bool v6, const EncoderConfig& c) {
    t = TemplateLayout{};
    t.id = v6 ? kTemplateFloodIpv6 : kTemplateFloodIpv4;
    t.scope_count = 1;
    push(t, v6 ? Ie::kDestinationIpv6Address : Ie::kDestinationIpv4Address, kVFlood);
    push(t, Ie::kVlanId, kVFlood);
    push_enterprise(t, Ie::kSegment, c.enterprise_number, kVFlood);
    push(t, Ie::kFlowStartMilliseconds, kVFlood);
    push(t, Ie::kFlowEndMilliseconds, kVFlood);
    for (Ie ie : {Ie::kFloodPackets, Ie::kFloodOctets, Ie::kFloodSources, Ie::kFloodPeakPacketRate, Ie::kFloodPeakBitRate})
        push_enterprise(t, ie, c.enterprise_number, kVFlood);
}

uint16_t clamp16(uint64_t v) { return static_cast<uint16_t>(std::min<uint64_t>(v, 0xFFFF)); }

uint16_t payload_mean(const DirectionCounters& d) {
    return d.packets == 0 ? 0 : clamp16(d.payload_octets / d.packets);
}

}  // namespace

// ---------------------------------------------------------------- IpfixMessage

void IpfixMessage::begin(std::span<uint8_t> buffer) noexcept {
    buf_ = buffer.data();
    cap_ = buffer.size();
    len_ = kIpfixHeaderBytes;
    set_start_ = 0;
    set_id_ = 0;
    records_ = 0;
    has_sets_ = false;
}

void IpfixMessage::close_set() noexcept {
    if (set_start_ == 0) return;
    // RFC 7011 §3.3.1: no padding; the set length covers header and records.
    store_be16(buf_ + set_start_ + 2, static_cast<uint16_t>(len_ - set_start_));
    set_start_ = 0;
    set_id_ = 0;
}

uint8_t* IpfixMessage::reserve(uint16_t set_id, size_t bytes) noexcept {
    if (set_start_ != 0 && set_id_ == set_id) {
        if (len_ + bytes > cap_) return nullptr;
    } else {
        if (len_ + 4 + bytes > cap_) return nullptr;
        close_set();
        set_start_ = len_;
        set_id_ = set_id;
        store_be16(buf_ + len_, set_id);
        store_be16(buf_ + len_ + 2, 0);
        len_ += 4;
        has_sets_ = true;
    }
    uint8_t* p = buf_ + len_;
    len_ += bytes;
    return p;
}

size_t IpfixMessage::finish(uint32_t export_time_s, uint32_t sequence, uint32_t odid) noexcept {
    close_set();
    // RFC 7011 §3.1 message header.
    store_be16(buf_ + 0, kIpfixVersion);
    store_be16(buf_ + 2, static_cast<uint16_t>(len_));
    store_be32(buf_ + 4, export_time_s);
    store_be32(buf_ + 8, sequence);
    store_be32(buf_ + 12, odid);
    return len_;
}

// ---------------------------------------------------------------- IpfixEncoder

IpfixEncoder::IpfixEncoder(const EncoderConfig& config) noexcept : config_(config) {
    build_flow_layout(v4_, false, config_);
    build_flow_layout(v6_, true, config_);
    build_aggregate_layout(aggregate_v4_, false, config_);
    build_aggregate_layout(aggregate_v6_, true, config_);

    stats_ = TemplateLayout{};
    stats_.id = kTemplateProcessStats;
    stats_.scope_count = 1;
    push(stats_, Ie::kObservationDomainId, kVOdid);
    push(stats_, Ie::kExportedOctetTotalCount, kVExpOctets);
    push(stats_, Ie::kExportedMessageTotalCount, kVExpMessages);
    push(stats_, Ie::kExportedFlowRecordTotalCount, kVExpRecords);
    push(stats_, Ie::kObservedFlowTotalCount, kVObsFlows);
    push(stats_, Ie::kIgnoredPacketTotalCount, kVIgnPackets);
    push(stats_, Ie::kIgnoredOctetTotalCount, kVIgnOctets);
    push(stats_, Ie::kNotSentFlowTotalCount, kVNotSent);
    push(stats_, Ie::kPacketTotalCount, kVObsPackets);
    push(stats_, Ie::kOctetTotalCount, kVObsOctets);

    // RFC 5610 §3.9: the information element type options template.
    ie_type_ = TemplateLayout{};
    ie_type_.id = kTemplateIeType;
    ie_type_.scope_count = 2;
    push(ie_type_, Ie::kInformationElementId, kVIeId);
    push(ie_type_, Ie::kPrivateEnterpriseNumber, kVIePen);
    push(ie_type_, Ie::kInformationElementDataType, kVIeType);
    push(ie_type_, Ie::kInformationElementSemantics, kVIeSemantics);
    push(ie_type_, Ie::kInformationElementName, kVIeName);

    build_flood_layout(flood4_, false, config_);
    build_flood_layout(flood6_, true, config_);
}

bool IpfixEncoder::add_template(IpfixMessage& m, const TemplateLayout& t) const noexcept {
    // RFC 7011 §3.4.1 template record header: id, field count; options
    // templates (§3.4.2.2) add the scope field count.
    size_t bytes = t.scope_count ? 6 : 4;
    for (size_t i = 0; i < t.field_count; ++i) bytes += t.fields[i].pen ? 8 : 4;
    // One options template per set: nfacctd 1.7.7 steps over an IPFIX
    // options template by (field count + scope count) * 4 bytes, so a second
    // one in the same set is read from the wrong offset and rejected.
    if (t.scope_count) m.close_set();
    uint8_t* p = m.reserve(t.scope_count ? kSetIdOptionsTemplate : kSetIdTemplate, bytes);
    if (!p) return false;
    store_be16(p, t.id);
    store_be16(p + 2, t.field_count);
    p += 4;
    if (t.scope_count) {
        store_be16(p, t.scope_count);
        p += 2;
    }
    for (size_t i = 0; i < t.field_count; ++i) {
        const TemplateField& f = t.fields[i];
        // RFC 7011 §3.2 field specifier: enterprise bit, id, length, [PEN].
        store_be16(p, static_cast<uint16_t>(f.id | (f.pen ? kEnterpriseBit : 0)));
        store_be16(p + 2, f.length);
        p += 4;
        if (f.pen) {
            store_be32(p, f.pen);
            p += 4;
        }
    }
    return true;
}

size_t IpfixEncoder::add_templates(IpfixMessage& m, size_t first) const noexcept {
    // The templates in use, in the order of the header comment.
    const TemplateLayout* all[8] = {&v4_, &v6_, &stats_, &ie_type_};
    size_t count = 4;
    if (config_.aggregate_templates) {
        all[count++] = &aggregate_v4_;
        all[count++] = &aggregate_v6_;
    }
    if (config_.flood_reports) {
        all[count++] = &flood4_;
        all[count++] = &flood6_;
    }
    size_t added = 0;
    for (size_t i = first; i < template_count(); ++i, ++added)
        if (!add_template(m, *all[i])) break;
    return added;
}

// Whether this configuration's templates use the element a type record names.
bool IpfixEncoder::announces(uint16_t id) const noexcept {
    if (id == element(Ie::kSegment).id) return config_.segment_elements || config_.flood_reports;
    if (id >= element(Ie::kFloodPackets).id && id <= element(Ie::kFloodPeakBitRate).id) return config_.flood_reports;
    if (!config_.detection_elements) return false;
    return config_.biflow || (id & kReverseEnterpriseBit) == 0;
}

size_t IpfixEncoder::type_record_count() const noexcept {
    size_t n = 0;
    for (const TypeRecord& tr : kTypeRecords.rows) n += announces(tr.id);
    return n;
}

size_t IpfixEncoder::add_type_records(IpfixMessage& m, size_t first) const noexcept {
    size_t added = 0;
    size_t index = 0;  // among the announced records
    for (const TypeRecord& tr : kTypeRecords.rows) {
        if (!announces(tr.id)) continue;
        if (index++ < first) continue;
        const size_t name_len = std::strlen(tr.name);  // < 255: one length octet (RFC 7011 §7)
        uint8_t* p = m.reserve(kTemplateIeType, 2 + 4 + 1 + 1 + 1 + name_len);
        if (!p) break;
        store_be16(p, tr.id);
        store_be32(p + 2, config_.enterprise_number);
        p[6] = tr.type;
        p[7] = tr.semantics;
        p[8] = static_cast<uint8_t>(name_len);
        std::memcpy(p + 9, tr.name, name_len);
        ++m.records_;
        ++added;
    }
    return added;
}

bool IpfixEncoder::add_process_stats(IpfixMessage& m, const ProcessStats& s, const ExportTotals& t) const noexcept {
    uint8_t* p = m.reserve(kTemplateProcessStats, stats_.record_bytes);
    if (!p) return false;
    store_be32(p, config_.observation_domain_id);
    const uint64_t values[] = {t.octets, t.messages, t.records, s.observed_flows, s.ignored_packets,
                               s.ignored_octets, s.not_sent_flows, s.observed_packets, s.observed_octets};
    for (size_t i = 0; i < std::size(values); ++i) store_be64(p + 4 + 8 * i, values[i]);
    ++m.records_;
    return true;
}

bool IpfixEncoder::add_flood_report(IpfixMessage& m, const FloodReport& r) const noexcept {
    if (!config_.flood_reports) return false;
    const bool v6 = r.family == Family::kIpv6;
    const TemplateLayout& t = v6 ? flood6_ : flood4_;
    uint8_t* p = m.reserve(t.id, t.record_bytes);
    if (!p) return false;
    const size_t address_bytes = v6 ? 16 : 4;
    std::memcpy(p, r.victim.bytes, address_bytes);
    p += address_bytes;
    store_be16(p, r.vlan_id);
    p += 2;
    const uint64_t segment =
        r.segment_type == SegmentType::kNone ? 0 : (static_cast<uint64_t>(r.segment_type) << 56) | r.segment_id;
    const uint64_t values[] = {segment, r.start_ms, r.end_ms, r.packets, r.octets, r.sources, r.peak_pps, r.peak_bps};
    for (uint64_t v : values) {
        store_be64(p, v);
        p += 8;
    }
    ++m.records_;
    return true;
}

int IpfixEncoder::records_for(const ConversationRecord& r) const noexcept {
    if (r.is_aggregate()) return config_.aggregate_templates && r.dir[0].packets > 0 ? 1 : 0;
    const bool d0 = r.dir[0].packets > 0, d1 = r.dir[1].packets > 0;
    if (config_.biflow) return (d0 || d1) ? 1 : 0;
    return int(d0) + int(d1);
}

int IpfixEncoder::add_conversation(IpfixMessage& m, const ConversationRecord& r) const noexcept {
    const bool aggregate = r.is_aggregate();
    const TemplateLayout& t = r.family == Family::kIpv6 ? (aggregate ? aggregate_v6_ : v6_)
                                                        : (aggregate ? aggregate_v4_ : v4_);
    const int n = records_for(r);
    if (n == 0) return 0;
    // Both records of a conversation go into the same message or neither does.
    const size_t need = size_t(n) * t.record_bytes + (m.set_id_ == t.id && m.set_start_ ? 0 : 4);
    if (m.len_ + need > m.cap_) return -1;
    if (aggregate) {
        add_flow_record(m, t, r, 0);
    } else if (config_.biflow) {
        // The initiator's direction is forward unless only the responder sent.
        add_flow_record(m, t, r, r.dir[0].packets > 0 ? 0 : 1);
    } else {
        for (int d = 0; d < 2; ++d)
            if (r.dir[d].packets > 0) add_flow_record(m, t, r, d);
    }
    return n;
}

bool IpfixEncoder::add_flow_record(IpfixMessage& m, const TemplateLayout& t, const ConversationRecord& r,
                                   int fwd) const noexcept {
    uint8_t* p = m.reserve(t.id, t.record_bytes);
    if (!p) return false;
    const DirectionCounters& f = r.dir[fwd];
    const DirectionCounters& v = r.dir[1 - fwd];
    const IpAddress& src = fwd == 0 ? r.initiator : r.responder;
    const IpAddress& dst_addr = fwd == 0 ? r.responder : r.initiator;
    const uint8_t proto = r.family == Family::kIpv6 ? kProtoIcmpv6 : kProtoIcmp;
    uint64_t start = f.first_ms, end = f.last_ms;
    if (config_.biflow && v.packets > 0) {
        start = f.packets ? std::min(f.first_ms, v.first_ms) : v.first_ms;
        end = std::max(f.last_ms, v.last_ms);
    }
    for (size_t i = 0; i < t.field_count; ++i) {
        const TemplateField& fld = t.fields[i];
        switch (fld.value) {
        case kVStart: store_be64(p, start); break;
        case kVEnd: store_be64(p, end); break;
        case kVSrc4: std::memcpy(p, src.bytes, 4); break;
        case kVDst4: std::memcpy(p, dst_addr.bytes, 4); break;
        case kVSrc6: std::memcpy(p, src.bytes, 16); break;
        case kVDst6: std::memcpy(p, dst_addr.bytes, 16); break;
        case kVProto: *p = proto; break;
        case kVOctets: store_be64(p, f.octets); break;
        case kVPackets: store_be64(p, f.packets); break;
        case kVMinLen: store_be16(p, f.min_ip_length); break;
        case kVMaxLen: store_be16(p, f.max_ip_length); break;
        // IANA 32/139: type * 256 + code.
        case kVTypeCode: store_be16(p, uint16_t(f.icmp_type << 8 | f.icmp_code)); break;
        case kVEndReason: *p = static_cast<uint8_t>(r.end_reason); break;
        case kVIngress: store_be32(p, r.ingress_port); break;
        case kVObsPoint: store_be32(p, config_.observation_point_id); break;
        case kVFlowId: store_be64(p, r.flow_id); break;
        // IANA 239: 1 initiator (source is the initiator), 2 reverseInitiator.
        case kVBiflowDir: *p = fwd == 0 ? 1 : 2; break;
        case kVRevOctets: store_be64(p, v.octets); break;
        case kVRevPackets: store_be64(p, v.packets); break;
        case kVRevMinLen: store_be16(p, v.min_ip_length); break;
        case kVRevMaxLen: store_be16(p, v.max_ip_length); break;
        case kVScore: store_be16(p, r.detection.score); break;
        case kVReasons: store_be32(p, r.detection.reason_flags); break;
        case kVEntropy: store_be16(p, r.detection.entropy_milli); break;
        case kVPayMin: store_be16(p, f.min_payload); break;
        case kVPayMax: store_be16(p, f.max_payload); break;
        case kVPayMean: store_be16(p, payload_mean(f)); break;
        case kVRevPayMin: store_be16(p, v.min_payload); break;
        case kVRevPayMax: store_be16(p, v.max_payload); break;
        case kVRevPayMean: store_be16(p, payload_mean(v)); break;
        case kVSignature: store_be16(p, r.detection.signature_id); break;
        case kVVerdict: *p = r.detection.verdict; break;
        case kVVlan: store_be16(p, r.vlan_id); break;
        case kVL2Segment: store_be64(p, layer2_segment_id(r)); break;
        case kVSegment: store_be64(p, echoflow_segment(r)); break;
        case kVSrcPrefix: *p = r.source_prefix_length; break;
        case kVDstPrefix: *p = r.destination_prefix_length; break;
        case kVFlowCount: store_be64(p, r.flow_count); break;
        default: std::memset(p, 0, fld.length); break;
        }
        p += fld.length;
    }
    ++m.records_;
    return true;
}

}  // namespace flowgen
