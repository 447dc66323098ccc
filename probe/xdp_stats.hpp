// User side of the icmp_steer XDP program (probe/bpf/icmp_steer.bpf.c):
// find our program on an interface, read and sum its per-CPU counters, set
// its config flags, and detach it.
//
// The program may have been attached by DPDK's af_xdp PMD (vdev argument
// xdp_prog=), by xdp-loader, or by anything else that uses libxdp: either
// directly (legacy single-program mode, when no bpffs is mounted) or as one
// component of libxdp's multi-program dispatcher. Both are handled. The
// program is recognised by its name (ICMP_STEER_PROG_NAME) and its maps by
// theirs; a program of that name whose maps do not have the layout of
// icmp_steer.h (an object built from another version) is an error, not a
// silent misread.
//
// These calls make several bpf() syscalls and allocate: they are for start-up,
// shutdown and the periodic stats report (the main lcore), never the packet
// path. They need CAP_BPF/CAP_NET_ADMIN (in practice root). Errors name the
// interface and the failing step: "xdp on ef-x0: no XDP program attached".
#pragma once

#include <cstdint>
#include <string>

#include "flowgen/status.hpp"
#include "probe/bpf/icmp_steer.h"

namespace flowgen {
struct ParseOptions;  // flowgen/packet.hpp (not included: its icmp_id field meets <netinet/ip_icmp.h>'s macro)
}

namespace probe {

// icmp_steer_counters (icmp_steer.h) summed over all possible CPUs. Frames,
// not bytes. redirected + passed + dropped = frames the program has seen since
// it was loaded; no_socket and malformed are the parts of passed that were
// ICMP without an AF_XDP socket on their queue, and frames too short or
// inconsistent to classify.
struct XdpCounters {
    uint64_t redirected = 0;
    uint64_t passed = 0;
    uint64_t dropped = 0;
    uint64_t no_socket = 0;
    uint64_t malformed = 0;
};

// Reads the counters of the icmp_steer program attached to `ifname` (in the
// caller's network namespace). Fails when the interface does not exist, when
// no XDP program or a different one is attached, or on any bpf() error; `out`
// is then unchanged.
flowgen::Status read_xdp_counters(const std::string& ifname, XdpCounters& out);

// Sets or clears ICMP_STEER_DROP_OTHER in the config map of the icmp_steer
// program attached to `ifname`: with it set, frames that are not ICMP are
// dropped in the driver instead of passed to the kernel stack (for a port
// that only receives mirrored traffic). Takes effect with the next frame.
flowgen::Status set_xdp_drop_other(const std::string& ifname, bool drop);

// The config map value that makes icmp_steer follow the same encapsulations
// as flowgen::parse_frame with `options` (--decap, --vxlan-port), with
// ICMP_STEER_DROP_OTHER as `drop_other` says. Pure; no bpf() call.
icmp_steer_config steer_config_for(const flowgen::ParseOptions& options, bool drop_other) noexcept;

// Writes steer_config_for(options, drop_other) into the config map of the
// icmp_steer program attached to `ifname` (replacing all of it). Takes
// effect with the next frame.
flowgen::Status set_xdp_config(const std::string& ifname, const flowgen::ParseOptions& options, bool drop_other);

// Detaches the icmp_steer program from `ifname`, and nothing else: another
// program attached there (or sharing libxdp's dispatcher with ours) stays.
// Succeeds without doing anything when icmp_steer is not attached, so that
// it can run unconditionally at exit.
flowgen::Status detach_xdp(const std::string& ifname);

}  // namespace probe
