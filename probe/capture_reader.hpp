// Reading a capture file on its own thread, for `echoflow --pcap`.
//
// libpcap hands out one frame at a time in a buffer it reuses for the next,
// through stdio: reading, copying and parsing were a third of an offline run
// (perf, docs/performance.md). A CaptureReader does that on a second thread,
// one batch of frames ahead of the worker, and hands over whole batches:
// frames copied out of libpcap's buffer into the batch, parsed
// (ParsedFrame), with their capture time. The worker sees the frames in file
// order, so its results are exactly those of reading on one thread.
//
// Batches circulate between two SPSC queues (filled: reader -> worker, free:
// worker -> reader); nothing is allocated after open(). The worker's thread
// calls next()/release()/finish(); the reader thread is internal.
#pragma once

#include <pcap/pcap.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "flowgen/packet.hpp"
#include "flowgen/spsc_queue.hpp"
#include "flowgen/status.hpp"
#include "probe/worker.hpp"

namespace probe {

struct CaptureBatch {
    static constexpr unsigned kMaxFrames = 256;
    // Above libpcap's largest frame (MAXIMUM_SNAPLEN, 262144): any frame fits.
    static constexpr size_t kArenaBytes = 512 * 1024;

    unsigned count = 0;
    size_t used = 0;
    ParsedFrame frames[kMaxFrames];  // info points into arena
    uint64_t time_ms[kMaxFrames];    // capture time, epoch ms; never steps back
    alignas(64) uint8_t arena[kArenaBytes];
};

class CaptureReader {
public:
    CaptureReader() = default;
    CaptureReader(const CaptureReader&) = delete;
    CaptureReader& operator=(const CaptureReader&) = delete;
    ~CaptureReader();

    // Opens the capture and checks its link type. Errors name the file.
    flowgen::Status open(const std::string& path);
    flowgen::LinkType link() const noexcept { return link_; }

    // Starts the reader thread (after open()).
    void start();

    // The next batch in file order, waiting for the reader; nullptr at the
    // end of the capture (or after finish()). Give every batch back with
    // release() once its frames are handled.
    CaptureBatch* next() noexcept;
    void release(CaptureBatch* batch) noexcept;

    // Stops the reader (early, on a stop signal, or after the end) and
    // joins it. Then: frames read, and the read error if the file ended in
    // a damaged record ("" when it ended cleanly).
    void finish();
    uint64_t frames_read() const noexcept { return frames_read_.load(std::memory_order_acquire); }
    const std::string& error() const noexcept { return error_; }

private:
    static constexpr uint32_t kBatches = 8;
    void run() noexcept;
    // Waits for a free batch; nullptr when asked to stop meanwhile.
    CaptureBatch* take_free() noexcept;
    void hand_over(CaptureBatch* batch) noexcept;

    pcap_t* pcap_ = nullptr;
    flowgen::LinkType link_ = flowgen::LinkType::kEthernet;
    std::string path_;
    std::unique_ptr<CaptureBatch[]> batches_;
    flowgen::SpscQueue<CaptureBatch*> filled_{kBatches * 2};
    flowgen::SpscQueue<CaptureBatch*> free_{kBatches * 2};
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> done_{false};  // the reader handed over its last batch
    std::atomic<uint64_t> frames_read_{0};
    std::string error_;  // written by the reader before done_, read after finish()
};

}  // namespace probe
