/* icmp_steer: XDP program that hands ICMP/ICMPv6 to the probe's AF_XDP
 * sockets and leaves every other frame to the kernel (or drops it on a
 * dedicated mirror port). What it accepts and what it counts is described in
 * icmp_steer.h, the header it shares with the user side.
 *
 * Built by meson with `clang -O2 -g -target bpf` (see meson.build); -g gives
 * the object BTF, which libxdp needs to run it behind its multi-program
 * dispatcher (DPDK's af_xdp PMD loads it through libxdp when given
 * xdp_prog=).
 *
 * Parsing keeps byte offsets from the start of the frame as scalars and
 * re-checks `data + off + n <= data_end` before each read: the verifier
 * demands a bound check on the very pointer that is dereferenced, and the
 * scalar offsets make the "inside the IP datagram" checks plain integer
 * comparisons. Multi-byte fields are assembled from single bytes (network
 * order), so no read depends on alignment.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "icmp_steer.h"

/* EtherTypes (IEEE 802, IANA "ieee-802-numbers"). */
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86DD
#define ETHERTYPE_VLAN 0x8100      /* IEEE 802.1Q C-tag */
#define ETHERTYPE_QINQ 0x88A8      /* IEEE 802.1ad S-tag */
#define ETHERTYPE_QINQ_9100 0x9100 /* pre-802.1ad S-tag, still seen on SPAN ports */

/* IP protocol / IPv6 next-header numbers (IANA "protocol-numbers"). */
#define PROTO_HOPOPTS 0   /* RFC 8200 §4.3 */
#define PROTO_ICMP 1      /* RFC 792 */
#define PROTO_IPIP 4      /* RFC 2003, IPv4 in IP */
#define PROTO_IPV6 41     /* RFC 2473 / RFC 4213, IPv6 in IP */
#define PROTO_ROUTING 43  /* RFC 8200 §4.4 */
#define PROTO_FRAGMENT 44 /* RFC 8200 §4.5 */
#define PROTO_AH 51       /* RFC 4302 */
#define PROTO_ICMPV6 58   /* RFC 4443 */
#define PROTO_DSTOPTS 60  /* RFC 8200 §4.6 */

#define ETH_HEADER_LEN 14
#define VLAN_TAG_LEN 4
#define IPV4_MIN_HEADER_LEN 20
#define IPV6_HEADER_LEN 40
/* Every ICMP message starts with type, code, checksum and a 4-byte
 * type-specific word (RFC 792; RFC 4443 §2.1 for ICMPv6). */
#define ICMP_HEADER_LEN 8

/* A header starting this far into a frame is not parsed (the frame counts
 * as malformed). Native XDP frames are at most a page; only generic XDP on a
 * 64 KiB-MTU device could get near, and no sane header chain does. Keeps
 * packet pointer arithmetic well inside what the verifier accepts. */
#define MAX_HEADER_OFFSET 0x3FFF

#define IPV4_FRAG_OFFSET_MASK 0x1FFF /* RFC 791 §3.1: fragment offset, 8-byte units */
#define IPV4_FLAG_MF 0x2000
#define IPV6_FRAG_OFFSET_MASK 0xFFF8 /* RFC 8200 §4.5: offset << 3 | res | M */
#define IPV6_FRAG_FLAG_M 0x0001

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, ICMP_STEER_MAX_QUEUES);
    __type(key, __u32);
    __type(value, __u32);
} xsks_map SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct icmp_steer_counters);
} steer_counters SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct icmp_steer_config);
} steer_config SEC(".maps");

/* One word per CPU for forget_range(); not an interface. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} steer_scratch SEC(".maps");

enum steer_class {
    CLASS_OTHER,     /* parsed far enough to know it is not ICMP */
    CLASS_ICMP,      /* ICMP or ICMPv6, possibly a non-first fragment */
    CLASS_MALFORMED, /* shorter than its headers say, or inconsistent */
    CLASS_TUNNEL,    /* IP-in-IP: the cursor now points at the inner header */
};

/* Where the next IP header starts, how far the datagram around it may reach
 * (both byte offsets from the frame start) and what it is. */
struct ip_cursor {
    __u32 off;
    __u32 limit;
    __u16 ethertype;
};

static __always_inline __u16 load_be16(const __u8 *p)
{
    return (__u16)((__u16)p[0] << 8 | p[1]);
}

/* Returns `off` unchanged, as far as the program's logic goes. It is for
 * the verifier: each path through the header walk leaves a different range
 * on `off` (the sum of the header lengths on that path), and states whose
 * ranges are not contained in an earlier one are not pruned, so the walk
 * was verified once per path (half of the one-million-instruction budget on
 * kernel 6.18; older kernels prune worse). A value read back from a map is
 * an unknown scalar to the verifier, and after the caller's check against
 * MAX_HEADER_OFFSET every path has the same range: the walk is verified
 * about once per header position (a few hundred instructions in all). The
 * cost is one store and one load per header. */
