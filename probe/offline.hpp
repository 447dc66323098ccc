// The offline mode: `echoflow --pcap FILE`. Reads a pcap or pcapng capture
// with libpcap on a reader thread (CaptureReader) and runs it, in file
// order, through the same Worker and ExportLoop as live ports on the calling
// thread; flow times are the capture's timestamps. No EAL.
#pragma once

#include "probe/config.hpp"
#include "probe/privileges.hpp"

namespace probe {

// Returns the process exit code (0 success, 1 start-up failure). With an
// `identity` (--user), switches to it once the capture, the patterns and
// the outputs are open, before the first frame is parsed; keeps no
// capability.
int run_offline(const Config& config, const Identity* identity = nullptr);

}  // namespace probe
