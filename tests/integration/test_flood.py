#!/usr/bin/env python3
"""A spoofed-source ICMP flood (hping3 --flood --rand-source -1 style, made
by scripts/corpus/flood.py) mixed with two real tunnels, through
`echoflow --pcap` into a real nfcapd and a second, decoding collector:

- the packets and octets nfdump reports equal what tshark counts;
- both tunnels alert (ptunnel-ng, and a tunnel with a fresh echo id per
  packet whose conversations under the flood still alert);
- the flood alerts once: one start and one end report, verdict "flood",
  the right victim, its packets and octets, its sources within the sketch's
  error, its start and end;
- the flood's IPFIX report (options template 264) decodes with the same
  figures, and carries no packet or octet counter a collector would add.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from test_export_decode import Receiver, decode  # noqa: E402

FLOOD_SCRIPT = os.path.join(harness.SOURCE, "scripts", "corpus", "flood.py")
PEN = 32473  # the documentation PEN, echoflow's default --pen
# Folding (README "Under a flood"): per worker and second at most
# FOLD_ABOVE one-packet conversations one by one, FOLD_ENTRIES aggregates and
# 2 catch-alls.
FOLD_ABOVE = 1000
FOLD_ENTRIES = 1024
# detect/flood.hpp: HyperLogLog of 128 registers, 9.2% standard error.
SKETCH_ERROR = 0.092


def rfc3339(seconds):
    import datetime
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Flood(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ef-flood-")
        cls.pcap = os.path.join(cls.dir, "flood.pcap")
        out = subprocess.run(["/usr/bin/python3", FLOOD_SCRIPT, cls.pcap], capture_output=True, text=True, check=True)
        cls.truth = json.loads(out.stdout)
        cls.totals = harness.tshark_icmp_totals(cls.pcap)
        alerts = os.path.join(cls.dir, "alerts.json")
        rx = Receiver()
        try:
            with harness.nfcapd() as nf:
                # 25,000 records a second: the run's ~50,000 records within
                # what nfcapd's 4 MiB socket buffer takes.
                _, cls.stats = harness.run_echoflow(
                    ["--pcap", cls.pcap, "--collector", nf.address, "--collector", "127.0.0.1:%d" % rx.port,
                     "--export-rate", "25000", "--fold-above", str(FOLD_ABOVE), "--fold-entries", str(FOLD_ENTRIES),
                     "--alerts", alerts, "--quiet"])
                cls.flows = nf.flows()
        finally:
            rx.stop()
        cls.datagrams = rx.datagrams
        with open(alerts) as f:
            cls.alerts = [json.loads(line) for line in f]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def flood_alerts(self):
        return [a for a in self.alerts if a["verdict"] == "flood"]

    def test_capture_is_what_the_generator_says(self):
        self.assertEqual(self.totals["packets"], self.truth["icmp_packets"])
        self.assertEqual(self.totals["octets"], self.truth["icmp_octets"])
        self.assertGreater(self.truth["flood_sources"], 49000)

    def test_collector_totals_are_exact(self):
        self.assertEqual(sum(f["packets"] for f in self.flows), self.totals["packets"])
        self.assertEqual(sum(f["bytes"] for f in self.flows), self.totals["octets"])
        self.assertEqual(self.stats["icmp_packets"], self.totals["packets"])
        self.assertEqual(self.stats["records_not_sent"], 0)

    def test_records_are_bounded_by_the_configured_rate(self):
        _, records, _ = decode(self.datagrams)
        flow = [r for v in records.values() for r in v if (2, None) in r]
        # The flood lies within one second of one worker: its 50,000
        # one-packet conversations leave as at most FOLD_ABOVE + FOLD_ENTRIES
        # + 2 records; the tunnels' conversations add two records each (one
        # per direction) and the other seconds' few singletons one each.
        seconds = int(self.truth["last"]) - int(self.truth["first"]) + 1
        bound = (FOLD_ABOVE + FOLD_ENTRIES + 2) + 2 * (self.truth["fresh_conversations"] + 1) + 100 * seconds
        self.assertLessEqual(len(flow), bound)
        self.assertLess(len(flow), self.truth["flood_packets"] // 10, "folding, not a record per flood packet")
        self.assertGreater(self.stats["singletons_folded"], 0)
        # Aggregates (deltaFlowCount, IE 3) stand for the folded conversations, exactly.
        folded = sum(int.from_bytes(r[(3, None)], "big") for r in flow if (3, None) in r)
        self.assertEqual(folded, self.stats["singletons_folded"])

    def test_both_tunnels_alert_under_the_flood(self):
        tunnel = [a for a in self.alerts if a["verdict"] == "tunnel"]
        self.assertTrue(any(a["src"] == self.truth["ptunnel_client"] and a["dst"] == self.truth["ptunnel_server"]
                            for a in tunnel), "ptunnel-ng alerted")
        start, end = rfc3339(self.truth["flood_start"]), rfc3339(self.truth["flood_end"])
        fresh = [a for a in tunnel if a["src"] == self.truth["fresh_client"] and a["dst"] == self.truth["fresh_server"]]
        # One request and one reply per conversation, a fresh id each.
        self.assertTrue(all(a["packets"] <= 2 for a in fresh))
        under = [a for a in fresh if start <= a["first_seen"] <= end]
        self.assertGreater(len(under), 0, "a fresh-id conversation during the flood alerted")
        # The flood is no tunnel.
        self.assertFalse(any(a["dst"] == self.truth["victim"] for a in tunnel))

    def test_the_flood_alerts_once_with_its_figures(self):
        floods = self.flood_alerts()
        self.assertEqual([a["event"] for a in floods], ["start", "end"])
        start, end = floods
        for a in floods:
            self.assertEqual(a["victim"], self.truth["victim"])
            self.assertEqual(a["family"], "ipv4")
            self.assertEqual(a["start"], rfc3339(self.truth["flood_start"]))
            self.assertEqual(a["end"], rfc3339(self.truth["flood_end"]))
        self.assertGreaterEqual(start["pps"], 10000, "the default --flood-pps crossed")
        self.assertEqual(end["packets"], self.truth["flood_packets"])
        self.assertEqual(end["bytes"], self.truth["flood_octets"])
        sources = self.truth["flood_sources"]
        self.assertLessEqual(abs(end["sources"] - sources), 3 * SKETCH_ERROR * sources, end["sources"])
        self.assertEqual(self.stats["floods_started"], 1)
        self.assertEqual(self.stats["floods_ended"], 1)
        self.assertEqual(self.stats["floods_active"], 0)
        self.assertEqual(self.stats["flood_alerts_suppressed"], 0)

    def test_ipfix_flood_report_decodes(self):
        _, records, _ = decode(self.datagrams)
        reports = records.get(264, [])
        self.assertEqual(len(reports), 1)
        r = reports[0]
        num = lambda ie, pen=PEN: int.from_bytes(r[(ie, pen)], "big")  # noqa: E731
        self.assertEqual(".".join(str(b) for b in r[(12, None)]), self.truth["victim"])
        self.assertEqual(num(20), self.truth["flood_packets"])
        self.assertEqual(num(21), self.truth["flood_octets"])
        self.assertEqual(num(22), self.flood_alerts()[1]["sources"])
        self.assertEqual(num(152, None), int(self.truth["flood_start"] * 1000))
        # Capture times in microseconds; echoflow keeps milliseconds (truncated).
        self.assertEqual(num(153, None), int(self.truth["flood_end"] * 1000))
        self.assertGreaterEqual(num(23), 10000)
        # No packetDeltaCount/octetDeltaCount: the collector's totals stay those of the flow records.
        self.assertNotIn((1, None), r)
        self.assertNotIn((2, None), r)
        flow_packets = sum(int.from_bytes(x[(2, None)], "big") for v in records.values() for x in v if (2, None) in x)
        self.assertEqual(flow_packets, self.totals["packets"])

    def test_summary_names_the_flood(self):
        proc, _ = harness.run_echoflow(["--pcap", self.pcap])
        self.assertIn("floods     1 started, 1 ended, 0 active", proc.stderr)

    def test_two_live_workers_merge_into_one_flood(self):
        """DPDK net_pcap, two worker lcores: the victim's conversations are
        spread over both by address pair; each worker reports about half,
        the exporter adds them up and alerts once (probe clock, not capture
        time: net_pcap replays the file as fast as the workers take it)."""
        alerts = os.path.join(self.dir, "alerts-live.json")
        stats_path = os.path.join(self.dir, "stats-live.json")
        cmd = [harness.ECHOFLOW, "--no-huge", "-m", "1024", "--no-pci", "--file-prefix", "ef-flood-%d" % os.getpid(),
               "--lcores", "0@0,1@1,2@1", "--log-level", "lib.eal:error", "--vdev", "net_pcap0,rx_pcap=" + self.pcap,
               "--", "--cache-size", "131072", "--dedup-window", "0", "--alerts", alerts, "--stats-json", stats_path]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                line = proc.stderr.readline()
                if not line or "port(s)" in line:
                    break
            # The replay takes well under a second; the flood then ends
            # after --flood-end-seconds quiet seconds of the probe clock.
            deadline = time.time() + 10
            while time.time() < deadline:
                if os.path.exists(alerts) and '"event":"end"' in open(alerts).read():
                    break
                time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(proc.returncode, 0, err)
        with open(stats_path) as f:
            stats = json.load(f)
        with open(alerts) as f:
            floods = [a for a in map(json.loads, f) if a["verdict"] == "flood"]
        self.assertEqual(stats["icmp_packets"], self.totals["packets"])
        self.assertEqual([a["event"] for a in floods], ["start", "end"])
        self.assertEqual(floods[0]["victim"], self.truth["victim"])
        self.assertGreater(stats["spread_software_packets"], 0, "frames went to the other worker")
        # Both workers reported the victim (each alone has about half); the
        # closing report counts the flood packets whichever worker saw them.
        # Not exactly: a worker's part of a second below its report minimum
        # (--flood-pps / 64) is not reported, which a second boundary a few
        # packets before the replay's end may cause.
        self.assertLessEqual(floods[1]["packets"], self.truth["flood_packets"])
        self.assertGreaterEqual(floods[1]["packets"], self.truth["flood_packets"] - 4 * 10000 // 64)
        sources = self.truth["flood_sources"]
        self.assertLessEqual(abs(floods[1]["sources"] - sources), 3 * SKETCH_ERROR * sources)
        self.assertEqual(stats["floods_started"], 1)
        self.assertEqual(stats["floods_ended"], 1)

    def test_off_with_flood_pps_zero(self):
        alerts = os.path.join(self.dir, "alerts-off.json")
        _, stats = harness.run_echoflow(["--pcap", self.pcap, "--alerts", alerts, "--flood-pps", "0", "--quiet"])
        with open(alerts) as f:
            lines = [json.loads(line) for line in f]
        self.assertFalse(any(a["verdict"] == "flood" for a in lines))
        self.assertTrue(any(a["verdict"] == "tunnel" for a in lines))
        self.assertEqual(stats["floods_started"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
