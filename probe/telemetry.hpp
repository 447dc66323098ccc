// DPDK telemetry commands, readable with dpdk-telemetry.py:
//   /echoflow/stats  the end-of-run counters, live
//   /echoflow/top    the 10 conversations with the most octets right now
// Callbacks run on DPDK's telemetry thread: they only read relaxed counters.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "flowgen/status.hpp"

namespace probe {

class Worker;
class ExportLoop;

// /echoflow/stats answers every counter of probe/counters.hpp: the workers'
// and the exporter's, the `ports`' NIC counters, and with an
// `xdp_counters_fd` (>= 0, see read_xdp_group) the XDP program's. Fails
// when DPDK refuses a command (the message names it).
flowgen::Status register_telemetry(std::span<Worker* const> workers, const ExportLoop& exporter,
                                   std::span<const uint16_t> ports, int xdp_counters_fd);
// Detaches the callbacks from the objects (DPDK cannot unregister a command:
// afterwards they answer with an error).
void unregister_telemetry();

}  // namespace probe
