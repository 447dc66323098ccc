// The offline mode: `echoflow --pcap FILE`. Reads a pcap or pcapng capture
// with libpcap on one thread and runs it through the same Worker and
// ExportLoop as live ports; flow times are the capture's timestamps. No EAL.
#pragma once

#include "probe/config.hpp"

namespace probe {

// Returns the process exit code (0 success, 1 start-up failure).
int run_offline(const Config& config);

}  // namespace probe
