// Conversation log lines (--conversations): one JSON object (RFC 8259) per
// exported conversation record, the shape SIEMs ingest from Zeek's conn.log
// or Suricata's EVE "flow" events. Written by the exporter thread for every
// record it takes from a worker, never on a worker's hot path.
//
// The field names are a stable interface: docs/conversations.md documents
// each one. Add fields; never rename or remove one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "detect/pipeline.hpp"
#include "flowgen/flow_record.hpp"

namespace detect {

// Appends one conversation line, terminated by '\n', to `out` (reuse one
// string: no allocation once its capacity suffices). `names` resolves
// signature and fingerprint ids; nullptr when detection is off, and then
// score, verdict, reasons, signature, fingerprint and payload entropy are
// null. now_ms: Unix epoch ms at which the record was exported ("time").
//
// Fields, in order: time, flow_id, start, end, duration, src, dst, family,
// icmp_type, icmp_code, icmp_id, end_reason, ingress_port, segment,
// packets, octets, src_packets, src_octets, dst_packets, dst_octets,
// aggregate {source_prefix, destination_prefix, flows} or null, payload {octets, min, max, mean, entropy, unexplained}, fingerprint,
// signature, signature_id, score, verdict, reasons[].
void format_conversation_json(const flowgen::ConversationRecord& r, const Pipeline* names, uint64_t now_ms,
                              std::string& out);

// Appends `text` as a JSON string literal: quotes, backslash and control
// characters escaped (RFC 8259 §7), bytes >= 0x80 that do not form valid
// UTF-8 written as \u00XX so that the line stays valid UTF-8.
void append_json_string(std::string_view text, std::string& out);

// Name of an IPFIX flowEndReason (IANA IE 136): "idle-timeout",
// "active-timeout", "end-of-flow", "forced-end", "lack-of-resources".
const char* end_reason_name(flowgen::EndReason reason) noexcept;

}  // namespace detect
