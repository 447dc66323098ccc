#!/usr/bin/python3
"""A spoofed-source ICMP flood mixed with ICMP tunnels, as one capture.

  flood.py [--packets N] [--seconds S] [--seed N] OUT.pcap

Writes OUT.pcap (classic pcap, Ethernet, microsecond timestamps) and prints
one JSON object describing it on stdout (victim, flood window, distinct
spoofed sources, tunnel endpoints, packet and IP octet totals).

What is in it, time-ordered:
- the flood: `hping3 --flood --rand-source -1 VICTIM` as it appears on the
  wire: N ICMP echo requests (type 8, code 0, no data: 28 IP octets, 42-byte
  frames), each from a random IPv4 source, one identifier (hping3 uses its
  pid) and a counting sequence number, random IP ids, TTL 64, spread evenly
  over S seconds starting one second into the capture. The victim does not
  answer (its replies would go to the spoofed sources, mostly elsewhere).
- a real ptunnel-ng 1.41 session (tests/data/captures/ptunnel-ng.pcap,
  recorded by scripts/make-corpus), shifted to start with the capture;
- a tunnel with a fresh echo identifier per packet: the client sends
  encrypted-looking data (random bytes, 200..1000 per request) in echo
  requests, each with a new identifier, and the server's kernel mirrors each
  one (RFC 792): every conversation is one request and one reply. It runs
  from before the flood to after it.

The flood is written directly with struct (scapy would take a minute for
50,000 frames); the content comes from a seeded PRNG, so a rerun gives the
same bytes. Used by tests/integration/test_flood.py.
"""
import argparse
import json
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PTUNNEL_NG = os.path.join(REPO, "tests", "data", "captures", "ptunnel-ng.pcap")

VICTIM = "198.51.100.80"
TUNNEL_CLIENT = "192.168.56.77"
TUNNEL_SERVER = "203.0.113.90"
CLIENT_MAC = bytes.fromhex("f0def1332177")
GW_MAC = bytes.fromhex("001b213a4f01")
T0 = 1796083200.0  # 2026-12-01T00:00:00Z: an arbitrary, fixed epoch


def ip4(text):
    return bytes(int(x) for x in text.split("."))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def echo_frame(src, dst, icmp_type, ident, seq, data, ip_id, ttl, src_mac, dst_mac):
    icmp = struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq) + data
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    total = 20 + len(icmp)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ip_id, 0, ttl, 1, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return dst_mac + src_mac + b"\x08\x00" + hdr + icmp, total


def read_pcap(path):
    """(time, frame) of a classic little-endian microsecond pcap."""
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", data[:24])
    if magic != 0xA1B2C3D4 or link != 1:
        raise SystemExit("flood.py: %s: not a microsecond Ethernet pcap" % path)
    out, off = [], 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        out.append((sec + usec / 1e6, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def ip_octets(frame):
    """IP total length of an IPv4 ICMP frame (Ethernet, untagged), else None."""
    if len(frame) >= 34 and frame[12:14] == b"\x08\x00" and frame[23] == 1:
        return struct.unpack("!H", frame[16:18])[0]
    return None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--packets", type=int, default=50000, help="flood packets (default 50000)")
    ap.add_argument("--seconds", type=float, default=0.5, help="flood duration (default 0.5)")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)
    if args.packets < 1 or not 0 < args.seconds <= 60:
        ap.error("--packets must be positive and --seconds within (0, 60]")
    rng = random.Random(args.seed)
    frames = []  # (time, frame, kind)

    # The flood.
    victim = ip4(VICTIM)
    hping_id = rng.randrange(1024, 32768)
    start = T0 + 1.0
    sources = set()
    for i in range(args.packets):
        src = rng.getrandbits(32)
        sources.add(src)
        frame, _ = echo_frame(struct.pack("!I", src), victim, 8, hping_id, i & 0xFFFF, b"", rng.getrandbits(16), 64,
                              CLIENT_MAC, GW_MAC)
        frames.append((start + args.seconds * i / args.packets, frame, "flood"))

    # ptunnel-ng, shifted to the start of the capture.
    ptunnel = read_pcap(PTUNNEL_NG)
    shift = T0 + 0.1 - ptunnel[0][0]
    for t, frame in ptunnel:
        frames.append((t + shift, frame, "ptunnel-ng"))

    # The fresh-id tunnel: from 0.2 s before the flood to 1 s after it.
    client, server = ip4(TUNNEL_CLIENT), ip4(TUNNEL_SERVER)
    t, end, seq, ip_id = start - 0.2, start + args.seconds + 1.0, 0, rng.getrandbits(16)
    fresh = 0
    while t < end:
        data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(200, 1001)))
        ident = rng.getrandbits(16)
        req, _ = echo_frame(client, server, 8, ident, seq, data, ip_id, 64, CLIENT_MAC, GW_MAC)
        rep, _ = echo_frame(server, client, 0, ident, seq, data, rng.getrandbits(16), 55, GW_MAC, CLIENT_MAC)
        frames.append((t, req, "fresh-id"))
        frames.append((t + 0.021, rep, "fresh-id"))
        fresh += 1
        seq, ip_id = seq + 1, (ip_id + 1) & 0xFFFF
        t += 0.05

    frames.sort(key=lambda f: f[0])
    packets = octets = 0
    with open(args.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, frame, _ in frames:
            sec = int(t)
            usec = int(round((t - sec) * 1e6))
            if usec == 1000000:
                sec, usec = sec + 1, 0
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            f.write(frame)
            n = ip_octets(frame)
            if n is not None:
                packets += 1
                octets += n
    json.dump(dict(victim=VICTIM, flood_packets=args.packets, flood_octets=28 * args.packets,
                   flood_sources=len(sources), flood_start=start, flood_end=start + args.seconds * (args.packets - 1) / args.packets,
                   hping_id=hping_id, ptunnel_client="10.201.1.2", ptunnel_server="10.201.2.2",
                   fresh_client=TUNNEL_CLIENT, fresh_server=TUNNEL_SERVER, fresh_conversations=fresh,
                   icmp_packets=packets, icmp_octets=octets, first=frames[0][0], last=frames[-1][0]),
              sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
