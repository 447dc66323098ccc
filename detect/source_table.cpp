#include "detect/source_table.hpp"

#include <cstring>

namespace detect {

flowgen::Status SourceTable::init(uint32_t entries) {
    slots_.clear();
    mask_ = 0;
    if (entries == 0) return {};
    if ((entries & (entries - 1)) != 0)
        return flowgen::Status::error("detect.source_table_entries: " + std::to_string(entries) +
                                      " is not a power of two");
    slots_.assign(entries, SourceActivity{});
    mask_ = entries - 1;
    return {};
}

SourceActivity& SourceTable::touch(flowgen::Family family, const flowgen::IpAddress& address, uint64_t now_ms,
                                   uint64_t window_ms) noexcept {
    uint64_t a, b;
    std::memcpy(&a, address.bytes, 8);
    std::memcpy(&b, address.bytes + 8, 8);
    uint64_t h = (a ^ (static_cast<uint64_t>(family) << 56)) * 0x9E3779B97F4A7C15ULL;
    h ^= (b + 0x632BE59BD9B4E019ULL) * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ULL;
    h ^= h >> 32;
    h |= 1;  // never 0: 0 marks a free slot
    SourceActivity& e = slots_[static_cast<uint32_t>(h >> 40) & mask_];
    const uint32_t now_s = static_cast<uint32_t>(now_ms / 1000);
    if (e.tag != h || static_cast<uint64_t>(now_s - e.window_start_s) * 1000 >= window_ms) {
        e = SourceActivity{};
        e.tag = h;
        e.window_start_s = now_s;
    }
    return e;
}

}  // namespace detect
