// IPFIX export over UDP and TCP to one or more collectors (RFC 7011 §10).
//
// The exporter owns one fixed message buffer: each message is encoded once
// (flowgen/ipfix_encoder.hpp) and handed to every collector, with the header's
// sequence number patched per collector. Nothing here blocks except close():
//   - UDP: send() with MSG_DONTWAIT on a connected socket; a failed send
//     counts export_errors and records_not_sent.
//   - TCP: non-blocking connect; per-collector bounded output buffer of whole
//     messages, partial writes kept; when the buffer is full the new message
//     is dropped and counted; when the connection fails it is re-established
//     with exponential backoff driven by poll(now_ms), and the templates are
//     sent first on every new connection. MSG_NOSIGNAL: never SIGPIPE.
// Templates are sent before the first data and, over UDP, every
// template_refresh_s (RFC 7011 §8.4); the RFC 5610 type records and the
// process-statistics options record go to every collector at the same times.
//
// One IpfixExporter is used by one thread (the exporter or a worker lcore);
// it is not thread-safe. Collectors key templates by (exporter address,
// observation domain): give every exporter instance its own domain id.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "flowgen/flow_record.hpp"
#include "flowgen/ipfix_encoder.hpp"
#include "flowgen/relaxed_counter.hpp"
#include "flowgen/status.hpp"

namespace flowgen {

struct CollectorAddress {
    enum class Transport : uint8_t { kUdp, kTcp };
    Transport transport = Transport::kUdp;
    std::string host;   // name or address literal, without IPv6 brackets
    uint16_t port = 0;
    std::string text;   // as the user wrote it, for messages
};

// Parses "[udp://|tcp://]HOST:PORT"; HOST may be "[v6-literal]". UDP when no
// scheme is given. Errors name the text and the problem. Does not resolve.
Status parse_collector(std::string_view text, CollectorAddress& out);

struct ExporterConfig {
    std::vector<CollectorAddress> collectors;
    uint32_t observation_domain_id = 1;
    uint32_t observation_point_id = 1;
    bool biflow = false;                 // RFC 5103 biflow records instead of one record per direction
    bool detection_elements = true;      // enterprise elements carrying the detection verdict
    // Private enterprise number of the detection elements. 32473 is the
    // documentation PEN of RFC 5612; a deployment should use its own.
    uint32_t enterprise_number = 32473;
    bool segment_elements = false;       // EncoderConfig::segment_elements (the probe turns it on)
    bool aggregate_templates = false;    // EncoderConfig::aggregate_templates (the probe's --fold-above)
    bool flood_reports = false;          // EncoderConfig::flood_reports (the probe turns it on with detection)
    uint32_t template_refresh_s = 60;    // UDP template (and type/stats record) resend interval
    uint16_t max_message_bytes = 1472;   // whole IPFIX message incl. header, within the path MTU
    uint32_t flush_interval_ms = 200;    // a partially filled message is sent no later than this
    uint32_t tcp_buffer_bytes = 4u << 20;  // per TCP collector, whole messages
};

inline constexpr uint16_t kMinMessageBytes = 512;

// Checks ranges; the message names the option.
Status validate(const ExporterConfig& config);

// Written by the exporter's thread only; any thread may read them (telemetry).
struct ExporterStats {
    RelaxedCounter records_exported;  // flow data records encoded into messages
    RelaxedCounter messages_sent;     // per collector, fully handed to the kernel
    RelaxedCounter octets_sent;       // per collector
    RelaxedCounter export_errors;     // failed sends and dropped messages, per collector
    RelaxedCounter records_not_sent;  // flow records in failed or dropped messages, per collector
    RelaxedCounter templates_sent;    // template messages, per collector
    RelaxedCounter tcp_connects;      // established TCP connections (first and reconnects)
};

class CollectorLink;  // transport of one collector (ipfix_exporter.cpp)

class IpfixExporter {
public:
    IpfixExporter();
    ~IpfixExporter();
    IpfixExporter(const IpfixExporter&) = delete;
    IpfixExporter& operator=(const IpfixExporter&) = delete;

    // Validates, resolves every collector, creates non-blocking sockets and
    // starts TCP connects. The error names the collector. Allocates.
    Status open(const ExporterConfig& config);

    // Encodes one record per direction with packets > 0 (or one biflow
    // record). Sends a message when it is full. Never blocks, never allocates.
    void add(const ConversationRecord& record, uint64_t now_ms);

    // Sends the partial message once flush_interval_ms has passed since its
    // first record, refreshes templates, completes and retries TCP connects,
    // drains TCP buffers. Call at least every few hundred milliseconds.
    void poll(uint64_t now_ms);

    // Milliseconds added to `now_ms` to make a message's export time
    // (epoch seconds, RFC 7011 §3.1) when the caller's clock is monotonic
    // rather than the wall clock (live ports); 0 when `now_ms` is already
    // epoch time (captures). Timers (refresh, flush, reconnect) stay on
    // `now_ms`, so a step of the wall clock never delays or rushes them.
    void set_wall_offset_ms(int64_t offset_ms) noexcept { wall_offset_ms_ = offset_ms; }

    // One flood report (options template 264/265) to every collector with
    // the data that follows; dropped, never queued, when the encoder was
    // opened without flood_reports. Never blocks.
    void add_flood_report(const FloodReport& report, uint64_t now_ms);

    // Values for the next process-statistics options record.
    void set_process_stats(const ProcessStats& stats) { process_ = stats; }

    // Sends everything pending and a final process-statistics record, waits
    // at most ~2 s (wall clock) for TCP buffers to drain, closes sockets.
    void close(uint64_t now_ms);

    const ExporterStats& stats() const { return stats_; }

private:
    void send_setup(uint64_t now_ms, bool udp_templates, bool type_records);
    void send_templates_to(CollectorLink& link, uint64_t now_ms);
    void flush(uint64_t now_ms);
    void refresh_if_due(uint64_t now_ms);
    void begin_message();

    ExporterConfig config_;
    std::unique_ptr<IpfixEncoder> encoder_;
    std::vector<std::unique_ptr<CollectorLink>> links_;
    std::vector<uint8_t> buffer_;     // max_message_bytes, the one data message
    std::vector<uint8_t> scratch_;    // max_message_bytes, template messages
    IpfixMessage message_;
    uint32_t message_flow_records_ = 0;
    uint64_t message_started_ms_ = 0;
    uint64_t next_refresh_ms_ = 0;
    int64_t wall_offset_ms_ = 0;
    uint32_t sequence_ = 0;           // data records sent in this domain, mod 2^32
    bool setup_sent_ = false;
    bool open_ = false;
    ProcessStats process_;
    ExporterStats stats_;
};

}  // namespace flowgen
