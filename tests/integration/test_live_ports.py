#!/usr/bin/env python3
"""The DPDK live path on DPDK's own virtual devices: net_pcap ports read by
the EAL, one or several lcores, SIGINT to stop. Counts must be exact at a
real nfcapd, and request and reply must meet in one conversation even when
they arrive on two ports read by two workers (a TAP's two sides)."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

TUNNEL = os.path.join(harness.CORPUS, "icmp-tunnel.pcap")


def run_live(eal, options, seconds=3.0, during=None):
    """Starts echoflow with EAL options, lets it read, calls during(prefix)
    if given, stops it with SIGINT."""
    with tempfile.TemporaryDirectory(prefix="ef-live-") as d:
        stats_path = os.path.join(d, "stats.json")
        prefix = "ef-test-%d" % os.getpid()
        cmd = [harness.ECHOFLOW, "--no-huge", "-m", "512", "--no-pci", "--file-prefix", prefix,
               "--log-level", "lib.eal:error"] + eal + ["--"] + options + ["--stats-json", stats_path]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # EAL start-up takes a variable time on a loaded machine: count the
        # reading time from echoflow's start line ("N port(s), ...").
        started = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            started.append(line)
            if "port(s)" in line:
                break
        time.sleep(seconds)
        if during:
            during(prefix)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        err = "".join(started) + err
        stats = None
        if os.path.exists(stats_path):
            with open(stats_path) as f:
                stats = json.load(f)
        return proc.returncode, err, stats


def split_by_direction(pcap, d):
    """Requests (and everything else) into one file, echo replies into another."""
    req = os.path.join(d, "requests.pcap")
    rep = os.path.join(d, "replies.pcap")
    subprocess.run(["tshark", "-r", pcap, "-Y", "!(icmp.type == 0 || icmpv6.type == 129)", "-w", req, "-F", "pcap"],
                   check=True, capture_output=True)
    subprocess.run(["tshark", "-r", pcap, "-Y", "icmp.type == 0 || icmpv6.type == 129", "-w", rep, "-F", "pcap"],
                   check=True, capture_output=True)
    return req, rep


class LivePorts(unittest.TestCase):
    def check_counts(self, stats, flows, expected):
        self.assertEqual(sum(f["packets"] for f in flows), expected["packets"])
        self.assertEqual(sum(f["bytes"] for f in flows), expected["octets"])
        self.assertEqual(stats["icmp_packets"], expected["packets"])
        self.assertEqual(stats["rx_packets"],
                         stats["icmp_packets"] + stats["other_packets"] + stats["malformed_packets"])
        self.assertEqual(stats["records_exported"], len(flows))

    @harness.needs_corpus
    def test_one_lcore_net_pcap_exact_counts_and_clean_sigint(self):
        expected = harness.tshark_icmp_totals(TUNNEL)
        with harness.nfcapd() as collector:
            # --dedup-window 0: net_pcap replays the capture in microseconds,
            # so two identical packets seconds apart in it would arrive
            # within the mirror deduplicator's window; tshark counts both.
            rc, err, stats = run_live(["-l", "0", "--vdev", "net_pcap0,rx_pcap=" + TUNNEL],
                                      ["--collector", collector.address, "--dedup-window", "0"])
            flows = collector.flows()
        self.assertEqual(rc, 0, err)
        self.assertIn("echoflow summary", err)
        self.check_counts(stats, flows, expected)

    @harness.needs_corpus
    def test_two_ports_two_workers_request_and_reply_meet(self):
        with tempfile.TemporaryDirectory(prefix="ef-split-") as d:
            sources = [TUNNEL, os.path.join(harness.CORPUS, "viber.pcap"),
                       os.path.join(harness.CORPUS, "googledns_android10.pcap")]
            caps = [p for p in harness.labelled_captures() if p[1] == "benign"][:6]
            sources += [p for p, _, _ in caps]
            merged = os.path.join(d, "merged.pcap")
            subprocess.run(["mergecap", "-F", "pcap", "-w", merged] + sources, check=True)
            expected = harness.tshark_icmp_totals(merged)
            # The reference: one port, one lcore. Timeouts of a week: the
            # capture's own pauses (it spans years) must not split anything.
            # --dedup-window 0: every frame counts, as tshark counts it
            # (viber.pcap holds a frame captured twice).
            week = ["--idle-timeout", "604800", "--active-timeout", "604800", "--dedup-window", "0"]
            _, ref = harness.run_echoflow(["--pcap", merged, "--quiet"] + week)
            req, rep = split_by_direction(merged, d)
            with harness.nfcapd() as collector:
                rc, err, stats = run_live(
                    ["--lcores", "0@0,1@0,2@1", "--vdev", "net_pcap0,rx_pcap=" + req,
                     "--vdev", "net_pcap1,rx_pcap=" + rep],
                    ["--collector", collector.address] + week, seconds=4.0)
                flows = collector.flows()
        self.assertEqual(rc, 0, err)
        self.assertIn("2 worker(s)", err)
        self.check_counts(stats, flows, expected)
        # Same conversations as the single-threaded reference: no request
        # and reply were split over two caches.
        self.assertEqual(stats["flows_created"], ref["flows_created"])

    def test_telemetry_answers_stats_and_top(self):
        demo = os.path.join(harness.SOURCE, "tests", "data", "demo.pcap")
        answers = {}

        def query(prefix):
            for cmd in ("/echoflow/stats", "/echoflow/top"):
                out = subprocess.run(["dpdk-telemetry.py", "-f", prefix], input=cmd + "\n", capture_output=True,
                                     text=True, timeout=30).stdout
                line = [x for x in out.splitlines() if x.startswith("{")][-1]
                answers.update(json.loads(line))

        rc, err, stats = run_live(["-l", "0", "--vdev", "net_pcap0,rx_pcap=" + demo], [], seconds=2.0,
                                  during=query)
        self.assertEqual(rc, 0, err)
        self.assertEqual(answers["/echoflow/stats"]["rx_packets"], stats["rx_packets"])
        # Both are generated from one counter table: the same names (the
        # NIC counters included), only the run's duration is JSON's own.
        self.assertEqual(set(answers["/echoflow/stats"]), set(stats) - {"elapsed_seconds"})
        top = answers["/echoflow/top"]
        self.assertEqual(len(top), 10)
        first = top["1"]
        # demo.pcap's ptunnel-ng session moves the most bytes, and is a tunnel.
        self.assertEqual(first["verdict"], 2)
        self.assertGreaterEqual(first["bytes"], max(t["bytes"] for t in top.values()))
        sizes = [top[str(i)]["bytes"] for i in range(1, 11)]
        self.assertEqual(sizes, sorted(sizes, reverse=True))

    def test_missing_ports_is_a_clear_error(self):
        rc, err, _ = run_live(["-l", "0"], [], seconds=0.5)
        self.assertEqual(rc, 1)
        self.assertIn("no ports", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
