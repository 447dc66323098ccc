// core_pingpong: how long a cache line takes to travel between two CPUs.
//
// Two threads pinned to CPUs A and B hand one cache line back and forth
// (each waits for the other's store, then stores). The median round trip
// over several runs is printed in nanoseconds.
//
// Why: on a virtual machine the host decides where the vCPUs run. On the
// machine of docs/performance.md the round trip between its two vCPUs is
// either ~80-130 ns (cores near each other) or ~370-400 ns (far apart), and
// it changes while you watch. Anything that hands data between two threads
// (the --pcap reader thread, software distribution between workers) runs
// at a different speed in each case; scripts/bench records this figure
// beside its results so that a table says which case it measured.
//
//   core_pingpong [--cpus A,B] [--runs N] [--json]
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

bool pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

struct alignas(64) Line {
    std::atomic<uint32_t> turn{0};
};

// One run: `rounds` round trips; returns ns per round trip.
double run(int a, int b, uint32_t rounds) {
    Line line;
    bool pinned = true;
    std::thread other([&] {
        pinned = pin(b) && pinned;
        for (uint32_t i = 0; i < rounds; ++i) {
            while (line.turn.load(std::memory_order_acquire) != 2 * i + 1) {
            }
            line.turn.store(2 * i + 2, std::memory_order_release);
        }
    });
    if (!pin(a)) pinned = false;
    const auto t0 = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < rounds; ++i) {
        line.turn.store(2 * i + 1, std::memory_order_release);
        while (line.turn.load(std::memory_order_acquire) != 2 * i + 2) {
        }
    }
    const auto t1 = std::chrono::steady_clock::now();
    other.join();
    if (!pinned) {
        std::fprintf(stderr, "core_pingpong: cannot pin to CPUs %d and %d\n", a, b);
        std::exit(2);
    }
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / rounds;
}

}  // namespace

int main(int argc, char** argv) {
    int a = 0, b = 1;
    unsigned runs = 5;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--cpus" && i + 1 < argc) {
            if (std::sscanf(argv[++i], "%d,%d", &a, &b) != 2) {
                std::fprintf(stderr, "core_pingpong: --cpus wants A,B\n");
                return 2;
            }
        } else if (arg == "--runs" && i + 1 < argc) {
            runs = static_cast<unsigned>(std::max(1, std::atoi(argv[++i])));
        } else if (arg == "--json") {
            json = true;
        } else {
            std::fprintf(stderr, "usage: core_pingpong [--cpus A,B] [--runs N] [--json]\n");
            return 2;
        }
    }
    std::vector<double> samples;
    for (unsigned r = 0; r < runs; ++r) samples.push_back(run(a, b, 100000));
    std::sort(samples.begin(), samples.end());
    const double median = samples[samples.size() / 2];
    if (json)
        std::printf("{\"cpus\":[%d,%d],\"round_trip_ns\":%.1f,\"min_ns\":%.1f,\"max_ns\":%.1f}\n", a, b, median,
                    samples.front(), samples.back());
    else
        std::printf("CPUs %d and %d: cache-line round trip %.0f ns (median of %u; min %.0f, max %.0f)\n", a, b,
                    median, runs, samples.front(), samples.back());
    return 0;
}
