// The live mode: EAL, ports and queues, the lcore loops. The only code that
// talks to DPDK's ethdev API.
//
// Lcores: the main lcore runs the exporter (queues -> IPFIX, alerts,
// progress, signals); every other lcore is a worker with its own Worker. With
// a single lcore, the main lcore does both in one loop.
//
// Queues: each port gets one RX queue per worker when it supports RSS over
// IP addresses, configured with a symmetric Toeplitz key (0x6d5a repeated)
// so that both directions of a conversation hash to the same queue. A port
// without RSS (most vdevs) gets one queue, read by one worker, which spreads
// ICMP packets to their owning worker by a symmetric software hash of the
// two addresses over single-producer/single-consumer rings: request and
// reply of a conversation always meet in one cache, also when they arrive on
// different ports (the two sides of a TAP).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "probe/config.hpp"
#include "probe/counters.hpp"

namespace probe {

struct LiveOptions {
    std::vector<std::string> eal_args;  // argv for rte_eal_init (argv[0] first)
    std::string xdp_interface;          // set by --interface: read XDP counters and detach at exit
    bool xdp_drop_other = false;        // set the program's drop-other flag once the port runs
};

// Returns the process exit code.
int run_live(const Config& config, const LiveOptions& options);

// The port group of probe/counters.hpp: rte_eth_stats summed over `ports`
// (a port whose stats cannot be read adds nothing). Any thread; on af_xdp
// ports it makes syscalls.
void read_port_counters(std::span<const uint16_t> ports, RunStats& out);
// The XDP group, from the counters of the program attached to `ifname`;
// sets have_xdp when they could be read. Nothing for an empty name.
void read_xdp_group(const std::string& ifname, RunStats& out);

}  // namespace probe
