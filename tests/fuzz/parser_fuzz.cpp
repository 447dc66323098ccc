// flowgen::parse_frame on arbitrary bytes, for every link type, with and
// without a snap length: no read outside the frame (ASan), no UB (UBSan), and
// the promises of flowgen/packet.hpp hold for what it returns.
//
// Input: byte 0 picks the link type, byte 1 how much longer than captured
// the frame was on the wire; the rest is the frame.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "flowgen/packet.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using flowgen::Encap;
using flowgen::Family;
using flowgen::ParseStatus;

constexpr flowgen::LinkType kLinks[] = {flowgen::LinkType::kEthernet, flowgen::LinkType::kRaw,
                                        flowgen::LinkType::kLinuxSll, flowgen::LinkType::kLinuxSll2};

constexpr uint32_t bit(flowgen::Encap e) { return 1u << static_cast<unsigned>(e); }

bool zero_tail(const flowgen::IpAddress& a) {
    for (int i = 4; i < 16; ++i)
        if (a.bytes[i] != 0) return false;
    return true;
}

void check(std::span<const uint8_t> frame, size_t wire, ParseStatus status, const flowgen::PacketInfo& p) {
    if (status == ParseStatus::kIcmp || status == ParseStatus::kOther) {
        FUZZ_CHECK(p.family == Family::kIpv4 || p.family == Family::kIpv6);
        if (p.family == Family::kIpv4) {
            FUZZ_CHECK(zero_tail(p.src) && zero_tail(p.dst));  // compare/hash all 16 bytes
            FUZZ_CHECK(p.ip_length >= 20);
        } else {
            FUZZ_CHECK(p.ip_length >= 40);
        }
        FUZZ_CHECK(p.vlan_count <= flowgen::kMaxVlanTags);
        FUZZ_CHECK(p.tunnel_depth <= flowgen::kMaxDecapLayers);
        // The IP header's length may exceed what was captured only up to the
        // wire length (a snap length), never beyond (a lie is kMalformed);
        // behind a mirror tunnel, which cuts frames on purpose, up to the
        // largest IP packet (flowgen/parser.cpp, kMirrorWire).
        constexpr uint32_t kMirrorTunnels =
            bit(Encap::kPseudowire) | bit(Encap::kGreTeb) | bit(Encap::kErspan1) | bit(Encap::kErspan2) |
            bit(Encap::kErspan3) | bit(Encap::kVxlan) | bit(Encap::kGeneve);
        FUZZ_CHECK(p.ip_length <= ((p.encapsulations & kMirrorTunnels) != 0 ? 65535u + 40u : wire));
    }
    if (status != ParseStatus::kIcmp) return;
    FUZZ_CHECK(p.l4_protocol == (p.family == Family::kIpv4 ? flowgen::kProtoIcmp : flowgen::kProtoIcmpv6));
    // Only a fragment may lack its ICMP header (a non-first fragment).
    FUZZ_CHECK(p.has_icmp_header || p.is_fragment);
    // The payload lies inside the frame and inside what the IP header states.
    FUZZ_CHECK(p.payload_length <= p.payload_wire_length);
    if (p.payload_length > 0) {
        FUZZ_CHECK(p.payload != nullptr);
        FUZZ_CHECK(p.payload >= frame.data());
        FUZZ_CHECK(p.payload + p.payload_length <= frame.data() + frame.size());
        FUZZ_CHECK(p.has_icmp_header);
    }
    if (!p.has_icmp_header) FUZZ_CHECK(p.payload_length == 0 && p.payload_wire_length == 0);
    // ICMP header (8) + data inside the IP datagram.
    if (p.has_icmp_header) FUZZ_CHECK(p.payload_wire_length + 8u + 20u <= p.ip_length);
    if (p.payload_length > 0) {
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < p.payload_length; ++i) sink = sink ^ p.payload[i];  // ASan: every byte readable
        (void)sink;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const flowgen::LinkType link = kLinks[data[0] % 4];
    const size_t extra = data[1];
    // A copy of exactly the frame's size: ASan sees any read past its end.
    const size_t n = size - 2;
    auto* copy = new uint8_t[n ? n : 1];
    std::memcpy(copy, data + 2, n);
    const std::span<const uint8_t> frame(copy, n);

    flowgen::PacketInfo whole;
    const ParseStatus s_whole = flowgen::parse_frame(link, frame, whole);
    check(frame, n, s_whole, whole);

    // The snap-length overload with wire == captured is the same call.
    flowgen::PacketInfo same;
    const ParseStatus s_same = flowgen::parse_frame(link, frame, n, same);
    FUZZ_CHECK(s_same == s_whole);
    if (s_whole == ParseStatus::kIcmp) {
        FUZZ_CHECK(same.ip_length == whole.ip_length && same.payload == whole.payload &&
                   same.payload_length == whole.payload_length && same.src == whole.src && same.dst == whole.dst);
    }

    flowgen::PacketInfo cut;
    const ParseStatus s_cut = flowgen::parse_frame(link, frame, n + extra, cut);
    check(frame, n + extra, s_cut, cut);
    // A frame that parses whole still parses as the same kind when the wire
    // says it was longer (only a header that lies beyond the wire fails).
    if (s_whole == ParseStatus::kIcmp || s_whole == ParseStatus::kOther) FUZZ_CHECK(s_cut == s_whole);
    delete[] copy;
    return 0;
}
