// To add an element: add a row to ECHOFLOW_IANA_ELEMENTS or
// ECHOFLOW_ENTERPRISE_ELEMENTS, then put it in a template and write its value
// in flowgen/ipfix_encoder.cpp (build_flow_layout and add_flow_record).
//
// Every IPFIX information element echoflow sends, declared once: the
// templates, the RFC 5610 type records that name our enterprise elements and
// the tests all read their id, length and name from here.
//
// IANA rows: X(enumerator, element id, length on the wire, IANA name).
// Lengths below the IANA type's size are RFC 7011 §6.2 reduced-size
// encodings. Enterprise rows (PEN from EncoderConfig::enterprise_number):
// X(enumerator, element id, length, RFC 5610 data type, RFC 5610 semantics,
// name, name of its RFC 5103 reverse element or nullptr when it has none).
// Enterprise element ids are a wire format: never renumber one.
#pragma once

#include <cstddef>
#include <cstdint>

#define ECHOFLOW_IANA_ELEMENTS(X)                                                  \
    /* flow records (RFC 7012 / IANA registry) */                                  \
    X(kOctetDeltaCount, 1, 8, "octetDeltaCount")                                   \
    X(kPacketDeltaCount, 2, 8, "packetDeltaCount")                                 \
    X(kProtocolIdentifier, 4, 1, "protocolIdentifier")                             \
    X(kSourceIpv4Address, 8, 4, "sourceIPv4Address")                               \
    X(kIngressInterface, 10, 4, "ingressInterface")                                \
    X(kDestinationIpv4Address, 12, 4, "destinationIPv4Address")                    \
    X(kMinimumIpTotalLength, 25, 2, "minimumIpTotalLength")                        \
    X(kMaximumIpTotalLength, 26, 2, "maximumIpTotalLength")                        \
    X(kSourceIpv6Address, 27, 16, "sourceIPv6Address")                             \
    X(kDestinationIpv6Address, 28, 16, "destinationIPv6Address")                   \
    X(kIcmpTypeCodeIpv4, 32, 2, "icmpTypeCodeIPv4")                                \
    X(kFlowEndReason, 136, 1, "flowEndReason")                                     \
    X(kObservationPointId, 138, 4, "observationPointId")                           \
    X(kIcmpTypeCodeIpv6, 139, 2, "icmpTypeCodeIPv6")                               \
    X(kFlowId, 148, 8, "flowId")                                                   \
    X(kFlowStartMilliseconds, 152, 8, "flowStartMilliseconds")                     \
    X(kFlowEndMilliseconds, 153, 8, "flowEndMilliseconds")                         \
    X(kBiflowDirection, 239, 1, "biflowDirection")                                 \
    /* the segment of mirrored traffic (EncoderConfig::segment_elements) */         \
    X(kVlanId, 58, 2, "vlanId")                                                    \
    X(kLayer2SegmentId, 351, 8, "layer2SegmentId")                                 \
    /* aggregates of one-packet conversations (flowgen/singleton_fold.hpp) */   \
    X(kDeltaFlowCount, 3, 8, "deltaFlowCount")                                     \
    X(kSourceIpv4PrefixLength, 9, 1, "sourceIPv4PrefixLength")                     \
    X(kDestinationIpv4PrefixLength, 13, 1, "destinationIPv4PrefixLength")          \
    X(kSourceIpv6PrefixLength, 29, 1, "sourceIPv6PrefixLength")                    \
    X(kDestinationIpv6PrefixLength, 30, 1, "destinationIPv6PrefixLength")          \
    /* metering and exporting process statistics (RFC 7011 §4.1, §4.2) */          \
    X(kExportedOctetTotalCount, 40, 8, "exportedOctetTotalCount")                  \
    X(kExportedMessageTotalCount, 41, 8, "exportedMessageTotalCount")              \
    X(kExportedFlowRecordTotalCount, 42, 8, "exportedFlowRecordTotalCount")        \
    X(kOctetTotalCount, 85, 8, "octetTotalCount")                                  \
    X(kPacketTotalCount, 86, 8, "packetTotalCount")                                \
    X(kObservationDomainId, 149, 4, "observationDomainId")                         \
    X(kObservedFlowTotalCount, 163, 8, "observedFlowTotalCount")                   \
    X(kIgnoredPacketTotalCount, 164, 8, "ignoredPacketTotalCount")                 \
    X(kIgnoredOctetTotalCount, 165, 8, "ignoredOctetTotalCount")                   \
    X(kNotSentFlowTotalCount, 166, 8, "notSentFlowTotalCount")                     \
    /* information element type records (RFC 5610 §3) */                           \
    X(kInformationElementId, 303, 2, "informationElementId")                       \
    X(kInformationElementDataType, 339, 1, "informationElementDataType")           \
    X(kInformationElementName, 341, kIpfixVariableLength, "informationElementName") \
    X(kInformationElementSemantics, 344, 1, "informationElementSemantics")         \
    X(kPrivateEnterpriseNumber, 346, 4, "privateEnterpriseNumber")

