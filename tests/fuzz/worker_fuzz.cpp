// probe::Worker over arbitrary frames, twice: frame by frame and in bursts
// (parsed first, then one handle() call per burst), as a live port delivers
// them. Every frame is counted
// once (rx = icmp + other + malformed), both orders give the same counters
// and the same records, and no record ends before it starts.
//
// Input: byte 0 picks the configuration (detection on/off, a growing or a
// fixed cache); then frames, each [dt][len_hi][len_lo] and len bytes of an
// Ethernet frame. dt > 0 starts a new burst dt * 8 ms later; the frames of a
// burst share one time, as rx_burst gives them. Gaps stay under 2.1 s, below
// the idle timeout plus the expiry scan period (2.5 s): expire() after a
// longer stall ends flows before they start, a defect of its own, not looked
// for here.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <span>
#include <vector>

#include "probe/worker.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

const detect::Config& detection() {
    static const detect::Config c = fuzz::detection_config();
    return c;
}

struct Run {
    std::unique_ptr<probe::Worker> worker;
    std::vector<flowgen::ConversationRecord> records;
    uint64_t alerts = 0;

    Run(bool detect, uint32_t initial_capacity) {
        probe::WorkerSettings ws;
        ws.cache.capacity = 64;  // 8 buckets: conversations evict each other
        ws.cache.initial_capacity = initial_capacity;
        ws.cache.idle_timeout_ms = 2000;
        ws.cache.active_timeout_ms = 5000;
        ws.detect = detect;
        ws.detection = &detection();
        ws.record_queue = 1024;
        ws.alert_queue = 256;
        worker = std::make_unique<probe::Worker>(ws);
        if (!worker->init().ok()) std::abort();
    }
    void drain() {
        flowgen::ConversationRecord r;
        while (worker->records().pop(r)) records.push_back(r);
        probe::AlertEvent a;
        while (worker->alerts().pop(a)) ++alerts;
    }
};

struct Frame {
    size_t offset;
    size_t length;
    uint64_t now_ms;
};

// `first_slice`: the conversation's first record (later ones follow an
// active timeout, and either direction may speak first in them).
void check_record(const flowgen::ConversationRecord& r, uint64_t start_ms, uint64_t end_ms, bool first_slice) {
    FUZZ_CHECK(r.dir[0].packets + r.dir[1].packets > 0);
    for (const flowgen::DirectionCounters& d : r.dir) {
        if (d.packets == 0) continue;
        FUZZ_CHECK(d.first_ms <= d.last_ms);
        FUZZ_CHECK(d.first_ms >= start_ms && d.last_ms <= end_ms);
        FUZZ_CHECK(d.min_ip_length <= d.max_ip_length);
        FUZZ_CHECK(d.octets >= d.packets * 20u);
    }
    // Direction 0 is the sender of the conversation's first packet, except
    // between equal addresses, where the request's sender is (a reply seen
    // first is direction 1: flow_cache.hpp, FlowCache::update).
    if (first_slice && !(r.initiator == r.responder)) {
        FUZZ_CHECK(r.dir[0].packets > 0);
        if (r.dir[1].packets > 0) FUZZ_CHECK(r.dir[0].first_ms <= r.dir[1].first_ms);
    }
    FUZZ_CHECK(r.detection.score <= 1000);
}

