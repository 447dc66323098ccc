#include "probe/capture_reader.hpp"

#include <pthread.h>
#include <signal.h>
#include <stdio_ext.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>

#include "probe/run_control.hpp"

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

}  // namespace

CaptureReader::~CaptureReader() {
    finish();
    if (pcap_) pcap_close(pcap_);
}

flowgen::Status CaptureReader::open(const std::string& path) {
    // libpcap reads a savefile with two freads per frame. The FILE is ours:
    // one thread uses it, so stdio's per-call locking (taken once a process
    // has a second thread) is switched off, and a 1 MiB buffer replaces the
    // 4 KiB default (one read() per 4 KiB before). perf: fread was ~45% of
    // the reader thread.
    // "-" is standard input, as with pcap_open_offline (tcpdump -w - | ...).
    std::FILE* file = path == "-" ? fdopen(dup(STDIN_FILENO), "rb") : std::fopen(path.c_str(), "rb");
    if (!file) return flowgen::Status::error("capture " + path + ": " + path + ": " + std::strerror(errno));
    // A pipe or FIFO delivers frames as they come: each is handed over at
    // once rather than when 256 have gathered (minutes, at a trickle).
    struct stat st {};
    max_frames_ = ::fstat(fileno(file), &st) == 0 && S_ISREG(st.st_mode) ? CaptureBatch::kMaxFrames : 1;
    (void)__fsetlocking(file, FSETLOCKING_BYCALLER);
    (void)std::setvbuf(file, nullptr, _IOFBF, size_t{1} << 20);
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_ = pcap_fopen_offline(file, errbuf);
    if (!pcap_) {
        std::fclose(file);
        return flowgen::Status::error("capture " + path + ": " + errbuf);
    }
    path_ = path;
    if (!link_type_of(pcap_datalink(pcap_), link_)) {
        const char* name = pcap_datalink_val_to_name(pcap_datalink(pcap_));
        return flowgen::Status::error("capture " + path + ": link type " + std::to_string(pcap_datalink(pcap_)) +
                                      " (" + (name ? name : "unknown") +
                                      ") is not supported; Ethernet, raw IP and Linux cooked captures are");
    }
    // Default-initialised: the arenas are not zeroed (4 MiB nobody reads
    // before writing).
    batches_.reset(new (std::nothrow) CaptureBatch[kBatches]);
    if (!batches_) return flowgen::Status::error("capture " + path + ": cannot allocate read buffers");
    for (uint32_t i = 0; i < kBatches; ++i) free_.push(&batches_[i]);
    return {};
}

namespace {

// SIGUSR1 interrupts the reader's blocking read (a FIFO whose writer went
// quiet) when the worker stops: the handler does nothing, and is installed
// without SA_RESTART so that read() returns EINTR.
void interrupt_read(int) {}

}  // namespace

void CaptureReader::start() {
    struct sigaction sa {};
    sa.sa_handler = interrupt_read;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    (void)sigaction(SIGUSR1, &sa, nullptr);
    thread_ = std::thread([this] { run(); });
    // Named for top -H and perf: "echoflow" is the worker, this the reader.
    (void)pthread_setname_np(thread_.native_handle(), "ef-reader");
}

// Waiting for the other thread sleeps (a condition variable: a futex), never
// spins: spinning (sched_yield) made runs on this 2-vCPU machine take 0.34 s
// or 0.66 s depending on where the scheduler put the two threads. The queues
// themselves are lock-free; the mutex only orders a waiter's last look with
// the other side's notify (one lock per 256-frame batch).
CaptureBatch* CaptureReader::take_free() noexcept {
    CaptureBatch* b = nullptr;
    std::unique_lock<std::mutex> lock(mutex_);
    freed_cv_.wait(lock, [&] { return stop_.load(std::memory_order_acquire) || free_.pop(b); });
    if (b == nullptr) return nullptr;
    b->count = 0;
    b->used = 0;
    return b;
}

