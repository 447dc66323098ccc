#include "probe/offline.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

#include "flowgen/prefetch.hpp"
#include "probe/capture_reader.hpp"
#include "probe/export_loop.hpp"
#include "probe/run_control.hpp"
#include "probe/stats.hpp"
#include "probe/worker.hpp"

namespace probe {

namespace {

// Capture time between expiry passes: idle flows end at most this much
// (plus the cache's scan period) after their timeout, in capture time.
constexpr uint64_t kExpireStepMs = 10;

// The cache starts with this many slots and doubles up to --cache-size as
// the capture's conversations need (FlowCacheConfig::initial_capacity): one
// 2 MiB huge page of cache and one of detector state. Allocating and zeroing
// a million slots up front was a third of the run time on a capture of 20,000
// conversations (docs/performance.md).
constexpr uint32_t kInitialSlots = 16384;

// Frames of a batch prefetched ahead of the one being parsed.
constexpr unsigned kFrameAhead = 8;

void fail(const std::string& message) { std::fprintf(stderr, "echoflow: %s\n", message.c_str()); }

}  // namespace

int run_offline(const Config& config, const Identity* identity) {
    // First of all: the reader thread may be done with a FIFO's frames
    // while the patterns still compile, and a stop signal then must not
    // find the default action, which kills the process before the summary
    // and the final export.
    install_stop_handlers();
    // Opened first: a missing or unsupported file fails before the
    // patterns are compiled.
    CaptureReader reader;
    if (flowgen::Status s = reader.open(config.pcap_path); !s.ok()) {
        fail(s.message());
        return 1;
    }
    // Reading starts while the patterns compile.
    reader.start();

    WorkerSettings ws;
    ws.id = 0;
    ws.cache = config.cache;
    if (ws.cache.initial_capacity == 0) ws.cache.initial_capacity = std::min(kInitialSlots, ws.cache.capacity);
    // The exporter runs on this thread and drains a full queue at once
    // (set_overflow below): a short queue does, and is not 11 MB to zero.
    ws.record_queue = 4096;
    ws.detect = config.detect;
    ws.detection = &config.detection;
    ws.parse = config.parse;
    ws.dedup_window_ms = config.dedup_window_ms;
    ws.fold = config.fold;
    Worker worker(ws);
    if (flowgen::Status s = worker.init(); !s.ok()) {
        fail(s.message());
        return 1;
    }
    ExportLoop loop;
    if (flowgen::Status s = loop.open(config, config.detect ? &worker.detectors() : nullptr); !s.ok()) {
        fail(s.message());
        return 1;
    }
    // One thread produces and consumes: a full queue is drained at once,
    // never dropped (a file can wait; a wire cannot).
    worker.set_overflow(&ExportLoop::overflow_to_exporter, &loop);
    Worker* const workers[] = {&worker};
    if (identity) {
        // The reader thread has read ahead, but nothing is parsed yet.
        if (flowgen::Status s = drop_privileges(*identity, {}); !s.ok()) {
            fail("--user " + identity->user + ": " + s.message());
            return 1;
        }
        if (!config.quiet) std::fprintf(stderr, "echoflow: running as %s\n", describe_identity(*identity, {}).c_str());
    }

    const double t0 = monotonic_seconds();
    ProgressReport progress(config.stats_interval_s, t0);
    uint64_t now_ms = 0;
    uint64_t next_expire_ms = 0;
    uint64_t packets = 0;
    uint64_t drained_at = 0;
    RunStats totals;
    bool stopped = false;
    const flowgen::LinkType link = reader.link();
    const flowgen::ParseOptions& parse = config.parse;
    ParsedFrame parsed[Worker::kMaxBurst];
    auto account = [&](const CaptureBatch& batch) {
        // Runs of frames with the same capture millisecond are parsed and go
        // through the burst path together (prefetched lookups); each frame
        // gets the time it would get alone.
        for (unsigned i = 0; i < batch.count;) {
            const uint64_t ms = batch.frames[i].time_ms;
            unsigned j = i + 1;
            while (j < batch.count && j - i < Worker::kMaxBurst && batch.frames[j].time_ms == ms) ++j;
            if (ms != now_ms || packets == 0) {
                now_ms = ms;
                // Expire before accounting the packets: a conversation idle
                // for longer than the timeout ends before them, not with them.
                if (now_ms >= next_expire_ms) {
                    worker.expire_all_due(now_ms);
                    next_expire_ms = now_ms + kExpireStepMs;
                }
            }
            for (unsigned k = i; k < j; ++k) {
                // The reader wrote these lines on the other core: ask for
                // them kFrameAhead frames early (when the two vCPUs sit far
                // apart a line takes ~200 ns to cross).
                if (k + kFrameAhead < batch.count) {
                    const uint8_t* ahead = batch.arena + batch.frames[k + kFrameAhead].offset;
                    flowgen::prefetch(ahead);
                    flowgen::prefetch(ahead + 64);
                }
                const CaptureBatch::Frame& f = batch.frames[k];
                parse_into(parsed[k - i], link, {batch.arena + f.offset, f.caplen}, 0, f.wire_len, parse);
            }
            worker.handle(parsed, j - i, now_ms);
            packets += j - i;
            i = j;
        }
    };
    for (;;) {
        bool idle = false;  // a quiet pipe: what the worker queued goes out meanwhile
        CaptureBatch* batch = reader.next(&idle);
        if (batch == nullptr && !idle) break;
        if (batch != nullptr) {
            account(*batch);
            reader.release(batch);
        }
        // A flood sample goes out at once: the alert carries the capture
        // time it was decided at, not that of 64 packets later.
        if (idle || packets - drained_at >= 64 || worker.floods().size() > 0) {
            drained_at = packets;
            loop.drain(workers, now_ms);
            if (stop_requested()) {
                stopped = true;
                break;
            }
            collect(workers, loop, totals);
            loop.poll(now_ms, totals);
            if (config.stats_interval_s) progress.maybe_print(totals, monotonic_seconds());
        }
    }
    if (stop_requested()) stopped = true;  // also while waiting for the reader (next() gave up)
    reader.finish();
    int exit_code = 0;
    if (!stopped && !reader.error().empty()) {
        // A truncated or damaged file: report it, but export what was read.
        fail("capture " + config.pcap_path + ": " + reader.error() + " (after " + std::to_string(packets) +
             " packets; flows so far are exported)");
        exit_code = 1;
    }

    worker.flush(now_ms, flowgen::EndReason::kForcedEnd);
    loop.drain_all(workers, now_ms);
    totals.elapsed_seconds = monotonic_seconds() - t0;
    if (flowgen::Status s = end_of_run(config, workers, loop, now_ms ? now_ms : wall_clock_ms(), totals); !s.ok()) {
        fail(s.message());
        exit_code = 1;
    }
    return exit_code;
}

}  // namespace probe
