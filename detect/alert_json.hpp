// Alert lines (README "Detection"): one JSON object per line, written when
// Pipeline::on_packet() returns true. Not per packet: once per conversation
// crossing the threshold and on rate-limited escalation.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "detect/flood_monitor.hpp"
#include "detect/pipeline.hpp"
#include "flowgen/flow_record.hpp"

namespace detect {

// Appends one alert, terminated by '\n', to `out` (reuse one string with
// reserved capacity: no allocation once it is large enough). `r` is a
// snapshot of the conversation with counters, times, addresses and
// .detection (from Pipeline::summarize) filled by the caller. now_ms: Unix
// epoch ms of the alert. `payload`: the packet that triggered the alert,
// written as "payload_hex" (at most Config::payload_hex_max_bytes) only when
// Config::emit_payload_hex is set.
//
// Fields: time, src, dst (initiator first), family, icmp_type, icmp_id,
// flow_id, verdict, score, reasons[], signature (name or null),
// signature_id, fingerprint (the "benign"/"ping" pattern the alerting
// packet's data matched, Pipeline::fingerprint: name or null), packets,
// bytes, first_seen, last_seen (RFC 3339, UTC, ms), payload {min, max, mean,
// entropy}, payload_hex (optional), explanation (when `state` is given: the
// conversation's detector state at the alert; Pipeline::explain's sentences,
// what was seen against what a ping sends, with this conversation's figures
// and, for host-budget, the window and the amount).
void format_alert_json(const flowgen::ConversationRecord& r, const Pipeline& p, uint64_t now_ms, std::string& out,
                       std::span<const uint8_t> payload = {}, uint16_t fingerprint_id = 0,
                       const ConversationState* state = nullptr);

// Appends one flood alert line, terminated by '\n': the start of a
// spoofed-source flood or its closing report (detect/flood_monitor.hpp).
// `offset_ms` is added to every time (the probe's wall-clock offset).
// Fields: time, verdict ("flood": never "tunnel", so the two tell apart at
// a glance), event ("start"|"end"), victim, family, vlan/segment (when
// any), pps and bps (start: the interval that crossed flood_pps; end: the
// mean over the flood), sources (distinct, a sketch: detect/flood.hpp says
// its error; start: that interval, end: the whole flood), start, end
// (RFC 3339: first and last new conversation of the intervals above the
// rate), peak_pps, peak_bps, packets and bytes (new conversations' first
// packets and their IP octets, so far), explanation.
void format_flood_json(const FloodEvent& e, int64_t offset_ms, std::string& out);

// The overlay segment of a record as alerts and the conversation log name
// it: "vxlan", "geneve", "erspan"; nullptr for SegmentType::kNone.
const char* segment_type_name(flowgen::SegmentType type) noexcept;

// The smallest and largest ICMP data size over the directions that saw
// packets ({0, 0} for none), as alerts and the conversation log report them.
std::pair<uint16_t, uint16_t> payload_range(const flowgen::ConversationRecord& r) noexcept;

// "2026-11-26T03:41:35.123Z" for Unix epoch milliseconds, appended to out.
void append_rfc3339(uint64_t epoch_ms, std::string& out);

}  // namespace detect
