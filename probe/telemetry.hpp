// DPDK telemetry commands, readable with dpdk-telemetry.py:
//   /echoflow/stats  the end-of-run counters, live
//   /echoflow/top    the 10 conversations with the most octets right now
// Callbacks run on DPDK's telemetry thread: they only read relaxed counters.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace probe {

class Worker;
class ExportLoop;

// /echoflow/stats answers every counter of probe/counters.hpp: the workers'
// and the exporter's, the `ports`' NIC counters, and with a non-empty
// `xdp_interface` its XDP program's.
void register_telemetry(std::span<Worker* const> workers, const ExportLoop& exporter,
                        std::span<const uint16_t> ports, const std::string& xdp_interface);
// Detaches the callbacks from the objects (DPDK cannot unregister a command:
// afterwards they answer with an error).
void unregister_telemetry();

}  // namespace probe
