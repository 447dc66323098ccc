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
    kVVlan, kVL2Segment, kVSegment,
    // options records
    kVOdid, kVExpOctets, kVExpMessages, kVExpRecords, kVObsFlows, kVIgnPackets,
    kVIgnOctets, kVNotSent, kVObsPackets, kVObsOctets,
    kVIeId, kVIePen, kVIeType, kVIeSemantics, kVIeName,
};

constexpr uint16_t kVariable = 0xFFFF;
constexpr uint16_t kEnterpriseBit = 0x8000;  // RFC 7011 §3.2

// IANA information element numbers used here (RFC 7012 / IANA registry).
enum Ie : uint16_t {
    kIeOctetDelta = 1, kIePacketDelta = 2, kIeProtocol = 4, kIeSrc4 = 8, kIeIngress = 10,
    kIeDst4 = 12, kIeMinLen = 25, kIeMaxLen = 26, kIeSrc6 = 27, kIeDst6 = 28,
    kIeIcmpTypeCode4 = 32, kIeExpOctets = 40, kIeExpMessages = 41, kIeExpRecords = 42,
    kIeOctetTotal = 85, kIePacketTotal = 86, kIeEndReason = 136, kIeObsPoint = 138,
    kIeIcmpTypeCode6 = 139, kIeFlowId = 148, kIeOdid = 149, kIeStartMs = 152, kIeEndMs = 153,
    kIeObsFlows = 163, kIeIgnPackets = 164, kIeIgnOctets = 165, kIeNotSent = 166,
    kIeBiflowDir = 239, kIeIeId = 303, kIeIeType = 339, kIeIeName = 341,
    kIeIeSemantics = 344, kIePen = 346, kIeVlanId = 58, kIeLayer2SegmentId = 351,
};

// RFC 5610 §3.1 / IANA "IPFIX Information Element Data Types".
constexpr uint8_t kTypeUnsigned8 = 1, kTypeUnsigned16 = 2, kTypeUnsigned32 = 3, kTypeUnsigned64 = 4;
// RFC 5610 §3.2 / IANA "IPFIX Information Element Semantics".
constexpr uint8_t kSemQuantity = 1, kSemIdentifier = 4, kSemFlags = 5;

struct TypeRecord {
    uint16_t id;
    uint8_t type;
    uint8_t semantics;
    const char* name;
};

constexpr TypeRecord kTypeRecords[] = {
    {1, kTypeUnsigned16, kSemQuantity, "echoflowDetectionScore"},
    {2, kTypeUnsigned32, kSemFlags, "echoflowReasonFlags"},
    {3, kTypeUnsigned16, kSemQuantity, "echoflowPayloadEntropyMilli"},
    {4, kTypeUnsigned16, kSemQuantity, "echoflowPayloadMinOctets"},
    {5, kTypeUnsigned16, kSemQuantity, "echoflowPayloadMaxOctets"},
    {6, kTypeUnsigned16, kSemQuantity, "echoflowPayloadMeanOctets"},
    {7, kTypeUnsigned16, kSemIdentifier, "echoflowSignatureId"},
    {8, kTypeUnsigned8, kSemIdentifier, "echoflowVerdict"},
    // RFC 5103 §6.2 reverse elements, only announced in biflow mode.
    {4 | kReverseEnterpriseBit, kTypeUnsigned16, kSemQuantity, "echoflowReversePayloadMinOctets"},
    {5 | kReverseEnterpriseBit, kTypeUnsigned16, kSemQuantity, "echoflowReversePayloadMaxOctets"},
    {6 | kReverseEnterpriseBit, kTypeUnsigned16, kSemQuantity, "echoflowReversePayloadMeanOctets"},
};
constexpr size_t kUniflowTypeRecords = 8;

// The segment element (EncoderConfig::segment_elements), announced whether
// or not the detection elements are: SegmentType in the top byte, the VNI or
// ERSPAN session id below.
constexpr TypeRecord kSegmentTypeRecord = {9, kTypeUnsigned64, kSemIdentifier, "echoflowSegment"};
// IANA layer2SegmentId (351): the top octet is the segment type, of which
// the registry assigns 0x01 VxLAN (24-bit VNI) and 0x02 NVGRE; there is no
// type for Geneve or ERSPAN, which therefore go out as 0 there and only in
// echoflowSegment.
constexpr uint64_t kLayer2SegmentVxlan = uint64_t{0x01} << 56;

