#!/usr/bin/env python3
"""The lab of scripts/lab, short: dpdk-testpmd replays a capture from
net_pcap into a net_memif port, echoflow reads the other end of the memif as
a second DPDK process and exports to a real nfcapd. Every frame testpmd sent
must reach echoflow, and every ICMP packet of the capture must be counted at
the collector, packets and octets as tshark counts them."""
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

TUNNEL = os.path.join(harness.CORPUS, "icmp-tunnel.pcap")


def load_lab():
    path = os.path.join(harness.SOURCE, "scripts", "lab")
    loader = importlib.machinery.SourceFileLoader("ef_lab", path)
    spec = importlib.util.spec_from_loader("ef_lab", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def frame_count(pcap):
    out = subprocess.run(["capinfos", "-M", "-c", "-T", pcap], capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1].split("\t")[-1])


class LabMemif(unittest.TestCase):
    @harness.needs_corpus
    def test_counts_at_the_collector_match_what_testpmd_sent(self):
        lab = load_lab()
        expected = harness.tshark_icmp_totals(TUNNEL)
        frames = frame_count(TUNNEL)
        # A memif ring holds 1024 frames: a capture smaller than that cannot
        # be dropped on send however late echoflow reads.
        self.assertLess(frames, 1024)
        # --dedup-window 0: testpmd sends the capture in microseconds, so two
        # identical packets seconds apart in it would arrive within the mirror
        # deduplicator's window; tshark counts both.
        r = lab.run_lab(harness.ECHOFLOW, TUNNEL, echoflow_args=("--dedup-window", "0"), log=lambda *_: None)
        sent = r["testpmd"][1]
        ef = r["echoflow"]
        self.assertEqual(r["testpmd"][0]["rx"], frames)  # testpmd read the whole capture ...
        self.assertEqual(sent["tx"], frames)              # ... and sent all of it into the memif
        self.assertEqual(sent["tx_dropped"], 0)
        self.assertEqual(ef["rx_packets"], sent["tx"])    # echoflow received every frame sent
        self.assertEqual(ef["nic_missed"] + ef["nic_no_mbuf"], 0)
        self.assertEqual(ef["rx_packets"], ef["icmp_packets"] + ef["other_packets"] + ef["malformed_packets"])
        self.assertEqual(ef["icmp_packets"], expected["packets"])
        self.assertEqual(ef["flows_dropped"], 0)
        self.assertGreater(r["collector"]["flows"], 0)
        self.assertEqual(r["collector"]["flows"], ef["records_exported"])
        self.assertEqual(r["collector"]["packets"], expected["packets"])
        self.assertEqual(r["collector"]["octets"], expected["octets"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
