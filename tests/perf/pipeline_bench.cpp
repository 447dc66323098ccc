// pipeline_bench: nanoseconds per packet of probe::Worker (parse -> flow
// cache -> detectors -> SPSC queues) on synthetic bursts of prebuilt frames,
// without DPDK. A plain executable, not a test (machines are noisy: no timed
// asserts). Figures: docs/performance.md, "In-process pipeline".
//
//   build-perf/tests/perf/pipeline_bench [--runs N] [--packets N]
//       [--conversations N] [--cache N] [--only NAME[,NAME]] [--detect on|off|both]
//       [--burst N] [--per-packet] [--json PATH] [--patterns FILE] [--loop NAME SECONDS]
//       [--flood-pps N] [--defer-above N] [--fold-above N]   (probe defaults; 0 = off)
//       [--paired]   flood / steady with their runs alternating: the ratio per pair
//
// Inputs (each run is --packets frames in bursts of --burst, like rx_burst):
//   min-echo     60-byte frames: echo request/reply without data, padded (nping, hping3 -1)
//   ping-98      98-byte frames: iputils ping, 56 data bytes (timeval + counting bytes)
//   random-1k    1 KB random data both ways (a tunnel's shape)
//   tcp-udp      non-ICMP discard: alternating 60-byte TCP SYN and 98-byte UDP
//   flood        98-byte echo requests, every one from a new random source
//                (a new conversation: the cache evicts one per packet once full)
//                with iputils data: each first packet is inspected in full
//   flood-empty  60-byte echo requests without data from new random sources
//                (hping3 --flood --rand-source -1, nping): nothing to inspect
//   ping-98-big  ping-98 with --big-conversations conversations (the 1M cache's memory behaviour)
// Conversations: --conversations (default 4096) each sending requests and
// replies, K sequence numbers per conversation, frames interleaved
// conversation by conversation. Time: the real clock, read once per burst
// (as the live lcore loop does), so expiry costs what it costs live.
// The records the worker queues are popped after every burst (the exporter's
// side, included in the time: a few ns per record, visible only in the flood).
//
// Report: median CPU ns/packet (this thread's CPU time, not wall time: the
// machine is shared) and Mpps over --runs timed runs (after one
// untimed warm-up run), per input, detectors on and off; bytes per
// conversation (flow cache, detector state); resident memory at start-up and
// after the flood (it must not grow: the cache never allocates after init).
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <time.h>
#include <unistd.h>

#include "probe/worker.hpp"
#include "tests/support/packet_builder.hpp"

namespace {

using tests::support::PacketBuilder;

// Frames stored back to back at a fixed stride (like mbuf data rooms, but
// denser, so a million of them fit comfortably).
struct FramePool {
    std::string name;
    std::string description;
    size_t stride = 0;
    std::vector<uint8_t> bytes;
    std::vector<uint16_t> length;
    bool flood = false;  // sources are rewritten with fresh random ones before every run