uint64_t layer2_segment_id(const ConversationRecord& r) {
    return r.segment_type == SegmentType::kVxlan ? kLayer2SegmentVxlan | r.segment_id : 0;
}
uint64_t echoflow_segment(const ConversationRecord& r) {
    return r.segment_type == SegmentType::kNone
               ? 0
               : (static_cast<uint64_t>(r.segment_type) << 56) | r.segment_id;
}

void push(TemplateLayout& t, uint16_t id, uint16_t length, uint32_t pen, uint8_t value) {
    t.fields[t.field_count++] = TemplateField{id, length, pen, value};
    if (length != kVariable) t.record_bytes = static_cast<uint16_t>(t.record_bytes + length);
}

void build_flow_layout(TemplateLayout& t, bool v6, const EncoderConfig& c) {
    t = TemplateLayout{};
    t.id = c.biflow ? (v6 ? kTemplateBiflowIpv6 : kTemplateBiflowIpv4) : (v6 ? kTemplateIpv6 : kTemplateIpv4);
    // In a biflow record flowStart/End span the whole conversation (both
    // directions), and the ICMP type/code is the forward direction's.
    push(t, kIeStartMs, 8, 0, kVStart);
    push(t, kIeEndMs, 8, 0, kVEnd);
    push(t, v6 ? kIeSrc6 : kIeSrc4, v6 ? 16 : 4, 0, v6 ? kVSrc6 : kVSrc4);
    push(t, v6 ? kIeDst6 : kIeDst4, v6 ? 16 : 4, 0, v6 ? kVDst6 : kVDst4);
    push(t, kIeProtocol, 1, 0, kVProto);
    push(t, kIeOctetDelta, 8, 0, kVOctets);
    push(t, kIePacketDelta, 8, 0, kVPackets);
    // IANA 25/26 are unsigned64; RFC 7011 §6.2 reduced-size encoding to 2.
    push(t, kIeMinLen, 2, 0, kVMinLen);
    push(t, kIeMaxLen, 2, 0, kVMaxLen);
    push(t, v6 ? kIeIcmpTypeCode6 : kIeIcmpTypeCode4, 2, 0, kVTypeCode);
    push(t, kIeEndReason, 1, 0, kVEndReason);
    push(t, kIeIngress, 4, 0, kVIngress);
    push(t, kIeObsPoint, 4, 0, kVObsPoint);
    push(t, kIeFlowId, 8, 0, kVFlowId);
    push(t, kIeBiflowDir, 1, 0, kVBiflowDir);
    if (c.segment_elements) {
        push(t, kIeVlanId, 2, 0, kVVlan);
        push(t, kIeLayer2SegmentId, 8, 0, kVL2Segment);
        push(t, kSegmentTypeRecord.id, 8, c.enterprise_number, kVSegment);
    }
    if (c.biflow) {
        // Only reverse elements that nfdump 1.7.1 maps to their own slots:
        // it stores reverse icmpTypeCode (32/139) and reverse flowStart/End
        // (152/153) over the forward values (seen with nfdump -o raw), so
        // those are left out; the record's times cover both directions.
        push(t, kIeOctetDelta, 8, kReversePen, kVRevOctets);
        push(t, kIePacketDelta, 8, kReversePen, kVRevPackets);
        push(t, kIeMinLen, 2, kReversePen, kVRevMinLen);
        push(t, kIeMaxLen, 2, kReversePen, kVRevMaxLen);
    }
    if (c.detection_elements) {
        const uint32_t pen = c.enterprise_number;
        push(t, 1, 2, pen, kVScore);
        push(t, 2, 4, pen, kVReasons);
        push(t, 3, 2, pen, kVEntropy);
        push(t, 4, 2, pen, kVPayMin);
        push(t, 5, 2, pen, kVPayMax);
        push(t, 6, 2, pen, kVPayMean);
        if (c.biflow) {
            push(t, 4 | kReverseEnterpriseBit, 2, pen, kVRevPayMin);
            push(t, 5 | kReverseEnterpriseBit, 2, pen, kVRevPayMax);
            push(t, 6 | kReverseEnterpriseBit, 2, pen, kVRevPayMean);
        }
        push(t, 7, 2, pen, kVSignature);
        push(t, 8, 1, pen, kVVerdict);
    }
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

    stats_ = TemplateLayout{};
    stats_.id = kTemplateProcessStats;
    stats_.scope_count = 1;
    push(stats_, kIeOdid, 4, 0, kVOdid);
    push(stats_, kIeExpOctets, 8, 0, kVExpOctets);
    push(stats_, kIeExpMessages, 8, 0, kVExpMessages);
    push(stats_, kIeExpRecords, 8, 0, kVExpRecords);
    push(stats_, kIeObsFlows, 8, 0, kVObsFlows);
    push(stats_, kIeIgnPackets, 8, 0, kVIgnPackets);
    push(stats_, kIeIgnOctets, 8, 0, kVIgnOctets);
    push(stats_, kIeNotSent, 8, 0, kVNotSent);
    push(stats_, kIePacketTotal, 8, 0, kVObsPackets);
    push(stats_, kIeOctetTotal, 8, 0, kVObsOctets);

    // RFC 5610 §3.9: the information element type options template.
    ie_type_ = TemplateLayout{};
    ie_type_.id = kTemplateIeType;
    ie_type_.scope_count = 2;
    push(ie_type_, kIeIeId, 2, 0, kVIeId);
    push(ie_type_, kIePen, 4, 0, kVIePen);
    push(ie_type_, kIeIeType, 1, 0, kVIeType);
    push(ie_type_, kIeIeSemantics, 1, 0, kVIeSemantics);
    push(ie_type_, kIeIeName, kVariable, 0, kVIeName);
}

