// Folding one-packet conversations into aggregate records: the table.
#include "flowgen/singleton_fold.hpp"

#include "flowgen/hash.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <new>
#include <string>

namespace flowgen {

namespace {

// Source prefixes of the aggregates: a /24 is the usual unit of IPv4
// allocation and filtering, a /64 the subnet of one IPv6 link (RFC 4291
// §2.5.4); both are what an operator blocks.
constexpr uint8_t kIpv4SourcePrefix = 24;
constexpr uint8_t kIpv6SourcePrefix = 64;

}  // namespace

Status validate(const SingletonFoldConfig& c) {
    if (c.singles_per_second == 0) return {};
    if (c.entries < kMinFoldEntries || c.entries > kMaxFoldEntries)
        return Status::error("fold entries " + std::to_string(c.entries) + " out of range [" +
                             std::to_string(kMinFoldEntries) + ", " + std::to_string(kMaxFoldEntries) + "]");
    return {};
}

Status SingletonFold::init(const SingletonFoldConfig& config) {
    if (Status s = validate(config); !s.ok()) return s;
    config_ = config;
    used_ = 0;
    singles_ = 0;
    second_ = 0;
    last_ = nullptr;
    catch_all_[0].used = catch_all_[1].used = false;
    if (!enabled()) return {};
    // Twice the entries, a power of two: a probe sequence stays short and
    // always reaches a free slot.
    const uint32_t slots = std::bit_ceil(config.entries * 2);
    slots_.reset(new (std::nothrow) Entry[slots]);
    order_.reset(new (std::nothrow) uint32_t[config.entries]);
    if (!slots_ || !order_)
        return Status::error("fold table: cannot allocate " + std::to_string(slots * sizeof(Entry)) + " bytes");
    for (uint32_t i = 0; i < slots; ++i) slots_[i].used = false;
    mask_ = slots - 1;
    prefix_limit_ = config.entries / kPrefixShareDen * kPrefixShareNum;
    return {};
}

SingletonFold::Entry* SingletonFold::find_or_insert(const Key& key, uint32_t limit) noexcept {
    if (last_ != nullptr && std::memcmp(&last_->key, &key, sizeof key) == 0) return last_;
    uint64_t words[sizeof(Key) / 8];
    std::memcpy(words, &key, sizeof key);
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (uint64_t w : words) h = fmix64(h ^ w);
    for (uint32_t i = static_cast<uint32_t>(h) & mask_;; i = (i + 1) & mask_) {
        Entry& e = slots_[i];
        if (!e.used) {
            if (used_ >= limit) return nullptr;
            e = Entry{};
            e.key = key;
            e.used = true;
            order_[used_++] = i;
            return last_ = &e;
        }
        if (std::memcmp(&e.key, &key, sizeof key) == 0) return last_ = &e;
    }
}

void SingletonFold::add(Entry& e, const ConversationRecord& r, int d) noexcept {
    const DirectionCounters& c = r.dir[d];
    if (e.flows == 0) {
        e.first_ms = c.first_ms;
        e.last_ms = c.last_ms;
        e.min_ip_length = c.min_ip_length;
        e.max_ip_length = c.max_ip_length;
        e.min_payload = c.min_payload;
        e.max_payload = c.max_payload;
        e.end_reason = r.end_reason;
    } else {
        e.first_ms = std::min(e.first_ms, c.first_ms);
        e.last_ms = std::max(e.last_ms, c.last_ms);
        e.min_ip_length = std::min(e.min_ip_length, c.min_ip_length);
        e.max_ip_length = std::max(e.max_ip_length, c.max_ip_length);
        e.min_payload = std::min(e.min_payload, c.min_payload);
        e.max_payload = std::max(e.max_payload, c.max_payload);
    }
    e.packets += c.packets;
    e.octets += c.octets;
    e.payload_octets += c.payload_octets;
    if (e.flows != std::numeric_limits<uint32_t>::max()) ++e.flows;
}

FoldOutcome SingletonFold::fold(const ConversationRecord& r) noexcept {
    // The direction that has the packet: its sender is the source.
    const int d = r.dir[0].packets != 0 ? 0 : 1;
    const bool v6 = r.family == Family::kIpv6;
    const IpAddress& src = d == 0 ? r.initiator : r.responder;
    const IpAddress& dst = d == 0 ? r.responder : r.initiator;
    Key key;
    std::memset(&key, 0, sizeof key);
    std::memcpy(key.destination.bytes, dst.bytes, v6 ? 16 : 4);
    std::memcpy(key.source.bytes, src.bytes, v6 ? kIpv6SourcePrefix / 8 : kIpv4SourcePrefix / 8);
    key.source_prefix_length = v6 ? kIpv6SourcePrefix : kIpv4SourcePrefix;
    key.family = static_cast<uint8_t>(r.family);
    key.icmp_type = r.dir[d].icmp_type;
    key.icmp_code = r.dir[d].icmp_code;
    key.segment_id = r.segment_id;
    key.vlan_id = r.vlan_id;
    key.ingress_port = r.ingress_port;
    key.segment_type = static_cast<uint8_t>(r.segment_type);
    // Once the prefix share is taken, every further singleton of the second
    // goes to its destination: a spoofed flood's sources are random, so a
    // prefix lookup would almost always miss and cost a hash and a probe.
    if (used_ < prefix_limit_) {
        if (Entry* e = find_or_insert(key, prefix_limit_)) {
            add(*e, r, d);
            return FoldOutcome::kFolded;
        }
    }
    std::memset(key.source.bytes, 0, sizeof key.source.bytes);
    key.source_prefix_length = 0;
    if (Entry* e = find_or_insert(key, config_.entries)) {
        add(*e, r, d);
        return FoldOutcome::kFoldedCoarse;
    }
    Entry& e = catch_all_[v6 ? 1 : 0];
    if (!e.used) {
        e = Entry{};
        std::memset(&e.key, 0, sizeof e.key);
        e.key.family = static_cast<uint8_t>(r.family);
        e.used = true;
    }
    add(e, r, d);
    return FoldOutcome::kFoldedCatchAll;
}

void SingletonFold::to_record(const Entry& e, bool catch_all, ConversationRecord& out) noexcept {
    out = ConversationRecord{};
    const auto family = static_cast<Family>(e.key.family);
    out.initiator = e.key.source;
    out.responder = e.key.destination;
    out.family = family;
    out.key_type = e.key.icmp_type;
    out.end_reason = e.end_reason;
    out.ingress_port = e.key.ingress_port;
    out.vlan_id = e.key.vlan_id;
    out.segment_type = static_cast<SegmentType>(e.key.segment_type);
    out.segment_id = e.key.segment_id;
    out.flow_id = 0;  // an aggregate is no one conversation
    DirectionCounters& c = out.dir[0];
    c.packets = e.packets;
    c.octets = e.octets;
    c.first_ms = e.first_ms;
    c.last_ms = e.last_ms;
    c.min_ip_length = e.min_ip_length;
    c.max_ip_length = e.max_ip_length;
    c.icmp_type = e.key.icmp_type;
    c.icmp_code = e.key.icmp_code;
    c.min_payload = e.min_payload;
    c.max_payload = e.max_payload;
    c.payload_octets = e.payload_octets;
    out.source_prefix_length = e.key.source_prefix_length;
    out.destination_prefix_length = catch_all ? 0 : (family == Family::kIpv6 ? 128 : 32);
    out.flow_count = e.flows;
}

}  // namespace flowgen