static __always_inline __u32 forget_range(volatile __u32 *scratch, __u32 off)
{
    *scratch = off;
    return *scratch;
}

static __always_inline int is_vlan_tpid(__u16 type)
{
    return type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_9100;
}

/* IPv4 (RFC 791). The datagram must fit in the frame (the kernel's own
 * ip_rcv drops it otherwise, as truncated). A non-first fragment carries no
 * ICMP header, but its protocol field still says ICMP: it is steered, so
 * the probe sees every fragment of an ICMP message. */
static __always_inline int parse_ipv4(const __u8 *data, const __u8 *data_end, struct ip_cursor *c,
                                      volatile __u32 *scratch)
{
    const __u8 *ip = data + c->off;
    if (ip + IPV4_MIN_HEADER_LEN > data_end)
        return CLASS_MALFORMED;
    if ((ip[0] >> 4) != 4)
        return CLASS_MALFORMED;

    __u32 header_len = (__u32)(ip[0] & 0x0F) * 4;
    __u32 total_len = load_be16(ip + 2);
    if (header_len < IPV4_MIN_HEADER_LEN || total_len < header_len)
        return CLASS_MALFORMED;
    __u32 end = c->off + total_len;
    if (end > c->limit)
        return CLASS_MALFORMED;

    __u16 frag = load_be16(ip + 6);
    __u8 proto = ip[9];
    __u32 l4 = c->off + header_len;

    if (frag & IPV4_FRAG_OFFSET_MASK)
        return proto == PROTO_ICMP ? CLASS_ICMP : CLASS_OTHER;
    if (proto == PROTO_ICMP)
        return l4 + ICMP_HEADER_LEN <= end ? CLASS_ICMP : CLASS_MALFORMED;
    /* The inner header of a fragmented tunnel packet may be cut by the
     * fragment boundary: not followed (the frame is CLASS_OTHER). */
    if ((proto == PROTO_IPIP || proto == PROTO_IPV6) && !(frag & IPV4_FLAG_MF)) {
        c->off = forget_range(scratch, l4);
        c->limit = end;
        if (c->off > MAX_HEADER_OFFSET)
            return CLASS_MALFORMED;
        c->ethertype = proto == PROTO_IPIP ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
        return CLASS_TUNNEL;
    }
    return CLASS_OTHER;
}

/* IPv6 (RFC 8200) with a walk over at most ICMP_STEER_MAX_IPV6_EXT extension
 * headers: hop-by-hop, routing, destination options (length in 8-octet units
 * not counting the first 8, §4.3-4.6), AH (length in 4-octet units minus 2,
 * RFC 4302 §2.2) and fragment (fixed 8 octets, §4.5). ESP and unknown next
 * headers end the walk: not ICMP as far as anyone on the path can tell. */
static __always_inline int parse_ipv6(const __u8 *data, const __u8 *data_end, struct ip_cursor *c,
                                      volatile __u32 *scratch)
{
    const __u8 *ip = data + c->off;
    if (ip + IPV6_HEADER_LEN > data_end)
        return CLASS_MALFORMED;
    if ((ip[0] >> 4) != 6)
        return CLASS_MALFORMED;

    __u32 end = c->off + IPV6_HEADER_LEN + load_be16(ip + 4);
    if (end > c->limit)
        return CLASS_MALFORMED;

    __u8 next = ip[6];
    __u32 off = c->off + IPV6_HEADER_LEN;
    int first_fragment = 0;

    /* One pass per header: ICMP_STEER_MAX_IPV6_EXT extension headers, then
     * the header that follows them. */
    for (int i = 0; i <= ICMP_STEER_MAX_IPV6_EXT; i++) {
        const __u8 *h = data + off;
        switch (next) {
        case PROTO_ICMPV6:
            return off + ICMP_HEADER_LEN <= end ? CLASS_ICMP : CLASS_MALFORMED;
        case PROTO_HOPOPTS:
        case PROTO_ROUTING:
        case PROTO_DSTOPTS:
        case PROTO_AH: {
            if (i == ICMP_STEER_MAX_IPV6_EXT)
                return CLASS_MALFORMED; /* chain longer than the bound */
            /* Each of these is at least 8 octets long. */
            if (h + 8 > data_end || off + 8 > end)
                return CLASS_MALFORMED;
            __u32 len = next == PROTO_AH ? ((__u32)h[1] + 2) * 4 : ((__u32)h[1] + 1) * 8;
            next = h[0];
            off = forget_range(scratch, off + len);
            if (off > MAX_HEADER_OFFSET)
                return CLASS_MALFORMED;
            break;
        }
        case PROTO_FRAGMENT: {
            if (i == ICMP_STEER_MAX_IPV6_EXT)
                return CLASS_MALFORMED;
            if (h + 8 > data_end || off + 8 > end)
                return CLASS_MALFORMED;
            __u16 frag = load_be16(h + 2);
            next = h[0];
            off = forget_range(scratch, off + 8);
            if (off > MAX_HEADER_OFFSET)
                return CLASS_MALFORMED;
            /* Non-first fragment: the rest is continuation data, but the
             * Next Header field names the first header of the fragmentable
             * part (§4.5), so ICMPv6 is recognisable. */
            if (frag & IPV6_FRAG_OFFSET_MASK)
                return next == PROTO_ICMPV6 ? CLASS_ICMP : CLASS_OTHER;
            if (frag & IPV6_FRAG_FLAG_M)
                first_fragment = 1;
            break;
        }
        case PROTO_IPIP:
        case PROTO_IPV6:
            if (first_fragment)
                return CLASS_OTHER; /* inner header may be cut: see IPv4 */
            c->off = off;
            c->limit = end;
            c->ethertype = next == PROTO_IPIP ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
            return CLASS_TUNNEL;
        default:
            return CLASS_OTHER;
        }
    }
    return CLASS_MALFORMED; /* not reached: the last pass always returns */
}

