// IPFIX message encoding (RFC 7011, RFC 7012 information elements, RFC 5103
// biflows, RFC 5610 information-element type records).
//
// Pure functions over a caller-provided buffer: no sockets, no clock, no
// allocation after construction. The export time and the sequence number are
// passed in, so tests can compare a message byte for byte with a golden one.
// The transport (flowgen/ipfix_exporter.hpp) owns the buffer and the clock.
//
// Template ids (RFC 7011 §3.4.1: data set ids >= 256):
//   256 IPv4 flow record    257 IPv6 flow record
//   258 IPv4 biflow record  259 IPv6 biflow record      (only with biflow)
//   260 options: metering/exporting process statistics  (scope IE 149)
//   261 options: RFC 5610 information-element type      (scope IE 303 + 346)
//   262 IPv4 aggregate      263 IPv6 aggregate          (only with aggregates)
//   264 options: IPv4 flood report (scope IE 12)    265: IPv6 (scope IE 28)
//                                                   (only with flood_reports)
// Which of 256/257 or 258/259 carry data depends on EncoderConfig::biflow;
// the detection enterprise elements are appended to every flow template when
// EncoderConfig::detection_elements is set. The aggregate templates carry
// the records of flowgen/singleton_fold.hpp (ConversationRecord::
// is_aggregate()), one direction each, in uniflow and biflow mode alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "flowgen/flow_record.hpp"
#include "flowgen/ipfix_elements.hpp"

namespace flowgen {

inline constexpr uint16_t kIpfixVersion = 10;
inline constexpr size_t kIpfixHeaderBytes = 16;
inline constexpr uint16_t kSetIdTemplate = 2;
inline constexpr uint16_t kSetIdOptionsTemplate = 3;

inline constexpr uint16_t kTemplateIpv4 = 256;
inline constexpr uint16_t kTemplateIpv6 = 257;
inline constexpr uint16_t kTemplateBiflowIpv4 = 258;
inline constexpr uint16_t kTemplateBiflowIpv6 = 259;
inline constexpr uint16_t kTemplateProcessStats = 260;
inline constexpr uint16_t kTemplateIeType = 261;
inline constexpr uint16_t kTemplateAggregateIpv4 = 262;
inline constexpr uint16_t kTemplateAggregateIpv6 = 263;
inline constexpr uint16_t kTemplateFloodIpv4 = 264;
inline constexpr uint16_t kTemplateFloodIpv6 = 265;

// RFC 5103 §6.1: reverse information elements are the forward IANA element
// with the enterprise bit and this PEN.
inline constexpr uint32_t kReversePen = 29305;
// RFC 5103 §6.2: the reverse of an enterprise-specific element is the same
// element number with bit 14 (0x4000) set, under the same PEN.
inline constexpr uint16_t kReverseEnterpriseBit = 0x4000;

// Metering and exporting process statistics, sent in the options record of
// template 260 (RFC 7011 §4.1/§4.2 suggest these elements; flowgen/ipfix_elements.hpp).
struct ProcessStats {
    uint64_t observed_packets = 0;  // IE 86 packetTotalCount (ICMP packets metered)
    uint64_t observed_octets = 0;   // IE 85 octetTotalCount
    uint64_t ignored_packets = 0;   // IE 164 ignoredPacketTotalCount (non-ICMP, malformed)
    uint64_t ignored_octets = 0;    // IE 165 ignoredOctetTotalCount
    uint64_t observed_flows = 0;    // IE 163 observedFlowTotalCount
    uint64_t not_sent_flows = 0;    // IE 166 notSentFlowTotalCount
};

// Totals of the exporting process, IEs 40/41/42.
struct ExportTotals {
    uint64_t octets = 0;    // IE 40 exportedOctetTotalCount
    uint64_t messages = 0;  // IE 41 exportedMessageTotalCount
    uint64_t records = 0;   // IE 42 exportedFlowRecordTotalCount
};

struct EncoderConfig {
    uint32_t observation_domain_id = 1;
    uint32_t observation_point_id = 1;
    bool biflow = false;
    bool detection_elements = true;
    uint32_t enterprise_number = 32473;
    // vlanId (58), layer2SegmentId (351) and the enterprise element
    // echoflowSegment (9) in the flow templates: the segment a conversation
    // was mirrored from (ConversationRecord::vlan_id, segment_*). Off by
    // default here so that the encoder's plain form stays as it was; the
    // probe turns it on.
    bool segment_elements = false;
    // Templates 262/263 for aggregates of one-packet conversations (source
    // and destination prefix lengths, deltaFlowCount). Off by default here,
    // like segment_elements; the probe turns it on when it folds.
    bool aggregate_templates = false;
    // Options templates 264/265 and their records: one per spoofed-source
    // flood that ended (detect/flood_monitor.hpp), scoped by the victim.
    bool flood_reports = false;
};

// The closing report of a flood, as template 264/265 carries it. Its
// packets are in flow records already; these are the flood's own figures.
struct FloodReport {
    Family family = Family::kNone;
    IpAddress victim{};          // scope: destinationIPv4Address / destinationIPv6Address
    uint16_t vlan_id = 0;        // IE 58
    SegmentType segment_type = SegmentType::kNone;  // echoflowSegment
    uint32_t segment_id = 0;
    uint64_t start_ms = 0;       // IE 152 flowStartMilliseconds
    uint64_t end_ms = 0;         // IE 153 flowEndMilliseconds
    uint64_t packets = 0;        // echoflowFloodPackets
    uint64_t octets = 0;         // echoflowFloodOctets
    uint64_t sources = 0;        // echoflowFloodSources
    uint64_t peak_pps = 0;       // echoflowFloodPeakPacketsPerSecond
    uint64_t peak_bps = 0;       // echoflowFloodPeakBitsPerSecond
};

// One message being written into a caller-owned buffer. begin() reserves the
// 16-byte header; the add_* functions of IpfixEncoder append sets/records and
// return false, leaving the message unchanged, when the item does not fit;
// finish() closes the open set and writes the header.
class IpfixMessage {
public:
    // buffer must outlive the message; capacity is the message size limit.
    void begin(std::span<uint8_t> buffer) noexcept;
    bool empty() const noexcept { return records_ == 0 && !has_sets_; }
    uint32_t data_records() const noexcept { return records_; }
    size_t size() const noexcept { return len_; }
    // Writes set length and the header; returns the message length in bytes.
    size_t finish(uint32_t export_time_s, uint32_t sequence, uint32_t observation_domain_id) noexcept;
    const uint8_t* data() const noexcept { return buf_; }

private:
    friend class IpfixEncoder;
    // Makes sure a set with this id is open and `bytes` more fit in it.
    // Returns a pointer to write them to, or nullptr if they do not fit.
    uint8_t* reserve(uint16_t set_id, size_t bytes) noexcept;
    void close_set() noexcept;

