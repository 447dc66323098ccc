/* The one header shared by the XDP program (icmp_steer.bpf.c, compiled by
 * clang for the BPF target) and the user-side code that loads it and reads
 * its maps (probe/dpdk/xdp_stats.cpp, tests/bpf/). Plain C on purpose: both sides
 * include it, so a counter or a flag exists in exactly one place.
 *
 * What the program does, in one paragraph: it parses Ethernet, VLAN tags,
 * MPLS label stacks, IPv4 or IPv6 (bounded extension-header walk) and the
 * encapsulations remote and cloud mirrors use (IP-in-IP, GRE with IPv4, IPv6,
 * Cisco MetaData, transparent Ethernet bridging, MPLS and ERSPAN type I/II/III
 * payloads,
 * VXLAN on the configured UDP ports, Geneve), a bounded number of layers deep:
 * the same framing flowgen::parse_frame accepts. A frame whose innermost packet
 * is ICMP or ICMPv6, including a non-first fragment whose protocol field says
 * ICMP, goes to the AF_XDP socket bound to the frame's RX queue
 * (xsks_map[rx_queue_index]); encapsulated non-ICMP stays in the kernel.
 * Every other frame is passed to the kernel stack, or dropped when
 * ICMP_STEER_DROP_OTHER is set in the config map (a dedicated mirror port
 * where the host has no use for the copies). Frames too short for the headers
 * they announce are always passed, and counted.
 *
 * Loading: DPDK 22.11's af_xdp PMD (xdp_prog=PATH) opens the object with
 * libbpf, attaches its FIRST program directly (no libxdp dispatcher) and
 * puts its socket into xsks_map; keep exactly one program in the object. It
 * detaches the program when the port is closed, but a killed process leaves
 * it attached, and the next start then fails ("XDP program already
 * attached"): call probe::detach_xdp(ifname) before starting the port.
 */
#ifndef ECHOFLOW_PROBE_BPF_ICMP_STEER_H
#define ECHOFLOW_PROBE_BPF_ICMP_STEER_H

#include <linux/types.h>

/* Names as the kernel stores them (BPF object names are at most 15 chars).
 * The user side finds the program attached to an interface, and its maps, by
 * these names. "xsks_map" is fixed by DPDK's af_xdp PMD, which looks the map
 * up by that name when given xdp_prog=. The BPF source must use exactly these
 * identifiers for the function and the map variables. */
#define ICMP_STEER_PROG_NAME "icmp_steer"
#define ICMP_STEER_XSKS_MAP_NAME "xsks_map"
#define ICMP_STEER_COUNTERS_MAP_NAME "steer_counters"
#define ICMP_STEER_CONFIG_MAP_NAME "steer_config"

/* xsks_map capacity: RX queues 0..ICMP_STEER_MAX_QUEUES-1 can be steered. A
 * frame arriving on a higher queue finds no socket and is passed (and
 * counted in no_socket). */
#define ICMP_STEER_MAX_QUEUES 256

/* Parsing bounds. They are flowgen::parse_frame's (flowgen/packet.hpp:
 * kMaxVlanTags, kMaxMplsLabels, kMaxDecapLayers, kMaxVxlanPorts; the user side
 * static_asserts that they agree), so that both classify the same frames as
 * ICMP, which tests/bpf/parity_test.cpp checks frame by frame: VLAN tags per
 * Ethernet header, MPLS label stack entries, IPv6 extension headers per IP
 * header, and tunnel layers entered (IP-in-IP, GRE, VXLAN, Geneve, an MPLS
 * pseudowire each count one). */
#define ICMP_STEER_MAX_VLAN_TAGS 4
#define ICMP_STEER_MAX_MPLS_LABELS 8
#define ICMP_STEER_MAX_IPV6_EXT 8
#define ICMP_STEER_MAX_ENCAP 4

/* UDP destination ports that carry VXLAN (RFC 7348), at most this many. */
#define ICMP_STEER_MAX_VXLAN_PORTS 8

/* Bits of icmp_steer_config.flags. */
#define ICMP_STEER_DROP_OTHER 0x1u /* XDP_DROP instead of XDP_PASS for non-ICMP */
#define ICMP_STEER_NO_DECAP 0x2u   /* --decap none: follow no encapsulation but IP-in-IP */

/* Value of steer_config[0] (a BPF_MAP_TYPE_ARRAY with one entry). It is a
 * map rather than .rodata so that it can be changed on a program someone
 * else loaded (DPDK's af_xdp PMD loads the object as it is). All zero, the
 * state after load, means: decapsulate, but no UDP port is a tunnel (no
 * VXLAN, no Geneve), and pass everything that is not ICMP; echoflow writes
 * its ports (flowgen::ParseOptions) as soon as the port runs. */
struct icmp_steer_config {
    __u32 flags;
    __u16 vxlan_ports[ICMP_STEER_MAX_VXLAN_PORTS]; /* host order; 0 = unused slot */
    __u16 geneve_port; /* host order; 0 = Geneve is not followed (RFC 8926 §3.3: 6081) */
    __u16 reserved;    /* zero */
};

/* Value of steer_counters[0] (a BPF_MAP_TYPE_PERCPU_ARRAY with one entry:
 * each CPU has its own copy; user space sums them). Frames, not bytes.
 * Every frame the program sees is counted in exactly one of redirected,
 * passed, dropped. no_socket and malformed are subsets of passed. */
struct icmp_steer_counters {
    __u64 redirected; /* ICMP handed to the AF_XDP socket of its RX queue */
    __u64 passed;     /* XDP_PASS, for whatever reason */
    __u64 dropped;    /* XDP_DROP: not ICMP, ICMP_STEER_DROP_OTHER set */
    __u64 no_socket;  /* ICMP, but no socket in xsks_map for the RX queue: passed */
    __u64 malformed;  /* frame ends before a header it announces, or a header
                         is inconsistent (IHL < 5, total length < IHL, more
                         extension headers than the bound): passed */
};

#endif /* ECHOFLOW_PROBE_BPF_ICMP_STEER_H */
