// The detectors and the verdict, fed by a worker lcore for every ICMP/ICMPv6
// packet of a conversation (detect/README.md lists the detectors).
//
// Cost model (per packet, nothing allocates, no virtual calls):
//   every packet   type/code checks, sizes, request/reply fingerprint (a hash
//                  of at most kHashBytes payload bytes), all within the first
//                  cache line of ConversationState for a steady exchange
//   on a change    score (~20 compares), only after a field it reads changed
//                  (ConversationState::kFlagScored); else the cached score
//   budgeted       structure (O(n) on a fill, ~70 compares on random data),
//                  entropy (one pass + 256 bins), Hyperscan, embedded-IP and
//                  framing checks: on the first Config::inspect_first_packets
//                  packets of a conversation, then one in
//                  Config::inspect_every; never once the score is 1000; and
//                  over at most Config::inspect_max_bytes bytes.
//   under a flood  (more than Config::defer_above new conversations a second
//                  on this worker) a new conversation's first packet is
//                  inspected only when its reply comes, its sender has
//                  evidence, or it is sampled: a spoofed-source flood of
//                  one-packet conversations costs the cheap checks only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "detect/config.hpp"
#include "detect/patterns.hpp"
#include "detect/reason.hpp"
#include "detect/source_table.hpp"
#include "flowgen/flow_record.hpp"
#include "flowgen/packet.hpp"
#include "flowgen/relaxed_counter.hpp"
#include "flowgen/status.hpp"

namespace detect {

// Per-conversation detector state: 128 bytes of POD. All zero means "fresh
// conversation" (the flow cache zeroes a slot when it creates one). Only the
// lcore that owns the conversation touches it.
struct ConversationState {
    // First cache line: every field a steady-state echo exchange reads or
    // writes per packet (request/reply match, size check, sampling, cached
    // score). The second line is touched by inspection, size changes,
    // errors and alerts only.
    // Request/reply (RFC 792): ring of the last 8 requests, (seq << 16) | 16-bit payload hash.
    uint32_t request_ring[8];
    uint32_t packets;               // packets seen (saturating)
    uint16_t first_size[2];         // first echo data size per direction (valid when its first_dir_seen bit is set)
    uint16_t requests;
    uint16_t replies;
    uint16_t replies_matched;
    uint16_t replies_unsolicited;
    uint16_t requests_unanswered;
    uint16_t alerted_score;         // score of the last alert, 0 = none
    uint16_t score;                 // evaluate(*this).score, valid while kFlagScored is set
    uint8_t ring_valid;             // bit i: request_ring[i] holds a request
    uint8_t ring_answered;          // bit i: ... and it was answered
    uint8_t ring_next;
    uint8_t flags;                  // kFlag* below
    uint8_t first_dir_seen;         // bit d: first_size[d] is set
    uint8_t ip_in_payload;          // saturating packet counts
    uint8_t framing;
    uint8_t dataless_data;
    uint8_t unusual_code;
    uint8_t oversized_error;
    // Second cache line.
    uint64_t last_alert_ms;         // 0 = never alerted
    uint64_t size_bitmap;           // distinct echo sizes, hashed into 64 bins
    uint32_t last_hash[2];          // payload hash of the last inspected packet per direction
    uint32_t fill_hash[2];          // fill of the last structured packet per direction (0 = none yet)
    uint32_t unexplained_bytes;     // distinct, unstructured, non-mirrored payload bytes (saturating)
    uint32_t entropy_sum_milli;     // sum of entropy samples, bits/byte * 1000
    uint16_t entropy_samples;
    uint16_t inspected;             // packets deeply inspected
    uint16_t size_changes;          // echo packets whose size differs from their direction's first
    uint16_t random_packets;
    uint16_t text_packets;
    uint16_t binary_packets;
    uint16_t structured_packets;
    uint16_t replies_mismatched;
    uint16_t signature_id;          // first tunnel, else suspicious pattern id
    uint16_t fingerprint_id;        // "benign"/"ping" pattern of the first inspected payload, 0 = none
    uint8_t bogus_error;            // saturating packet count
    uint8_t fill_changes;           // saturating (Config::min_fill_changes <= 255)
    uint8_t text_changes;           // text payloads differing from their direction's previous (saturating)
    uint8_t evidence;               // kText* bits: the text's encodings; kBudget* bits: budgets crossed