    uint8_t* buf_ = nullptr;
    size_t cap_ = 0;
    size_t len_ = 0;
    size_t set_start_ = 0;   // offset of the open set's header, 0 when none
    uint16_t set_id_ = 0;
    uint32_t records_ = 0;   // data records (flow and options data) in the message
    bool has_sets_ = false;
};

// Field of a template: IANA or enterprise element, its length on the wire,
// and what the encoder writes there.
struct TemplateField {
    uint16_t id;       // without the enterprise bit
    uint16_t length;   // 0xFFFF = variable length (RFC 7011 §7)
    uint32_t pen;      // 0 = IANA
    uint8_t value;     // encoder-internal value selector
};

inline constexpr size_t kMaxTemplateFields = 40;

struct TemplateLayout {
    uint16_t id = 0;
    uint16_t scope_count = 0;   // > 0 for options templates
    uint16_t field_count = 0;
    uint16_t record_bytes = 0;  // fixed-length records only
    TemplateField fields[kMaxTemplateFields];
};

class IpfixEncoder {
public:
    explicit IpfixEncoder(const EncoderConfig& config) noexcept;

    const EncoderConfig& config() const noexcept { return config_; }

    // Template set (id 2) with the flow templates in use, options template
    // set (id 3) with templates 260 and 261, then (aggregate_templates) a
    // template set with 262 and 263. Each template is added whole or not at
    // all; returns the number added (0..template_count()) so that the
    // caller can continue in a new message with the rest.
    size_t add_templates(IpfixMessage& m, size_t first = 0) const noexcept;
    size_t template_count() const noexcept {
        return 4 + (config_.aggregate_templates ? 2 : 0) + (config_.flood_reports ? 2 : 0);
    }

    // RFC 5610 type records (template 261) for our enterprise elements,
    // starting at index `first`; returns how many were added. Zero records
    // exist when detection_elements and segment_elements are off.
    size_t add_type_records(IpfixMessage& m, size_t first = 0) const noexcept;
    size_t type_record_count() const noexcept;

    // One options data record of template 260.
    bool add_process_stats(IpfixMessage& m, const ProcessStats& p, const ExportTotals& t) const noexcept;

    // One options data record of template 264 or 265 (flood_reports only;
    // false when it does not fit or flood_reports is off).
    bool add_flood_report(IpfixMessage& m, const FloodReport& r) const noexcept;

    // Flow data: one record per direction that saw packets (uniflow mode),
    // or one biflow record; an aggregate (r.is_aggregate(), only with
    // aggregate_templates, else it counts 0 records) is one record. Returns the number of records that `r` turns
    // into (0..2) if all fit, or -1 (message unchanged) if they do not.
    int add_conversation(IpfixMessage& m, const ConversationRecord& r) const noexcept;
    // Records add_conversation would write for r (0, 1 or 2).
    int records_for(const ConversationRecord& r) const noexcept;

private:
    bool announces(uint16_t type_record_id) const noexcept;
    bool add_flow_record(IpfixMessage& m, const TemplateLayout& t, const ConversationRecord& r,
                         int fwd) const noexcept;
    bool add_template(IpfixMessage& m, const TemplateLayout& t) const noexcept;

    EncoderConfig config_;
    TemplateLayout v4_, v6_, stats_, ie_type_, aggregate_v4_, aggregate_v6_, flood4_, flood6_;
};

// Milliseconds since the Unix epoch to IPFIX export time (seconds, mod 2^32).
inline uint32_t export_time_from_ms(uint64_t unix_ms) noexcept {
    return static_cast<uint32_t>(unix_ms / 1000);
}

}  // namespace flowgen