const TemplateLayout& IpfixEncoder::layout(uint16_t id) const noexcept {
    if (id == stats_.id) return stats_;
    if (id == ie_type_.id) return ie_type_;
    if (id == v6_.id) return v6_;
    return v4_;
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
    const TemplateLayout* all[] = {&v4_, &v6_, &stats_, &ie_type_};
    size_t added = 0;
    for (size_t i = first; i < 4; ++i, ++added)
        if (!add_template(m, *all[i])) break;
    return added;
}

size_t IpfixEncoder::detection_type_record_count() const noexcept {
    if (!config_.detection_elements) return 0;
    return config_.biflow ? std::size(kTypeRecords) : kUniflowTypeRecords;
}

size_t IpfixEncoder::type_record_count() const noexcept {
    return detection_type_record_count() + (config_.segment_elements ? 1 : 0);
}

size_t IpfixEncoder::add_type_records(IpfixMessage& m, size_t first) const noexcept {
    size_t added = 0;
    const size_t detection = detection_type_record_count();
    for (size_t i = first; i < type_record_count(); ++i, ++added) {
        const TypeRecord& tr = i < detection ? kTypeRecords[i] : kSegmentTypeRecord;
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

int IpfixEncoder::records_for(const ConversationRecord& r) const noexcept {
    const bool d0 = r.dir[0].packets > 0, d1 = r.dir[1].packets > 0;
    if (config_.biflow) return (d0 || d1) ? 1 : 0;
    return int(d0) + int(d1);
}

int IpfixEncoder::add_conversation(IpfixMessage& m, const ConversationRecord& r) const noexcept {
    const TemplateLayout& t = r.family == Family::kIpv6 ? v6_ : v4_;
    const int n = records_for(r);
    if (n == 0) return 0;
    // Both records of a conversation go into the same message or neither does.
    const size_t need = size_t(n) * t.record_bytes + (m.set_id_ == t.id && m.set_start_ ? 0 : 4);
    if (m.len_ + need > m.cap_) return -1;
    if (config_.biflow) {
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
        default: std::memset(p, 0, fld.length); break;
        }
        p += fld.length;
    }
    ++m.records_;
    return true;
}

}  // namespace flowgen
