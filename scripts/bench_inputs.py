"""Benchmark and lab inputs for scripts/bench and scripts/lab.

Small captures for net_pcap's infinite_rx (it holds the whole file in mbufs,
so each stays at 4,000 frames: 1,000 conversations x 2 sequence numbers x
request and reply), built with scapy; and one large capture for the offline
comparison, written record by record from scapy-built templates (scapy alone
writes ~20k packets/s: far too slow for millions).

The flood comparison has its own pair: flood98 (16,384 one-packet
conversations) and ping98-flood (the same pings as ping98 in a capture of as
many frames), so that net_pcap's replay costs both sides the same.

    /usr/bin/python3 scripts/bench_inputs.py OUTDIR   # writes every input
"""
import os
import random
import struct
import sys

from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw, wrpcap  # Debian's python3-scapy

CONVERSATIONS = 1000
SEQS = 2
BASE_TIME = 1764128000  # 2025-11-26, any fixed epoch

SMALL = {
    "echo60": "minimum-size echoes: 60-byte frames (no data, padded)",
    "ping98": "Linux pings: 98-byte frames, iputils data (timeval + counting bytes)",
    "random1k": "1 KB random-data echoes both ways (a tunnel's shape), 1066-byte frames",
    "tcpudp": "non-ICMP: 60-byte TCP SYN and 98-byte UDP frames, alternating",
}


def client(c):
    return "10.%d.%d.%d" % (1 + (c >> 16), (c >> 8) & 255, c & 255)


def server(c):
    return "172.16.%d.%d" % ((c >> 8) & 255, 1 + (c & 127))


def iputils_data(seq, c):
    # iputils ping: data[i] = i, the first 16 bytes overwritten by a timeval.
    tv = struct.pack("<qq", BASE_TIME + seq, (c * 7919) % 1000000)
    return tv + bytes(range(16, 56))


def echo_frames(kind, rng, conversations=CONVERSATIONS, seqs=SEQS):
    frames = []
    for s in range(seqs):
        for c in range(conversations):
            a, b = client(c), server(c)
            ident = 0x4000 + c
            if kind == "echo60":
                req = Ether() / IP(src=a, dst=b) / ICMP(type=8, id=ident, seq=s)
                rep = Ether() / IP(src=b, dst=a) / ICMP(type=0, id=ident, seq=s)
                req, rep = req / Raw(b"\0" * 18), rep / Raw(b"\0" * 18)
                # 18 padding bytes after a 28-byte IP packet: the IP length
                # stays 28 (scapy sets it before padding is appended).
                req[IP].len = rep[IP].len = 28
            elif kind == "ping98":
                data = iputils_data(s, c)
                req = Ether() / IP(src=a, dst=b) / ICMP(type=8, id=ident, seq=s) / Raw(data)
                rep = Ether() / IP(src=b, dst=a) / ICMP(type=0, id=ident, seq=s) / Raw(data)
            else:  # random1k
                req = Ether() / IP(src=a, dst=b) / ICMP(type=8, id=ident, seq=s) / Raw(rng.randbytes(1024))
                rep = Ether() / IP(src=b, dst=a) / ICMP(type=0, id=ident, seq=s) / Raw(rng.randbytes(1024))
            frames += [req, rep]
    return frames


def tcpudp_frames():
    frames = []
    for s in range(SEQS):
        for c in range(CONVERSATIONS):
            a, b = client(c), server(c)
            frames.append(Ether() / IP(src=a, dst=b) / TCP(sport=30000 + c, dport=443, flags="S", seq=s)
                          / Raw(b"\0" * 6))
            frames[-1][IP].len = 40
            frames.append(Ether() / IP(src=b, dst=a) / UDP(sport=53, dport=30000 + c) / Raw(b"\xab" * 56))
    return frames


def write_frames(path, frames):
    """Frames 10 us apart, written whole or not at all."""
    for i, f in enumerate(frames):
        f.time = BASE_TIME + i * 1e-5
    wrpcap(path + ".tmp", frames)
    os.replace(path + ".tmp", path)


def write_small(outdir):
    rng = random.Random(42)
    paths = {}
    for name in SMALL:
        path = os.path.join(outdir, name + ".pcap")
        paths[name] = path
        if os.path.exists(path):
            continue
        write_frames(path, tcpudp_frames() if name == "tcpudp" else echo_frames(name, rng))
    return paths


FLOOD_SOURCES = 16384
FLOOD_DESCRIPTION = ("spoofed-source flood: %d echo requests with iputils data, each from a new "
                     "random source, to one victim (hping3 --flood --rand-source -1 -d 56)" % FLOOD_SOURCES)


