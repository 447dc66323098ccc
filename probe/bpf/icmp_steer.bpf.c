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
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_MPLS 0x8847           /* RFC 3032 §5 */
#define ETHERTYPE_MPLS_MULTICAST 0x8848
#define ETHERTYPE_TEB 0x6558            /* transparent Ethernet bridging (GRE, Geneve) */
#define ETHERTYPE_ERSPAN_I_II 0x88BE    /* draft-foschiano-erspan §4.1, §4.2 */
#define ETHERTYPE_ERSPAN_III 0x22EB     /* draft-foschiano-erspan §4.3 */
#define ETHERTYPE_CISCO_METADATA 0x8909 /* Cisco MetaData (TrustSec SGT) */

/* IP protocol / IPv6 next-header numbers (IANA "protocol-numbers"). */
#define PROTO_HOPOPTS 0   /* RFC 8200 §4.3 */
#define PROTO_ICMP 1      /* RFC 792 */
#define PROTO_IPIP 4      /* RFC 2003, IPv4 in IP */
#define PROTO_IPV6 41     /* RFC 2473 / RFC 4213, IPv6 in IP */
#define PROTO_UDP 17      /* RFC 768 */
#define PROTO_ROUTING 43  /* RFC 8200 §4.4 */
#define PROTO_FRAGMENT 44 /* RFC 8200 §4.5 */
#define PROTO_GRE 47      /* RFC 2784 */
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
#define MPLS_LSE_LEN 4          /* RFC 3032 §2.1 */
#define MPLS_CONTROL_WORD_LEN 4 /* RFC 4385 §3 */
#define GRE_HEADER_LEN 4        /* RFC 2784 §2.1, without the optional fields */
#define GRE_FLAG_CHECKSUM 0x80
#define GRE_FLAG_ROUTING 0x40   /* RFC 1701 §2.1 */
#define GRE_FLAG_KEY 0x20       /* RFC 2890 §2 */
#define GRE_FLAG_SEQUENCE 0x10
#define GRE_VERSION_MASK 0x07
#define CISCO_METADATA_LEN 8
#define ERSPAN_II_HEADER_LEN 8
#define ERSPAN_III_HEADER_LEN 12
#define ERSPAN_III_PLATFORM_LEN 8
#define ERSPAN_FT_ETHERNET 0
#define ERSPAN_FT_IP 2
#define UDP_HEADER_LEN 8
#define VXLAN_HEADER_LEN 8      /* RFC 7348 §5 */
#define VXLAN_FLAG_I 0x08
#define GENEVE_HEADER_LEN 8     /* RFC 8926 §3.4, without options */

/* A header starting this far into a frame is not parsed (the frame counts
 * as malformed). Native XDP frames are at most a page; only generic XDP on a
 * 64 KiB-MTU device could get near, and no sane header chain does. Keeps
 * packet pointer arithmetic well inside what the verifier accepts. */
#define MAX_HEADER_OFFSET 0x3FFF

/* walk->wire_end inside a mirror tunnel: no bound (go_mirror). */
#define WIRE_UNBOUNDED 0xFFFFFFFFu

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

enum steer_class {
    CLASS_OTHER,     /* parsed far enough to know it is not ICMP */
    CLASS_ICMP,      /* ICMP or ICMPv6, possibly a non-first fragment */
    CLASS_MALFORMED, /* shorter than its headers say, or inconsistent */
    CLASS_CONTINUE,  /* a header was parsed: walk->next says what follows */
};

/* What starts at walk->off. */
enum walk_next {
    WALK_ETHER, /* Ethernet header, then its VLAN tags */
    WALK_MPLS,  /* MPLS label stack (RFC 3032) */
    WALK_IPV4,
    WALK_IPV6,
    WALK_GRE,   /* RFC 2784/2890 header, ERSPAN header if any */
    WALK_UDP,   /* UDP header, then VXLAN or Geneve if the port says so */
};

