// Reading a capture file on its own thread, for `echoflow --pcap`.
//
// libpcap hands out one frame at a time in a buffer it reuses for the next,
// through stdio: reading and copying were a quarter of an offline run (perf,
// docs/performance.md). A CaptureReader does that on a second thread, one
// batch of frames ahead of the worker, and hands over whole batches: frames
// copied out of libpcap's buffer, with their lengths and capture time. The
// worker parses them itself (the parsed form is larger than the frame: fewer
// cache lines cross between the cores) and sees them in file order, so its
// results are exactly those of reading on one thread.
//
// Batches circulate between two SPSC queues (filled: reader -> worker, free:
// worker -> reader); nothing is allocated after open(). The worker's thread
// calls next()/release()/finish(); the reader thread is internal.
#pragma once

#include <pcap/pcap.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "flowgen/packet.hpp"
#include "flowgen/spsc_queue.hpp"
#include "flowgen/status.hpp"

namespace probe {

struct CaptureBatch {
    static constexpr unsigned kMaxFrames = 256;
    // Above libpcap's largest frame (MAXIMUM_SNAPLEN, 262144): any frame fits.
    static constexpr size_t kArenaBytes = 512 * 1024;

    struct Frame {
        uint64_t time_ms;   // capture time, epoch ms; never steps back
        uint32_t offset;    // of its bytes in arena
        uint32_t caplen;    // bytes captured
        uint32_t wire_len;  // pcap orig_len
    };
    unsigned count = 0;
    size_t used = 0;
    Frame frames[kMaxFrames];
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
    // end of the capture, or when a stop was requested (stop_requested(),
    // run_control.hpp) while waiting, or, with `idle`, after kStopPollMs
    // without a batch (*idle set: a quiet pipe; call again). Give every
    // batch back with release() once its frames are handled.
    CaptureBatch* next(bool* idle = nullptr) noexcept;
    void release(CaptureBatch* batch) noexcept;

    // Stops the reader (early, on a stop signal, or after the end) and
    // joins it: within kStopPollMs, also on a pipe whose writer is quiet
    // (the reader polls it rather than block in read()). Then: the read
    // error if the file ended in a damaged record ("" when it ended cleanly).
    void finish();
    const std::string& error() const noexcept { return error_; }

private:
    static constexpr uint32_t kBatches = 8;
    static constexpr unsigned kStopPollMs = 50;  // how often a waiting side looks for a stop
    void run() noexcept;
    // Waits for a free batch; nullptr when asked to stop meanwhile.
    CaptureBatch* take_free() noexcept;
    void hand_over(CaptureBatch* batch) noexcept;
    void wake(std::condition_variable& cv) noexcept;
    static ssize_t pipe_read(void* cookie, char* buf, size_t size) noexcept;
    static int pipe_close(void* cookie) noexcept;

    pcap_t* pcap_ = nullptr;
    flowgen::LinkType link_ = flowgen::LinkType::kEthernet;
    int pipe_fd_ = -1;           // a pipe or FIFO, read through pipe_read()
    CaptureBatch* current_ = nullptr;  // the batch the reader fills (reader thread only)
    std::unique_ptr<CaptureBatch[]> batches_;
    flowgen::SpscQueue<CaptureBatch*> filled_{kBatches * 2};
    flowgen::SpscQueue<CaptureBatch*> free_{kBatches * 2};
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> done_{false};  // the reader handed over its last batch
    // What a waiting next() / take_free() sleeps on (see take_free()).
    std::mutex mutex_;
    std::condition_variable filled_cv_;
    std::condition_variable freed_cv_;
    std::string error_;  // written by the reader before done_, read after finish()
};

}  // namespace probe