bool same_record(const flowgen::ConversationRecord& a, const flowgen::ConversationRecord& b) {
    if (a.flow_id != b.flow_id || !(a.initiator == b.initiator) || !(a.responder == b.responder) ||
        a.key_type != b.key_type || a.icmp_id != b.icmp_id || a.end_reason != b.end_reason)
        return false;
    for (int d = 0; d < 2; ++d)
        if (a.dir[d].packets != b.dir[d].packets || a.dir[d].octets != b.dir[d].octets ||
            a.dir[d].first_ms != b.dir[d].first_ms || a.dir[d].last_ms != b.dir[d].last_ms ||
            a.dir[d].payload_octets != b.dir[d].payload_octets)
            return false;
    return a.detection.score == b.detection.score && a.detection.reason_flags == b.detection.reason_flags &&
           a.detection.verdict == b.detection.verdict;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const bool detect = data[0] & 1;
    const uint32_t initial = (data[0] & 2) ? 8 : 0;
    // The frames, copied into one buffer each of exactly their size below.
    constexpr uint64_t kStart = 1'764'128'000'000ULL;
    std::vector<Frame> frames;
    uint64_t now = kStart;
    size_t at = 1;
    while (size - at >= 3 && frames.size() < 4096) {
        const unsigned dt = data[at];
        size_t len = (size_t(data[at + 1]) << 8 | data[at + 2]) % 2048;
        at += 3;
        if (len > size - at) len = size - at;
        now += dt * 8u;
        frames.push_back({at, len, now});
        at += len;
    }
    std::vector<std::vector<uint8_t>> copies;
    copies.reserve(frames.size());
    for (const Frame& f : frames) copies.emplace_back(data + f.offset, data + f.offset + f.length);

    Run single(detect, initial), burst(detect, initial);
    std::vector<probe::ParsedFrame> parsed;
    for (size_t i = 0; i < frames.size();) {
        // One burst: the frames that share a time, parsed as a receive loop
        // parses them (parse_into), handed over in one call.
        size_t j = i;
        parsed.clear();
        while (j < frames.size() && frames[j].now_ms == frames[i].now_ms) {
            const std::span<const uint8_t> frame(copies[j].data(), copies[j].size());
            single.worker->handle(flowgen::LinkType::kEthernet, frame, frames[i].now_ms, 1);
            parsed.emplace_back();
            probe::parse_into(parsed.back(), flowgen::LinkType::kEthernet, frame, 1);
            ++j;
        }
        // Bursts longer than a receive burst can be come in several calls.
        for (size_t at = 0; at < parsed.size(); at += probe::Worker::kMaxBurst)
            burst.worker->handle(parsed.data() + at,
                                 static_cast<unsigned>(std::min<size_t>(probe::Worker::kMaxBurst, parsed.size() - at)),
                                 frames[i].now_ms);
        for (Run* r : {&single, &burst}) {
            r->worker->expire(frames[i].now_ms);
            r->drain();
        }
        i = j;
    }
    const uint64_t end = now + 1;
    for (Run* r : {&single, &burst}) {
        r->worker->flush(end, flowgen::EndReason::kForcedEnd);
        r->drain();
    }

    const probe::WorkerStats& s = single.worker->stats();
    FUZZ_CHECK(s.rx_packets.get() == frames.size());
    // README "Stopping, counters": a mirror's second copy is counted apart.
    FUZZ_CHECK(s.rx_packets.get() == s.icmp_packets.get() + s.other_packets.get() + s.malformed_packets.get() +
                                         s.mirror_duplicates.get());
    FUZZ_CHECK(s.other_packets.get() ==
               s.tcp_packets.get() + s.udp_packets.get() + s.other_ip_packets.get() + s.non_ip_packets.get());
    uint64_t packets = 0;
    std::set<uint64_t> flows;
    for (const auto& r : single.records) {
        check_record(r, kStart, end, flows.insert(r.flow_id).second);
        packets += r.dir[0].packets + r.dir[1].packets;
    }
    // Every ICMP packet is in exactly one record (nothing dropped: the
    // queues are drained after every burst).
    FUZZ_CHECK(s.flows_dropped.get() == 0);
    FUZZ_CHECK(packets == s.icmp_packets.get());

    const probe::WorkerStats& t = burst.worker->stats();
    FUZZ_CHECK(t.rx_packets.get() == s.rx_packets.get() && t.rx_bytes.get() == s.rx_bytes.get());
    FUZZ_CHECK(t.icmp_packets.get() == s.icmp_packets.get() && t.icmp_octets.get() == s.icmp_octets.get());
    FUZZ_CHECK(t.other_packets.get() == s.other_packets.get());
    FUZZ_CHECK(t.malformed_packets.get() == s.malformed_packets.get());
    FUZZ_CHECK(t.unattributed_fragments.get() == s.unattributed_fragments.get());
    FUZZ_CHECK(burst.alerts == single.alerts);
    FUZZ_CHECK(burst.records.size() == single.records.size());
    for (size_t i = 0; i < single.records.size(); ++i) FUZZ_CHECK(same_record(burst.records[i], single.records[i]));
    return 0;
}
