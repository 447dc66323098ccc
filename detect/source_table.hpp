// Per-source activity across conversations, for exfiltration that starts a
// new conversation per chunk (one `ping -c 1 -p PATTERN` per 16 bytes: each
// conversation on its own looks like a diagnostic ping).
//
// A fixed-size, direct-mapped table owned by one Pipeline (one lcore; RSS
// keeps a source's conversations mostly on one lcore, and the symmetric key
// keeps both directions together). An entry is replaced when another source
// hashes to its slot, and reset when its window ends: the table forgets, it
// never grows. Sized at init; nothing allocates per packet.
#pragma once

#include <cstdint>
#include <vector>

#include "flowgen/packet.hpp"
#include "flowgen/status.hpp"

namespace detect {

struct SourceActivity {
    uint64_t tag = 0;              // 64-bit hash of the address; 0 = free
    uint64_t fill_bitmap = 0;      // distinct pattern fills (period >= 2), hashed into 64 bins
    uint32_t window_start_s = 0;   // Unix seconds when the current window began
    uint32_t novel_bytes = 0;      // text/binary payload bytes sent in requests this window
};

class SourceTable {
public:
    // entries: a power of two (0 disables the table).
    flowgen::Status init(uint32_t entries);
    bool enabled() const noexcept { return !slots_.empty(); }

    // The entry of `address`, reset if it belonged to another source or its
    // window (window_ms) ended. Requires enabled().
    SourceActivity& touch(flowgen::Family family, const flowgen::IpAddress& address, uint64_t now_ms,
                          uint64_t window_ms) noexcept;

private:
    std::vector<SourceActivity> slots_;
    uint32_t mask_ = 0;
};

}  // namespace detect
