#!/usr/bin/env python3
"""Live start-up on DPDK virtual devices: the mbuf pool is sized by
--mbufs when a driver holds more than its ring, and a pool too small for it
is one clear line naming the option, exit status 1, never a hang."""
import os
import json
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


def eal(prefix, pcap):
    return [harness.ECHOFLOW, "--no-huge", "-m", "512", "--no-pci", "--file-prefix", prefix, "-l", "0",
            "--log-level", "lib.eal:error", "--log-level", "pmd.*:critical",
            "--vdev", "net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap, "--"]


class Startup(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # net_pcap infinite_rx=1 copies every frame of the capture into an
        # mbuf of echoflow's pool when the port starts: 8,192 frames need
        # more than the default pool of one port and one lcore.
        from scapy.all import ICMP, IP, Ether, wrpcap  # python3-scapy
        cls.dir = tempfile.mkdtemp(prefix="ef-startup-")
        cls.pcap = os.path.join(cls.dir, "8192.pcap")
        wrpcap(cls.pcap, [Ether() / IP(src="10.6.0.%d" % (i % 200 + 1), dst="10.6.1.1") / ICMP(id=i) / (b"\x10" * 56)
                          for i in range(8192)])

    @classmethod
    def tearDownClass(cls):
        os.unlink(cls.pcap)
        os.rmdir(cls.dir)

    def test_a_pool_too_small_for_the_driver_names_mbufs_and_exits_1(self):
        proc = subprocess.run(eal("ef-startup-%d" % os.getpid(), self.pcap) + ["--quiet"], capture_output=True,
                              text=True, timeout=120)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        ours = [line for line in proc.stderr.splitlines() if line.startswith("echoflow:")]
        self.assertEqual(len(ours), 1, proc.stderr)
        self.assertIn("port 0", ours[0])
        self.assertIn("raise --mbufs", ours[0])

    def test_mbufs_gives_the_driver_its_pool(self):
        # --dedup-window 0: infinite_rx sends the same frames again within
        # microseconds, which the mirror deduplicator would take for copies.
        with tempfile.TemporaryDirectory(prefix="ef-startup-") as d:
            stats_path = os.path.join(d, "stats.json")
            proc = subprocess.Popen(eal("ef-startup-%d" % os.getpid(), self.pcap) +
                                    ["--mbufs", "20000", "--no-detect", "--dedup-window", "0", "--stats-json", stats_path],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            lines = []
            while not lines or "port(s)" not in lines[-1]:
                line = proc.stderr.readline()
                if not line:
                    break
                lines.append(line)
            time.sleep(2)  # infinite_rx: frames keep coming until the stop
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
            self.assertIn("port(s)", "".join(lines), "started: " + "".join(lines) + err)
            self.assertEqual(proc.returncode, 0, err)
            with open(stats_path) as f:
                stats = json.load(f)
        self.assertGreater(stats["icmp_packets"], 0)
        self.assertEqual(stats["rx_packets"], stats["icmp_packets"])

    def test_mbufs_out_of_range_is_a_usage_error(self):
        proc = subprocess.run([harness.ECHOFLOW, "--pcap", self.pcap, "--mbufs", "10"], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("mbufs", proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
