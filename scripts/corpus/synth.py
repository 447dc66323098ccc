#!/usr/bin/python3
"""Scapy re-creations of ICMP traffic from tools Debian does not package.

  synth.py OUTDIR           write the captures, print one labels.tsv row each
  synth.py --verify OUTDIR  re-read them and check the wire format; exit 1 on
                            the first problem

Called by scripts/make-corpus. Each capture follows the wire format in
shared/reference/icmp-facts.md and the behaviour of the real tool: Ethernet
framing between a host and its gateway, both directions where the tool has
both, TTLs and IP-id/DF habits of the sending OS, replies that mirror their
request for real pings (RFC 792), realistic round-trip times and intervals.
Timestamps are written directly (no waiting); content comes from a seeded
PRNG, so reruns give the same bytes at new times.
"""
import hashlib
import os
import random
import struct
import sys
import time

from scapy.all import Ether, IP, ICMP, TCP, UDP, Raw, wrpcap, rdpcap  # noqa: E402

RNG = random.Random(20261126)

GW_MAC = "00:1b:21:3a:4f:01"      # the LAN's router (capture point: client side)
LAN_GW = "192.168.56.1"


def rbytes(n):
    return bytes(RNG.getrandbits(8) for _ in range(n))


class Host:
    """One end as seen on the capture link: addresses, TTL at the capture
    point, and the OS's IP-id / DF habits."""

    def __init__(self, ip, mac, ttl, df, ip_id="counter"):
        self.ip, self.mac, self.ttl, self.df = ip, mac, ttl, df
        self.ip_id_mode = ip_id
        self.next_id = RNG.randrange(1, 0xffff)

    def ip_id(self):
        if self.ip_id_mode == "random":
            return RNG.randrange(1, 0xffff)
        if self.ip_id_mode == "zero":
            return 0
        self.next_id = (self.next_id + 1) & 0xffff
        return self.next_id


class Capture:
    def __init__(self, name):
        self.name = name
        self.pkts = []

    def icmp(self, t, src, dst, itype, ident, seq, payload, code=0, src_mac=None, dst_mac=None):
        ip = IP(src=src.ip, dst=dst.ip, ttl=src.ttl, id=src.ip_id(),
                flags="DF" if src.df else 0)
        p = (Ether(src=src_mac or src.mac, dst=dst_mac or dst.mac) / ip /
             ICMP(type=itype, code=code, id=ident, seq=seq) / Raw(payload))
        raw = bytes(p)               # freeze lengths and checksums
        if (src_mac or src.mac) == GW_MAC and len(raw) < 60:
            # frames received from the gateway arrive padded to the
            # Ethernet minimum (the capture host's own frames do not)
            raw += bytes(60 - len(raw))
        p = Ether(raw)
        p.time = t
        self.pkts.append(p)
        return p

    def echo(self, t, a, b, ident, seq, payload, rtt):
        """A real ping: request, and a reply returning the same data."""
        self.icmp(t, a, b, 8, ident, seq, payload)
        self.icmp(t + rtt, b, a, 0, ident, seq, payload)

    def write(self, outdir):
        self.pkts.sort(key=lambda p: p.time)
        wrpcap(f"{outdir}/{self.name}", self.pkts, linktype=1)


def remote(ip, hops, os_ttl=64, df=False, ip_id="counter"):
    """A host beyond the gateway: frames carry the gateway's MAC."""
    return Host(ip, GW_MAC, os_ttl - hops, df, ip_id)


def rtt(base):
    return base * RNG.uniform(0.9, 1.3)


# ------------------------------------------------------------------ benign
def windows_ping(t0):
    """Windows 10 `ping` twice (default 4, then -n 10): 32 bytes a..w
    repeated, identifier 1, sequence counting across runs, TTL 128, no DF,
    IP id +1 per packet; the Linux gateway's replies mirror the data."""
    c = Capture("ping-windows.pcap")
    win = Host("192.168.56.20", "3c:52:82:4e:11:7a", 128, False)
    gw = Host(LAN_GW, GW_MAC, 64, False)
    data = b"abcdefghijklmnopqrstuvwabcdefghi"
    seq = 0x1c2
    t = t0
    for count in (4, 10):
        for _ in range(count):
            seq += 1
            c.echo(t, win, gw, 1, seq, data, rtt(0.0006))
            t += rtt(1.0) * 0.9 + 0.1
        t += 6.5
    return c, "benign", "Windows ping (scapy)", "Windows 10 ping: 32 bytes abcdefghijklmnopqrstuvwabcdefghi, id 1, TTL 128, replies mirrored"