static __always_inline int classify(const __u8 *data, const __u8 *data_end, volatile __u32 *scratch)
{
    if (data + ETH_HEADER_LEN > data_end)
        return CLASS_MALFORMED;

    __u16 type = load_be16(data + 12);
    __u32 off = ETH_HEADER_LEN;
    for (int i = 0; i < ICMP_STEER_MAX_VLAN_TAGS; i++) {
        if (!is_vlan_tpid(type))
            break;
        const __u8 *tag = data + off;
        if (tag + VLAN_TAG_LEN > data_end)
            return CLASS_MALFORMED;
        type = load_be16(tag + 2);
        off += VLAN_TAG_LEN;
    }
    if (is_vlan_tpid(type))
        return CLASS_MALFORMED; /* a third tag: flowgen::parse_frame says malformed too */

    struct ip_cursor c = {
        .off = off,
        .limit = (__u32)(data_end - data),
        .ethertype = type,
    };
    /* Outer header, then at most one inner header (IP-in-IP). ARP, LLDP
     * and friends are CLASS_OTHER. */
    for (int depth = 0; depth < 2; depth++) {
        int cls;
        if (c.ethertype == ETHERTYPE_IPV4)
            cls = parse_ipv4(data, data_end, &c, scratch);
        else if (c.ethertype == ETHERTYPE_IPV6)
            cls = parse_ipv6(data, data_end, &c, scratch);
        else
            return CLASS_OTHER;
        if (cls != CLASS_TUNNEL)
            return cls;
    }
    return CLASS_OTHER; /* tunnel inside a tunnel: deeper than flowgen parses */
}

SEC("xdp")
int icmp_steer(struct xdp_md *ctx)
{
    const __u8 *data = (const __u8 *)(long)ctx->data;
    const __u8 *data_end = (const __u8 *)(long)ctx->data_end;
    __u32 zero = 0;

    struct icmp_steer_counters *count = bpf_map_lookup_elem(&steer_counters, &zero);
    const struct icmp_steer_config *config = bpf_map_lookup_elem(&steer_config, &zero);
    __u32 *scratch = bpf_map_lookup_elem(&steer_scratch, &zero);
    if (!count || !config || !scratch)
        return XDP_PASS; /* cannot happen: key 0 of a one-entry array */

    switch (classify(data, data_end, scratch)) {
    case CLASS_ICMP: {
        /* The low bits of the flags are the action returned when
         * xsks_map has no socket for this queue (bpf_redirect_map, kernel
         * >= 5.3): the ICMP then goes to the kernel like any frame. */
        long action = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
        if (action == XDP_REDIRECT) {
            count->redirected++;
        } else {
            count->passed++;
            count->no_socket++;
        }
        return (int)action;
    }
    case CLASS_MALFORMED:
        count->passed++;
        count->malformed++;
        return XDP_PASS;
    default:
        if (config->flags & ICMP_STEER_DROP_OTHER) {
            count->dropped++;
            return XDP_DROP;
        }
        count->passed++;
        return XDP_PASS;
    }
}

/* Not GPL-only: the program calls no GPL-only helper. The string states the
 * project's licence. */
char LICENSE[] SEC("license") = "BSD-3-Clause";
