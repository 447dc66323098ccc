#include "probe/capture_reader.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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
    const int fd = path == "-" ? ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return flowgen::Status::error("capture " + path + ": " + std::strerror(errno));
    // A regular file is read with plain stdio; a pipe or FIFO through
    // pipe_read(), which hands frames over as they come and never blocks a
    // stop.
    struct stat st {};
    std::FILE* file = nullptr;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        file = ::fdopen(fd, "rb");
    } else {
        pipe_fd_ = fd;
        file = ::fopencookie(this, "rb", cookie_io_functions_t{&CaptureReader::pipe_read, nullptr, nullptr,
                                                                &CaptureReader::pipe_close});
    }
    if (!file) {
        const int e = errno;
        ::close(fd);
        pipe_fd_ = -1;
        return flowgen::Status::error("capture " + path + ": " + std::strerror(e));
    }
    (void)__fsetlocking(file, FSETLOCKING_BYCALLER);
    (void)std::setvbuf(file, nullptr, _IOFBF, size_t{1} << 20);
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_ = pcap_fopen_offline(file, errbuf);
    if (!pcap_) {
        std::fclose(file);
        return flowgen::Status::error("capture " + path + ": " + errbuf);
    }
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

void CaptureReader::start() {
    thread_ = std::thread([this] { run(); });
    // Named for top -H and perf: "echoflow" is the worker, this the reader.
    (void)pthread_setname_np(thread_.native_handle(), "ef-reader");
}

// Waiting for the other thread sleeps (a condition variable: a futex), never
// spins: spinning (sched_yield) made runs on this 2-vCPU machine take 0.34 s
// or 0.66 s depending on where the scheduler put the two threads. The queues
// themselves are lock-free; the mutex only orders a waiter's last look with
// the other side's notify (one lock per batch).
// After a push to a lock-free queue: the empty critical section orders the
// push with a waiter's check-then-sleep (which holds the mutex), so the
// notify cannot fall between them and be lost.
void CaptureReader::wake(std::condition_variable& cv) noexcept {
    { const std::lock_guard<std::mutex> lock(mutex_); }
    cv.notify_one();
}

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
    wake(filled_cv_);
}

// A pipe is read through this (fopencookie): a read waits in poll(), never
// in read(), so that
// - before it waits it hands the frames gathered so far to the worker (they
//   are handled while the writer is quiet, not when 256 have come), and
// - it sees a stop within kStopPollMs, even when the writer went quiet in
//   the middle of a frame (it then fails with EINTR: libpcap reports a read
//   error, which a stopped run does not report).
ssize_t CaptureReader::pipe_read(void* cookie, char* buf, size_t size) noexcept {
    auto& r = *static_cast<CaptureReader*>(cookie);
    pollfd pfd{r.pipe_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 0) == 0 && r.current_ != nullptr && r.current_->count > 0) {
        r.hand_over(r.current_);
        r.current_ = r.take_free();  // nullptr when stopped: run() ends after this read
    }
    for (;;) {
        // stop_requested(): a stop signal while open() reads the header.
        if (r.stop_.load(std::memory_order_acquire) || stop_requested()) {
            errno = EINTR;
            return -1;
        }
        pfd.revents = 0;
        const int ready = ::poll(&pfd, 1, static_cast<int>(kStopPollMs));
        if (ready < 0 && errno != EINTR) return -1;
        if (ready > 0) {
            const ssize_t n = ::read(r.pipe_fd_, buf, size);
            if (n >= 0 || errno != EINTR) return n;
        }
    }
}

int CaptureReader::pipe_close(void* cookie) noexcept {
    auto& r = *static_cast<CaptureReader*>(cookie);
    const int rc = ::close(r.pipe_fd_);
    r.pipe_fd_ = -1;
    return rc;
}

void CaptureReader::run() noexcept {
    uint64_t now_ms = 0;
    current_ = take_free();
    struct pcap_pkthdr* hdr;
    const u_char* data;
    int rc = 0;
    while (current_ != nullptr && !stop_.load(std::memory_order_relaxed)) {
        // (On a pipe this may hand current_ over and take another: pipe_read.)
        if ((rc = pcap_next_ex(pcap_, &hdr, &data)) != 1 || current_ == nullptr) break;
        CaptureBatch* b = current_;
        // Capture time drives flow times and expiry. A capture merged from
        // several sources may step back: the clock never does.
        const uint64_t ts = static_cast<uint64_t>(hdr->ts.tv_sec) * 1000 + static_cast<uint64_t>(hdr->ts.tv_usec) / 1000;
        if (ts > now_ms) now_ms = ts;
        // libpcap caps frames at 262144 bytes (MAXIMUM_SNAPLEN), half the
        // arena; were it to hand out more, the rest counts as cut by the
        // snap length (the wire length says so), never as an overflow.
        const uint32_t caplen = std::min<uint32_t>(hdr->caplen, CaptureBatch::kArenaBytes);
        const size_t need = (caplen + 63u) & ~size_t{63};  // each frame on its own lines
        if (b->count == CaptureBatch::kMaxFrames || b->used + need > CaptureBatch::kArenaBytes) {
            hand_over(b);
            if ((b = current_ = take_free()) == nullptr) break;
        }
        uint8_t* copy = b->arena + b->used;
        std::memcpy(copy, data, caplen);
        b->used += need;
        b->frames[b->count++] = {now_ms, static_cast<uint32_t>(copy - b->arena), caplen,
                                 std::max<uint32_t>(hdr->len, caplen)};
    }
    if (rc == -1) error_ = pcap_geterr(pcap_);
    // A batch taken but left empty is simply not handed back: the reader
    // pushes only to `filled_`, whose single producer it is.
    if (current_ != nullptr && current_->count > 0) hand_over(current_);
    current_ = nullptr;
    done_.store(true, std::memory_order_release);
    wake(filled_cv_);
}

CaptureBatch* CaptureReader::next(bool* idle) noexcept {
    if (idle) *idle = false;
    CaptureBatch* b = nullptr;
    std::unique_lock<std::mutex> lock(mutex_);
    for (bool timed_out = false;;) {
        if (filled_.pop(b)) return b;
        // done_ is set after the last hand-over: one more look decides.
        if (done_.load(std::memory_order_acquire)) return filled_.pop(b) ? b : nullptr;
        // A stop signal does not wake a condition variable: look again at
        // least every kStopPollMs.
        if (stop_requested()) return nullptr;
        if (timed_out && idle) {
            *idle = true;  // nothing for a while (a quiet pipe): the caller may drain its queues
            return nullptr;
        }
        timed_out = filled_cv_.wait_for(lock, std::chrono::milliseconds(kStopPollMs)) == std::cv_status::timeout;
    }
}

void CaptureReader::release(CaptureBatch* batch) noexcept {
    (void)free_.push(batch);
    wake(freed_cv_);
}

void CaptureReader::finish() {
    if (!thread_.joinable()) return;
    stop_.store(true, std::memory_order_release);
    wake(freed_cv_);
    thread_.join();  // the reader looks at stop_ at least every kStopPollMs
}

}  // namespace probe
