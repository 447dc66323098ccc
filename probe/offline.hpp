// The offline mode: `echoflow --pcap FILE`. Reads a pcap or pcapng capture
// with libpcap on a reader thread (CaptureReader) and runs it, in file
// order, through the same Worker and ExportLoop as live ports on the calling
// thread; flow times are the capture's timestamps. No EAL.
#pragma once

#include "probe/config.hpp"

namespace probe {

// Returns the process exit code (0 success, 1 start-up failure).
int run_offline(const Config& config);

}  // namespace probe