/* The header walk's state, kept in this CPU's steer_walk entry rather than
 * in registers: every value read back from a map is an unknown scalar to the
 * verifier, so each step below is verified once per loop iteration rather
 * than once per path that led to it (the ranges left on `off` by different
 * header chains differ, and states whose ranges differ are not pruned). A
 * step re-checks `off` against MAX_HEADER_OFFSET and every read against
 * data_end. The cost is a few loads and stores per header. */
struct steer_walk {
    __u32 off;    /* where the next header starts, bytes from the frame start */
    __u32 limit;  /* end of the bytes there are: the frame, cut to each IP datagram around */
    __u32 wire_end; /* how far an IP datagram starting here may say it reaches (below) */
    __u32 next;   /* enum walk_next */
    __u32 encaps; /* encapsulation headers followed so far */
    __u32 flags;  /* icmp_steer_config.flags, read once per frame */
    __u32 ext;    /* scratch for the IPv6 extension-header walk */
};

/* One entry per CPU; not an interface. An XDP program does not nest on a
 * CPU, so the entry is this frame's alone. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct steer_walk);
} steer_scratch SEC(".maps");

/* Headers walked per encapsulation level: Ethernet (with its tags), an MPLS
 * stack, IP, then GRE or UDP (with the ERSPAN, VXLAN or Geneve header folded
 * into that step). Each level but the last costs one ICMP_STEER_MAX_ENCAP,
 * so the walk never needs more steps than this. */
#define WALK_MAX_STEPS (4 * (ICMP_STEER_MAX_ENCAP + 1) + 1)

static __always_inline __u16 load_be16(const __u8 *p)
{
    return (__u16)((__u16)p[0] << 8 | p[1]);
}

static __always_inline int is_vlan_tpid(__u16 type)
{
    return type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_9100;
}

/* EtherTypes an Ethernet pseudowire plausibly carries: only to tell a
 * control word from a destination MAC (flowgen's is_known_ethertype). */
static __always_inline int is_pseudowire_ethertype(__u16 type)
{
    return type == ETHERTYPE_IPV4 || type == ETHERTYPE_IPV6 || type == ETHERTYPE_ARP || is_vlan_tpid(type) ||
           type == ETHERTYPE_MPLS || type == ETHERTYPE_MPLS_MULTICAST;
}

/* With --decap none only IP-in-IP is followed, one level deep: the framing
 * echoflow read before it decapsulated mirrors. */
static __always_inline __u32 encap_bound(volatile struct steer_walk *w)
{
    return (w->flags & ICMP_STEER_NO_DECAP) ? 1 : ICMP_STEER_MAX_ENCAP;
}

/* Continue the walk at `off` with a header of kind `next`, with bytes up to
 * `limit`. */
static __always_inline int go(volatile struct steer_walk *w, __u32 off, __u32 limit, __u32 next)
{
    w->off = off;
    w->limit = limit;
    w->next = next;
    return CLASS_CONTINUE;
}

/* The same, one encapsulation level deeper: CLASS_OTHER once the bound is
 * reached (the innermost packet is deeper than anyone here parses). */
static __always_inline int go_inner(volatile struct steer_walk *w, __u32 off, __u32 limit, __u32 next)
{
    __u32 encaps = w->encaps;
    if (encaps >= encap_bound(w))
        return CLASS_OTHER;
    w->encaps = encaps + 1;
    return go(w, off, limit, next);
}

/* Into a frame or packet that a mirror tunnel carries (gretap, ERSPAN, VXLAN,
 * Geneve, an MPLS pseudowire). Mirrors cut what they copy on purpose
 * (ERSPAN's T flag, an AWS mirror session's packet length, an MTU smaller
 * than frame plus tunnel), so the IP header inside keeps the original
 * packet's length, which may reach past the tunnel's: like a snap length,
 * that is not malformed (flowgen's kMirrorWire). Every read is still checked
 * against `limit` and data_end. */
static __always_inline int go_mirror(volatile struct steer_walk *w, __u32 off, __u32 limit, __u32 next)
{
    int cls = go_inner(w, off, limit, next);
    if (cls == CLASS_CONTINUE)
        w->wire_end = WIRE_UNBOUNDED;
    return cls;
}