def macos_ping(t0):
    """macOS/FreeBSD ping -c 12: id = pid, seq from 0, 56 bytes: 8-byte
    timeval (tv32, network order) then byte i = i from 0x08; random IP ids,
    no DF."""
    c = Capture("ping-macos.pcap")
    mac = Host("192.168.56.30", "a4:83:e7:12:9c:05", 64, False, "random")
    dst = remote("198.51.100.7", 7, 64)
    ident = 0x8c1f
    t = t0
    for seq in range(12):
        sec, usec = int(t), int((t % 1) * 1e6)
        payload = struct.pack("!II", sec, usec) + bytes(range(8, 56))
        c.echo(t, mac, dst, ident, seq, payload, rtt(0.018))
        t += 1.0 + RNG.uniform(0, 0.004)
    return c, "benign", "macOS ping (scapy)", "macOS/FreeBSD ping: 56 bytes, 8-byte timeval then counting from 0x08, id=pid"


def cisco_ping(t0):
    """Cisco IOS `ping` (5 x 100-byte datagrams, 72 bytes 0xABCD) and
    `ping ... size 1500 repeat 20`; next request as soon as the reply is in;
    TTL 255, IP id +1, identifier +1 per command, seq from 0."""
    c = Capture("ping-cisco-ios.pcap")
    rtr = Host("192.168.56.254", "00:1e:7a:c4:5b:40", 255, False)
    gw = Host(LAN_GW, GW_MAC, 64, False)
    t = t0
    ident = 0x0007
    for size, count in ((100, 5), (1500, 20)):
        payload = (b"\xab\xcd" * 800)[:size - 28]
        for seq in range(count):
            r = rtt(0.001)
            c.echo(t, rtr, gw, ident, seq, payload, r)
            t += r + RNG.uniform(0.0003, 0.0012)
        ident += 1
        t += 4.2
    return c, "benign", "Cisco IOS ping (scapy)", "IOS ping: 72 bytes 0xABCD fill, then size 1500 repeat 20 (1472 bytes), TTL 255"


# ------------------------------------------------------------------ tunnels
def inner_tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", ip_id=0):
    return bytes(IP(src=src, dst=dst, ttl=64, id=ip_id, flags="DF") /
                 TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, window=502) /
                 Raw(payload))