    static constexpr uint8_t kTextBase64 = 1;  // only A-Z a-z 0-9 + / = (and - _)
    static constexpr uint8_t kTextHex = 2;     // only 0-9 a-f A-F
    static constexpr uint8_t kTextPlain = 4;   // any other printable text
    static constexpr uint8_t kTextMask = 7;
    // Long-window budgets this conversation added to past their limit.
    static constexpr uint8_t kBudgetSenderHour = 16;
    static constexpr uint8_t kBudgetSenderDay = 32;
    static constexpr uint8_t kBudgetPairHour = 64;
    static constexpr uint8_t kBudgetPairDay = 128;
    static constexpr uint8_t kBudgetMask = 0xF0;

    static constexpr uint8_t kFlagAllowListed = 1;      // endpoint or payload allow-listed
    static constexpr uint8_t kFlagTunnelSignature = 2;  // a "tunnel" pattern matched
    static constexpr uint8_t kFlagSuspicious = 4;       // a "suspicious" pattern matched
    static constexpr uint8_t kFlagSourceActivity = 8;   // added to a sender's cross-conversation activity past its threshold
    // `score` holds evaluate() of the current fields: every change to a
    // field evaluate() reads clears it (a steady-state ping changes none,
    // so its packets skip evaluate()).
    static constexpr uint8_t kFlagScored = 16;
    // The first packet's inspection was deferred (Config::defer_above): the
    // conversation's second packet decides what happens to it.
    static constexpr uint8_t kFlagDeferred = 32;
    // The second cache line holds this conversation's fields. A new
    // conversation starts with the first line only (start_conversation()):
    // one that never needs the second (a flood's one-packet conversations,
    // a steady ping) never writes it, and readers take it as all zero.
    static constexpr uint8_t kFlagWide = 64;
};
static_assert(sizeof(ConversationState) <= 128, "keep the per-slot state within two cache lines");
static_assert(offsetof(ConversationState, last_alert_ms) == 64, "the per-packet fields fill the first cache line");

// Starts a new conversation in `s` (the worker's reused slot): writes only
// the first cache line; the second is zeroed when first written.
inline void start_conversation(ConversationState& s) noexcept {
    std::memset(static_cast<void*>(&s), 0, offsetof(ConversationState, last_alert_ms));
}

// `s` as readers see it: its second line zero unless written since the
// conversation started (`tmp` holds that copy).
inline const ConversationState& settled(const ConversationState& s, ConversationState& tmp) noexcept {
    if (s.flags & ConversationState::kFlagWide) return s;
    constexpr size_t kLine2 = offsetof(ConversationState, last_alert_ms);
    std::memcpy(static_cast<void*>(&tmp), &s, kLine2);
    std::memset(reinterpret_cast<char*>(&tmp) + kLine2, 0, sizeof(ConversationState) - kLine2);
    return tmp;
}

// What the flood budget did (written by the pipeline's lcore, read by any).
struct DeferStats {
    flowgen::RelaxedCounter deferred;          // first packets not inspected at once
    flowgen::RelaxedCounter inspected_on_reply;  // ... then inspected through their echo reply
    flowgen::RelaxedCounter pressure_windows;  // 100 ms windows over Config::defer_above
};

// Score and reasons computed from a state (pure function of state + config).
struct Evaluation {
    uint16_t score = 0;
    uint32_t reasons = 0;
};

class Pipeline {
public:
    // Only the detectors' constants; call init() before on_packet().
    Pipeline() = default;
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;
    Pipeline(Pipeline&&) noexcept = default;
    Pipeline& operator=(Pipeline&&) noexcept = default;

    // Validates `config`, parses the allow-list and compiles the pattern
    // file (block mode) with this pipeline's own scratch. Errors name the
    // key or "patterns FILE:LINE". Call on the lcore that will run it (the
    // scratch is allocated here).
    // `senders`: the per-sender table shared by all workers (initialised
    // by the caller, outliving the pipeline); nullptr: this pipeline makes
    // its own of Config::source_table_entries (one worker, tests).
    // `patterns`: databases built once from Config::patterns_path and shared
    // by all workers (PatternDatabases::load_file); nullptr: this pipeline
    // builds its own from Config::patterns_path.
    flowgen::Status init(const Config& config, SourceTable* senders = nullptr,
                         std::shared_ptr<const PatternDatabases> patterns = nullptr);

