// detect::Pipeline over a sequence of ICMP packets spread over a few
// conversations: no memory error or UB, and the score and summary stay in
// their ranges whatever the order, sizes and contents.
//
// Input: a sequence of packets, each [control][type][code][seq][dt][len_hi]
// [len_lo] then len (mod 1500) payload bytes. control: bits 0-1 the
// conversation, bit 2 the direction, bit 3 the family, bits 4-7 how much
// longer the datagram was on the wire than captured (a snap length).
// scripts/fuzz-seeds writes the ICMP packets of the repository's captures
// in this form.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "detect/pipeline.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

// One pipeline for the process: init() loads the pattern databases (tens of
// ms), which per input would leave a few dozen executions a second. Its
// per-sender table (SourceTable) therefore carries over between inputs; the
// conversations are fresh for each. A crash that needs an earlier input to
// reproduce shows as such when its file alone does not crash.
detect::Pipeline& pipeline() {
    static detect::Pipeline* p = [] {
        auto* made = new detect::Pipeline;
        if (!made->init(fuzz::detection_config()).ok()) std::abort();
        return made;
    }();
    return *p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    detect::Pipeline& pipeline = ::pipeline();
    detect::ConversationState states[4];
    std::memset(states, 0, sizeof states);  // what the flow cache gives a new conversation
    uint64_t now = 1'764'128'000'000ULL;
    size_t at = 0;
    while (size - at >= 7) {
        const uint8_t* h = data + at;
        at += 7;
        const uint8_t control = h[0];
        flowgen::PacketInfo p{};
        const unsigned conv = control & 3;
        const unsigned dir = (control >> 2) & 1;
        p.family = (control & 8) ? flowgen::Family::kIpv6 : flowgen::Family::kIpv4;
        p.l4_protocol = p.family == flowgen::Family::kIpv4 ? flowgen::kProtoIcmp : flowgen::kProtoIcmpv6;
        p.icmp_type = h[1];
        p.icmp_code = h[2];
        p.icmp_id = static_cast<uint16_t>(0x1000 + conv);
        p.icmp_seq = h[3];
        p.has_icmp_header = true;
        now += h[4] * 10u;
        const size_t len = std::min<size_t>((size_t(h[5]) << 8 | h[6]) % 1500, size - at);
        // The payload in a buffer of exactly its size: ASan sees reads past it.
        const std::vector<uint8_t> payload(data + at, data + at + len);
        at += len;
        p.payload = payload.empty() ? nullptr : payload.data();
        p.payload_length = static_cast<uint16_t>(payload.size());
        p.payload_wire_length = static_cast<uint16_t>(payload.size() + (control >> 4) * 97u);
        const uint32_t header = p.family == flowgen::Family::kIpv4 ? 20 : 40;
        p.ip_length = header + 8 + p.payload_wire_length;
        // Addresses: conversation c is 10.0.0.1 <-> 10.0.0.(2 + c); dir 1 swaps.
        uint8_t a[16] = {10, 0, 0, 1}, b[16] = {10, 0, 0, static_cast<uint8_t>(2 + conv)};
        std::memcpy(dir ? p.dst.bytes : p.src.bytes, a, 16);
        std::memcpy(dir ? p.src.bytes : p.dst.bytes, b, 16);
        pipeline.on_packet(states[conv], p, dir, now);

        const detect::Evaluation e = pipeline.evaluate(states[conv]);
        FUZZ_CHECK(e.score <= 1000);
        const flowgen::DetectionSummary s = pipeline.summarize(states[conv]);
        FUZZ_CHECK(s.score == e.score);
        FUZZ_CHECK(s.reason_flags == e.reasons);
        FUZZ_CHECK(s.verdict <= 2);
        FUZZ_CHECK(s.entropy_milli <= 8000);  // bits per byte, times 1000
        if (s.signature_id != 0) FUZZ_CHECK(pipeline.signature_name(s.signature_id) != nullptr);
        // Fingerprinting the payload is allowed on any bytes.
        (void)pipeline.fingerprint({payload.data(), payload.size()});
    }
    return 0;
}
