// The record handed from a worker's flow cache to the exporter when a
// conversation (or a slice of it, on active timeout) ends.
//
// It is a plain value, copied into a single-producer/single-consumer queue by
// the worker lcore and read by the exporter; it holds no pointers.
#pragma once

#include <cstdint>

#include "flowgen/packet.hpp"

namespace flowgen {

// IPFIX flowEndReason (IANA IE 136, RFC 5102 §5.11.3).
enum class EndReason : uint8_t {
    kIdleTimeout = 1,
    kActiveTimeout = 2,
    kEndOfFlow = 3,
    kForcedEnd = 4,        // shutdown, end of capture
    kLackOfResources = 5,  // evicted from a full cache
};

// Counters of one direction of a conversation. Direction 0 is the
// initiator's (the sender of the first packet seen), direction 1 the other.
struct DirectionCounters {
    uint64_t octets = 0;       // IP header + payload, IPFIX octetDeltaCount
    uint64_t packets = 0;
    uint64_t first_ms = 0;     // Unix epoch milliseconds; 0 when packets == 0
    uint64_t last_ms = 0;
    uint16_t min_ip_length = 0;
    uint16_t max_ip_length = 0;
    uint8_t icmp_type = 0;     // of the first packet in this direction that had an ICMP header
    uint8_t icmp_code = 0;
    // Echo data sizes (bytes after the 8-byte ICMP header), as the IP header states them.
    uint16_t min_payload = 0;
    uint16_t max_payload = 0;
    uint64_t payload_octets = 0;  // sum, for the mean
};

// What the detectors concluded about a conversation, carried in IPFIX as
// enterprise elements and in alerts. All zero when detection is off.
struct DetectionSummary {
    uint16_t score = 0;          // 0..1000
    uint32_t reason_flags = 0;   // bit set of detect::Reason
    uint16_t entropy_milli = 0;  // mean payload entropy, bits/byte * 1000
    uint16_t signature_id = 0;   // id of the pattern that matched, 0 = none
    uint8_t verdict = 0;         // 0 benign / unknown, 1 suspicious, 2 tunnel
    // Not exported in IPFIX; for the conversation log (--conversations).
    uint16_t fingerprint_id = 0;     // "benign"/"ping" pattern of the first inspected payload, 0 = none
    uint32_t unexplained_bytes = 0;  // distinct, unstructured, non-mirrored payload bytes (saturating)
};

// ConversationRecord::source_prefix_length of an ordinary record: one
// conversation, full addresses.
inline constexpr uint8_t kNoPrefix = 0xFF;

struct ConversationRecord {
    IpAddress initiator;         // source of direction 0; of an aggregate: the source prefix's network address
    IpAddress responder;         // of an aggregate: the destination (unspecified for a catch-all)
    Family family = Family::kNone;
    uint8_t key_type = 0;        // ICMP type the conversation is keyed on (request type for pairs)
    uint16_t icmp_id = 0;        // echo identifier, 0 where the key has none
    EndReason end_reason = EndReason::kIdleTimeout;
    uint16_t ingress_port = 0;   // DPDK port id / interface index the first packet came in on
    uint16_t vlan_id = 0;        // segment of the conversation: PacketInfo::vlan_id (0 none)
    SegmentType segment_type = SegmentType::kNone;  // and the overlay segment
    uint32_t segment_id = 0;
    uint64_t flow_id = 0;        // unique per conversation within the observation domain
    DirectionCounters dir[2];
    DetectionSummary detection;
    // An aggregate of one-packet conversations (flowgen/singleton_fold.hpp)
    // has a prefix length here (24 or 64, 0 when coarsened to the
    // destination, 0 with destination_prefix_length 0 for a catch-all), its
    // counters in dir[0] and the number of conversations it stands for in
    // flow_count. Ordinary records keep kNoPrefix and a flow_count of 1.
    uint8_t source_prefix_length = kNoPrefix;
    uint8_t destination_prefix_length = kNoPrefix;
    uint32_t flow_count = 1;

    bool is_aggregate() const noexcept { return source_prefix_length != kNoPrefix; }
};

}  // namespace flowgen
