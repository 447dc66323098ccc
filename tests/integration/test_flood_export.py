#!/usr/bin/env python3
"""A spoofed-source ICMP flood through echoflow --pcap into a real nfcapd:
past --fold-above one-packet conversations a second, the rest are folded
into aggregate records, so the collector gets a bounded number of records
while every packet and octet still arrives in exactly one of them. Without
folding, every flood packet is a record of its own."""
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

FLOOD_V4 = 45000
FLOOD_V6 = 5000
PINGS = 100            # ordinary answered pings among the flood: never folded
START = 1764128000.75  # the flood spans two seconds of capture time
SPAN = 0.5
FOLD_ABOVE = 1000      # the defaults of --fold-above and --fold-entries
FOLD_ENTRIES = 1024


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF


def flood_capture(path):
    """hping3 --flood --rand-source style frames: echo requests from random
    IPv4 and IPv6 sources to one victim each, 10 us apart, random sizes;
    with PINGS answered pings from real hosts among them. Written directly
    (scapy takes minutes for this many frames). Returns (packets, octets,
    conversations) as written."""
    rng = random.Random(13)
    victim4 = bytes([192, 0, 2, 1])
    victim6 = bytes.fromhex("20010db8000000000000000000000001")
    frames = []  # (time, frame)

    def v4(src, dst, icmp_type, ident, data):
        icmp = struct.pack("!BBHHH", icmp_type, 0, 0, ident, 1) + data
        icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0, 0, 64, 1, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + icmp, len(ip) + len(icmp)

    def v6(src, dst, ident, data):
        icmp = struct.pack("!BBHHH", 128, 0, 0, ident, 1) + data
        pseudo = src + dst + struct.pack("!I3xB", len(icmp), 58)
        icmp = icmp[:2] + struct.pack("!H", checksum(pseudo + icmp)) + icmp[4:]
        ip = struct.pack("!IHBB16s16s", 0x60000000, len(icmp), 58, 64, src, dst)
        return b"\x02" * 6 + b"\x04" * 6 + b"\x86\xdd" + ip + icmp, len(ip) + len(icmp)

    total = FLOOD_V4 + FLOOD_V6
    packets = octets = 0
    for i in range(total):
        t = START + SPAN * i / total
        data = b"\0" * rng.randrange(0, 64)
        if i % 10 == 9:
            frame, n = v6(bytes([0x20, 0x01, 0x0d, 0xb9]) + rng.randbytes(12), victim6, rng.randrange(65536), data)
        else:
            src = rng.randbytes(4)
            while src[:3] == bytes([198, 51, 100]):  # the answered pings' /24
                src = rng.randbytes(4)
            frame, n = v4(src, victim4, 8, rng.randrange(65536), data)
        frames.append((t, frame))
        packets += 1
        octets += n
    for i in range(PINGS):
        host = bytes([198, 51, 100, 10 + i])
        t = START + SPAN * i / PINGS
        for reply in (0, 1):
            src, dst = (victim4, host) if reply else (host, victim4)
            frame, n = v4(src, dst, 0 if reply else 8, 7000 + i, b"x" * 56)
            frames.append((t + reply * 0.0002, frame))
            packets += 1
            octets += n
    frames.sort(key=lambda f: f[0])
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # pcap, Ethernet
        for t, frame in frames:
            usec = round(t * 1e6)
            f.write(struct.pack("<IIII", usec // 1000000, usec % 1000000, len(frame), len(frame)))
            f.write(frame)
    return packets, octets, total + PINGS


def nfdump_records(collector):
    """Every record nfdump reads: packets, bytes, flows (IE 3), source and
    destination masks (IEs 9/13, 29/30) and addresses."""
    collector.stop()
    out = subprocess.run(["nfdump", "-R", collector.dir, "-q", "-N", "-o",
                          "fmt:%pkt|%byt|%fl|%smk|%dmk|%sa|%da"],
                         capture_output=True, text=True, check=True).stdout
    records = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 7:
            continue
        records.append(dict(packets=int(parts[0]), bytes=int(parts[1]), flows=int(parts[2]), smk=int(parts[3]),
                            dmk=int(parts[4]), src=parts[5], dst=parts[6]))
    return records


class FloodExport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="ef-flood-")
        cls.pcap = os.path.join(cls.dir.name, "flood.pcap")
        cls.packets, cls.octets, cls.conversations = flood_capture(cls.pcap)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def run_into_nfcapd(self, extra):
        with harness.nfcapd() as collector:
            # --cache-size 4096: the flood evicts conversations as it goes
            # (flowEndReason 5), as it would on a wire.
            _, stats = harness.run_echoflow(["--pcap", self.pcap, "--collector", collector.address, "--quiet",
                                             "--cache-size", "4096"] + extra)
            records = nfdump_records(collector)
        return stats, records

    def test_folded_flood_is_exact_and_bounded_at_the_collector(self):
        log = os.path.join(self.dir.name, "conversations.jsonl")
        stats, records = self.run_into_nfcapd(["--conversations", log])
        self.assertEqual(sum(r["packets"] for r in records), self.packets, "packets at the collector")
        self.assertEqual(sum(r["bytes"] for r in records), self.octets, "octets at the collector")
        self.assertEqual(stats["icmp_packets"], self.packets)
        self.assertEqual(stats["records_exported"], len(records), "every record reached nfdump")
        # Every conversation is in one record: its own, or an aggregate's
        # flow count (nfdump's "flows" is deltaFlowCount, 1 for a record
        # without it: an answered ping is two uniflow records).
        self.assertEqual(sum(r["flows"] for r in records), self.conversations + PINGS,
                         "flows (deltaFlowCount) at nfdump")
        # The bound: per second of the worker's clock at most --fold-above
        # singles, --fold-entries aggregates and two catch-alls; the flood's
        # conversations end in the two seconds it spans (and at its end).
        seconds = 2
        bound = seconds * (FOLD_ABOVE + FOLD_ENTRIES + 2) + 2 * PINGS
        self.assertLessEqual(len(records), bound)
        self.assertLess(len(records), self.packets / 10)
        # nfdump shows the prefix lengths as masks: an aggregate has a
        # destination mask (a catch-all: unspecified addresses), a record
        # of one conversation neither mask.
        aggregates = [r for r in records if r["dmk"] != 0 or r["src"] in ("0.0.0.0", "::")]
        self.assertGreater(len(aggregates), 0)
        self.assertEqual(len(aggregates), stats["aggregate_records"])
        self.assertEqual(sum(r["flows"] for r in aggregates), stats["singletons_folded"])
        # Aggregates name their source prefix: /24 (IPv4) and /64 (IPv6)
        # sources, 0 once the table's prefix share was full (the victim's
        # own entry); destinations whole.
        self.assertTrue({r["smk"] for r in aggregates} <= {0, 24, 64}, {r["smk"] for r in aggregates})
        self.assertIn(24, {r["smk"] for r in aggregates})
        self.assertIn(64, {r["smk"] for r in aggregates})
        self.assertTrue({r["dmk"] for r in aggregates} <= {32, 128}, {r["dmk"] for r in aggregates})
        victim = [r for r in aggregates if r["smk"] == 0 and r["dst"] == "192.0.2.1"]
        self.assertGreater(sum(r["flows"] for r in victim), FLOOD_V4 // 2, "most of the flood in the victim's entry")
        # The answered pings are conversations of two packets: never folded.
        pings = [r for r in records if r["src"].startswith("198.51.100.") or r["dst"].startswith("198.51.100.")]
        self.assertEqual(len(pings), 2 * PINGS)
        # The conversation log says what an aggregate is.
        with open(log) as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual(len(lines), stats["flows_exported"])  # one line per conversation record
        logged = [c for c in lines if c["aggregate"] is not None]
        self.assertEqual(len(logged), len(aggregates))
        self.assertEqual(sum(c["aggregate"]["flows"] for c in logged), stats["singletons_folded"])
        self.assertEqual(sum(c["packets"] for c in lines), self.packets)

    def test_tshark_reads_the_aggregates_without_warnings(self):
        """The aggregate templates (262/263) as Wireshark's IPFIX dissector
        reads them: no malformed or warning expert info, the flows
        (deltaFlowCount) and source masks (IEs 9, 29) of every record."""
        from test_export_decode import Receiver, decode  # noqa: E402
        rx = Receiver()
        try:
            _, stats = harness.run_echoflow(["--pcap", self.pcap, "--collector", "127.0.0.1:%d" % rx.port,
                                             "--quiet", "--cache-size", "4096"])
        finally:
            rx.stop()
        port = 4739
        pcap = os.path.join(self.dir.name, "export.pcap")
        from scapy.all import IP, UDP, Ether, wrpcap  # python3-scapy
        wrpcap(pcap, [Ether() / IP(src="127.0.0.1", dst="127.0.0.1") / UDP(sport=40000, dport=port) / dg
                      for dg in rx.datagrams])
        decode_as = ["-d", "udp.port==%d,cflow" % port]
        out = subprocess.run(["tshark", "-r", pcap] + decode_as + ["-V"], capture_output=True, text=True,
                             check=True).stdout
        self.assertNotIn("Malformed", out)
        self.assertNotIn("[Expert Info (Warning", out)
        self.assertNotIn("[Expert Info (Error", out)
        fields = subprocess.run(["tshark", "-r", pcap] + decode_as +
                                ["-T", "fields", "-e", "cflow.packets", "-E", "aggregator=,"],
                                capture_output=True, text=True, check=True).stdout
        packets = [int(x) for line in fields.split() for x in line.split(",") if x]
        self.assertEqual(sum(packets), self.packets)
        self.assertEqual(len(packets), stats["records_exported"])
        # The aggregates by template, read by the independent decoder.
        _, records, _ = decode(rx.datagrams)
        aggregates = records.get(262, []) + records.get(263, [])
        self.assertEqual(len(aggregates), stats["aggregate_records"])
        value = lambda r, ie: int.from_bytes(r[(ie, None)], "big")  # noqa: E731
        self.assertEqual(sum(value(r, 3) for r in aggregates), stats["singletons_folded"])  # deltaFlowCount
        self.assertIn(24, {value(r, 9) for r in records.get(262, [])})   # sourceIPv4PrefixLength
        self.assertIn(64, {value(r, 29) for r in records.get(263, [])})  # sourceIPv6PrefixLength
        self.assertIn("SrcMask: 24", out)  # Wireshark names IEs 9/29 SrcMask

    def test_without_folding_every_flood_packet_is_a_record(self):
        stats, records = self.run_into_nfcapd(["--fold-above", "0"])
        self.assertEqual(len(records), self.packets)
        self.assertEqual(sum(r["packets"] for r in records), self.packets)
        self.assertEqual(sum(r["bytes"] for r in records), self.octets)
        self.assertEqual(stats["singletons_folded"], 0)
        self.assertEqual(stats["aggregate_records"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
