#!/usr/bin/env python3
"""Detector regression on real traffic: every labelled tunnel capture
(tests/data/captures/labels.tsv, made by scripts/make-corpus with real tools
in namespaces) and the real tunnel in ../shared/corpus/ndpi raise an alert;
no benign capture does. Prints the table the README reports: capture,
verdict, packets of the conversation when it first alerted."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

# ../shared/corpus/ndpi/README.md gives these verdicts.
NDPI = {
    "icmp-tunnel.pcap": "tunnel",
    "malformed_icmp.pcap": "benign",
    "badpackets.pcap": "benign",
    "6in4tunnel.pcap": "benign",
    "teredo.pcap": "benign",
    "anyconnect-vpn.pcap": "benign",
    "gnutella.pcap": "benign",
    "nintendo.pcap": "benign",
    "quic_interop_V.pcapng": "benign",
    "viber.pcap": "benign",
    "googledns_android10.pcap": "benign",
    "sflow.pcap": "benign",
}


def alerts_for(pcap, extra=()):
    with tempfile.TemporaryDirectory(prefix="ef-alerts-") as d:
        path = os.path.join(d, "alerts.jsonl")
        _, stats = harness.run_echoflow(["--pcap", pcap, "--alerts", path, "--quiet"] + list(extra))
        alerts = []
        if os.path.exists(path):
            with open(path) as f:
                alerts = [json.loads(line) for line in f if line.strip()]
        return alerts, stats


class DetectionCorpus(unittest.TestCase):
    @harness.needs_corpus
    def test_tunnels_alert_and_benign_traffic_does_not(self):
        cases = [(p, label) for p, label, _ in harness.labelled_captures()]
        cases += [(os.path.join(harness.CORPUS, n), label) for n, label in NDPI.items()]
        self.assertGreater(sum(1 for _, label in cases if label == "tunnel"), 5, "labelled tunnel captures missing")
        rows = []
        for pcap, label in cases:
            alerts, stats = alerts_for(pcap)
            name = os.path.basename(pcap)
            first = alerts[0] if alerts else None
            rows.append((name, label, "alert" if alerts else "-", first["packets"] if first else "",
                         ",".join(first["reasons"]) if first else ""))
            with self.subTest(capture=name):
                self.assertEqual(stats["alerts"], len(alerts), "every alert raised was written")
                if label == "tunnel":
                    self.assertTrue(alerts, name + ": a tunnel must alert")
                    for a in alerts:
                        self.assertGreaterEqual(a["score"], 500)
                        self.assertTrue(a["reasons"])
                        self.assertIn(a["family"], ("ipv4", "ipv6"))
                        self.assertNotIn("payload_hex", a, "no raw payload unless asked")
                else:
                    self.assertEqual(alerts, [], name + ": benign traffic must not alert: %s" %
                                     (alerts[0] if alerts else ""))
        print("\n%-40s %-7s %-6s %-8s %s" % ("capture", "label", "result", "packets", "first reasons"))
        for r in rows:
            print("%-40s %-7s %-6s %-8s %s" % r)

    def test_weights_and_threshold_are_configurable(self):
        pcap = os.path.join(harness.CAPTURES, "hping3-file-d500.pcap")
        _, stats = harness.run_echoflow(["--pcap", pcap, "--quiet"])
        self.assertGreater(stats["alerts"], 0)
        # Without the evidence it alerts on, and with a threshold above its score: silent.
        _, stats = harness.run_echoflow(["--pcap", pcap, "--quiet", "--weight", "volume=0",
                                         "--weight", "random-payload=0"])
        self.assertEqual(stats["alerts"], 0)
        _, stats = harness.run_echoflow(["--pcap", pcap, "--quiet", "--alert-score", "1000",
                                         "--weight", "volume=1"])
        self.assertEqual(stats["alerts"], 0)

    def test_payload_hex_only_when_asked(self):
        alerts, _ = alerts_for(os.path.join(harness.CAPTURES, "ptunnel-ng.pcap"), ["--payload-hex"])
        self.assertTrue(alerts)
        # ptunnel-ng's default magic opens the alerting packet's data.
        self.assertTrue(alerts[0]["payload_hex"].startswith("deadc0de"), alerts[0].get("payload_hex"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