#define ECHOFLOW_ENTERPRISE_ELEMENTS(X)                                                                         \
    /* 0..1000, detect::Pipeline's score */                                                                     \
    X(kDetectionScore, 1, 2, kIeUnsigned16, kIeQuantity, "echoflowDetectionScore", nullptr)                    \
    /* bit set of detect::Reason (detect/reason.hpp) */                                                         \
    X(kReasonFlags, 2, 4, kIeUnsigned32, kIeFlags, "echoflowReasonFlags", nullptr)                             \
    /* mean payload entropy, bits/byte * 1000 */                                                                \
    X(kPayloadEntropyMilli, 3, 2, kIeUnsigned16, kIeQuantity, "echoflowPayloadEntropyMilli", nullptr)          \
    /* ICMP data bytes after the 8-byte header, per direction */                                                \
    X(kPayloadMinOctets, 4, 2, kIeUnsigned16, kIeQuantity, "echoflowPayloadMinOctets",                         \
      "echoflowReversePayloadMinOctets")                                                                        \
    X(kPayloadMaxOctets, 5, 2, kIeUnsigned16, kIeQuantity, "echoflowPayloadMaxOctets",                         \
      "echoflowReversePayloadMaxOctets")                                                                        \
    /* rounded down */                                                                                          \
    X(kPayloadMeanOctets, 6, 2, kIeUnsigned16, kIeQuantity, "echoflowPayloadMeanOctets",                       \
      "echoflowReversePayloadMeanOctets")                                                                       \
    /* pattern id of detect/patterns, 0 = none */                                                               \
    X(kSignatureId, 7, 2, kIeUnsigned16, kIeIdentifier, "echoflowSignatureId", nullptr)                         \
    /* 0 benign/unknown, 1 suspicious, 2 tunnel */                                                              \
    X(kVerdict, 8, 1, kIeUnsigned8, kIeIdentifier, "echoflowVerdict", nullptr)                                 \
    /* flowgen::SegmentType << 56 | VNI or ERSPAN session id (EncoderConfig::segment_elements) */               \
    X(kSegment, 9, 8, kIeUnsigned64, kIeIdentifier, "echoflowSegment", nullptr)                                \
    /* the closing report of a spoofed-source flood (EncoderConfig::flood_reports): new conversations */        \
    /* (their first packets) and their IP octets to the victim over the flood; IANA has no element for */      \
    /* "packets of one event", and packetDeltaCount would count them a second time at the collector */          \
    X(kFloodPackets, 20, 8, kIeUnsigned64, kIeQuantity, "echoflowFloodPackets", nullptr)                        \
    X(kFloodOctets, 21, 8, kIeUnsigned64, kIeQuantity, "echoflowFloodOctets", nullptr)                          \
    /* distinct sources (a HyperLogLog estimate, 9.2% standard error: detect/flood.hpp) */                    \
    X(kFloodSources, 22, 8, kIeUnsigned64, kIeQuantity, "echoflowFloodSources", nullptr)                        \
    /* the busiest second: new conversations, and bits of their IP octets */                                   \
    X(kFloodPeakPacketRate, 23, 8, kIeUnsigned64, kIeQuantity, "echoflowFloodPeakPacketsPerSecond", nullptr)    \
    X(kFloodPeakBitRate, 24, 8, kIeUnsigned64, kIeQuantity, "echoflowFloodPeakBitsPerSecond", nullptr)

namespace flowgen {

// RFC 7011 §7: a field of variable length.
inline constexpr uint16_t kIpfixVariableLength = 0xFFFF;

// RFC 5610 §3.1 / IANA "IPFIX Information Element Data Types".
inline constexpr uint8_t kIeUnsigned8 = 1, kIeUnsigned16 = 2, kIeUnsigned32 = 3, kIeUnsigned64 = 4;
// RFC 5610 §3.2 / IANA "IPFIX Information Element Semantics".
inline constexpr uint8_t kIeQuantity = 1, kIeIdentifier = 4, kIeFlags = 5;

// An element of the table: its row index in kElements.
enum class Ie : uint8_t {
#define ECHOFLOW_IE_IANA_ENUM(e, id, length, name) e,
#define ECHOFLOW_IE_ENTERPRISE_ENUM(e, id, length, type, semantics, name, reverse_name) e,
    ECHOFLOW_IANA_ELEMENTS(ECHOFLOW_IE_IANA_ENUM)
    ECHOFLOW_ENTERPRISE_ELEMENTS(ECHOFLOW_IE_ENTERPRISE_ENUM)
#undef ECHOFLOW_IE_IANA_ENUM
#undef ECHOFLOW_IE_ENTERPRISE_ENUM
};

struct IpfixElement {
    uint16_t id;         // without the enterprise bit
    uint16_t length;     // on the wire; kIpfixVariableLength for variable
    bool enterprise;     // under EncoderConfig::enterprise_number, else IANA
    uint8_t type;        // RFC 5610 data type (enterprise rows)
    uint8_t semantics;   // RFC 5610 semantics (enterprise rows)
    const char* name;
    const char* reverse_name;  // RFC 5103 reverse element's name, nullptr when none
};

inline constexpr IpfixElement kElements[] = {
#define ECHOFLOW_IE_IANA_ROW(e, id, length, name) {id, length, false, 0, 0, name, nullptr},
#define ECHOFLOW_IE_ENTERPRISE_ROW(e, id, length, type, semantics, name, reverse_name) \
    {id, length, true, type, semantics, name, reverse_name},
    ECHOFLOW_IANA_ELEMENTS(ECHOFLOW_IE_IANA_ROW)
    ECHOFLOW_ENTERPRISE_ELEMENTS(ECHOFLOW_IE_ENTERPRISE_ROW)
#undef ECHOFLOW_IE_IANA_ROW
#undef ECHOFLOW_IE_ENTERPRISE_ROW
};

constexpr const IpfixElement& element(Ie e) noexcept { return kElements[static_cast<size_t>(e)]; }

}  // namespace flowgen
