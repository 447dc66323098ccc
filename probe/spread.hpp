// Which worker meters a frame, when more than one worker reads the ports.
//
// Request and reply of a conversation must meet in one worker's cache. A NIC
// with symmetric RSS over the IP addresses does that for bare traffic, but a
// mirror delivers it inside a tunnel (ERSPAN, VXLAN, Geneve, GRE, MPLS): the
// NIC then hashes the outer header, the same two tunnel endpoints for the
// whole mirror session, and one queue gets all of it. Where DPDK lets us ask
// the NIC to hash the innermost header (RTE_ETH_RSS_LEVEL_INNERMOST in the
// port's flow_type_rss_offloads) live.cpp asks; otherwise the worker that
// receives a tunnelled ICMP frame parses it and hands it to the owner of its
// inner addresses (owner_of) over an SPSC ring. Ports without RSS (virtual
// devices, af_xdp) hand every ICMP frame over that way.
//
// Pure functions, no DPDK: live.cpp feeds them what rte_eth_dev_info_get says.
#pragma once

#include <cstdint>
#include <cstring>

#include "flowgen/packet.hpp"

namespace probe {

// What a worker does with the ICMP frames it receives on one queue.
enum class Spread : uint8_t {
    kNone,       // meters them itself: one worker, or RSS on the (inner) addresses
    kTunnelled,  // RSS on the outer header: tunnelled frames go to owner_of()
    kAll,        // no RSS: every ICMP frame goes to owner_of()
};

// How a port is set up for `workers` workers.
struct PortSpread {
    uint16_t queues = 1;     // RX queues to configure (and read)
    bool rss = false;        // configure RSS with the symmetric key
    bool inner_rss = false;  // ... on the innermost header (RTE_ETH_RSS_LEVEL_INNERMOST)
    Spread spread = Spread::kNone;
};

// `fixed_queues`: the port comes with exactly max_rx_queues queues that must
// all be read (af_xdp: one per NIC queue the kernel's RSS fills, not
// symmetric). `rss_ip`: the NIC can hash on IP addresses; `rss_inner`: it can
// do so on the innermost header.
inline PortSpread plan_port(bool fixed_queues, uint16_t max_rx_queues, bool rss_ip, bool rss_inner,
                            unsigned workers) noexcept {
    PortSpread p;
    if (fixed_queues && max_rx_queues > 0) p.queues = max_rx_queues;
    if (workers > 1 && max_rx_queues >= workers && rss_ip) {
        p.queues = static_cast<uint16_t>(workers);
        p.rss = true;
        p.inner_rss = rss_inner;
        p.spread = rss_inner ? Spread::kNone : Spread::kTunnelled;
    } else if (workers > 1) {
        p.spread = Spread::kAll;
    }
    return p;
}

// A frame whose addresses an outer-header RSS did not see: inside a tunnel,
// or behind MPLS labels (which most NICs do not hash through).
inline bool is_tunnelled(const flowgen::PacketInfo& p) noexcept {
    return p.tunnel_depth > 0 || (p.encapsulations & (1u << static_cast<unsigned>(flowgen::Encap::kMpls))) != 0;
}

// Whether an ICMP frame received on a queue of mode `s` is assigned by
// owner_of() rather than metered where it arrived.
inline bool spread_in_software(Spread s, const flowgen::PacketInfo& p) noexcept {
    return s == Spread::kAll || (s == Spread::kTunnelled && is_tunnelled(p));
}

// The owning worker of an ICMP packet: a symmetric function of the two
// (innermost) addresses, so that both directions and every fragment meet.
inline unsigned owner_of(const flowgen::PacketInfo& p, unsigned workers) noexcept {
    uint64_t a = 0, b = 0;
    for (int i = 0; i < 16; i += 8) {
        uint64_t x, y;
        std::memcpy(&x, p.src.bytes + i, 8);
        std::memcpy(&y, p.dst.bytes + i, 8);
        a ^= x + y;  // order-independent
        b ^= x ^ y;
    }
    uint64_t h = (a * 0x9e3779b97f4a7c15ULL) ^ (b * 0xc2b2ae3d27d4eb4fULL);
    h ^= h >> 29;
    return static_cast<unsigned>(h % workers);
}

}  // namespace probe
