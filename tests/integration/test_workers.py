#!/usr/bin/env python3
"""The number of worker lcores changes where work runs, never the result:
the same input on one net_pcap port (software distribution to the owning
worker) gives the same conversations, counters and alerts with 1, 2 and 4
workers. Lcores share the machine's CPUs (--lcores N@cpu).

Input: every capture in tests/data/captures merged, plus the external
corpus next to the source tree when it is there (skipped otherwise).

The per-sender evidence (source-activity, host-budget) is weighted 0 here:
it is kept in one table shared by every worker, so its totals do not depend
on the worker count (test_detection_corpus runs 1, 2 and 4 workers and
compares them), but which of a sender's conversations crosses a threshold
first depends on how the workers interleave; this test compares every
conversation's own alert, so it leaves that evidence out.
"""
import glob
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
from test_export_decode import Receiver, decode  # noqa: E402

EXTERNAL = os.path.join(os.path.dirname(harness.CORPUS), "external")
LCORES = {1: "0@0,1@1", 2: "0@0,1@1,2@1", 4: "0@0,1@1,2@1,3@0,4@1"}
# Counters that describe the traffic and its conversations (not the
# worker-local cache size or the export's message packing).
COUNTERS = ["rx_packets", "icmp_packets", "icmp_octets", "other_packets", "malformed_packets",
            "unattributed_fragments", "flows_created", "flows_exported", "records_exported", "alerts"]


def merged_input(d):
    files = sorted(glob.glob(os.path.join(harness.CAPTURES, "*.pcap")))
    if os.path.isdir(EXTERNAL):
        files += sorted(glob.glob(os.path.join(EXTERNAL, "*.pcap*")))
    # net_pcap's ports are Ethernet: keep the captures that are.
    info = subprocess.run(["capinfos", "-T", "-r", "-E"] + files, capture_output=True, text=True).stdout
    files = [line.split("\t")[0] for line in info.splitlines() if line.rstrip().endswith("\tether")]
    out = os.path.join(d, "merged.pcap")
    # -a: one capture after the other (their clocks differ by years);
    # pcap, not pcapng: net_pcap reads pcap.
    subprocess.run(["mergecap", "-a", "-F", "pcap", "-w", out] + files, check=True, capture_output=True)
    return out


def run(pcap, workers, d):
    stats_path = os.path.join(d, "stats-%d.json" % workers)
    alerts_path = os.path.join(d, "alerts-%d.jsonl" % workers)
    rx = Receiver()
    cmd = [harness.ECHOFLOW, "--no-huge", "-m", "1024", "--no-pci", "--file-prefix",
           "ef-workers-%d" % os.getpid(), "--lcores", LCORES[workers], "--log-level", "lib.eal:error",
           "--vdev", "net_pcap0,rx_pcap=" + pcap, "--",
           "--cache-size", "65536", "--collector", "127.0.0.1:%d" % rx.port, "--export-rate", "20000",
           "--weight", "source-activity=0", "--weight", "host-budget=0", "--dedup-window", "0", "--alerts", alerts_path, "--stats-json", stats_path,
           # Folding counts one-packet conversations per worker and second
           # (the replay puts the whole capture into one): with it the
           # records, unlike the traffic, depend on how many workers share them.
           "--fold-above", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # net_pcap reads the file once, as fast as the workers take it:
        # stop when the counters have not moved for a while.
        deadline = time.time() + 60
        while time.time() < deadline:
            line = proc.stderr.readline()
            if not line or "port(s)" in line:
                break
        time.sleep(4)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        time.sleep(0.3)
        rx.stop()
    if proc.returncode != 0:
        raise AssertionError("echoflow with %d workers exited %d: %s" % (workers, proc.returncode, err))
    with open(stats_path) as f:
        stats = json.load(f)
    _, records, _ = decode(rx.datagrams)
    conversations = sorted(
        (r[(8, None)] + r.get((12, None), b"") if (8, None) in r else r[(27, None)] + r[(28, None)],
         r.get((32, None), r.get((139, None))), int.from_bytes(r[(2, None)], "big"),
         int.from_bytes(r[(1, None)], "big"))
        for v in records.values() for r in v if (2, None) in r)
    # The first alert of each conversation (when it crossed the threshold):
    # escalations are rate-limited in time, which differs run to run.
    alerts = {}
    with open(alerts_path) as f:
        for line in f:
            a = json.loads(line)
            key = (a["src"], a["dst"], a["icmp_type"], a["icmp_id"])
            alerts.setdefault(key, (a["verdict"], a["score"], tuple(a["reasons"]), a["packets"]))
    return stats, conversations, sorted(alerts.items())


class Workers(unittest.TestCase):
    def test_one_two_and_four_workers_give_the_same_results(self):
        with tempfile.TemporaryDirectory(prefix="ef-workers-") as d:
            pcap = merged_input(d)
            expected = harness.tshark_icmp_totals(pcap)
            results = {n: run(pcap, n, d) for n in (1, 2, 4)}
        stats1, conv1, alerts1 = results[1]
        # Not equal to tshark's count: tshark counts ICMP that echoflow's
        # parser calls malformed, and echoflow counts ICMP inside mirror
        # encapsulations that tshark's dissectors do not follow.
        self.assertLess(abs(stats1["icmp_packets"] - expected["packets"]), expected["packets"] * 0.01,
                        "the whole input was read")
        self.assertEqual(sum(c[2] for c in conv1), stats1["icmp_packets"])
        self.assertGreater(len(alerts1), 0, "the input has tunnels")
        for n in (1, 2, 4):
            stats, conv, alerts = results[n]
            sys.stderr.write("workers %d: %s, %d conversation records, %d alerts\n" % (
                n, ", ".join("%s %d" % (k, stats[k]) for k in COUNTERS), len(conv), len(alerts)))
        for n in (2, 4):
            stats, conv, alerts = results[n]
            with self.subTest(workers=n):
                self.assertEqual({k: stats[k] for k in COUNTERS}, {k: stats1[k] for k in COUNTERS})
                self.assertEqual(len(conv), len(conv1))
                self.assertEqual(conv, conv1, "the same conversation records")
                self.assertEqual(alerts, alerts1, "the same alerts")


if __name__ == "__main__":
    unittest.main(verbosity=2)