FLOOD_PINGS_DESCRIPTION = ("Linux pings as ping98, 1,024 conversations x 8 sequence numbers: as many "
                           "frames as the flood (%d)" % FLOOD_SOURCES)


def write_flood_pings(outdir):
    """The flood's reference: ordinary pings (ping98's frames) in a capture
    of exactly as many frames as the flood's. net_pcap infinite_rx copies
    every frame out of the mbuf that holds it in the capture; with 4 times
    the frames, the flood's copies came from memory and the pings' from
    cache, and the copy alone made a quarter of the flood's time (perf).
    Equal captures leave the probe's work as the only difference."""
    path = os.path.join(outdir, "ping98-flood.pcap")
    if os.path.exists(path):
        return path
    write_frames(path, echo_frames("ping98", None, conversations=FLOOD_SOURCES // 16, seqs=8))
    return path


def write_flood(outdir):
    """One echo request per random source, all to one victim: replayed in a
    loop by net_pcap infinite_rx with a conversation cache of a quarter as
    many slots (8-way sets, least recently seen evicted: a cyclic replay of 4
    times the slots misses every time), every packet opens a new
    conversation and evicts one. Few frames, so that the capture held in
    mbufs stays near the ping capture's size: the comparison is of the
    probe's work, not of the replay's memory."""
    path = os.path.join(outdir, "flood98.pcap")
    if os.path.exists(path):
        return path
    rng = random.Random(13)
    tmpl = bytearray(bytes(Ether() / IP(src="10.0.0.1", dst="192.0.2.80") / ICMP(type=8, id=0, seq=0) /
                           Raw(iputils_data(0, 0))))
    rec = struct.Struct("<IIII")
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(FLOOD_SOURCES):
            tmpl[26:30] = rng.getrandbits(32).to_bytes(4, "big")
            tmpl[38:42] = struct.pack(">HH", rng.getrandbits(16), i & 0xFFFF)
            f.write(rec.pack(BASE_TIME + i // 100000, (i % 100000) * 10, len(tmpl), len(tmpl)))
            f.write(tmpl)
    os.replace(path + ".tmp", path)
    return path


def write_offline(outdir, packets, conversations=20000):
    """Linux pings, request and reply, `conversations` hosts pinging once a
    second each: `packets` frames in total (a multiple of 2 * conversations)."""
    rounds = max(1, packets // (2 * conversations))
    path = os.path.join(outdir, "offline-%dx%d.pcap" % (conversations, rounds))
    if os.path.exists(path):
        return path, rounds * conversations * 2
    # Templates from scapy; per packet only addresses, id, seq and the
    # timeval change (checksums are left as scapy computed them for the
    # template: neither probe verifies them).
    req_t = bytes(Ether() / IP(src="10.1.0.0", dst="172.16.0.1") / ICMP(type=8, id=0, seq=0) /
                  Raw(iputils_data(0, 0)))
    rep_t = bytes(Ether() / IP(src="172.16.0.1", dst="10.1.0.0") / ICMP(type=0, id=0, seq=0) /
                  Raw(iputils_data(0, 0)))
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        req, rep = bytearray(req_t), bytearray(rep_t)
        n = len(req)
        rec = struct.Struct("<IIII")
        for r in range(rounds):
            for c in range(conversations):
                us = (c * 1000000) // conversations
                t_sec, t_us = BASE_TIME + r, us
                host = bytes((10, 1 + (c >> 16), (c >> 8) & 255, c & 255))
                srv = bytes((172, 16, (c >> 8) & 255, 1 + (c & 127)))
                ident = struct.pack(">HH", 0x4000 + (c & 0x3FFF), r & 0xFFFF)
                tv = struct.pack("<qq", t_sec, t_us)
                req[26:30], req[30:34], req[38:42], req[42:58] = host, srv, ident, tv
                rep[26:30], rep[30:34], rep[38:42], rep[42:58] = srv, host, ident, tv
                f.write(rec.pack(t_sec, t_us, n, n))
                f.write(req)
                f.write(rec.pack(t_sec, min(t_us + 25, 999999), n, n))
                f.write(rep)
    os.replace(path + ".tmp", path)
    return path, rounds * conversations * 2


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    os.makedirs(out, exist_ok=True)
    for k, v in write_small(out).items():
        print(k, v)
    print("flood98", write_flood(out))
    print("ping98-flood", write_flood_pings(out))
    print(write_offline(out, int(sys.argv[2]) if len(sys.argv) > 2 else 3000000))
