// DPDK telemetry commands, readable with dpdk-telemetry.py:
//   /echoflow/stats  the end-of-run counters, live
//   /echoflow/top    the 10 conversations with the most octets right now
// Callbacks run on DPDK's telemetry thread: they only read relaxed counters.
#pragma once

#include <span>

namespace probe {

class Worker;
class ExportLoop;

void register_telemetry(std::span<Worker* const> workers, const ExportLoop& exporter);
// Detaches the callbacks from the objects (DPDK cannot unregister a command:
// afterwards they answer with an error).
void unregister_telemetry();

}  // namespace probe