/* After an Ethernet header and its tags: the EtherType says what follows. */
static __always_inline int go_ethertype(volatile struct steer_walk *w, __u32 off, __u32 limit, __u16 type)
{
    if (type == ETHERTYPE_IPV4)
        return go(w, off, limit, WALK_IPV4);
    if (type == ETHERTYPE_IPV6)
        return go(w, off, limit, WALK_IPV6);
    if ((type == ETHERTYPE_MPLS || type == ETHERTYPE_MPLS_MULTICAST) && !(w->flags & ICMP_STEER_NO_DECAP))
        return go(w, off, limit, WALK_MPLS);
    return CLASS_OTHER; /* ARP, LLDP, ... */
}

/* After an IP header: the protocol says what follows, up to `limit` (the
 * datagram's captured end) and `wire_end` (its stated end, which bounds
 * an IP header carried directly inside). `fragment` is set for any
 * fragment: the inner header of a fragmented tunnel packet may be cut by the
 * fragment boundary, so it is not followed (CLASS_OTHER for all its
 * fragments, as in flowgen::parse_frame). */
static __always_inline int go_protocol(volatile struct steer_walk *w, __u32 off, __u32 limit, __u32 wire_end,
                                       __u8 proto, int fragment)
{
    if (proto != PROTO_IPIP && proto != PROTO_IPV6 && proto != PROTO_GRE && proto != PROTO_UDP)
        return CLASS_OTHER;
    if (fragment)
        return CLASS_OTHER;
    w->wire_end = wire_end;
    if (proto == PROTO_IPIP)
        return go_inner(w, off, limit, WALK_IPV4);
    if (proto == PROTO_IPV6)
        return go_inner(w, off, limit, WALK_IPV6);
    if (w->flags & ICMP_STEER_NO_DECAP)
        return CLASS_OTHER;
    return go(w, off, limit, proto == PROTO_GRE ? WALK_GRE : WALK_UDP);
}

/* Ethernet II and at most ICMP_STEER_MAX_VLAN_TAGS tags (IEEE 802.1Q: TCI,
 * then the next EtherType). Inside a tunnel the frame must lie within the
 * datagram that carries it. */
static __always_inline int step_ether(const __u8 *data, const __u8 *data_end, volatile struct steer_walk *w)
{
    __u32 off = w->off;
    __u32 limit = w->limit;
    if (off > MAX_HEADER_OFFSET)
        return CLASS_MALFORMED;
    const __u8 *eth = data + off;
    if (eth + ETH_HEADER_LEN > data_end || off + ETH_HEADER_LEN > limit)
        return CLASS_MALFORMED;
    __u16 type = load_be16(eth + 12);
    off += ETH_HEADER_LEN;
    for (int i = 0; i < ICMP_STEER_MAX_VLAN_TAGS; i++) {
        if (!is_vlan_tpid(type))
            break;
        const __u8 *tag = data + off;
        if (tag + VLAN_TAG_LEN > data_end || off + VLAN_TAG_LEN > limit)
            return CLASS_MALFORMED;
        type = load_be16(tag + 2);
        off += VLAN_TAG_LEN;
    }
    if (is_vlan_tpid(type))
        return CLASS_MALFORMED; /* a tag more than the bound: flowgen::parse_frame says malformed too */
    return go_ethertype(w, off, limit, type);
}

/* MPLS label stack entries (RFC 3032 §2.1: label 20, TC 3, S 1, TTL 8) to
 * the bottom of the stack. No type field follows: IPv4 or IPv6 by the first
 * nibble; otherwise an Ethernet pseudowire (RFC 4448), whose control word
 * (RFC 4385 §3: first nibble 0, 4 octets) is skipped when present. */