void CaptureReader::hand_over(CaptureBatch* batch) noexcept {
    // Never full: there are kBatches batches and room for twice as many.
    (void)filled_.push(batch);
    { const std::lock_guard<std::mutex> lock(mutex_); }
    filled_cv_.notify_one();
}

void CaptureReader::run() noexcept {
    // Stop signals go to the worker's thread, which decides; this thread is
    // interrupted with SIGUSR1 only (finish()).
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    (void)pthread_sigmask(SIG_BLOCK, &block, nullptr);

    uint64_t now_ms = 0;
    uint64_t frames = 0;
    CaptureBatch* b = take_free();
    struct pcap_pkthdr* hdr;
    const u_char* data;
    int rc = 0;
    while (b != nullptr && !stop_.load(std::memory_order_relaxed) && (rc = pcap_next_ex(pcap_, &hdr, &data)) == 1) {
        // Capture time drives flow times and expiry. A capture merged from
        // several sources may step back: the clock never does.
        const uint64_t ts = static_cast<uint64_t>(hdr->ts.tv_sec) * 1000 + static_cast<uint64_t>(hdr->ts.tv_usec) / 1000;
        if (ts > now_ms) now_ms = ts;
        // libpcap caps frames at 262144 bytes (MAXIMUM_SNAPLEN), half the
        // arena; were it to hand out more, the rest counts as cut by the
        // snap length (the wire length says so), never as an overflow.
        const uint32_t caplen = std::min<uint32_t>(hdr->caplen, CaptureBatch::kArenaBytes);
        const size_t need = (caplen + 63u) & ~size_t{63};  // each frame on its own lines
        if (b->count == max_frames_ || b->used + need > CaptureBatch::kArenaBytes) {
            frames_read_.store(frames, std::memory_order_release);
            hand_over(b);
            if ((b = take_free()) == nullptr) break;
        }
        uint8_t* copy = b->arena + b->used;
        std::memcpy(copy, data, caplen);
        b->used += need;
        b->frames[b->count++] = {now_ms, static_cast<uint32_t>(copy - b->arena), caplen,
                                 std::max<uint32_t>(hdr->len, caplen)};
        ++frames;
        if (max_frames_ == 1) {  // a pipe: hand over now, not before the next frame arrives
            frames_read_.store(frames, std::memory_order_release);
            hand_over(b);
            if ((b = take_free()) == nullptr) break;
        }
    }
    if (rc == -1) error_ = pcap_geterr(pcap_);
    frames_read_.store(frames, std::memory_order_release);
    // A batch taken but left empty is simply not handed back: the reader
    // pushes only to `filled_`, whose single producer it is.
    if (b != nullptr && b->count > 0) hand_over(b);
    done_.store(true, std::memory_order_release);
    { const std::lock_guard<std::mutex> lock(mutex_); }
    filled_cv_.notify_one();
}

CaptureBatch* CaptureReader::next() noexcept {
    CaptureBatch* b = nullptr;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        if (filled_.pop(b)) return b;
        // done_ is set after the last hand-over: one more look decides.
        if (done_.load(std::memory_order_acquire)) return filled_.pop(b) ? b : nullptr;
        // A stop signal does not wake a condition variable: look again at
        // least every kStopPollMs.
        if (stop_requested()) return nullptr;
        filled_cv_.wait_for(lock, std::chrono::milliseconds(kStopPollMs));
    }
}

void CaptureReader::release(CaptureBatch* batch) noexcept {
    (void)free_.push(batch);
    { const std::lock_guard<std::mutex> lock(mutex_); }
    freed_cv_.notify_one();
}

void CaptureReader::finish() {
    if (!thread_.joinable()) return;
    stop_.store(true, std::memory_order_release);
    { const std::lock_guard<std::mutex> lock(mutex_); }
    freed_cv_.notify_one();
    // A read blocked on a FIFO returns only when interrupted: interrupt it
    // until the reader is out (it may be between two reads when a signal
    // arrives, hence the repeat).
    while (!done_.load(std::memory_order_acquire)) {
        (void)pthread_kill(thread_.native_handle(), SIGUSR1);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    thread_.join();
}

}  // namespace probe
