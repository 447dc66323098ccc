#include "probe/run_control.hpp"

#include <csignal>
#include <unistd.h>

namespace probe {

namespace {
std::atomic<int> g_stop{0};
static_assert(std::atomic<int>::is_always_lock_free, "the stop flag is set from a signal handler");

extern "C" void on_stop_signal(int) {
    if (g_stop.fetch_add(1, std::memory_order_relaxed) >= 1) {
        // Second signal: the user insists; leave without the final export.
        static const char msg[] = "echoflow: second signal, exiting without final export\n";
        (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
        _exit(130);
    }
}
}  // namespace

void install_stop_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    // A collector that closes its TCP connection must not kill the probe.
    signal(SIGPIPE, SIG_IGN);
}

bool stop_requested() noexcept { return g_stop.load(std::memory_order_relaxed) != 0; }
void request_stop() noexcept { g_stop.fetch_add(1, std::memory_order_relaxed); }

}  // namespace probe
