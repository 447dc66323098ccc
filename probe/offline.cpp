#include "probe/offline.hpp"

#include <pcap/pcap.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "probe/export_loop.hpp"
#include "probe/run_control.hpp"
#include "probe/stats.hpp"
#include "probe/worker.hpp"

namespace probe {

namespace {

bool link_type_of(int dlt, flowgen::LinkType& out) {
    switch (dlt) {
    case DLT_EN10MB: out = flowgen::LinkType::kEthernet; return true;
    case DLT_RAW:  // 12 on Linux, 14 on OpenBSD; LINKTYPE_RAW (101) maps here
#ifdef DLT_IPV4
    case DLT_IPV4:
    case DLT_IPV6:
#endif
        out = flowgen::LinkType::kRaw;
        return true;
    case DLT_LINUX_SLL: out = flowgen::LinkType::kLinuxSll; return true;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2: out = flowgen::LinkType::kLinuxSll2; return true;
#endif
    default: return false;
    }
}

// Capture time between expiry passes: idle flows end at most this much
// (plus the cache's scan period) after their timeout, in capture time.
constexpr uint64_t kExpireStepMs = 10;

// The cache starts with this many slots and doubles up to --cache-size as
// the capture's conversations need (FlowCacheConfig::initial_capacity): one
// 2 MiB huge page of cache and one of detector state. Allocating and zeroing
// a million slots up front was a third of the run time on a capture of 20,000
// conversations (docs/performance.md).
constexpr uint32_t kInitialSlots = 16384;

void fail(const std::string& message) { std::fprintf(stderr, "echoflow: %s\n", message.c_str()); }

// Consecutive frames of one capture millisecond, parsed, handed to the worker
// together (Worker::handle_parsed_burst: prefetched conversation lookups).
// libpcap reuses its buffer for the next frame, so frames are copied into
// `arena`. Within a millisecond the results equal frame-by-frame handling:
// every frame of the burst gets the same time, as it would alone.
struct Burst {
    static constexpr size_t kArenaBytes = 256 * 1024;
    ParsedFrame frames[Worker::kMaxBurst];
    unsigned count = 0;
    size_t used = 0;
    uint64_t now_ms = 0;
    alignas(64) uint8_t arena[kArenaBytes];

    bool fits(size_t caplen) const noexcept { return count < Worker::kMaxBurst && used + caplen <= kArenaBytes; }
    void add(flowgen::LinkType link, const u_char* data, const struct pcap_pkthdr& hdr) noexcept {
        uint8_t* copy = arena + used;
        std::memcpy(copy, data, hdr.caplen);
        used += (hdr.caplen + 63) & ~size_t{63};  // each frame on its own lines
        ParsedFrame& f = frames[count++];
        f.status = flowgen::parse_frame(link, {copy, hdr.caplen}, hdr.len, f.info);
        f.port = 0;
        f.frame_bytes = hdr.caplen;
    }
    void flush(Worker& worker) noexcept {
        if (count) worker.handle_parsed_burst(frames, count, now_ms);
        count = 0;
        used = 0;
    }
};

}  // namespace

int run_offline(const Config& config) {
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t* pc = pcap_open_offline(config.pcap_path.c_str(), errbuf);
    if (!pc) {
        fail("capture " + config.pcap_path + ": " + errbuf);
        return 1;
    }
    flowgen::LinkType link;
    if (!link_type_of(pcap_datalink(pc), link)) {
        const char* name = pcap_datalink_val_to_name(pcap_datalink(pc));
        fail("capture " + config.pcap_path + ": link type " + std::to_string(pcap_datalink(pc)) + " (" +
             (name ? name : "unknown") + ") is not supported; Ethernet, raw IP and Linux cooked captures are");
        pcap_close(pc);
        return 1;
    }

    WorkerSettings ws;
    ws.id = 0;
    ws.cache = config.cache;
    if (ws.cache.initial_capacity == 0) ws.cache.initial_capacity = std::min(kInitialSlots, ws.cache.capacity);
    // The exporter runs on this thread and drains a full queue at once
    // (set_overflow below): a short queue does, and is not 11 MB to zero.
    ws.record_queue = 4096;
    ws.detect = config.detect;
    ws.detection = &config.detection;
    Worker worker(ws);
    if (flowgen::Status s = worker.init(); !s.ok()) {
        fail(s.message());
        pcap_close(pc);
        return 1;
    }
    ExportLoop loop;
    if (flowgen::Status s = loop.open(config, config.detect ? &worker.detectors() : nullptr); !s.ok()) {
        fail(s.message());
        pcap_close(pc);
        return 1;
    }
    // One thread produces and consumes: a full queue is drained at once,
    // never dropped (a file can wait; a wire cannot).
    worker.set_overflow(&ExportLoop::overflow_to_exporter, &loop);
    Worker* const workers[] = {&worker};

    install_stop_handlers();
    const double t0 = monotonic_seconds();
    ProgressReport progress(config.stats_interval_s, t0);
    uint64_t now_ms = 0;
    uint64_t next_expire_ms = 0;
    uint64_t packets = 0;
    uint64_t drained_at = 0;
    RunStats totals;
    auto burst = std::make_unique<Burst>();
    struct pcap_pkthdr* hdr;
    const u_char* data;
    int rc;
    while ((rc = pcap_next_ex(pc, &hdr, &data)) == 1) {
        // Capture time drives flow times and expiry. A capture merged from
        // several sources may step back: the clock never does.
        const uint64_t ts = static_cast<uint64_t>(hdr->ts.tv_sec) * 1000 + static_cast<uint64_t>(hdr->ts.tv_usec) / 1000;
        if (ts > now_ms || !burst->fits(hdr->caplen)) {
            burst->flush(worker);
            if (ts > now_ms) now_ms = ts;
            // Expire before accounting the packet: a conversation idle for
            // longer than the timeout ends before this packet, not with it.
            if (now_ms >= next_expire_ms) {
                worker.expire_all_due(now_ms);
                next_expire_ms = now_ms + kExpireStepMs;
            }
            if (packets - drained_at >= 64) {
                drained_at = packets;
                loop.drain(workers, now_ms);
                if (stop_requested()) break;
                collect(workers, loop, totals);
                loop.poll(now_ms, totals);
                if (config.stats_interval_s) progress.maybe_print(totals, monotonic_seconds());
            }
        }
        ++packets;
        if (__builtin_expect(!burst->fits(hdr->caplen), 0)) {
            // Larger than the whole arena (a jumbo snap length): alone.
            worker.handle(link, {data, hdr->caplen}, now_ms, 0, hdr->len);
            continue;
        }
        burst->now_ms = now_ms;
        burst->add(link, data, *hdr);
    }
    burst->flush(worker);
    int exit_code = 0;
    if (rc == -1) {
        // A truncated or damaged file: report it, but export what was read.
        fail("capture " + config.pcap_path + ": " + pcap_geterr(pc) + " (after " + std::to_string(packets) +
             " packets; flows so far are exported)");
        exit_code = 1;
    }
    pcap_close(pc);

    worker.flush(now_ms, flowgen::EndReason::kForcedEnd);
    while (loop.drain(workers, now_ms) > 0) {
    }
    totals.elapsed_seconds = monotonic_seconds() - t0;
    if (flowgen::Status s = end_of_run(config, workers, loop, now_ms ? now_ms : wall_clock_ms(), totals); !s.ok()) {
        fail(s.message());
        exit_code = 1;
    }
    return exit_code;
}

}  // namespace probe