def ssh_session(n, c_ip, s_ip):
    """An SSH-like exchange as raw IPv4 packets: (from_client, packet)."""
    out = []
    cs, ss = RNG.getrandbits(32), RNG.getrandbits(32)
    sp = RNG.randrange(40000, 60000)
    out.append((True, inner_tcp(c_ip, s_ip, sp, 22, cs, 0, "S")))
    out.append((False, inner_tcp(s_ip, c_ip, 22, sp, ss, cs + 1, "SA")))
    cs += 1
    ss += 1
    out.append((True, inner_tcp(c_ip, s_ip, sp, 22, cs, ss, "A")))
    out.append((False, inner_tcp(s_ip, c_ip, 22, sp, ss, cs, "PA", b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")))
    ss += 32
    out.append((True, inner_tcp(c_ip, s_ip, sp, 22, cs, ss, "PA", b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")))
    cs += 32
    for _ in range(n):
        if RNG.random() < 0.45:
            d = rbytes(RNG.choice((36, 52, 68, 100)))
            out.append((True, inner_tcp(c_ip, s_ip, sp, 22, cs, ss, "PA", d)))
            cs += len(d)
        else:
            d = rbytes(RNG.choice((36, 108, 612, 1024, 1348)))
            out.append((False, inner_tcp(s_ip, c_ip, 22, sp, ss, cs, "PA", d)))
            ss += len(d)
            out.append((True, inner_tcp(c_ip, s_ip, sp, 22, cs, ss, "A")))
    return out


def hans(t0):
    """hans: client echo requests start 'hanc', server echo replies 'hans',
    then a type byte (2 connection request, 3 challenge, 4 challenge
    response, 5 connection accept, 7 data, 8 poll); data is raw IPv4 from the
    tun device. Identifier and sequence stay constant; the client keeps 10
    polls outstanding and the server answers each poll with one reply
    (carrying data when it has some). Server kernel echo is disabled."""
    c = Capture("hans-style.pcap")
    cl = Host("192.168.56.40", "f0:de:f1:33:21:9a", 64, True)
    sv = remote("203.0.113.50", 11, 64, False)
    ident, seq = 0x5a7e, 0x0001
    req = lambda t, typ, data=b"": c.icmp(t, cl, sv, 8, ident, seq, b"hanc" + bytes([typ]) + data)
    rep = lambda t, typ, data=b"": c.icmp(t, sv, cl, 0, ident, seq, b"hans" + bytes([typ]) + data)
    t = t0
    r = 0.041
    req(t, 2, bytes([10]) + bytes([10, 1, 2, 100]))          # maxPolls, desired ip
    rep(t + rtt(r), 3, rbytes(32))                            # challenge
    t += rtt(r) + 0.002
    req(t, 4, hashlib.sha1(b"passphrase" + rbytes(32)).digest())
    rep(t + rtt(r), 5, bytes([10, 1, 2, 100]))                 # accept: tunnel ip
    t += rtt(r) + 0.001
    polls = 0
    for _ in range(10):                                       # prime the polls
        req(t, 8)
        polls += 1
        t += 0.0002
    for from_client, pkt in ssh_session(70, "10.1.2.100", "10.1.2.1"):
        t += RNG.uniform(0.005, 0.09)
        if from_client:
            req(t, 7, pkt)
        else:
            if polls == 0:
                req(t, 8)
                polls += 1
            rep(t + rtt(r) / 2, 7, pkt)
            polls -= 1
            t += 0.001
            req(t + rtt(r) / 2, 8)                             # replace the used poll
            polls += 1
    # idle: the server answers polls with empty polls when they time out
    for _ in range(6):
        t += 1.0
        rep(t, 8)
        req(t + rtt(r) / 2, 8)
    return c, "tunnel", "hans (scapy)", "hans-style IP-over-ICMP: hanc/hans + type byte, raw IPv4 (SSH) inside, constant id/seq, server answers polls"


def icmptunnel(t0):
    """icmptunnel (DhavalKapil): the payload is a whole IPv4 packet from the
    tun device; a random identifier per packet; the server sends echo replies
    whenever it has data (unsolicited), the client echo requests likewise."""
    c = Capture("icmptunnel-style.pcap")
    cl = Host("192.168.56.41", "f0:de:f1:33:21:9b", 64, False)
    sv = remote("203.0.113.60", 9, 64, False)
    t = t0
    cip, web = "10.0.1.2", "93.184.216.34"
    cs, ss = RNG.getrandbits(32), RNG.getrandbits(32)
    sp = RNG.randrange(40000, 60000)

    def up(t, pkt):
        c.icmp(t, cl, sv, 8, RNG.getrandbits(16), 0, pkt)

    def down(t, pkt):
        c.icmp(t, sv, cl, 0, RNG.getrandbits(16), 0, pkt)

    r = 0.03
    up(t, inner_tcp(cip, web, sp, 443, cs, 0, "S"))
    down(t + rtt(r) * 2, inner_tcp(web, cip, 443, sp, ss, cs + 1, "SA"))
    cs += 1
    ss += 1
    t += 2 * r + 0.001
    up(t, inner_tcp(cip, web, sp, 443, cs, ss, "A"))
    hello = rbytes(517)
    up(t + 0.0005, inner_tcp(cip, web, sp, 443, cs, ss, "PA", hello))
    cs += len(hello)
    t += 2 * r
    for _ in range(60):                         # a download: server pushes
        seg = rbytes(RNG.choice((1380, 1380, 1380, 940, 1380)))
        down(t, inner_tcp(web, cip, 443, sp, ss, cs, "A", seg))
        ss += len(seg)
        t += RNG.uniform(0.0008, 0.004)
        if RNG.random() < 0.5:
            up(t, inner_tcp(cip, web, sp, 443, cs, ss, "A"))
    # a DNS lookup through the tunnel too
    q = bytes(IP(src=cip, dst="9.9.9.9", ttl=64) / UDP(sport=53535, dport=53) / Raw(rbytes(33)))
    up(t + 0.5, q)
    down(t + 0.5 + rtt(r) * 2, bytes(IP(src="9.9.9.9", dst=cip, ttl=57) / UDP(sport=53, dport=53535) / Raw(rbytes(49))))
    return c, "tunnel", "icmptunnel (scapy)", "icmptunnel-style: whole IPv4 packets (HTTPS download, DNS) in the payload, random id per packet, unsolicited replies"


def icmpsh(t0):
    """icmpsh: the slave (Windows victim) polls the master with echo
    requests every 200 ms carrying shell output (up to 64 bytes); the master
    answers each with an echo reply carrying the next command, or nothing.
    Replies therefore differ from their requests."""
    c = Capture("icmpsh-style.pcap")
    victim = Host("192.168.56.21", "3c:52:82:4e:11:7b", 128, False)
    master = remote("198.51.100.66", 8, 64, False)
    banner = (b"Microsoft Windows [Version 10.0.19045.3803]\r\n(c) Microsoft Corporation. "
              b"All rights reserved.\r\n\r\nC:\\Users\\alice\\Downloads>")
    script = [
        (b"whoami\n", b"whoami\r\ncorp\\alice\r\n\r\nC:\\Users\\alice\\Downloads>"),
        (b"hostname\n", b"hostname\r\nWS-FIN-0231\r\n\r\nC:\\Users\\alice\\Downloads>"),
        (b"ipconfig\n", b"ipconfig\r\n\r\nWindows IP Configuration\r\n\r\n\r\nEthernet adapter Ethernet0:\r\n\r\n"
         b"   Connection-specific DNS Suffix  . : corp.example\r\n   IPv4 Address. . . . . . . . . . . : 192.168.56.21\r\n"
         b"   Subnet Mask . . . . . . . . . . . : 255.255.255.0\r\n   Default Gateway . . . . . . . . . : 192.168.56.1\r\n"
         b"\r\nC:\\Users\\alice\\Downloads>"),
        (b"dir C:\\Users\\alice\\Documents\n", b"dir C:\\Users\\alice\\Documents\r\n Volume in drive C has no label.\r\n"
         b" Directory of C:\\Users\\alice\\Documents\r\n\r\n11/20/2026  09:14 AM    <DIR>          .\r\n"
         b"11/24/2026  04:51 PM            48,213 budget-2027.xlsx\r\n11/25/2026  10:02 AM            12,877 passwords.txt\r\n"
         b"               2 File(s)         61,090 bytes\r\n\r\nC:\\Users\\alice\\Downloads>"),
        (b"type C:\\Users\\alice\\Documents\\passwords.txt\n", b"type C:\\Users\\alice\\Documents\\passwords.txt\r\n"
         b"vpn: alice / Winter2026!\r\nmail: alice@corp.example / Sommer#88\r\nfileserver admin: svc_bkp / Bkp-2026-xx\r\n"
         b"\r\nC:\\Users\\alice\\Downloads>"),
    ]
    ident, seq = 1, 0x2a0
    t = t0
    pending_out = [banner[i:i + 64] for i in range(0, len(banner), 64)]
    commands = list(script)
    idle_before_cmd = 6
    r = 0.028
    while True:
        seq += 1
        out = pending_out.pop(0) if pending_out else b""
        c.icmp(t, victim, master, 8, ident, seq, out)
        cmd = b""
        if not pending_out and commands:
            idle_before_cmd -= 1
            if idle_before_cmd == 0:
                cmd, reply_text = commands.pop(0)
                pending_out = [reply_text[i:i + 64] for i in range(0, len(reply_text), 64)]
                idle_before_cmd = RNG.randrange(8, 20)
        c.icmp(t + rtt(r), master, victim, 0, ident, seq, cmd)
        t += 0.2 + RNG.uniform(0, 0.016)
        if not commands and not pending_out:
            idle_before_cmd -= 1
            if idle_before_cmd < -10:
                break
    return c, "tunnel", "icmpsh (scapy)", "icmpsh-style reverse shell: Windows slave polls every 200 ms, commands in echo replies, output text in requests"


def pb_varint(v):
    out = bytearray()
    v &= (1 << 64) - 1
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_field(num, value):
    if isinstance(value, int):
        return pb_varint(num << 3) + pb_varint(value)
    return pb_varint((num << 3) | 2) + pb_varint(len(value)) + value


def pingtunnel_msg(sess, mtype, target, data, rproto, tcp_frame_id=0):
    """A protobuf message in the shape of pingtunnel's MyMsg (id, type,
    target, data, rproto, magic, key, timeout, tcpmode...); in tcp mode the
    data is itself a frame (id, type, data). Field values are approximated."""
    inner = b""
    if data:
        inner = pb_field(1, tcp_frame_id) + pb_field(2, 0) + pb_field(3, data)
    return (pb_field(1, sess) + pb_field(2, mtype) + pb_field(3, target) +
            (pb_field(4, inner) if inner else b"") + pb_field(5, rproto) +
            pb_field(6, 0xdead) + pb_field(7, 0) + pb_field(8, 60) +
            pb_field(9, 1) + pb_field(10, 1 << 20) + pb_field(11, 20000) +
            pb_field(12, 400))


def pingtunnel(t0):
    """pingtunnel (tcp mode): ~900-byte protobuf frames carrying a proxied
    TCP stream in echo requests and replies, plus a keep-alive ping message
    every second in each direction."""
    c = Capture("pingtunnel-style.pcap")
    cl = Host("192.168.56.42", "f0:de:f1:33:21:9c", 64, True)
    sv = remote("203.0.113.70", 10, 64, False)
    sess = ("%08x-%04x-%04x-%04x-%012x" % (RNG.getrandbits(32), RNG.getrandbits(16),
            RNG.getrandbits(16), RNG.getrandbits(16), RNG.getrandbits(48))).encode()
    target = b"10.8.0.1:22"
    ident = RNG.getrandbits(16)
    cseq, sseq, fid = 0, 0, 0
    t = t0
    next_keepalive = t0
    r = 0.035
    for _ in range(110):
        if t >= next_keepalive:
            cseq += 1
            c.icmp(t, cl, sv, 8, ident, cseq, pingtunnel_msg(sess, 1, target, b"", 8))
            sseq += 1
            c.icmp(t + rtt(r), sv, cl, 0, ident, sseq, pingtunnel_msg(sess, 1, target, b"", 8))
            next_keepalive = t + 1.0
        fid += 1
        if RNG.random() < 0.35:
            cseq += 1
            c.icmp(t, cl, sv, 8, ident, cseq,
                   pingtunnel_msg(sess, 0, target, rbytes(RNG.choice((48, 96, 790))), 8, fid))
        else:
            sseq += 1
            c.icmp(t + rtt(r) / 2, sv, cl, 0, ident, sseq,
                   pingtunnel_msg(sess, 0, target, rbytes(RNG.choice((790, 790, 790, 312))), 8, fid))
        t += RNG.uniform(0.004, 0.06)
    return c, "tunnel", "pingtunnel (scapy)", "pingtunnel-style: protobuf frames (~900 bytes) carrying a TCP stream, keep-alives every second"


def slow_exfil(t0):
    """Slow exfiltration that mimics a Linux ping: 56-byte echo requests,
    one every ~2 s, a genuine 16-byte timeval but 40 bytes of ciphertext
    where iputils puts its counting fill; the remote kernel echoes each one
    (so request/reply pairing looks normal)."""
    c = Capture("slow-exfil-56.pcap")
    src = Host("192.168.56.43", "f0:de:f1:33:21:9d", 64, True)
    dst = remote("198.51.100.90", 12, 64, False)
    ident = RNG.getrandbits(16)
    secret = rbytes(40 * 90)
    t = t0
    for seq in range(1, 91):
        sec, usec = int(t), int((t % 1) * 1e6)
        payload = struct.pack("<QQ", sec, usec) + secret[(seq - 1) * 40:seq * 40]
        c.echo(t, src, dst, ident, seq, payload, rtt(0.024))
        t += 2.0 + RNG.uniform(-0.3, 0.3)
    return c, "tunnel", "slow exfiltration (scapy)", "56-byte pings every ~2 s for 3 min: timeval + 40 bytes of ciphertext each, replies mirrored"


# ------------------------------------------------- text at ordinary sizes
# Own PRNG: adding these leaves the bytes of the captures above unchanged.
TRNG = random.Random(20261207)
SECRET_TEXT = (b"# HR export 2026-11\nname,iban,salary\n" +
               b"".join(b"employee%03d,DE%020d,%d\n" % (i, TRNG.getrandbits(64), 40000 + 250 * i) for i in range(240)))


def b64_chunks(size, text=SECRET_TEXT):
    import base64
    enc = base64.b64encode(text)
    return [enc[i:i + size].ljust(size, b"=") for i in range(0, len(enc), size)]


def text_exfil_1s(t0):
    """A script base64-encodes a file into default-size (56-byte) echo
    requests, one a second, one ping id; the remote kernel mirrors each."""
    c = Capture("text-exfil-b64-1s.pcap")
    src = Host("192.168.56.51", "f0:de:f1:33:21:a1", 64, True)
    dst = remote("203.0.113.50", 10, 64, False)
    ident, t = TRNG.getrandbits(16), t0
    for seq, chunk in enumerate(b64_chunks(56)[:40], 1):
        c.echo(t, src, dst, ident, seq, chunk, rtt(0.03))
        t += 1.0 + TRNG.uniform(-0.05, 0.05)
    return c, "tunnel", "base64 exfil (scapy)", "a file base64-encoded into 56-byte echo requests at 1/s, one id, replies mirrored"


def text_exfil_1min(t0):
    """The same at one packet a minute over a simulated hour: each packet
    its own conversation (fresh id; the probe's idle timeout ends each)."""
    c = Capture("text-exfil-b64-1min.pcap")
    src = Host("192.168.56.52", "f0:de:f1:33:21:a2", 64, True)
    dst = remote("203.0.113.51", 10, 64, False)
    t = t0
    for chunk in b64_chunks(56)[:60]:
        c.echo(t, src, dst, TRNG.getrandbits(16), 1, chunk, rtt(0.03))
        t += 60.0 + TRNG.uniform(-2, 2)
    return c, "tunnel", "base64 exfil (scapy)", "a file base64-encoded into 56-byte pings at 1/min for an hour, a fresh id each (one conversation per packet)"


def text_exfil_many_peers(t0):
    """One sender spreads base64 chunks over 8 peers, one 56-byte ping every
    10 s, a fresh id each: no pair and no conversation holds much; only the
    sender's budget does (and only if every worker's share is summed)."""
    c = Capture("text-exfil-b64-many-peers.pcap")
    src = Host("192.168.56.53", "f0:de:f1:33:21:a3", 64, True)
    peers = [remote("203.0.113.%d" % (60 + k), 10, 64, False) for k in range(8)]
    t = t0
    for i, chunk in enumerate(b64_chunks(56)[:110]):
        c.echo(t, src, peers[i % 8], TRNG.getrandbits(16), 1, chunk, rtt(0.03))
        t += 10.0 + TRNG.uniform(-0.5, 0.5)
    return c, "tunnel", "base64 exfil (scapy)", "base64 chunks in 56-byte pings to 8 peers, 1 per 10 s, fresh id each: only the sender's hourly budget sees it"


def hex_exfil_windows(t0):
    """Hex-encoded data in Windows-size (32-byte) echo requests, one a
    second, from a Windows host (TTL 128); replies mirrored."""
    c = Capture("text-exfil-hex-32.pcap")
    src = Host("192.168.56.54", "3c:52:82:4e:11:a4", 128, False)
    dst = remote("203.0.113.52", 9, 64, False)
    enc = SECRET_TEXT.hex().encode()
    for seq in range(1, 21):
        c.echo(t0 + seq, src, dst, 1, seq, enc[(seq - 1) * 32:seq * 32], rtt(0.03))
    return c, "tunnel", "hex exfil (scapy)", "hex-encoded file in 32-byte (Windows default size) echo requests at 1/s, replies mirrored"


def c2_poll(t0):
    """A polling C2 implant: empty echo requests every second; the server's
    echo replies are empty too except when they carry a short command;
    the implant sends the output in its next requests (<= 48 bytes each)."""
    c = Capture("c2-poll-shell.pcap")
    implant = Host("192.168.56.55", "f0:de:f1:33:21:a5", 64, True)
    server = remote("198.51.100.77", 11, 64, False)
    plan = {3: (b"id", b"uid=33(www-data) gid=33(www-data) groups=33(www-data)\n"),
            9: (b"uname -a", b"Linux web01 6.1.0-26-amd64 #1 SMP Debian 6.1.112-1 x86_64 GNU/Linux\n"),
            16: (b"cat /etc/hostname", b"web01\n")}
    ident, t, out = TRNG.getrandbits(16), t0, []
    for seq in range(1, 31):
        data = out.pop(0) if out else b""
        c.icmp(t, implant, server, 8, ident, seq, data)
        cmd = b""
        if seq in plan:
            cmd, result = plan[seq]
            out = [result[i:i + 48] for i in range(0, len(result), 48)]
        c.icmp(t + rtt(0.04), server, implant, 0, ident, seq, cmd)
        t += 1.0
    return c, "tunnel", "polling C2 (scapy)", "implant polls with empty requests at 1/s; commands in a few replies, output in the next requests"


def monitor_constant_text(t0):
    """A monitoring check: one echo a minute for an hour, a fresh id each,
    always the same 36-byte text; replies mirrored. Constant content moves
    no data: no budget may count it more than once."""
    c = Capture("monitor-text-1min.pcap")
    src = Host("192.168.56.56", "f0:de:f1:33:21:a6", 64, True)
    dst = remote("203.0.113.53", 6, 64, False)
    payload = b"uptime-probe v2 check=icmp site=fra1"
    t = t0
    for _ in range(60):
        c.echo(t, src, dst, TRNG.getrandbits(16), 0, payload, rtt(0.02))
        t += 60.0
    return c, "benign", "monitoring check (scapy)", "one 36-byte constant-text ping a minute for an hour, fresh id each, replies mirrored"


TEXT_GENERATORS = [text_exfil_1s, text_exfil_1min, text_exfil_many_peers, hex_exfil_windows, c2_poll,
                   monitor_constant_text]
GENERATORS = [windows_ping, macos_ping, cisco_ping, hans, icmptunnel, icmpsh, pingtunnel, slow_exfil] + TEXT_GENERATORS


# ------------------------------------------------------------------ verify
def check(cond, msg):
    if not cond:
        print("synth verify: " + msg, file=sys.stderr)
        sys.exit(1)


def echo_pairs(pkts):
    reqs = {}
    mirrored = total = 0
    for p in pkts:
        i = p[ICMP]
        if i.type == 8:
            reqs[(i.id, i.seq)] = bytes(i.payload)
        elif i.type == 0:
            total += 1
            mirrored += reqs.get((i.id, i.seq)) == bytes(i.payload)
    return mirrored, total


def verify(outdir):
    get = lambda n: [p for p in rdpcap(f"{outdir}/{n}") if ICMP in p]
    pl = lambda p: bytes(p[ICMP].payload)
    for name in ("ping-windows.pcap", "ping-macos.pcap", "ping-cisco-ios.pcap", "slow-exfil-56.pcap"):
        m, tot = echo_pairs(get(name))
        check(tot > 0 and m == tot, f"{name}: {m}/{tot} replies mirror their request")
    w = get("ping-windows.pcap")
    check(all(pl(p) == b"abcdefghijklmnopqrstuvwabcdefghi" for p in w), "windows payload")
    check(all(p[IP].ttl == 128 for p in w if p[ICMP].type == 8), "windows TTL")
    m = get("ping-macos.pcap")
    check(all(len(pl(p)) == 56 and pl(p)[8:] == bytes(range(8, 56)) for p in m), "macOS fill")
    cs = get("ping-cisco-ios.pcap")
    check(all(set(pl(p)) == {0xab, 0xcd} for p in cs), "cisco fill")
    check({len(pl(p)) for p in cs} == {72, 1472}, "cisco sizes")
    h = get("hans-style.pcap")
    check(all(pl(p)[:4] == (b"hanc" if p[ICMP].type == 8 else b"hans") for p in h), "hans magic")
    check(len({(p[ICMP].id, p[ICMP].seq) for p in h}) == 1, "hans constant id/seq")
    data = [pl(p)[5:] for p in h if pl(p)[4] == 7]
    check(len(data) > 50 and all(IP(d).version == 4 and IP(d).len == len(d) for d in data), "hans raw IPv4")
    it = get("icmptunnel-style.pcap")
    check(all(IP(pl(p)).len == len(pl(p)) for p in it), "icmptunnel IPv4 in payload")
    check(len({p[ICMP].id for p in it}) > len(it) * 0.9, "icmptunnel random ids")
    sh = get("icmpsh-style.pcap")
    check(any(b"whoami" in pl(p) for p in sh if p[ICMP].type == 0), "icmpsh command in reply")
    check(any(b"corp\\alice" in pl(p) for p in sh if p[ICMP].type == 8), "icmpsh output in request")
    m, tot = echo_pairs(sh)
    check(m < tot, "icmpsh replies differ")
    pt = get("pingtunnel-style.pcap")
    check(sum(800 < len(pl(p)) < 1000 for p in pt) > 40, "pingtunnel ~900-byte frames")
    check(sum(len(pl(p)) < 150 for p in pt) > 5, "pingtunnel keep-alives")
    ex = get("slow-exfil-56.pcap")
    check(all(len(pl(p)) == 56 for p in ex), "exfil size")
    span = float(ex[-1].time - ex[0].time)
    check(span > 150 and len(ex) == 180, f"exfil pacing ({span:.0f} s, {len(ex)} packets)")
    for name in ("text-exfil-b64-1s.pcap", "text-exfil-b64-1min.pcap", "text-exfil-b64-many-peers.pcap"):
        reqs = [pl(p) for p in get(name) if p[ICMP].type == 8]
        check(all(len(r) == 56 for r in reqs) and len(set(reqs)) == len(reqs), f"{name}: distinct 56-byte requests")
        alphabet = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
        check(all(set(r) <= alphabet for r in reqs), f"{name}: base64 alphabet")
    m1 = get("text-exfil-b64-1min.pcap")
    check(float(m1[-1].time - m1[0].time) > 3500, "1/min exfil spans an hour")
    hx = [pl(p) for p in get("text-exfil-hex-32.pcap") if p[ICMP].type == 8]
    check(all(len(r) == 32 and bytes.fromhex(r.decode()) for r in hx), "hex exfil: 32 hex digits")
    c2 = get("c2-poll-shell.pcap")
    check(sum(1 for p in c2 if p[ICMP].type == 8 and not pl(p)) > 20, "c2: empty polls")
    mon = [pl(p) for p in get("monitor-text-1min.pcap")]
    check(len(set(mon)) == 1 and len(mon) == 120, "monitor: one constant payload")


def main(argv):
    if len(argv) == 3 and argv[1] == "--verify":
        verify(argv[2])
        return 0
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    outdir = argv[1]
    t0 = float(int(time.time()))
    # SYNTH_ONLY=name,name: write only those generators (adding captures
    # to a corpus without re-timing the others).
    only = [n for n in os.environ.get("SYNTH_ONLY", "").split(",") if n]
    for i, gen in enumerate(GENERATORS):
        if only and gen.__name__ not in only:
            continue
        cap, label, tool, desc = gen(t0 + 60.0 * i + RNG.uniform(0, 1))
        cap.write(outdir)
        print(f"{cap.name}\t{label}\t{tool}\t{desc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
