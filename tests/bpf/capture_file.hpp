// Every frame of a capture file, in memory, for tests that run frames
// through the XDP program. In its own file because <pcap/pcap.h> and
// <linux/bpf.h> both define struct bpf_insn.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tests::bpf {

struct CaptureFile {
    int link = 0;  // pcap LINKTYPE_*
    std::vector<std::vector<uint8_t>> frames;  // the captured bytes of each frame, in file order
};

// Reads all of `path` (pcap or pcapng). On failure returns false with
// libpcap's message in `error`.
bool read_capture(const std::string& path, CaptureFile& out, std::string& error);

}  // namespace tests::bpf