static __always_inline int step_mpls(const __u8 *data, const __u8 *data_end, volatile struct steer_walk *w)
{
    __u32 off = w->off;
    __u32 limit = w->limit;
    if (off > MAX_HEADER_OFFSET)
        return CLASS_MALFORMED;
    int bottom = 0;
    for (int i = 0; i < ICMP_STEER_MAX_MPLS_LABELS; i++) {
        const __u8 *lse = data + off;
        if (lse + MPLS_LSE_LEN > data_end || off + MPLS_LSE_LEN > limit)
            return CLASS_MALFORMED;
        off += MPLS_LSE_LEN;
        if (lse[2] & 0x01) {
            bottom = 1;
            break;
        }
    }
    if (!bottom)
        return CLASS_MALFORMED; /* deeper than the bound */
    const __u8 *p = data + off;
    if (p + 1 > data_end || off + 1 > limit)
        return CLASS_MALFORMED;
    __u8 nibble = p[0] >> 4;
    if (nibble == 4)
        return go(w, off, limit, WALK_IPV4);
    if (nibble == 6)
        return go(w, off, limit, WALK_IPV6);
    if (nibble == 1)
        return CLASS_OTHER; /* RFC 4385 §3: pseudowire associated channel (OAM) */
    if (nibble == 0) {
        /* A control word, or a destination MAC that starts with nibble 0:
         * it is a control word when an Ethernet header with an EtherType a
         * pseudowire plausibly carries follows it. Too short for either:
         * no frame fits. */
        if (w->encaps >= encap_bound(w))
            return CLASS_OTHER;
        const __u8 *cw = data + off;
        if (cw + MPLS_CONTROL_WORD_LEN + ETH_HEADER_LEN > data_end ||
            off + MPLS_CONTROL_WORD_LEN + ETH_HEADER_LEN > limit)
            return CLASS_MALFORMED;
        if (is_pseudowire_ethertype(load_be16(cw + MPLS_CONTROL_WORD_LEN + 12)))
            off += MPLS_CONTROL_WORD_LEN;
    }
    return go_mirror(w, off, limit, WALK_ETHER);
}

/* IPv4 (RFC 791). The datagram must fit in the frame (the kernel's own
 * ip_rcv drops it otherwise, as truncated) and in the datagram around it. A
 * non-first fragment carries no ICMP header, but its protocol field still
 * says ICMP: it is steered, so the probe sees every fragment of an ICMP
 * message. */
static __always_inline int step_ipv4(const __u8 *data, const __u8 *data_end, volatile struct steer_walk *w)
{
    __u32 off = w->off;
    if (off > MAX_HEADER_OFFSET)
        return CLASS_MALFORMED;
    __u32 limit = w->limit;
    const __u8 *ip = data + off;
    if (ip + IPV4_MIN_HEADER_LEN > data_end || off + IPV4_MIN_HEADER_LEN > limit)
        return CLASS_MALFORMED;
    if ((ip[0] >> 4) != 4)
        return CLASS_MALFORMED;

    __u32 header_len = (__u32)(ip[0] & 0x0F) * 4;
    __u32 total_len = load_be16(ip + 2);
    if (header_len < IPV4_MIN_HEADER_LEN || off + header_len > limit || total_len < header_len)
        return CLASS_MALFORMED;
    __u32 wire_end = off + total_len;
    if (wire_end > w->wire_end)
        return CLASS_MALFORMED;
    /* Bytes past the total length are link padding, not payload. */
    __u32 end = wire_end < limit ? wire_end : limit;

    __u16 frag = load_be16(ip + 6);
    __u8 proto = ip[9];
    __u32 l4 = off + header_len;

    if (frag & IPV4_FRAG_OFFSET_MASK)
        return proto == PROTO_ICMP ? CLASS_ICMP : CLASS_OTHER;
    if (proto == PROTO_ICMP)
        return l4 + ICMP_HEADER_LEN <= end ? CLASS_ICMP : CLASS_MALFORMED;
    return go_protocol(w, l4, end, wire_end, proto, frag & IPV4_FLAG_MF);
}

