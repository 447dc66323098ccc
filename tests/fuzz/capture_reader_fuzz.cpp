// probe::CaptureReader (libpcap on its own thread) over arbitrary capture
// files, read from a regular file and from a pipe: no memory error, a clean
// error or end for any damage, the same frames both ways, and what
// capture_reader.hpp promises of a batch (frames inside the arena, capture
// length within the wire length, times that never step back).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "probe/capture_reader.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

struct Seen {
    bool opened = false;
    int link = 0;
    std::vector<uint64_t> times;
    std::vector<uint32_t> wire;
    std::vector<std::vector<uint8_t>> frames;
    std::string error;
};

Seen read_all(const std::string& path) {
    Seen seen;
    probe::CaptureReader reader;
    if (!reader.open(path).ok()) return seen;
    seen.opened = true;
    seen.link = static_cast<int>(reader.link());
    reader.start();
    uint64_t last = 0;
    while (probe::CaptureBatch* b = reader.next()) {
        FUZZ_CHECK(b->count <= probe::CaptureBatch::kMaxFrames);
        FUZZ_CHECK(b->used <= probe::CaptureBatch::kArenaBytes);
        for (unsigned i = 0; i < b->count; ++i) {
            const probe::CaptureBatch::Frame& f = b->frames[i];
            FUZZ_CHECK(size_t(f.offset) + f.caplen <= b->used);
            FUZZ_CHECK(f.caplen <= f.wire_len);
            FUZZ_CHECK(f.time_ms >= last);
            last = f.time_ms;
            seen.times.push_back(f.time_ms);
            seen.wire.push_back(f.wire_len);
            seen.frames.emplace_back(b->arena + f.offset, b->arena + f.offset + f.caplen);
        }
        reader.release(b);
    }
    reader.finish();
    seen.error = reader.error();
    return seen;
}

std::string temp_file(const uint8_t* data, size_t size) {
    static const std::string path = "/tmp/echoflow-fuzz-capture-" + std::to_string(::getpid());
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) std::abort();
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    return path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // A reader that gives up on a bad header closes the pipe under the
    // writer: a failed write(), not a signal.
    std::signal(SIGPIPE, SIG_IGN);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const Seen from_file = read_all(temp_file(data, size));

    // The same bytes through a pipe (the `--pcap -` path): a writer thread
    // feeds it in pieces, as a capture being written arrives.
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) std::abort();
    std::thread writer([&] {
        for (size_t at = 0; at < size;) {
            const size_t piece = std::min<size_t>(size - at, 1 + (at * 7919) % 4096);
            const ssize_t n = ::write(fds[1], data + at, piece);
            if (n <= 0) break;  // the reader gave up early (a bad header)
            at += static_cast<size_t>(n);
        }
        ::close(fds[1]);
    });
    const Seen from_pipe = read_all("/dev/fd/" + std::to_string(fds[0]));
    ::close(fds[0]);  // a reader that stopped early: the writer's write() fails, it ends
    writer.join();

    FUZZ_CHECK(from_pipe.opened == from_file.opened);
    if (from_file.opened) {
        FUZZ_CHECK(from_pipe.link == from_file.link);
        FUZZ_CHECK(from_pipe.times == from_file.times);
        FUZZ_CHECK(from_pipe.wire == from_file.wire);
        FUZZ_CHECK(from_pipe.frames == from_file.frames);
        FUZZ_CHECK(from_pipe.error.empty() == from_file.error.empty());
    }
    return 0;
}
