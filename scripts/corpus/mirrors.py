#!/usr/bin/python3
"""mirrors.py BARE.pcap OUTDIR: wrap every frame of a bare capture the way
remote and cloud mirrors deliver it, one capture per encapsulation.

Writes OUTDIR/mirror-KIND.pcap for KIND in KINDS below, plus
mirror-double.pcap (every frame twice: two ERSPAN II copies 20 us apart, the
second with the inner TTL / hop limit one lower, as a SPAN of ingress and
egress delivers it). Timestamps are the bare capture's, so echoflow's
conversations, flows and alerts must be those of the bare capture.

Frames an encapsulation cannot carry (MPLS or GRE with an IP payload
carry no ARP) are written bare, so every capture keeps all the bare
traffic. Run by scripts/make-corpus; also importable (wrap()) by tests.
Needs Debian's python3-scapy (/usr/bin/python3).
"""
import os
import sys

from scapy.all import Ether, IP, IPv6, UDP, Raw, rdpcap, wrpcap  # noqa: F401
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific
from scapy.contrib.geneve import GENEVE
from scapy.contrib.mpls import MPLS
from scapy.layers.l2 import GRE, Dot1AD, Dot1Q
from scapy.layers.vxlan import VXLAN

# The mirror's transport: collector 198.18.0.2 (RFC 2544 benchmarking
# space), two mirror sources for the double mirror.
SENSOR_MAC = "02:ef:00:00:00:02"
SOURCE_MAC = "02:ef:00:00:00:01"
SENSOR = "198.18.0.2"
SOURCES = ("198.18.0.1", "198.18.0.3")

KINDS = ("qinq", "mpls", "mpls-pw", "gre", "gre-teb", "erspan1", "erspan2", "erspan3", "vxlan", "geneve")


def outer(src=SOURCES[0]):
    return Ether(src=SOURCE_MAC, dst=SENSOR_MAC) / IP(src=src, dst=SENSOR, ttl=62, id=0)


def ip_payload(frame):
    """The frame's IP packet (behind any VLAN tags), or None."""
    layer = frame.payload
    while isinstance(layer, (Dot1Q, Dot1AD)):
        layer = layer.payload
    return layer if isinstance(layer, (IP, IPv6)) else None


def wrap(kind, frame, seq):
    """`frame` (an Ether) as `kind` delivers it; the bare frame when the
    encapsulation carries no such frame."""
    ip = ip_payload(frame)
    proto = 0x0800 if isinstance(ip, IP) else 0x86DD
    if kind == "qinq":
        return Ether(src=frame.src, dst=frame.dst) / Dot1AD(vlan=100) / Dot1Q(vlan=200) / frame.payload
    if kind == "mpls":
        if ip is None:
            return frame
        return Ether(src=SOURCE_MAC, dst=SENSOR_MAC) / MPLS(label=1000, s=0, ttl=63) / MPLS(label=2000, s=1, ttl=63) / ip
    if kind == "mpls-pw":
        # RFC 4448 Ethernet pseudowire with the RFC 4385 control word.
        return (Ether(src=SOURCE_MAC, dst=SENSOR_MAC) / MPLS(label=3000, s=1, ttl=63) /
                Raw(b"\x00\x00" + seq.to_bytes(2, "big")) / frame)
    if kind == "gre":
        if ip is None:
            return frame
        return outer() / GRE(key_present=1, key=7, proto=proto) / ip
    if kind == "gre-teb":
        return outer() / GRE(proto=0x6558) / frame
    if kind == "erspan1":
        return outer() / GRE(proto=0x88BE) / frame
    if kind == "erspan2":
        return outer() / GRE(proto=0x88BE, seqnum_present=1, sequence_number=seq) / \
            ERSPAN_II(ver=1, session_id=5, index=1) / frame
    if kind == "erspan3":
        return outer() / GRE(proto=0x22EB, seqnum_present=1, sequence_number=seq) / \
            ERSPAN_III(session_id=6, timestamp=seq, o=1) / ERSPAN_PlatformSpecific(platf_id=3) / frame
    if kind == "vxlan":
        # AWS VPC Traffic Mirroring / Azure vTAP: VXLAN to 4789, VNI of the session.
        return outer() / UDP(sport=49152 + seq % 1000, dport=4789) / VXLAN(vni=4242) / frame
    if kind == "geneve":
        # AWS Gateway Load Balancer style: Geneve to 6081 with one 8-byte option.
        return outer() / UDP(sport=49152 + seq % 1000, dport=6081) / \
            GENEVE(vni=77, proto=0x6558, optionlen=2, options=b"\x01\x08\x01\x01" + b"\x00" * 4) / frame
    raise ValueError("unknown kind " + kind)


def hop_later(frame):
    """The frame as the next router forwards it: inner TTL / hop limit one
    lower (checksum recomputed)."""
    f = frame.copy()
    ip = ip_payload(f)
    if isinstance(ip, IP):
        ip.ttl = max(ip.ttl - 1, 1)
        ip.chksum = None
    elif isinstance(ip, IPv6):
        ip.hlim = max(ip.hlim - 1, 1)
    return Ether(bytes(f))


def write_all(bare_path, out_dir):
    frames = rdpcap(bare_path)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for kind in KINDS:
        out = []
        for i, f in enumerate(frames):
            w = wrap(kind, f, i)
            w.time = f.time
            out.append(w)
        path = os.path.join(out_dir, "mirror-%s.pcap" % kind)
        wrpcap(path, out)
        written.append(path)
    out = []
    for i, f in enumerate(frames):
        a = outer(SOURCES[0]) / GRE(proto=0x88BE, seqnum_present=1, sequence_number=i) / \
            ERSPAN_II(ver=1, session_id=5, index=1) / f
        b = outer(SOURCES[1]) / GRE(proto=0x88BE, seqnum_present=1, sequence_number=i) / \
            ERSPAN_II(ver=1, session_id=5, index=2) / hop_later(f)
        a.time = f.time
        b.time = f.time + 0.00002
        out += [a, b]
    path = os.path.join(out_dir, "mirror-double.pcap")
    wrpcap(path, out)
    written.append(path)
    return written


def main(argv):
    if len(argv) != 3 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    for path in write_all(argv[1], argv[2]):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
