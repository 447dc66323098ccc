#!/usr/bin/env python3
"""echoflow --pcap against a real nfcapd: the packets and octets nfdump
reports equal what tshark counts in the capture, echo conversations show
their request type, every flow lies inside the capture's time range, and the
probe's own counters add up."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


def captures_under_test():
    paths = [p for p, _, _ in harness.labelled_captures()]
    # The real tunnel others recorded, and the real pings among the corpus.
    for name in ("icmp-tunnel.pcap", "viber.pcap", "googledns_android10.pcap", "nintendo.pcap"):
        paths.append(os.path.join(harness.CORPUS, name))
    return paths


def echo_request_pairs(pcap):
    """(src, dst) of every echo request in the capture, as tshark sees them."""
    # First occurrences: the outer header, not a request quoted in an error.
    out = subprocess.run(["tshark", "-r", pcap, "-Y", "icmp.type == 8 || icmpv6.type == 128", "-T", "fields",
                          "-e", "icmp.type", "-e", "icmpv6.type", "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src",
                          "-e", "ipv6.dst", "-E", "occurrence=f"],
                         capture_output=True, text=True, check=True).stdout
    pairs = set()
    for line in out.splitlines():
        t4, t6, a, b, c, d = (line.split("\t") + [""] * 6)[:6]
        if t4 == "8":
            pairs.add((a, b))
        elif t6 == "128":
            pairs.add((c, d))
    return pairs


def same_address(nf, full):
    """nfdump abbreviates long IPv6 addresses ("fe80::a..9a:c361")."""
    if nf == full:
        return True
    if ".." in nf:
        head, tail = nf.split("..", 1)
        return full.startswith(head) and full.endswith(tail)
    return False


def many_conversations(path, count):
    """A capture of `count` echo conversations (request and reply), 1 ms apart."""
    from scapy.all import ICMP, IP, Ether, Raw, wrpcap  # python3-scapy
    frames = []
    for i in range(count):
        host = "10.%d.%d.%d" % (100 + i // 65536, (i // 256) % 256, i % 256)
        for reply in (False, True):
            ip = IP(src="192.0.2.1", dst=host) if reply else IP(src=host, dst="192.0.2.1")
            f = Ether() / ip / ICMP(type=0 if reply else 8, id=i % 65536, seq=1) / Raw(b"x" * 56)
            f.time = 1764128000 + i / 1000.0
            frames.append(f)
    wrpcap(path, frames)
    return path


class CollectorCounts(unittest.TestCase):
    def check_capture(self, pcap, extra_args=()):
        expected = harness.tshark_icmp_totals(pcap)
        with harness.nfcapd() as collector:
            # Every frame counts, as tshark counts it: viber.pcap holds a
            # router solicitation captured twice 28 us apart, which the
            # mirror deduplicator would drop.
            _, stats = harness.run_echoflow(["--pcap", pcap, "--collector", collector.address, "--quiet",
                                             "--dedup-window", "0"] + list(extra_args))
            flows = collector.flows()
        name = os.path.basename(pcap)
        self.assertEqual(sum(f["packets"] for f in flows), expected["packets"], name + ": packets at the collector")
        self.assertEqual(sum(f["bytes"] for f in flows), expected["octets"], name + ": octets at the collector")
        self.assertEqual(stats["icmp_packets"], expected["packets"], name)
        self.assertEqual(stats["rx_packets"],
                         stats["icmp_packets"] + stats["other_packets"] + stats["malformed_packets"], name)
        self.assertEqual(stats["records_exported"], len(flows), name + ": every record reached nfdump")
        self.assertEqual(stats["export_errors"], 0, name)
        # nfdump -N prints protocol numbers.
        self.assertTrue(all(f["proto"] in ("1", "58") for f in flows), name)
        # Every echo conversation's request direction is a flow of type 8/128.
        for src, dst in echo_request_pairs(pcap):
            self.assertTrue(any(f["type"] in (8, 128) and same_address(f["src"], src) and
                                same_address(f["dst"], dst) for f in flows),
                            "%s: no echo-request flow %s -> %s" % (name, src, dst))
        # nfdump keeps milliseconds: compare at that resolution.
        lo = int(expected["first"] * 1000) / 1000.0
        hi = int(expected["last"] * 1000) / 1000.0 + 0.001
        for f in flows:
            self.assertTrue(lo <= f["start"] <= f["end"] <= hi,
                            "%s: flow %s->%s [%f, %f] outside capture [%f, %f]" %
                            (name, f["src"], f["dst"], f["start"], f["end"], lo, hi))
        return flows

    @harness.needs_corpus
    def test_every_capture_counts_exactly_at_nfcapd(self):
        paths = captures_under_test()
        self.assertGreater(len(paths), 10, "the generated corpus is missing (tests/data/captures)")
        for pcap in paths:
            with self.subTest(capture=os.path.basename(pcap)):
                self.check_capture(pcap)

    def test_small_cache_evicts_but_loses_no_packet(self):
        # 8 conversations per lcore: the corpus' big captures overflow it.
        pcap = os.path.join(harness.SOURCE, "tests", "data", "demo.pcap")
        self.check_capture(pcap, ["--cache-size", "8"])

    def test_a_growing_cache_counts_exactly(self):
        """--pcap starts with 16,384 slots and doubles when a bucket fills:
        6,000 conversations make it grow, and the collector still sees every
        packet, every conversation, nothing evicted."""
        with tempfile.TemporaryDirectory(prefix="ef-grow-") as d:
            pcap = many_conversations(os.path.join(d, "many.pcap"), 6000)
            # Paced: exact at the collector whatever its socket buffer
            # (nfcapd -B is capped by net.core.rmem_max on the host).
            flows = self.check_capture(pcap, ["--export-rate", "20000"])
            _, stats = harness.run_echoflow(["--pcap", pcap, "--quiet"])
        self.assertGreater(stats["cache_doublings"], 0)
        self.assertGreater(stats["cache_slots"], 16384)
        self.assertEqual(stats["flows_evicted"], 0)
        self.assertEqual(stats["flows_created"], 6000)
        self.assertEqual(len(flows), 12000)  # uniflow: a request and a reply flow per conversation

    def test_export_rate_lets_a_small_collector_buffer_keep_up(self):
        """The end of a run exports every conversation at once; with
        --export-rate an nfcapd with a 64 KiB socket buffer (which drops more
        than half of that burst) still receives every record."""
        with tempfile.TemporaryDirectory(prefix="ef-rate-") as d:
            pcap = many_conversations(os.path.join(d, "many.pcap"), 3000)
            expected = harness.tshark_icmp_totals(pcap)
            with harness.nfcapd(buffer_bytes=65536) as collector:
                _, stats = harness.run_echoflow(["--pcap", pcap, "--collector", collector.address, "--quiet",
                                                 "--export-rate", "5000"])
                flows = collector.flows()
        self.assertEqual(stats["records_exported"], 6000)
        self.assertEqual(len(flows), 6000)
        self.assertEqual(sum(f["packets"] for f in flows), expected["packets"])
        self.assertEqual(sum(f["bytes"] for f in flows), expected["octets"])

    @harness.needs_corpus
    def test_short_timeouts_split_flows_but_keep_the_sums(self):
        pcap = os.path.join(harness.CORPUS, "icmp-tunnel.pcap")
        flows = self.check_capture(pcap, ["--idle-timeout", "1", "--active-timeout", "5"])
        self.assertGreater(len(flows), 4, "timeouts of 1 s/5 s must cut a 19-minute tunnel into slices")


if __name__ == "__main__":
    unittest.main(verbosity=2)
