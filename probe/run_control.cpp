#include "probe/run_control.hpp"

#include <csignal>
#include <ctime>
#include <unistd.h>

namespace probe {

namespace {
std::atomic<int> g_stop{0};
static_assert(std::atomic<int>::is_always_lock_free, "the stop flag is set from a signal handler");

std::atomic<int64_t> g_first_signal_ns{0};

std::atomic<uint32_t> g_reopen{0};
static_assert(std::atomic<uint32_t>::is_always_lock_free, "the reopen count is bumped from a signal handler");

extern "C" void on_reopen_signal(int) { g_reopen.fetch_add(1, std::memory_order_relaxed); }

int64_t monotonic_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);  // async-signal-safe (POSIX)
    return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

extern "C" void on_stop_signal(int) {
    const int64_t now = monotonic_ns();
    if (g_stop.fetch_add(1, std::memory_order_relaxed) == 0) {
        g_first_signal_ns.store(now, std::memory_order_relaxed);
        return;
    }
    // A second signal within a second is the same request delivered twice
    // (`timeout -s INT` signals the process and its group); later, the user
    // insists: leave without the final export.
    if (now - g_first_signal_ns.load(std::memory_order_relaxed) < 1'000'000'000) return;
    static const char msg[] = "echoflow: second signal, exiting without final export\n";
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
    _exit(130);
}
}  // namespace

void install_stop_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    struct sigaction hup {};
    hup.sa_handler = on_reopen_signal;
    sigemptyset(&hup.sa_mask);
    hup.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &hup, nullptr);
    // A collector that closes its TCP connection must not kill the probe.
    signal(SIGPIPE, SIG_IGN);
}

bool stop_requested() noexcept { return g_stop.load(std::memory_order_relaxed) != 0; }

uint32_t reopen_generation() noexcept { return g_reopen.load(std::memory_order_relaxed); }

}  // namespace probe