/* IPv6 (RFC 8200) with a walk over at most ICMP_STEER_MAX_IPV6_EXT extension
 * headers: hop-by-hop, routing, destination options (length in 8-octet units
 * not counting the first 8, §4.3-4.6), AH (length in 4-octet units minus 2,
 * RFC 4302 §2.2) and fragment (fixed 8 octets, §4.5). ESP and unknown next
 * headers end the walk: not ICMP as far as anyone on the path can tell. */
static __always_inline int step_ipv6(const __u8 *data, const __u8 *data_end, volatile struct steer_walk *w)
{
    __u32 start = w->off;
    if (start > MAX_HEADER_OFFSET)
        return CLASS_MALFORMED;
    __u32 limit = w->limit;
    const __u8 *ip = data + start;
    if (ip + IPV6_HEADER_LEN > data_end || start + IPV6_HEADER_LEN > limit)
        return CLASS_MALFORMED;
    if ((ip[0] >> 4) != 6)
        return CLASS_MALFORMED;

    __u32 wire_end = start + IPV6_HEADER_LEN + load_be16(ip + 4);
    if (wire_end > w->wire_end)
        return CLASS_MALFORMED;
    __u32 end = wire_end < limit ? wire_end : limit;

    __u8 next = ip[6];
    __u32 off = start + IPV6_HEADER_LEN;
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
            /* Through memory, for the same reason as struct steer_walk. */
            w->ext = off + len;
            off = w->ext;
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
            w->ext = off + 8;
            off = w->ext;
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
        default:
            return go_protocol(w, off, end, wire_end, next, first_fragment);
        }
    }
    return CLASS_MALFORMED; /* not reached: the last pass always returns */
}

/* GRE (RFC 2784 §2; key and sequence number, RFC 2890 §2): C, K, S flags,
 * version 0, protocol type; checksum (+reserved), key and sequence number
 * follow in that order when flagged. A routing field (RFC 1701's R bit) or
 * another version (1 is PPTP's enhanced GRE) is not a mirror: not followed.
 * ERSPAN (draft-foschiano-erspan): type I is 0x88BE without a sequence
 * number and puts the frame right after GRE; type II is 0x88BE with one and
 * an 8-octet header; type III is 0x22EB with a 12-octet header, an 8-octet
 * platform sub-header when its O bit is set, and a frame type (FT: 0
 * Ethernet, 2 IP packet). */