    size_t count() const { return length.size(); }
    const uint8_t* frame(size_t i) const { return bytes.data() + i * stride; }
    uint8_t* frame(size_t i) { return bytes.data() + i * stride; }
    void add(const std::vector<uint8_t>& f) {
        if (f.size() > stride) {
            std::fprintf(stderr, "pipeline_bench: frame of %zu bytes exceeds stride %zu\n", f.size(), stride);
            std::exit(1);
        }
        const size_t at = bytes.size();
        bytes.resize(at + stride);
        std::memcpy(bytes.data() + at, f.data(), f.size());
        length.push_back(static_cast<uint16_t>(f.size()));
    }
};

constexpr size_t kEthernet = 14;
constexpr size_t kIpv4Src = kEthernet + 12;  // IPv4 source address offset in an untagged frame

tests::support::Ipv4Address client_address(uint32_t i) {
    // 10.0.0.0/8: client i; servers in 172.16.0.0/12.
    return {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
}
tests::support::Ipv4Address server_address(uint32_t i) {
    return {172, static_cast<uint8_t>(16 + ((i >> 12) & 15)), static_cast<uint8_t>(i >> 4),
            static_cast<uint8_t>(1 + (i & 15))};
}

// iputils ping's data: a struct timeval (16 bytes on 64-bit Linux), then the
// byte values 0x10, 0x11, ... (ping fills data[i] = i and writes the time over
// the first 16 bytes).
std::vector<uint8_t> iputils_data(size_t n, uint32_t sec, uint32_t usec) {
    std::vector<uint8_t> d(n);
    for (size_t i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(i);
    const uint64_t tv[2] = {sec, usec};
    std::memcpy(d.data(), tv, std::min<size_t>(n, sizeof tv));
    return d;
}

// Echo conversations: for each sequence number, every conversation's request
// and then its reply. `data(conversation, seq, reply)` gives the echo data.
template <class Data>
FramePool echo_pool(const char* name, const char* description, uint32_t conversations, uint16_t seqs, size_t stride,
                    size_t pad_to, Data data) {
    FramePool pool;
    pool.name = name;
    pool.description = description;
    pool.stride = stride;
    pool.bytes.reserve(static_cast<size_t>(conversations) * seqs * 2 * stride);
    for (uint16_t s = 0; s < seqs; ++s) {
        for (uint32_t c = 0; c < conversations; ++c) {
            const uint16_t id = static_cast<uint16_t>(0x4000 + (c & 0x3FFF));
            for (int reply = 0; reply < 2; ++reply) {
                const auto a = client_address(c), b = server_address(c);
                const std::vector<uint8_t> payload = data(c, s, reply != 0);
                PacketBuilder pb;
                pb.ethernet().ipv4(reply ? b : a, reply ? a : b).icmp_echo(reply ? 0 : 8, id, s).payload(payload);
                pool.add(pb.pad_to(pad_to).build());
            }
        }
    }
    return pool;
}

FramePool min_echo(uint32_t conversations) {
    return echo_pool("min-echo", "60-byte frames, echo without data", conversations, 4, 64, 60,
                     [](uint32_t, uint16_t, bool) { return std::vector<uint8_t>{}; });
}

FramePool ping_98(const char* name, uint32_t conversations, uint16_t seqs) {
    // The reply mirrors the request's data (RFC 792), timestamp included.
    return echo_pool(name, "98-byte frames, iputils ping -s 56", conversations, seqs, 128, 60,
                     [](uint32_t c, uint16_t s, bool) { return iputils_data(56, 1764128000 + s, (c * 7919u) % 1000000); });
}

FramePool random_1k(uint32_t conversations) {
    std::mt19937 rng(42);
    return echo_pool("random-1k", "1066-byte frames, 1024 random data bytes both ways", conversations, 2, 1088, 60,
                     [&rng](uint32_t, uint16_t, bool) {
                         std::vector<uint8_t> d(1024);
                         for (auto& b : d) b = static_cast<uint8_t>(rng());
                         return d;
                     });
}

FramePool tcp_udp(uint32_t conversations) {
    FramePool pool;
    pool.name = "tcp-udp";
    pool.description = "non-ICMP: 60-byte TCP SYN, 98-byte UDP, alternating";
    pool.stride = 128;
    for (int rep = 0; rep < 2; ++rep)
        for (uint32_t c = 0; c < conversations; ++c) {
            PacketBuilder tcp;
            tcp.ethernet().ipv4(client_address(c), server_address(c)).tcp(static_cast<uint16_t>(30000 + c), 443);
            pool.add(tcp.pad_to(60).build());
            PacketBuilder udp;
            udp.ethernet().ipv4(server_address(c), client_address(c)).udp(53, static_cast<uint16_t>(30000 + c))
                .payload_fill(56, 0xAB);
            pool.add(udp.build());
        }
    return pool;
}

FramePool flood(const char* name, const char* description, const std::vector<uint8_t>& data, size_t frames) {
    FramePool pool;
    pool.name = name;
    pool.description = description;
    pool.stride = 128;
    pool.flood = true;
    pool.bytes.reserve(frames * pool.stride);
    PacketBuilder pb;
    pb.ethernet().ipv4(client_address(0), server_address(0)).icmp_echo(8, 0x1234, 1).payload(data);
    const std::vector<uint8_t> f = pb.pad_to(60).build();
    for (size_t i = 0; i < frames; ++i) pool.add(f);
    return pool;
}

// New random IPv4 sources for every flood frame (outside the timed region).
void reseed_sources(FramePool& pool, std::mt19937_64& rng) {
    for (size_t i = 0; i < pool.count(); ++i) {
        const uint32_t src = static_cast<uint32_t>(rng());
        std::memcpy(pool.frame(i) + kIpv4Src, &src, 4);
    }
}

uint64_t epoch_ms() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

double thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Resident set size in bytes (/proc/self/statm, second field).
uint64_t rss_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    const int n = std::fscanf(f, "%lu %lu", &size, &resident);
    std::fclose(f);
    return n == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

struct Options {
    int runs = 7;
    size_t packets = 1u << 20;
    uint32_t conversations = 4096;
    uint32_t big_conversations = 1u << 19;
    uint32_t cache = 1u << 20;
    unsigned burst = 32;
    bool per_packet = false;  // --per-packet: Worker::handle() per frame instead of per burst
    bool detect_on = true;
    bool detect_off = true;
    std::vector<std::string> only;
    std::string json_path;
    std::string patterns = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";
    // --flood-pps, --defer-above, --fold-above: the flood machinery, at the
    // probe's defaults unless given (0 turns each off, for comparison).
    uint32_t flood_pps = detect::Config{}.flood_pps;
    uint32_t defer_above = detect::Config{}.defer_above;
    uint32_t fold_above = flowgen::SingletonFoldConfig{}.singles_per_second;
    bool paired = false;     // --paired: flood inputs against their steady ones, runs alternating
    std::string loop_input;  // --loop: run one input for a while (for perf record)
    double loop_seconds = 0;
};

struct Result {
    std::string input;
    bool detect = false;
    double ns_per_packet = 0;  // median of the runs
    double best_ns = 0;        // fastest run (noise shows as median >> best)
    double mpps = 0;
    uint64_t evicted = 0;
    uint64_t records = 0;
    uint64_t rss_before = 0;
    uint64_t rss_after = 0;
};

// Everything a run needs: a fresh worker per (input, detect) pair.
class Bench {
public:
    Bench(const Options& o, bool detect) : options_(o) {
        detection_.patterns_path = o.patterns;
        detection_.flood_pps = o.flood_pps;
        detection_.defer_above = o.defer_above;
        probe::WorkerSettings ws;
        ws.id = 0;
        ws.cache.capacity = o.cache;
        ws.detect = detect;
        ws.detection = &detection_;
        // As the probe runs by default (probe/config.hpp): one-packet
        // conversations past 1000 a second fold into aggregate records.
        ws.fold = flowgen::SingletonFoldConfig{};
        ws.fold.singles_per_second = o.fold_above;
        worker_ = std::make_unique<probe::Worker>(ws);
        if (flowgen::Status s = worker_->init(); !s.ok()) {
            std::fprintf(stderr, "pipeline_bench: %s\n", s.message().c_str());
            std::exit(1);
        }
    }

    // Hands `packets` frames of the pool (cycling) to the worker in bursts;
    // returns the CPU time this thread used, in ns (on a shared 2-core
    // machine wall time also counts other processes' time slices).
    double run(const FramePool& pool, size_t packets, size_t& cursor) {
        probe::Worker& w = *worker_;
        std::span<const uint8_t> burst[probe::Worker::kMaxBurst];
        std::vector<probe::ParsedFrame> parsed(probe::Worker::kMaxBurst);
        const unsigned nb = std::min(options_.burst, probe::Worker::kMaxBurst);
        const uint64_t epoch0 = epoch_ms();
        const auto t0 = std::chrono::steady_clock::now();
        const double cpu0 = thread_cpu_ns();
        size_t done = 0;
        while (done < packets) {
            const unsigned n = static_cast<unsigned>(std::min<size_t>(nb, packets - done));
            for (unsigned i = 0; i < n; ++i) {
                burst[i] = {pool.frame(cursor), pool.length[cursor]};
                if (++cursor == pool.count()) cursor = 0;
            }
            const auto t = std::chrono::steady_clock::now();
            const uint64_t now_ms =
                epoch0 + static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(t - t0).count());
            if (options_.per_packet)
                for (unsigned i = 0; i < n; ++i) w.handle(flowgen::LinkType::kEthernet, burst[i], now_ms, 0);
            else {
                for (unsigned i = 0; i < n; ++i) probe::parse_into(parsed[i], flowgen::LinkType::kEthernet, burst[i], 0);
                w.handle(parsed.data(), n, now_ms);
            }
            w.expire(now_ms);
            drain();
            done += n;
        }
        return thread_cpu_ns() - cpu0;
    }

    void drain() {
        flowgen::ConversationRecord r;
        while (worker_->records().pop(r)) ++records_;
        probe::AlertEvent a;
        while (worker_->alerts().pop(a)) ++alerts_;
    }

    probe::Worker& worker() { return *worker_; }
    uint64_t records() const { return records_; }

private:
    const Options& options_;
    detect::Config detection_;
    std::unique_ptr<probe::Worker> worker_;
    uint64_t records_ = 0;
    uint64_t alerts_ = 0;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// One input on a worker of its own, warmed up: every conversation exists
// (flood: the cache is full and each further packet evicts).
class Side {
public:
    Side(const Options& o, FramePool& pool, bool detect) : options_(o), pool_(pool), bench_(o, detect) {
        const size_t warm =
            pool.flood ? 2 * std::max<size_t>(pool.count(), o.cache) : std::max(pool.count(), o.packets / 4);
        if (pool.flood) {
            for (size_t done = 0; done < warm; done += pool.count()) {
                reseed_sources(pool, rng_);
                cursor_ = 0;
                bench_.run(pool, std::min(pool.count(), warm - done), cursor_);
            }
        } else {
            bench_.run(pool, warm, cursor_);
        }
    }
    // One timed run: CPU ns per packet.
    double timed() {
        size_t n = options_.packets;
        if (pool_.flood) {
            reseed_sources(pool_, rng_);
            cursor_ = 0;
            n = std::min(n, pool_.count());
        }
        return bench_.run(pool_, n, cursor_) / static_cast<double>(n);
    }
    Bench& bench() { return bench_; }

private:
    const Options& options_;
    FramePool& pool_;
    Bench bench_;
    std::mt19937_64 rng_{7};
    size_t cursor_ = 0;
};

Result measure(const Options& o, FramePool& pool, bool detect) {
    Result r;
    r.input = pool.name;
    r.detect = detect;
    r.rss_before = rss_bytes();
    Side side(o, pool, detect);
    const uint64_t evicted0 = side.bench().worker().cache_stats().evicted.get();
    std::vector<double> ns;
    for (int i = 0; i < o.runs; ++i) ns.push_back(side.timed());
    side.bench().drain();
    r.rss_after = rss_bytes();
    r.ns_per_packet = median(ns);
    r.best_ns = *std::min_element(ns.begin(), ns.end());
    r.mpps = 1e3 / r.ns_per_packet;
    r.evicted = side.bench().worker().cache_stats().evicted.get() - evicted0;
    r.records = side.bench().records();
    return r;
}

// --paired: a flood input and its steady reference on two workers, their
// timed runs alternating (steady, flood, steady, flood, ...), so that each
// pair of runs sees the machine in the same state; the ratio of each pair,
// and their median. On a machine whose speed moves from one minute to the
// next, measure() of one input after the other can land on different
// speeds and swing the ratio; pairs cannot.
void paired(const Options& o, FramePool& steady, FramePool& flood, bool detect) {
    Side a(o, steady, detect), b(o, flood, detect);
    std::vector<double> ratios, ns_a, ns_b;
    for (int i = 0; i < o.runs; ++i) {
        ns_a.push_back(a.timed());
        ns_b.push_back(b.timed());
        ratios.push_back(ns_a.back() / ns_b.back());
    }
    std::printf("paired %s / %s (detect %s), %d pairs: ratio median %.2f (min %.2f, max %.2f); "
                "median %.1f / %.1f ns per packet\n",
                flood.name.c_str(), steady.name.c_str(), detect ? "on" : "off", o.runs, median(ratios),
                *std::min_element(ratios.begin(), ratios.end()), *std::max_element(ratios.begin(), ratios.end()),
                median(ns_b), median(ns_a));
    std::fflush(stdout);
}

bool wanted(const Options& o, const std::string& name) {
    return o.only.empty() || std::find(o.only.begin(), o.only.end(), name) != o.only.end();
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t comma = s.find(',', start);
        out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

[[noreturn]] void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--runs N] [--packets N] [--conversations N] [--big-conversations N] [--cache N]\n"
                 "          [--burst N] [--per-packet] [--only min-echo,ping-98,random-1k,tcp-udp,flood,flood-empty,ping-98-big]\n"
                 "          [--detect on|off|both] [--json PATH] [--patterns FILE] [--loop INPUT SECONDS]\n"
                 "          [--flood-pps N] [--defer-above N] [--fold-above N] [--paired]\n",
                 argv0);
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    auto need = [&](int& i) -> const char* {
        if (i + 1 >= argc) usage(argv[0]);
        return argv[++i];
    };
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--runs") o.runs = std::max(1, std::atoi(need(i)));
        else if (a == "--packets") o.packets = std::max(1024ul, std::strtoul(need(i), nullptr, 10));
        else if (a == "--conversations") o.conversations = std::max(1ul, std::strtoul(need(i), nullptr, 10));
        else if (a == "--big-conversations") o.big_conversations = std::max(1ul, std::strtoul(need(i), nullptr, 10));
        else if (a == "--cache") o.cache = static_cast<uint32_t>(std::strtoul(need(i), nullptr, 10));
        else if (a == "--burst") o.burst = static_cast<unsigned>(std::clamp(std::atoi(need(i)), 1, 512));
        else if (a == "--per-packet") o.per_packet = true;
        else if (a == "--paired") o.paired = true;
        else if (a == "--only") o.only = split(need(i));
        else if (a == "--json") o.json_path = need(i);
        else if (a == "--patterns") o.patterns = need(i);
        else if (a == "--flood-pps") o.flood_pps = static_cast<uint32_t>(std::strtoul(need(i), nullptr, 10));
        else if (a == "--defer-above") o.defer_above = static_cast<uint32_t>(std::strtoul(need(i), nullptr, 10));
        else if (a == "--fold-above") o.fold_above = static_cast<uint32_t>(std::strtoul(need(i), nullptr, 10));
        else if (a == "--detect") {
            const std::string v = need(i);
            if (v == "on") o.detect_off = false;
            else if (v == "off") o.detect_on = false;
            else if (v != "both") usage(argv[0]);
        } else if (a == "--loop") {
            o.loop_input = need(i);
            o.loop_seconds = std::atof(need(i));
        } else usage(argv[0]);
    }
    return o;
}

