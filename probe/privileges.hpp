// Giving up root once echoflow is set up (--user, --group).
//
// echoflow parses traffic an attacker controls. It needs root (or
// CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF, CAP_IPC_LOCK) only to
// set up: the EAL (hugepages, vfio), the ports, the XDP program and the
// AF_XDP sockets, the output files and the telemetry socket. After that the
// process switches to an unprivileged user and keeps, in the main thread
// only, the capabilities the way out still needs (kept_capabilities()).
//
// Threads: capabilities are per thread (capabilities(7)). glibc applies
// setresuid()/setresgid()/setgroups() to every thread of the process; the
// kernel then clears the permitted and effective sets of each thread whose
// uids all leave 0, unless that thread set PR_SET_KEEPCAPS. drop_privileges()
// sets KEEPCAPS in the calling thread only, after every other thread (EAL
// lcores, interrupt and telemetry threads, the capture reader) exists: they
// lose every capability, the caller keeps the listed ones. This holds only
// when the process starts as root; started as another user with ambient
// capabilities (a unit with User= and AmbientCapabilities=), the uid does
// not change and only the calling thread's sets are reduced (docs/deployment.md).
//
// Start-up only; the results carry messages naming the step and the cause.
#pragma once

#include <sys/capability.h>
#include <sys/types.h>

#include <span>
#include <string>
#include <vector>

#include "flowgen/status.hpp"

namespace probe {

// Who to become. Resolved once, before any set-up, so that a name that does
// not exist is a configuration error (exit 2), not a late failure.
struct Identity {
    std::string user;   // as given (name or number), for messages
    std::string group;
    uid_t uid = 0;
    gid_t gid = 0;
};

// Resolves --user (a name or a uid) and --group (a name or a gid; empty:
// the user's primary group) through NSS. Errors: "--user nosuch: no such
// user", and uid 0 ("--user root: is root; ..."). A number that NSS does
// not know is accepted as is.
flowgen::Status resolve_identity(const std::string& user, const std::string& group, Identity& out);

// Fails when this process cannot become `id` later: not root and not already
// that user ("--user echoflow: needs root to switch from uid 1000").
flowgen::Status check_can_switch(const Identity& id);

// The capabilities echoflow keeps after set-up, by input:
//   --pcap, vdevs without a kernel interface (net_pcap, net_null, net_ring,
//   net_memif), PCI NICs bound to vfio-pci: none;
//   a kernel interface (--interface or an EAL net_af_xdp / net_af_packet /
//   net_tap port): CAP_NET_ADMIN, to detach the XDP program and switch
//   promiscuous mode back off (netlink, SIOCSIFFLAGS) when it stops.
std::vector<cap_value_t> kept_capabilities(bool kernel_interface);

// Switches every thread of the process to `id` (supplementary groups: just
// id.gid) and leaves the calling thread with exactly `keep` in its permitted
// and effective sets, nothing inheritable or ambient; every other thread
// with nothing. Then checks that root cannot be regained. On failure the
// process may be half-switched: the caller stops (exit 1).
flowgen::Status drop_privileges(const Identity& id, std::span<const cap_value_t> keep);

// "uid 998 (echoflow), gid 998 (echoflow), capabilities: cap_net_admin" (or
// "none"): the line echoflow prints once it has switched.
std::string describe_identity(const Identity& id, std::span<const cap_value_t> keep);

}  // namespace probe