static __always_inline int step_gre(const __u8 *data, const __u8 *data_end, volatile struct steer_walk *w)
{
    __u32 off = w->off;
    __u32 limit = w->limit;
    if (off > MAX_HEADER_OFFSET)
        return CLASS_MALFORMED;
    const __u8 *g = data + off;
    if (g + GRE_HEADER_LEN > data_end || off + GRE_HEADER_LEN > limit)
        return CLASS_MALFORMED;
    __u8 flags = g[0];
    if ((g[1] & GRE_VERSION_MASK) != 0 || (flags & GRE_FLAG_ROUTING))
        return CLASS_OTHER;
    __u16 proto = load_be16(g + 2);
    off += GRE_HEADER_LEN;
    if (flags & GRE_FLAG_CHECKSUM)
        off += 4;
    if (flags & GRE_FLAG_KEY)
        off += 4;
    if (flags & GRE_FLAG_SEQUENCE)
        off += 4;
    if (off > limit)
        return CLASS_MALFORMED;

    switch (proto) {
    case ETHERTYPE_IPV4:
        return go_inner(w, off, limit, WALK_IPV4);
    case ETHERTYPE_IPV6:
        return go_inner(w, off, limit, WALK_IPV6);
    case ETHERTYPE_CISCO_METADATA: {
        /* Cisco TrustSec tags GRE payloads with the source's security group
         * (draft-smith-kandula-sxp): the carried EtherType, version, length,
         * option and SGT, 8 octets, then the IPv4 or IPv6 packet. */
        if (w->encaps >= encap_bound(w))
            return CLASS_OTHER;
        if (off > MAX_HEADER_OFFSET)
            return CLASS_MALFORMED;
        const __u8 *md = data + off;
        if (md + CISCO_METADATA_LEN > data_end || off + CISCO_METADATA_LEN > limit)
            return CLASS_MALFORMED;
        __u16 inner = load_be16(md);
        if (inner == ETHERTYPE_IPV4)
            return go_inner(w, off + CISCO_METADATA_LEN, limit, WALK_IPV4);
        if (inner == ETHERTYPE_IPV6)
            return go_inner(w, off + CISCO_METADATA_LEN, limit, WALK_IPV6);
        return CLASS_OTHER;
    }
    case ETHERTYPE_TEB:
        return go_mirror(w, off, limit, WALK_ETHER);
    case ETHERTYPE_MPLS:
    case ETHERTYPE_MPLS_MULTICAST:
        return go_inner(w, off, limit, WALK_MPLS);
    case ETHERTYPE_ERSPAN_I_II: {
        if (!(flags & GRE_FLAG_SEQUENCE))
            return go_mirror(w, off, limit, WALK_ETHER); /* type I */
        if (w->encaps >= encap_bound(w))
            return CLASS_OTHER;
        if (off > MAX_HEADER_OFFSET)
            return CLASS_MALFORMED;
        const __u8 *e = data + off;
        /* Type II: the version field must say so (1). */
        if (e + ERSPAN_II_HEADER_LEN > data_end || off + ERSPAN_II_HEADER_LEN > limit || (e[0] >> 4) != 1)
            return CLASS_MALFORMED;
        return go_mirror(w, off + ERSPAN_II_HEADER_LEN, limit, WALK_ETHER);
    }
    case ETHERTYPE_ERSPAN_III: {
        if (w->encaps >= encap_bound(w))
            return CLASS_OTHER;
        if (off > MAX_HEADER_OFFSET)
            return CLASS_MALFORMED;
        const __u8 *e = data + off;
        if (e + ERSPAN_III_HEADER_LEN > data_end || off + ERSPAN_III_HEADER_LEN > limit || (e[0] >> 4) != 2)
            return CLASS_MALFORMED;
        __u8 frame_type = (e[10] >> 2) & 0x1F;
        off += ERSPAN_III_HEADER_LEN;
        if (e[11] & 0x01)
            off += ERSPAN_III_PLATFORM_LEN;
        if (off > limit)
            return CLASS_MALFORMED;
        if (frame_type == ERSPAN_FT_ETHERNET)
            return go_mirror(w, off, limit, WALK_ETHER);
        if (frame_type != ERSPAN_FT_IP)
            return CLASS_OTHER;
        if (off > MAX_HEADER_OFFSET)
            return CLASS_MALFORMED;
        const __u8 *p = data + off;
        if (p + 1 > data_end || off + 1 > limit)
            return CLASS_MALFORMED;
        if ((p[0] >> 4) == 4)
            return go_mirror(w, off, limit, WALK_IPV4);
        if ((p[0] >> 4) == 6)
            return go_mirror(w, off, limit, WALK_IPV6);
        return CLASS_OTHER;
    }
    default:
        return CLASS_OTHER; /* not a payload mirrors carry */
    }
}

/* A port of 0 never matches: a UDP destination port of 0 is reserved and
 * 0 marks an unused slot. Returns at the first match so that the verifier
 * sees one branch per slot, not every combination of slots. */
static __always_inline int is_vxlan_port(const struct icmp_steer_config *config, __u16 port)
{
    if (port == 0)
        return 0;
    for (int i = 0; i < ICMP_STEER_MAX_VXLAN_PORTS; i++)
        if (config->vxlan_ports[i] == port)
            return 1;
    return 0;
}

/* UDP (RFC 768), then VXLAN on a configured destination port (RFC 7348 §5:
 * 8 octets, then an Ethernet frame) or Geneve on its port (RFC 8926 §3.4:
 * version 0, options of Opt Len 4-octet words after the 8-octet base
 * header, then the payload its Protocol Type names). */