std::vector<FramePool> build_inputs(const Options& o) {
    std::vector<FramePool> pools;
    auto want = [&](const char* n) { return wanted(o, n) || o.loop_input == n; };
    if (want("min-echo")) pools.push_back(min_echo(o.conversations));
    if (want("ping-98")) pools.push_back(ping_98("ping-98", o.conversations, 8));
    if (want("random-1k")) pools.push_back(random_1k(o.conversations));
    if (want("tcp-udp")) pools.push_back(tcp_udp(o.conversations));
    const size_t flood_frames = std::min<size_t>(o.packets, 1u << 20);
    if (want("flood"))
        pools.push_back(flood("flood", "98-byte echo requests, each from a new random source",
                              iputils_data(56, 1764128000, 0), flood_frames));
    if (want("flood-empty"))
        pools.push_back(flood("flood-empty", "60-byte echo requests without data, each from a new random source", {},
                              flood_frames));
    if (want("ping-98-big")) pools.push_back(ping_98("ping-98-big", o.big_conversations, 1));
    return pools;
}

void write_json(const Options& o, const std::vector<Result>& results, double flood_ratio) {
    std::FILE* f = std::fopen(o.json_path.c_str(), "w");
    if (!f) {
        std::fprintf(stderr, "pipeline_bench: cannot write %s\n", o.json_path.c_str());
        return;
    }
    std::fprintf(f, "{\"runs\":%d,\"packets_per_run\":%zu,\"conversations\":%u,\"cache_capacity\":%u,\"burst\":%u,",
                 o.runs, o.packets, o.conversations, o.cache, o.burst);
    std::fprintf(f, "\"bytes_per_conversation\":{\"flow_cache\":%zu,\"detector_state\":%zu},",
                 flowgen::FlowCache::bytes_per_conversation(), sizeof(detect::ConversationState));
    if (flood_ratio > 0) std::fprintf(f, "\"flood_ratio\":%.3f,", flood_ratio);
    std::fprintf(f, "\"results\":[");
    for (size_t i = 0; i < results.size(); ++i) {
        const Result& r = results[i];
        std::fprintf(f,
                     "%s{\"input\":\"%s\",\"detect\":%s,\"ns_per_packet\":%.2f,\"best_ns\":%.2f,\"mpps\":%.3f,\"evicted\":%" PRIu64
                     ",\"rss_before\":%" PRIu64 ",\"rss_after\":%" PRIu64 "}",
                     i ? "," : "", r.input.c_str(), r.detect ? "true" : "false", r.ns_per_packet, r.best_ns, r.mpps, r.evicted,
                     r.rss_before, r.rss_after);
    }
    std::fprintf(f, "]}\n");
    std::fclose(f);
}

