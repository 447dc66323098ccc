// Process-wide stop request, set by SIGINT/SIGTERM and polled by every loop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace probe {

// Installs SIGINT/SIGTERM handlers that set the stop flag (async-signal-safe:
// a lock-free atomic store). A second signal more than a second after the
// first exits at once, without the final export.
void install_stop_handlers();
bool stop_requested() noexcept;

// SIGHUP asks for the log files (--alerts, --conversations) to be reopened
// (logrotate): each signal bumps this generation. install_stop_handlers()
// installs the handler; the exporter compares the generation with the last
// one it acted on.
uint32_t reopen_generation() noexcept;

inline uint64_t wall_clock_ms() noexcept {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

inline double monotonic_seconds() noexcept {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace probe