static __always_inline int step_udp(const __u8 *data, const __u8 *data_end, volatile struct steer_walk *w,
                                    const struct icmp_steer_config *config)
{
    __u32 off = w->off;
    __u32 limit = w->limit;
    if (off > MAX_HEADER_OFFSET)
        return CLASS_MALFORMED;
    const __u8 *u = data + off;
    if (u + UDP_HEADER_LEN > data_end || off + UDP_HEADER_LEN > limit)
        return CLASS_MALFORMED;
    __u16 port = load_be16(u + 2);
    off += UDP_HEADER_LEN;
    const __u8 *h = u + UDP_HEADER_LEN;

    if (is_vxlan_port(config, port)) {
        if (w->encaps >= encap_bound(w))
            return CLASS_OTHER;
        /* RFC 7348 §5: the I flag says the VNI is valid; a header without
         * it is not what the port promised. */
        if (h + VXLAN_HEADER_LEN > data_end || off + VXLAN_HEADER_LEN > limit || !(h[0] & VXLAN_FLAG_I))
            return CLASS_MALFORMED;
        return go_mirror(w, off + VXLAN_HEADER_LEN, limit, WALK_ETHER);
    }
    if (port != config->geneve_port || port == 0)
        return CLASS_OTHER;
    if (w->encaps >= encap_bound(w))
        return CLASS_OTHER;
    if (h + GENEVE_HEADER_LEN > data_end || off + GENEVE_HEADER_LEN > limit || (h[0] >> 6) != 0)
        return CLASS_MALFORMED; /* too short, or a version this does not know */
    __u16 proto = load_be16(h + 2);
    off += GENEVE_HEADER_LEN + (__u32)(h[0] & 0x3F) * 4;
    if (off > limit)
        return CLASS_MALFORMED;
    if (proto == ETHERTYPE_TEB)
        return go_mirror(w, off, limit, WALK_ETHER);
    if (proto == ETHERTYPE_IPV4)
        return go_mirror(w, off, limit, WALK_IPV4);
    if (proto == ETHERTYPE_IPV6)
        return go_mirror(w, off, limit, WALK_IPV6);
    return CLASS_OTHER;
}

static __always_inline int classify(const __u8 *data, const __u8 *data_end, volatile struct steer_walk *w,
                                    const struct icmp_steer_config *config)
{
    w->flags = config->flags;
    w->encaps = 0;
    w->wire_end = (__u32)(data_end - data); /* a live port delivers whole frames */
    go(w, 0, (__u32)(data_end - data), WALK_ETHER);
#pragma clang loop unroll(disable)
    for (int step = 0; step < WALK_MAX_STEPS; step++) {
        int cls;
        switch (w->next) {
        case WALK_ETHER:
            cls = step_ether(data, data_end, w);
            break;
        case WALK_MPLS:
            cls = step_mpls(data, data_end, w);
            break;
        case WALK_IPV4:
            cls = step_ipv4(data, data_end, w);
            break;
        case WALK_IPV6:
            cls = step_ipv6(data, data_end, w);
            break;
        case WALK_GRE:
            cls = step_gre(data, data_end, w);
            break;
        case WALK_UDP:
            cls = step_udp(data, data_end, w, config);
            break;
        default:
            return CLASS_MALFORMED; /* not reached */
        }
        if (cls != CLASS_CONTINUE)
            return cls;
    }
    return CLASS_OTHER; /* not reached: every level costs an encapsulation */
}

SEC("xdp")
int icmp_steer(struct xdp_md *ctx)
{
    const __u8 *data = (const __u8 *)(long)ctx->data;
    const __u8 *data_end = (const __u8 *)(long)ctx->data_end;
    __u32 zero = 0;

    struct icmp_steer_counters *count = bpf_map_lookup_elem(&steer_counters, &zero);
    const struct icmp_steer_config *config = bpf_map_lookup_elem(&steer_config, &zero);
    struct steer_walk *walk = bpf_map_lookup_elem(&steer_scratch, &zero);
    if (!count || !config || !walk)
        return XDP_PASS; /* cannot happen: key 0 of a one-entry array */

    switch (classify(data, data_end, walk, config)) {
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
