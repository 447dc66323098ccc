// Detector configuration: a plain struct with defaults, filled by the probe's
// option table and checked once by validate() before any Pipeline::init().
//
// Defaults were chosen on the labelled corpus (tests/data/captures and the
// nDPI captures, see tests/detect/replay_test.cpp): every tunnel there
// crosses alert_score, no benign capture reaches it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "detect/reason.hpp"
#include "flowgen/packet.hpp"
#include "flowgen/status.hpp"

namespace detect {

struct Config {
    // Verdicts (DetectionSummary::verdict): score >= alert_score -> 2
    // "tunnel" and an alert; score >= suspicious_score -> 1 "suspicious".
    uint16_t alert_score = 500;
    uint16_t suspicious_score = 250;
    // A conversation that already alerted alerts again when its score grew
    // by escalate_step, at most once per escalate_interval_ms.
    uint16_t escalate_step = 200;
    uint64_t escalate_interval_ms = 60'000;

    // Points each reason adds to the score (0..1000; the total is capped at
    // 1000), indexed by bit position of detect::Reason. See default_weights().
    std::array<uint16_t, kReasonBits> weights{};

    // Evidence thresholds (packets are counted per conversation).
    uint16_t min_random_packets = 2;       // kRandomPayload
    uint16_t min_text_packets = 2;         // kTextPayload
    uint16_t min_binary_packets = 2;       // kBinaryPayload
    uint16_t min_size_changes = 3;         // kSizeVaries: packets off their direction's first size ...
    uint16_t min_distinct_sizes = 3;       // ... and at least this many distinct sizes
    uint16_t min_reply_mismatches = 2;     // kReplyMismatch
    uint16_t min_unsolicited_replies = 3;  // kUnsolicitedReply, and more than half of all replies
    uint16_t min_unanswered_requests = 8;  // kUnansweredRequests
    uint16_t min_fill_changes = 2;         // kFillChanges
    uint16_t min_dataless_packets = 1;     // kDatalessTypeData
    uint16_t min_unusual_code_packets = 1; // kUnusualCode
    uint16_t min_bogus_errors = 2;         // kBogusError
    uint32_t volume_bytes = 512;           // kVolume: distinct unexplained payload bytes (10 pings of 56)
    uint32_t high_volume_bytes = 4096;     // kHighVolume (fping -R: 73 pings of 56 random bytes in one run)

    // Per-sender and per-pair evidence across conversations and workers
    // (detect/source_table.hpp): one table of source_table_entries (power of
    // two, 0 = off, 64 bytes each) shared by every Pipeline of the process.
    uint32_t source_table_entries = 65536;
    uint64_t source_window_ms = 600'000;
    uint16_t source_min_fills = 6;         // kSourceActivity: distinct pattern fills (period >= 2) from one sender
    uint32_t source_volume_bytes = 4096;   // ... or text/binary request payload bytes from one sender

    // kHostBudget: unexplained payload bytes or distinct unexplained
    // payloads (sliding one-hour and one-day windows) per sender and per
    // address pair, across conversation ends. A pair budget is smaller: one
    // peer is where exfiltration goes; a sender's budget covers all its
    // peers. One 56-byte payload a minute crosses pair_hour.payloads in 32
    // minutes; one every 5 minutes crosses pair_day.payloads in 21 hours.
    struct Budget {
        uint32_t bytes;
        uint32_t payloads;
    };
    Budget sender_hour{8192, 96};
    Budget sender_day{65536, 768};
    Budget pair_hour{2048, 32};
    Budget pair_day{16384, 256};

    // kChangingText: text payloads (plain, base64, hex) that differ from
    // the previous payload of their direction.
    uint16_t min_text_changes = 3;

    // Payload classification.
    double entropy_margin_bits = 0.4;  // random-like: H >= E_random(len) - margin (sigma ~0.08 at 32..64 bytes)
    double text_fraction = 0.9;        // text-like: printable share of the bytes
    uint16_t timestamp_room = 24;      // leading bytes a ping may fill with a timestamp/ids (Linux 16, BSD 8, check_icmp ~20)