// --loop: one input, detectors on, for a while: something for perf record.
int loop(const Options& o, std::vector<FramePool>& pools) {
    for (FramePool& pool : pools) {
        if (pool.name != o.loop_input) continue;
        Bench bench(o, o.detect_on);
        std::mt19937_64 rng(7);
        size_t cursor = 0, total = 0;
        const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.loop_seconds);
        double ns = 0;
        while (std::chrono::steady_clock::now() < end) {
            if (pool.flood) reseed_sources(pool, rng), cursor = 0;
            const size_t n = pool.flood ? pool.count() : o.packets;
            ns += bench.run(pool, n, cursor);
            total += n;
        }
        std::printf("%s: %zu packets, %.1f ns/packet\n", pool.name.c_str(), total, ns / static_cast<double>(total));
        return 0;
    }
    std::fprintf(stderr, "pipeline_bench: no input named %s\n", o.loop_input.c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    const uint64_t rss_start = rss_bytes();
    std::vector<FramePool> pools = build_inputs(o);
    if (!o.loop_input.empty()) return loop(o, pools);
    if (o.paired) {
        auto find = [&](const char* name) -> FramePool* {
            for (FramePool& p : pools)
                if (p.name == name) return &p;
            return nullptr;
        };
        int done = 0;
        for (int d = 1; d >= 0; --d) {
            if ((d && !o.detect_on) || (!d && !o.detect_off)) continue;
            for (const auto& [steady, flood] : {std::pair{"ping-98", "flood"}, std::pair{"min-echo", "flood-empty"}}) {
                FramePool *s = find(steady), *f = find(flood);
                if (s == nullptr || f == nullptr) continue;
                paired(o, *s, *f, d != 0);
                ++done;
            }
        }
        if (done == 0) std::fprintf(stderr, "pipeline_bench: --paired needs ping-98 and flood (or min-echo and flood-empty)\n");
        return done ? 0 : 2;
    }

    std::printf("pipeline_bench: probe::Worker::%s, median of %d runs x %zu packets, bursts of %u,\n"
                "  %u conversations (ping-98-big: %u), cache capacity %u\n",
                o.per_packet ? "handle per frame" : "handle per burst", o.runs, o.packets, o.burst, o.conversations, o.big_conversations, o.cache);
    std::printf("bytes per conversation: flow cache %zu, detector state %zu (total %zu)\n",
                flowgen::FlowCache::bytes_per_conversation(), sizeof(detect::ConversationState),
                flowgen::FlowCache::bytes_per_conversation() + sizeof(detect::ConversationState));
    std::printf("\n%-12s %-7s %10s %8s %9s %10s %12s %12s  %s\n", "input", "detect", "ns/packet", "best", "Mpps", "evicted",
                "rss before", "rss after", "frames");
    std::vector<Result> results;
    for (FramePool& pool : pools) {
        for (int d = 1; d >= 0; --d) {
            if ((d && !o.detect_on) || (!d && !o.detect_off)) continue;
            const Result r = measure(o, pool, d != 0);
            std::printf("%-12s %-7s %10.1f %8.1f %9.2f %10" PRIu64 " %10.1fMB %10.1fMB  %s\n", r.input.c_str(),
                        r.detect ? "on" : "off", r.ns_per_packet, r.best_ns, r.mpps, r.evicted, r.rss_before / 1048576.0,
                        r.rss_after / 1048576.0, pool.description.c_str());
            std::fflush(stdout);
            results.push_back(r);
        }
    }
    // Flood ratio: flood rate over the steady rate of the same frames
    // (flood: ping-98; flood-empty: min-echo).
    double flood_ratio = 0;
    for (const Result& f : results) {
        if (f.input != "flood" && f.input != "flood-empty") continue;
        const char* steady = f.input == "flood" ? "ping-98" : "min-echo";
        for (const Result& s : results)
            if (s.input == steady && s.detect == f.detect) {
                std::printf("%s ratio (detect %s): %.2f of %s's rate\n", f.input.c_str(), f.detect ? "on" : "off",
                            f.mpps / s.mpps, steady);
                if (f.input == "flood" && (f.detect || flood_ratio == 0)) flood_ratio = f.mpps / s.mpps;
            }
        const long growth = static_cast<long>(f.rss_after) - static_cast<long>(f.rss_before);
        std::printf("flood memory (detect %s): %+.1f MB from after start-up to after %" PRIu64 " evictions\n",
                    f.detect ? "on" : "off", growth / 1048576.0, f.evicted);
    }
    std::printf("process rss at start %.1f MB\n", rss_start / 1048576.0);
    if (!o.json_path.empty()) write_json(o, results, flood_ratio);
    return 0;
}
