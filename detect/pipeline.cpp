// Per-packet detectors and the verdict. Facts relied on:
// RFC 792 (echo replies return the request's identifier, sequence and data;
// timestamp data is 12 bytes, information messages carry none), RFC 950
// (address mask: 4 bytes), RFC 1812 §4.3.2.3 (IPv4 errors stay within 576
// bytes), RFC 4443 §2.4 (ICMPv6 errors within the 1280-byte minimum MTU),
// and shared/reference/icmp-facts.md (what pings and tunnels send).
#include "detect/pipeline.hpp"

#include <algorithm>

namespace detect {

namespace {

enum class Kind : uint8_t { kEcho, kQuery, kError, kControl, kUnknown };

struct TypeInfo {
    Kind kind = Kind::kUnknown;
    bool is_reply = false;
    uint16_t max_data = 0;  // kQuery: data the message type defines; kError: quote limit
};

TypeInfo classify(flowgen::Family family, uint8_t type) noexcept {
    if (family == flowgen::Family::kIpv6) {
        if (type == 128 || type == 129) return {Kind::kEcho, type == 129, 0};
        if (type >= 1 && type <= 4) return {Kind::kError, false, 1280 - 40 - 8};
        if (type >= 130 && type <= 161) return {Kind::kControl, false, 0};  // MLD, ND, RR, node info, RPL, ...
        return {Kind::kUnknown, false, 0};  // unassigned and private experimentation (100, 101, 200, 201)
    }
    switch (type) {
        case 0: return {Kind::kEcho, true, 0};
        case 8: return {Kind::kEcho, false, 0};
        case 13: return {Kind::kQuery, false, 12};
        case 14: return {Kind::kQuery, true, 12};
        case 15: return {Kind::kQuery, false, 0};
        case 16: return {Kind::kQuery, true, 0};
        case 17: return {Kind::kQuery, false, 4};
        case 18: return {Kind::kQuery, true, 4};
        case 3: case 4: case 5: case 11: case 12: return {Kind::kError, false, 576 - 20 - 8};
        case 9: case 10: case 40: case 41: case 42: case 43: return {Kind::kControl, false, 0};
        default: return {Kind::kUnknown, false, 0};  // 1, 2, 6, 7, 19..39, 44..255
    }
}

template <typename T>
inline void sat_inc(T& v, uint32_t by = 1) noexcept {
    constexpr T kMax = static_cast<T>(~T{0});
    v = static_cast<T>(v > kMax - by ? kMax : v + by);
}

constexpr size_t kLine2 = offsetof(ConversationState, last_alert_ms);

// About to write a field of the second line: zero it first if it holds
// nothing of this conversation (start_conversation()).
inline void widen(ConversationState& s) noexcept {
    if (s.flags & ConversationState::kFlagWide) return;
    std::memset(reinterpret_cast<char*>(&s) + kLine2, 0, sizeof(ConversationState) - kLine2);
    s.flags |= ConversationState::kFlagWide;
}

// A field evaluate() reads is about to change: the cached score is stale.
inline void unscore(ConversationState& s) noexcept {
    s.flags &= static_cast<uint8_t>(~ConversationState::kFlagScored);
}

inline unsigned size_bin(uint32_t size) noexcept { return (size * 0x9E3779B1u) >> 26; }

// Payload sizes ping programs send by default or are commonly run with
// (icmp-facts.md): nping/nmap 0, Windows 32, Android 48, Unix 56, 64-byte
// datagrams, check_icmp 68, Cisco 72, nmap -O 120/150, path-MTU 1452/1472.
bool default_size(uint16_t size) noexcept {
    switch (size) {
        case 0: case 8: case 16: case 24: case 32: case 36: case 40: case 48: case 56: case 64:
        case 68: case 72: case 100: case 120: case 150: case 1452: case 1472:
            return true;
        default:
            return false;
    }
}

void record_request(ConversationState& s, uint32_t key) noexcept {
    sat_inc(s.requests);
    const unsigned i = s.ring_next & 7u;
    const uint8_t b = static_cast<uint8_t>(1u << i);
    if ((s.ring_valid & b) && !(s.ring_answered & b)) {
        sat_inc(s.requests_unanswered);
        unscore(s);
    }
    s.request_ring[i] = key;
    s.ring_valid |= b;
    s.ring_answered &= static_cast<uint8_t>(~b);
    s.ring_next = static_cast<uint8_t>((i + 1) & 7u);
}

// Returns true when the reply mirrors a recorded request (RFC 792).
bool match_reply(ConversationState& s, uint32_t key) noexcept {
    sat_inc(s.replies);
    if (s.replies_unsolicited != 0) unscore(s);  // kUnsolicitedReply compares the two
    const uint16_t seq = static_cast<uint16_t>(key >> 16);
    int same_seq = -1;
    bool duplicate = false;
    for (unsigned k = 0; k < 8; ++k) {  // newest first
        const unsigned i = (s.ring_next + 7u - k) & 7u;
        const uint8_t b = static_cast<uint8_t>(1u << i);
        if (!(s.ring_valid & b) || (s.request_ring[i] >> 16) != seq) continue;
        const bool answered = s.ring_answered & b;
        if (s.request_ring[i] == key) {
            if (!answered) {
                s.ring_answered |= b;
                sat_inc(s.replies_matched);
                return true;
            }
            duplicate = true;  // ping's "DUP!": a second copy of a mirrored reply
        } else if (!answered && same_seq < 0) {
            same_seq = static_cast<int>(i);
        }
    }
    if (duplicate) {
        sat_inc(s.replies_matched);
        return true;
    }
    if (same_seq >= 0) {
        s.ring_answered |= static_cast<uint8_t>(1u << same_seq);
        widen(s);
        sat_inc(s.replies_mismatched);
        unscore(s);
        return false;
    }
    sat_inc(s.replies_unsolicited);
    unscore(s);
    return false;
}

}  // namespace

const char* verdict_name(uint8_t verdict) noexcept {
    switch (verdict) {
        case 2: return "tunnel";
        case 1: return "suspicious";
        default: return "benign";
    }
}

flowgen::Status Pipeline::init(const Config& config, SourceTable* senders,
                               std::shared_ptr<const PatternDatabases> patterns) {
    if (auto s = validate(config); !s) return s;
    config_ = config;
    allow_.clear();
    for (const auto& text : config.allow_list) {
        Prefix p;
        if (auto s = parse_prefix(text, p); !s) return s.prefix("detect.allow_list");
        allow_.push_back(p);
    }
    (void)expected_random_entropy(1);  // build the entropy tables now, not on the first packet
    // The budget per window, at least one so that a small defer_above still defers.
    defer_window_limit_ = config.defer_above == 0
                              ? 0
                              : static_cast<uint32_t>(std::max<uint64_t>(1, uint64_t{config.defer_above} * kDeferWindowMs / 1000));
    defer_window_start_ms_ = 0;
    defer_window_count_ = 0;
    under_pressure_ = false;
    own_senders_.reset();
    senders_ = senders;
    if (senders_ == nullptr && config.source_table_entries != 0) {
        own_senders_ = std::make_unique<SourceTable>();
        if (auto s = own_senders_->init(config.source_table_entries); !s) return s;
        senders_ = own_senders_.get();
    }
    if (senders_ != nullptr && !senders_->enabled()) senders_ = nullptr;
    patterns_ = PatternSet{};
    if (patterns) {
        if (auto s = patterns_.use(std::move(patterns)); !s) return s;
    } else if (!config.patterns_path.empty()) {
        if (auto s = patterns_.load_file(config.patterns_path, config.pattern_cache_dir); !s) return s;
    }
    return {};
}

bool Pipeline::allow_listed(const flowgen::PacketInfo& p) const noexcept {
    for (const auto& prefix : allow_)
        if (prefix_contains(prefix, p.family, p.src) || prefix_contains(prefix, p.family, p.dst)) return true;
    return false;
}

bool Pipeline::note_new_conversation(uint64_t now_ms) noexcept {
    if (defer_window_limit_ == 0) return false;
    // A window ends after kDeferWindowMs, or when the clock went back.
    if (now_ms - defer_window_start_ms_ >= kDeferWindowMs) {
        under_pressure_ = defer_window_count_ >= defer_window_limit_ && now_ms - defer_window_start_ms_ < 2 * kDeferWindowMs;
        defer_window_start_ms_ = now_ms;
        defer_window_count_ = 0;
    }
    if (++defer_window_count_ == defer_window_limit_) {
        under_pressure_ = true;
        defer_stats_.pressure_windows.add();
    }
    return under_pressure_;
}

bool Pipeline::defer_first(const flowgen::PacketInfo& p) noexcept {
    if (++defer_sample_count_ >= config_.defer_sample) {
        defer_sample_count_ = 0;
        return false;
    }
    // A sender with evidence already (fills, unexplained payloads) is
    // followed packet by packet; a flood's spoofed sources have none.
    if (senders_ != nullptr && senders_->may_know_sender(p.family, p.src) &&
        senders_->find_sender(p.family, p.src) != nullptr)
        return false;
    defer_stats_.deferred.add();
    return true;
}

bool Pipeline::on_packet(ConversationState& s, const flowgen::PacketInfo& p, unsigned dir,
                         uint64_t now_ms) noexcept {
    dir &= 1u;
    const bool first = s.packets == 0;
    bool pressure = false;
    if (first) {
        if (allow_listed(p)) s.flags |= ConversationState::kFlagAllowListed;
        pressure = note_new_conversation(now_ms);
    }
    // The packet after a deferred first one settles it (below); later ones never.
    const bool after_deferred = s.flags & ConversationState::kFlagDeferred;
    s.flags &= static_cast<uint8_t>(~ConversationState::kFlagDeferred);
    sat_inc(s.packets);
    if ((s.flags & ConversationState::kFlagAllowListed) || !p.has_icmp_header) return false;

    const TypeInfo t = classify(p.family, p.icmp_type);
    const Bytes data{p.payload, p.payload_length};
    const uint32_t wire = p.payload_wire_length;
    bool mirrored = false;
    bool content = false;  // does this message type carry data worth inspecting?
    uint32_t hash = 0;     // of the first kHashBytes of data, with the wire length
    switch (t.kind) {
        case Kind::kEcho:
        case Kind::kQuery: {
            if (p.icmp_code != 0) {
                sat_inc(s.unusual_code);
                unscore(s);
            }
            if (t.kind == Kind::kQuery && wire > t.max_data) {
                sat_inc(s.dataless_data);
                unscore(s);
            }
            if (t.kind == Kind::kEcho) {
                const uint16_t size = static_cast<uint16_t>(std::min<uint32_t>(wire, 0xFFFF));
                const uint8_t seen = static_cast<uint8_t>(1u << dir);
                if (!(s.first_dir_seen & seen)) {
                    s.first_dir_seen |= seen;
                    s.first_size[dir] = size;
                    unscore(s);
                } else if (size != s.first_size[dir]) {
                    // Only a size change writes line 2: evaluate() adds the
                    // first sizes' bins (keeps new conversations and the
                    // steady state off it).
                    widen(s);
                    sat_inc(s.size_changes);
                    unscore(s);
                    s.size_bitmap |= uint64_t{1} << size_bin(size);
                }
            }
            // Fingerprint (seq, data) for echo; timestamp and friends answer
            // with their own data, so only the sequence is compared there.
            hash = payload_hash(data, wire, kHashBytes);
            const uint32_t key = (uint32_t{p.icmp_seq} << 16) |
                                 (t.kind == Kind::kEcho ? ((hash ^ (hash >> 16)) & 0xFFFFu) : 0u);
            if (t.is_reply) mirrored = match_reply(s, key) && t.kind == Kind::kEcho;
            else record_request(s, key);
            content = true;
            break;
        }
        case Kind::kError: {
            if (wire > t.max_data) {
                sat_inc(s.oversized_error);
                unscore(s);
            }
            // The quote must start with an IP header of this family.
            const unsigned version = p.family == flowgen::Family::kIpv6 ? 6u : 4u;
            const bool header = !data.empty() && (data[0] >> 4) == version &&
                                (version == 6 || (data[0] & 0x0Fu) >= 5);
            if (!header && wire >= 8) {
                widen(s);
                sat_inc(s.bogus_error);
                unscore(s);
                hash = payload_hash(data, wire, kHashBytes);
                content = true;  // then judge what it carries
            }
            break;
        }
        case Kind::kControl:
            break;
        case Kind::kUnknown:
            if (wire > 0) {
                sat_inc(s.dataless_data);
                unscore(s);
                hash = payload_hash(data, wire, kHashBytes);
                content = true;
            }
            break;
    }

    if (content && !data.empty() && s.alerted_score < 1000) {
        if (pressure && defer_first(p)) {
            s.flags |= ConversationState::kFlagDeferred;
            content = false;  // nothing more for this packet but the score
        } else if (after_deferred && mirrored) {
            // The reply carries the deferred request's data (RFC 792: the
            // data of the echo message must be returned): inspect it as
            // that request, from the request's sender, then as itself.
            flowgen::PacketInfo request = p;
            request.src = p.dst;
            request.dst = p.src;
            inspect(s, request, dir ^ 1u, hash, false, false, 1, now_ms);
            defer_stats_.inspected_on_reply.add();
            if (s.flags & ConversationState::kFlagAllowListed) return false;
        }
    }
    if (content && !data.empty() && s.alerted_score < 1000) {
        // Sample by the packet's own stream (requests, replies, other) so
        // that strict request/reply alternation cannot hide one side.
        const uint32_t nth = t.kind == Kind::kUnknown ? s.packets : t.is_reply ? s.replies : s.requests;
        const bool head = s.packets <= config_.inspect_first_packets;
        if (head || nth % config_.inspect_every == 0)
            inspect(s, p, dir, hash, mirrored, t.is_reply, head ? 1u : config_.inspect_every, now_ms);
        if (s.flags & ConversationState::kFlagAllowListed) return false;
    }

    if (!(s.flags & ConversationState::kFlagScored)) {
        s.score = evaluate(s).score;
        s.flags |= ConversationState::kFlagScored;
    }
    const uint16_t score = s.score;
    if (score < config_.alert_score) return false;
    if (s.alerted_score == 0 ||
        (score >= s.alerted_score + config_.escalate_step &&
         now_ms - s.last_alert_ms >= config_.escalate_interval_ms)) {
        s.alerted_score = score;
        widen(s);
        s.last_alert_ms = now_ms;
        return true;
    }
    return false;
}

void Pipeline::note_fill(ConversationState& s, const flowgen::PacketInfo& p, uint64_t fill_bit,
                         uint64_t now_ms) noexcept {
    bool added = false;
    const ActivityView v =
        SourceTable::add_fill(senders_->sender(p.family, p.src), now_ms, config_.source_window_ms, fill_bit, &added);
    if (added && v.fills >= config_.source_min_fills) s.flags |= ConversationState::kFlagSourceActivity;
}

void Pipeline::note_payload(ConversationState& s, const flowgen::PacketInfo& p, uint32_t hash, uint32_t text_bytes,
                            uint32_t bytes, uint32_t payloads, uint64_t now_ms) noexcept {
    const Config& c = config_;
    bool counted = false;
    const ActivityView v = SourceTable::add_payload(senders_->sender(p.family, p.src), now_ms, c.source_window_ms,
                                                    hash, text_bytes, bytes, payloads, &counted);
    uint8_t hits = 0;
    if (counted) {
        if (v.fills >= c.source_min_fills || (text_bytes != 0 && v.recent_bytes >= c.source_volume_bytes))
            s.flags |= ConversationState::kFlagSourceActivity;
        if (v.hour.bytes >= c.sender_hour.bytes || v.hour.payloads >= c.sender_hour.payloads)
            hits |= ConversationState::kBudgetSenderHour;
        if (v.day.bytes >= c.sender_day.bytes || v.day.payloads >= c.sender_day.payloads)
            hits |= ConversationState::kBudgetSenderDay;
    }
    const ActivityView pv = SourceTable::add_payload(senders_->pair(p.family, p.src, p.dst), now_ms,
                                                     c.source_window_ms, hash, 0, bytes, payloads, &counted);
    if (counted) {
        if (pv.hour.bytes >= c.pair_hour.bytes || pv.hour.payloads >= c.pair_hour.payloads)
            hits |= ConversationState::kBudgetPairHour;
        if (pv.day.bytes >= c.pair_day.bytes || pv.day.payloads >= c.pair_day.payloads)
            hits |= ConversationState::kBudgetPairDay;
    }
    s.evidence |= hits;
}

void Pipeline::inspect(ConversationState& s, const flowgen::PacketInfo& p, unsigned dir, uint32_t hash,
                       bool mirrored, bool is_reply, uint32_t weight, uint64_t now_ms) noexcept {
    widen(s);
    sat_inc(s.inspected);
    unscore(s);  // inspection may change any content counter or flag
    const Bytes full{p.payload, p.payload_length};
    const Bytes data = full.first(std::min<size_t>(full.size(), config_.inspect_max_bytes));
    const uint32_t wire = p.payload_wire_length;

    if (find_embedded_ip(full, wire) >= 0) sat_inc(s.ip_in_payload);
    if (has_tunnel_framing(full, wire)) sat_inc(s.framing);

    const Structure st = analyze_structure(data, config_.timestamp_room);
    const bool structured = st.fill != Fill::kNone;
    // A fill repeats: scanning a few periods past its start sees every
    // pattern a longer scan would (patterns are shorter than 64 bytes).
    // Shell text is looked for in unstructured payloads only (a fill has no
    // room for it). Ping fingerprints change no verdict: they are looked
    // for when an alert names one (fingerprint()) and, when the
    // conversation log asks, in a conversation's first inspected packet.
    size_t scan_len = data.size();
    unsigned groups = kScanCore;
    const bool first_inspection = config_.fingerprint_conversations && s.inspected == 1;
    if (first_inspection) groups |= kScanPing;
    if (structured)
        scan_len = std::min<size_t>(scan_len, st.start + 2u * st.period + 64u);
    else
        groups |= kScanText;
    ContentHits hits;
    patterns_.scan(data.first(scan_len), hits, groups);
    if (first_inspection) s.fingerprint_id = hits.benign_id != 0 ? hits.benign_id : hits.ping_id;
    if (hits.allow_id != 0) {
        s.flags |= ConversationState::kFlagAllowListed;
        return;
    }
    if (hits.tunnel_id != 0) {
        if (!(s.flags & ConversationState::kFlagTunnelSignature)) s.signature_id = hits.tunnel_id;
        s.flags |= ConversationState::kFlagTunnelSignature;
    } else if (hits.suspicious_id != 0) {
        if (s.signature_id == 0) s.signature_id = hits.suspicious_id;
        s.flags |= ConversationState::kFlagSuspicious;
    }

    if (structured || hits.benign_id != 0) {
        sat_inc(s.structured_packets);
        if (st.fill != Fill::kNone) {
            if (s.fill_hash[dir] != 0 && s.fill_hash[dir] != st.fill_hash) sat_inc(s.fill_changes);
            s.fill_hash[dir] = st.fill_hash;
            // Pattern fills (ping -p, not counters or zeros) count per sender.
            if (st.fill == Fill::kPeriodic && st.period >= 2 && !is_reply && senders_)
                note_fill(s, p, uint64_t{1} << ((st.fill_hash >> 16) % 48), now_ms);
        }
        // Entropy of a fill cannot change the verdict: sample two for the
        // summary's mean only.
        if (s.entropy_samples < 2) {
            s.entropy_sum_milli += static_cast<uint32_t>(shannon_entropy(data) * 1000.0);
            sat_inc(s.entropy_samples);
        }
        return;
    }
    const bool novel = !mirrored && hash != s.last_hash[dir];
    s.last_hash[dir] = hash;
    const uint32_t bytes = std::min<uint32_t>(wire, 0xFFFF) * weight;
    auto text_kind = [](const TextShape& t) -> uint8_t {
        return t.hex ? ConversationState::kTextHex : t.base64 ? ConversationState::kTextBase64
                                                              : ConversationState::kTextPlain;
    };
    // Novel text is data whatever its size: count the change, the bytes,
    // and (text counts in the sender's short window too) the sender's budgets.
    auto note_text = [&](uint8_t kind) {
        sat_inc(s.text_packets);
        s.evidence |= kind;
        if (!novel) return;
        sat_inc(s.text_changes);
        sat_inc(s.unexplained_bytes, bytes);
        if (senders_) note_payload(s, p, hash, is_reply ? 0 : bytes, bytes, weight, now_ms);
    };
    // Short payloads: a timestamp and ids fill this much in real pings, so
    // only text is judged here (short shell commands: "id", "whoami"); a
    // timestamp is never printable and Windows' "abcdef..." is an ascending run.
    if (data.size() <= config_.timestamp_room) {
        bool ascending = true;
        for (size_t i = 1; i < data.size() && ascending; ++i) ascending = data[i] == static_cast<uint8_t>(data[i - 1] + 1);
        const TextShape t = text_shape(data);
        if (data.size() >= 2 && !ascending && t.printable >= config_.text_fraction * static_cast<double>(data.size()))
            note_text(text_kind(t));
        return;
    }

    const double h = shannon_entropy(data);
    if (s.entropy_samples < 0xFFFF && s.entropy_sum_milli < 0xFFF00000u) {
        s.entropy_sum_milli += static_cast<uint32_t>(h * 1000.0);
        ++s.entropy_samples;
    }
    // Printable text has at most log2(95 + 3) = 6.6 bits/byte: random data
    // and compressed files score above that. Text may follow a binary
    // header of up to 16 bytes (a timestamp, a tool's sequence number):
    // judge the rest on its own then (a ping's own fill after its
    // timestamp was recognised above as a counter or a pattern).
    constexpr double kTextMaxEntropy = 6.62;
    constexpr size_t kTextHeader = 16;
    const double need = config_.text_fraction;
    if (h <= kTextMaxEntropy) {
        const TextShape whole = text_shape(data);
        if (whole.printable >= need * static_cast<double>(data.size())) {
            note_text(text_kind(whole));
            return;
        }
    }
    // 16 header bytes raise the entropy of text by well under 0.3 bit/byte
    // at the sizes where it could reach the bound (hundreds of bytes):
    // random and compressed data skip this second pass.
    if (h <= kTextMaxEntropy + 0.3 && data.size() >= kTextHeader + config_.timestamp_room) {
        const Bytes rest = data.subspan(kTextHeader);
        const TextShape t = text_shape(rest);
        if (t.printable >= need * static_cast<double>(rest.size())) {
            note_text(text_kind(t));
            return;
        }
    }
    bool random = false;
    if (h >= expected_random_entropy(static_cast<uint32_t>(data.size())) - config_.entropy_margin_bits) {
        sat_inc(s.random_packets);
        random = true;
    } else {
        sat_inc(s.binary_packets);
    }

    // Novel content: not a mirror of a request, not a repeat of the previous
    // payload in this direction.
    if (novel) {
        sat_inc(s.unexplained_bytes, bytes);
        // Random payloads stay out of the sender's sums: fping -R sends them
        // in every run, mirrored, exactly like encrypted data sent to a
        // kernel that echoes it (they still count per conversation).
        if (senders_ && !random) note_payload(s, p, hash, is_reply ? 0 : bytes, bytes, weight, now_ms);
    }
}

uint16_t Pipeline::fingerprint(Bytes data) const noexcept {
    ContentHits hits;
    patterns_.scan(data.first(std::min<size_t>(data.size(), config_.inspect_max_bytes)), hits, kScanCore | kScanPing);
    return hits.benign_id != 0 ? hits.benign_id : hits.ping_id;
}

namespace {

// The fields of a state's second line, or the zeros a state that never
// wrote it stands for (ConversationState::kFlagWide): a new conversation is
// scored without a copy of its state and without a read of that line.
template <bool kWide>
struct Line2 {
    const ConversationState& s;
    uint64_t size_bitmap() const noexcept { return kWide ? s.size_bitmap : 0; }
    uint32_t unexplained_bytes() const noexcept { return kWide ? s.unexplained_bytes : 0; }
    uint16_t size_changes() const noexcept { return kWide ? s.size_changes : 0; }
    uint16_t random_packets() const noexcept { return kWide ? s.random_packets : 0; }
    uint16_t text_packets() const noexcept { return kWide ? s.text_packets : 0; }
    uint16_t binary_packets() const noexcept { return kWide ? s.binary_packets : 0; }
    uint16_t replies_mismatched() const noexcept { return kWide ? s.replies_mismatched : 0; }
    uint8_t bogus_error() const noexcept { return kWide ? s.bogus_error : 0; }
    uint8_t fill_changes() const noexcept { return kWide ? s.fill_changes : 0; }
    uint8_t text_changes() const noexcept { return kWide ? s.text_changes : 0; }
    uint8_t evidence() const noexcept { return kWide ? s.evidence : 0; }
};

template <bool kWide>
Evaluation evaluate_state(const ConversationState& s, const Config& c) noexcept {
    static_assert(offsetof(ConversationState, size_bitmap) >= kLine2 &&
                      offsetof(ConversationState, unexplained_bytes) >= kLine2 &&
                      offsetof(ConversationState, size_changes) >= kLine2 &&
                      offsetof(ConversationState, random_packets) >= kLine2 &&
                      offsetof(ConversationState, text_packets) >= kLine2 &&
                      offsetof(ConversationState, binary_packets) >= kLine2 &&
                      offsetof(ConversationState, replies_mismatched) >= kLine2 &&
                      offsetof(ConversationState, bogus_error) >= kLine2 &&
                      offsetof(ConversationState, fill_changes) >= kLine2 &&
                      offsetof(ConversationState, text_changes) >= kLine2 &&
                      offsetof(ConversationState, evidence) >= kLine2,
                  "Line2 stands for second-line fields only: a first-line one is read directly");
    static_assert(offsetof(ConversationState, oversized_error) < kLine2 && offsetof(ConversationState, flags) < kLine2,
                  "first-line fields are read directly");
    const Line2<kWide> l2{s};
    Evaluation e;
    if (s.flags & ConversationState::kFlagAllowListed) {
        e.reasons = bit(Reason::kAllowListed);
        return e;
    }
    uint32_t r = 0;
    auto when = [&r](bool condition, Reason reason) {
        if (condition) r |= bit(reason);
    };
    when(s.flags & ConversationState::kFlagTunnelSignature, Reason::kTunnelSignature);
    when(s.ip_in_payload > 0, Reason::kIpInPayload);
    when(s.framing > 0, Reason::kTunnelFraming);
    when(s.flags & ConversationState::kFlagSuspicious, Reason::kSuspiciousContent);
    when(l2.random_packets() >= c.min_random_packets, Reason::kRandomPayload);
    when(l2.text_packets() >= c.min_text_packets, Reason::kTextPayload);
    when(l2.binary_packets() >= c.min_binary_packets, Reason::kBinaryPayload);
    uint64_t sizes = l2.size_bitmap();
    for (unsigned d = 0; d < 2; ++d)
        if (s.first_dir_seen & (1u << d)) sizes |= uint64_t{1} << size_bin(s.first_size[d]);
    when(l2.size_changes() >= c.min_size_changes && __builtin_popcountll(sizes) >= c.min_distinct_sizes,
         Reason::kSizeVaries);
    when((s.first_dir_seen & 1u) && !default_size(s.first_size[0]), Reason::kNonDefaultSize);
    when(l2.replies_mismatched() >= c.min_reply_mismatches, Reason::kReplyMismatch);
    when(s.replies_unsolicited >= c.min_unsolicited_replies && 2u * s.replies_unsolicited > s.replies,
         Reason::kUnsolicitedReply);
    when(s.requests_unanswered >= c.min_unanswered_requests, Reason::kUnansweredRequests);
    when(l2.fill_changes() >= c.min_fill_changes, Reason::kFillChanges);
    when(s.dataless_data >= c.min_dataless_packets, Reason::kDatalessTypeData);
    when(s.unusual_code >= c.min_unusual_code_packets, Reason::kUnusualCode);
    when(s.oversized_error > 0, Reason::kOversizedError);
    when(l2.bogus_error() >= c.min_bogus_errors, Reason::kBogusError);
    when((l2.evidence() & ConversationState::kBudgetMask) != 0, Reason::kHostBudget);
    when(l2.text_changes() >= c.min_text_changes, Reason::kChangingText);
    when(l2.unexplained_bytes() >= c.volume_bytes, Reason::kVolume);
    when(l2.unexplained_bytes() >= c.high_volume_bytes, Reason::kHighVolume);
    when(s.flags & ConversationState::kFlagSourceActivity, Reason::kSourceActivity);

    uint32_t score = 0;
    for (uint32_t rest = r; rest != 0; rest &= rest - 1) score += c.weights[__builtin_ctz(rest)];
    e.score = static_cast<uint16_t>(std::min<uint32_t>(score, 1000));
    e.reasons = r;
    return e;
}

}  // namespace

Evaluation Pipeline::evaluate(const ConversationState& s) const noexcept {
    if (s.flags & ConversationState::kFlagWide) return evaluate_state<true>(s, config_);
    return evaluate_state<false>(s, config_);
}

flowgen::DetectionSummary Pipeline::summarize(const ConversationState& state) const noexcept {
    ConversationState tmp;
    const ConversationState& s = settled(state, tmp);
    flowgen::DetectionSummary d;
    const Evaluation e = evaluate(state);  // settles the state itself
    d.score = e.score;
    d.reason_flags = e.reasons;
    d.entropy_milli = s.entropy_samples ? static_cast<uint16_t>(s.entropy_sum_milli / s.entropy_samples) : 0;
    d.signature_id = s.signature_id;
    d.fingerprint_id = s.fingerprint_id;
    d.unexplained_bytes = s.unexplained_bytes;
    d.verdict = e.score >= config_.alert_score ? 2 : e.score >= config_.suspicious_score ? 1 : 0;
    return d;
}

}  // namespace detect