    // Inspection budget (structure, entropy, Hyperscan; the cheap size,
    // type and request/reply checks run on every packet): the first
    // inspect_first_packets packets of a conversation, then one in
    // inspect_every. A sampled packet's unexplained bytes count
    // inspect_every times. Entropy and Hyperscan read at most
    // inspect_max_bytes of a payload.
    uint16_t inspect_first_packets = 64;
    uint16_t inspect_every = 16;
    uint16_t inspect_max_bytes = 2048;

    // Flood budget: while a worker opens more than defer_above new
    // conversations a second (a spoofed-source flood: every packet a new
    // conversation), the first packet of a new conversation is not
    // inspected at once. It is inspected through its echo reply (which
    // carries the request's data, RFC 792) when the conversation shows a
    // second packet; at once when its sender already has per-sender
    // evidence (SourceTable), and one first packet in defer_sample
    // regardless, so a one-packet-per-id tunnel without replies is still
    // seen and then followed. 0: never defer.
    uint32_t defer_above = 20'000;
    uint16_t defer_sample = 16;

    // Hyperscan pattern file (format in detect/patterns/echoflow.patterns).
    // Empty: no content matching (kTunnelSignature/kSuspiciousContent off).
    std::string patterns_path;
    // Where compiled pattern databases are kept between runs
    // (detect/pattern_cache.hpp); empty: compile at every start.
    std::string pattern_cache_dir;

    // Conversations with an endpoint inside one of these prefixes are never
    // scored: "192.0.2.0/24", "2001:db8::/32", or a bare address.
    std::vector<std::string> allow_list;

    // Alerts: add "payload_hex" (at most payload_hex_max_bytes of the
    // packet that triggered the alert). Off by default: no raw payload.
    bool emit_payload_hex = false;
    uint16_t payload_hex_max_bytes = 64;

    // Name the ping program of every conversation (DetectionSummary::
    // fingerprint_id, the conversation log's "fingerprint"): the first
    // inspected packet of each conversation is also scanned with the "ping"
    // patterns. Off unless something reads it: a flood of new
    // conversations pays one more Hyperscan scan per conversation.
    bool fingerprint_conversations = false;

    // Spoofed-source floods (detect/flood.hpp, detect/flood_monitor.hpp):
    // a victim receiving flood_pps or more new conversations per second
    // from at least flood_min_sources distinct sources is flooded, until
    // flood_end_intervals seconds in a row stay below flood_pps. 10,000/s
    // is well above any one host's legitimate share of new ICMP
    // conversations (a monitoring system pinging 10,000 hosts a second
    // sends from one source), and a 10 Mbit/s link's worth of 64-byte
    // pings (~20,000/s) crosses it. 0 turns the flood verdict off.
    uint32_t flood_pps = 10'000;
    uint32_t flood_min_sources = 1000;
    uint16_t flood_end_intervals = 3;
    // Victims followed at once, and flood alerts (start and end) per
    // second; what does not fit is counted (floods_victims_dropped,
    // flood_alerts_suppressed).
    uint16_t flood_max_victims = 64;
    uint16_t flood_alerts_per_second = 10;

    Config();
};

std::array<uint16_t, kReasonBits> default_weights() noexcept;

// Checks every field; the message names the key and the problem
// ("detect.alert_score: 0 is outside 1..1000").
flowgen::Status validate(const Config& config);

// An allow-list entry parsed from CIDR text.
struct Prefix {
    flowgen::IpAddress network{};  // host bits cleared
    flowgen::Family family = flowgen::Family::kNone;
    uint8_t length = 0;            // prefix length in bits
};

flowgen::Status parse_prefix(const std::string& text, Prefix& out);

// True when `address` (of `family`) lies inside `prefix`.
bool prefix_contains(const Prefix& prefix, flowgen::Family family, const flowgen::IpAddress& address) noexcept;

}  // namespace detect