    // One ICMP/ICMPv6 packet of the conversation `s` (after the flow cache
    // found or created it). dir 0 = the initiator's direction. now_ms: Unix
    // epoch milliseconds (capture or TSC-derived time). Returns true when
    // this packet made the conversation cross Config::alert_score, or
    // escalate by Config::escalate_step (at most once per
    // escalate_interval_ms): the caller then emits an alert.
    bool on_packet(ConversationState& s, const flowgen::PacketInfo& p, unsigned dir, uint64_t now_ms) noexcept;
    // Over the flood budget every new conversation's sender is looked up in
    // the sender filter (SourceTable::may_know_sender), a line that the
    // flood's own lines push out of the CPU caches: a burst caller starts
    // loading it a pass ahead. A hint; nothing while the budget holds.
    void prefetch_sender(const flowgen::PacketInfo& p) const noexcept {
        if (under_pressure_ && senders_ != nullptr) senders_->prefetch_known(p.family, p.src);
    }

    // Score and reason bits of a state.
    Evaluation evaluate(const ConversationState& s) const noexcept;

    // Score, reasons, mean entropy, signature id and verdict of a state.
    flowgen::DetectionSummary summarize(const ConversationState& s) const noexcept;

    // The "benign" or else "ping" pattern (patterns file) a payload matches,
    // 0 for none: which program sent it. Changes no verdict, so it is not
    // looked for per packet; the worker asks when it raises an alert.
    uint16_t fingerprint(Bytes data) const noexcept;

    // Appends, in words for an analyst, what each reason in `reasons` saw
    // and what a ping would have shown instead ("; "-separated, no quotes
    // or backslashes). Reads the shared sender table for the budgets (at
    // now_ms, Unix ms). Alert time only: not per packet.
    void explain(const ConversationState& s, uint32_t reasons, const flowgen::ConversationRecord& r, uint64_t now_ms,
                 std::string& out) const;

    const DeferStats& defer_stats() const noexcept { return defer_stats_; }

    // The sender table in use (shared or own); nullptr when disabled.
    const SourceTable* senders() const noexcept { return senders_; }

    // Name of a pattern id (signature or fingerprint); nullptr when unknown or 0.
    const char* signature_name(uint16_t id) const noexcept { return patterns_.name_of(id); }

    const Config& config() const noexcept { return config_; }

    // The pattern databases scanned (shared or own); nullptr without patterns.
    const PatternDatabases* pattern_databases() const noexcept { return patterns_.databases().get(); }
    // Failed hs_scan calls are counted in `counter` (the worker's
    // pattern_scan_errors; it must outlive the pipeline); nullptr: by the
    // pipeline itself. Either way pattern_scan_errors() reads them. Call
    // after init(), which starts a fresh pattern set.
    void count_scan_errors_in(flowgen::RelaxedCounter* counter) noexcept { patterns_.count_errors_in(counter); }
    uint64_t pattern_scan_errors() const noexcept { return patterns_.scan_errors(); }

    // Payload bytes hashed for the request/reply fingerprint and novelty.
    static constexpr unsigned kHashBytes = 128;

private:
    void inspect(ConversationState& s, const flowgen::PacketInfo& p, unsigned dir, uint32_t hash, bool mirrored,
                 bool is_reply, uint32_t weight, uint64_t now_ms) noexcept;
    void note_fill(ConversationState& s, const flowgen::PacketInfo& p, uint64_t fill_bit, uint64_t now_ms) noexcept;
    void note_payload(ConversationState& s, const flowgen::PacketInfo& p, uint32_t hash, uint32_t text_bytes,
                      uint32_t bytes, uint32_t payloads, uint64_t now_ms) noexcept;
    bool allow_listed(const flowgen::PacketInfo& p) const noexcept;
    // Counts a new conversation against the flood budget; true while over it.
    bool note_new_conversation(uint64_t now_ms) noexcept;
    // Whether a new conversation's first payload waits for its second packet.
    bool defer_first(const flowgen::PacketInfo& p) noexcept;

    // Flood budget (Config::defer_above): new conversations in the current
    // window of kDeferWindowMs, and whether this or the previous window
    // went over.
    static constexpr uint64_t kDeferWindowMs = 100;
    uint64_t defer_window_start_ms_ = 0;
    uint32_t defer_window_count_ = 0;
    uint32_t defer_window_limit_ = 0;  // 0: never defer
    uint32_t defer_sample_count_ = 0;
    bool under_pressure_ = false;
    DeferStats defer_stats_;

    Config config_;
    std::vector<Prefix> allow_;
    PatternSet patterns_;
    std::unique_ptr<SourceTable> own_senders_;  // when init() was given none
    SourceTable* senders_ = nullptr;
};

// Verdict names for DetectionSummary::verdict: "benign", "suspicious", "tunnel".
const char* verdict_name(uint8_t verdict) noexcept;

}  // namespace detect
