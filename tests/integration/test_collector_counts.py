#!/usr/bin/env python3
"""echoflow --pcap against a real nfcapd: the packets and octets nfdump
reports equal what tshark counts in the capture, echo conversations show
their request type, every flow lies inside the capture's time range, and the
probe's own counters add up."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


def captures_under_test():
    paths = [p for p, _, _ in harness.labelled_captures()]
    # The real tunnel others recorded, and the real pings among the corpus.
    for name in ("icmp-tunnel.pcap", "viber.pcap", "googledns_android10.pcap", "nintendo.pcap"):
        paths.append(os.path.join(harness.CORPUS, name))
    return paths


def has_echo_requests(pcap):
    out = subprocess.run(["tshark", "-r", pcap, "-Y", "icmp.type == 8 || icmpv6.type == 128", "-T", "fields",
                          "-e", "frame.number"], capture_output=True, text=True, check=True).stdout
    return bool(out.strip())


class CollectorCounts(unittest.TestCase):
    def check_capture(self, pcap, extra_args=()):
        expected = harness.tshark_icmp_totals(pcap)
        with harness.nfcapd() as collector:
            _, stats = harness.run_echoflow(["--pcap", pcap, "--collector", collector.address, "--quiet"] +
                                            list(extra_args))
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
        if has_echo_requests(pcap):
            self.assertTrue(any(f["type"] in (8, 128) for f in flows), name + ": an echo flow shows type 8/128")
        # nfdump keeps milliseconds: compare at that resolution.
        lo = int(expected["first"] * 1000) / 1000.0
        hi = int(expected["last"] * 1000) / 1000.0 + 0.001
        for f in flows:
            self.assertTrue(lo <= f["start"] <= f["end"] <= hi,
                            "%s: flow %s->%s [%f, %f] outside capture [%f, %f]" %
                            (name, f["src"], f["dst"], f["start"], f["end"], lo, hi))
        return flows

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

    def test_short_timeouts_split_flows_but_keep_the_sums(self):
        pcap = os.path.join(harness.CORPUS, "icmp-tunnel.pcap")
        flows = self.check_capture(pcap, ["--idle-timeout", "1", "--active-timeout", "5"])
        self.assertGreater(len(flows), 4, "timeouts of 1 s/5 s must cut a 19-minute tunnel into slices")


if __name__ == "__main__":
    unittest.main(verbosity=2)
