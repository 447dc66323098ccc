#include "probe/capture_reader.hpp"

#include <pthread.h>
#include <stdio_ext.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

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
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (!file) return flowgen::Status::error("capture " + path + ": " + path + ": " + std::strerror(errno));
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

void CaptureReader::start() {
    thread_ = std::thread([this] { run(); });
    // Named for top -H and perf: "echoflow" is the worker, this the reader.
    (void)pthread_setname_np(thread_.native_handle(), "ef-reader");
}

// Waiting for the other thread sleeps on a futex (std::atomic::wait): a
// spinning waiter (sched_yield) made runs on this 2-vCPU machine take 0.34 s
// or 0.66 s depending on where the scheduler put the two threads.
CaptureBatch* CaptureReader::take_free() noexcept {
    CaptureBatch* b = nullptr;
    for (;;) {
        const uint32_t seen = freed_.load(std::memory_order_acquire);
        if (free_.pop(b)) break;
        if (stop_.load(std::memory_order_acquire)) return nullptr;
        freed_.wait(seen, std::memory_order_acquire);
    }
    b->count = 0;
    b->used = 0;
    return b;
}

void CaptureReader::hand_over(CaptureBatch* batch) noexcept {
    // Never full: there are kBatches batches and room for twice as many.
    (void)filled_.push(batch);
    filled_count_.fetch_add(1, std::memory_order_release);
    filled_count_.notify_one();
}

void CaptureReader::run() noexcept {
    uint64_t now_ms = 0;
    uint64_t frames = 0;
    CaptureBatch* b = take_free();
    struct pcap_pkthdr* hdr;
    const u_char* data;
    int rc = 0;
    while (b != nullptr && (rc = pcap_next_ex(pcap_, &hdr, &data)) == 1) {
        // Capture time drives flow times and expiry. A capture merged from
        // several sources may step back: the clock never does.
        const uint64_t ts = static_cast<uint64_t>(hdr->ts.tv_sec) * 1000 + static_cast<uint64_t>(hdr->ts.tv_usec) / 1000;
        if (ts > now_ms) now_ms = ts;
        const size_t need = (hdr->caplen + 63u) & ~size_t{63};  // each frame on its own lines
        if (b->count == CaptureBatch::kMaxFrames || b->used + need > CaptureBatch::kArenaBytes) {
            frames_read_.store(frames, std::memory_order_release);
            hand_over(b);
            if ((b = take_free()) == nullptr) break;
        }
        uint8_t* copy = b->arena + b->used;
        std::memcpy(copy, data, hdr->caplen);
        b->used += need;
        b->frames[b->count++] = {now_ms, static_cast<uint32_t>(copy - b->arena), hdr->caplen, hdr->len};
        ++frames;
    }
    if (rc == -1) error_ = pcap_geterr(pcap_);
    frames_read_.store(frames, std::memory_order_release);
    if (b != nullptr && b->count > 0) hand_over(b);
    else if (b != nullptr) free_.push(b);
    done_.store(true, std::memory_order_release);
    filled_count_.fetch_add(1, std::memory_order_release);  // wakes a waiting next()
    filled_count_.notify_one();
}

CaptureBatch* CaptureReader::next() noexcept {
    CaptureBatch* b = nullptr;
    for (;;) {
        const uint32_t seen = filled_count_.load(std::memory_order_acquire);
        if (filled_.pop(b)) return b;
        // done_ is set after the last hand-over: one more look decides.
        if (done_.load(std::memory_order_acquire)) return filled_.pop(b) ? b : nullptr;
        filled_count_.wait(seen, std::memory_order_acquire);
    }
}

void CaptureReader::release(CaptureBatch* batch) noexcept {
    (void)free_.push(batch);
    freed_.fetch_add(1, std::memory_order_release);
    freed_.notify_one();
}

void CaptureReader::finish() {
    stop_.store(true, std::memory_order_release);
    freed_.fetch_add(1, std::memory_order_release);  // wakes a waiting take_free()
    freed_.notify_one();
    if (thread_.joinable()) thread_.join();
}

}  // namespace probe
