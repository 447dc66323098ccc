#!/usr/bin/env python3
"""Remote and cloud mirrors. The bare demo capture wrapped in QinQ, MPLS, an
MPLS Ethernet pseudowire, GRE, GRE-TEB, ERSPAN I/II/III, VXLAN and Geneve
(scripts/corpus/mirrors.py -> tests/data/mirrors) gives, read with --pcap
and through a DPDK net_pcap port, the ICMP packets and IP octets of the bare
capture at a real nfcapd and the same alerts as the bare capture on the same
path; a double mirror (every frame twice, 20 us apart, one hop later) counts
once and says so in mirror_duplicates; the third-party mirror captures show
the ICMP inside them."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from test_live_ports import run_live  # noqa: E402

MIRRORS = os.path.join(harness.SOURCE, "tests", "data", "mirrors")
BARE = os.path.join(harness.SOURCE, "tests", "data", "demo.pcap")
KINDS = ("qinq", "mpls", "mpls-pw", "gre", "gre-teb", "erspan1", "erspan2", "erspan3", "vxlan", "geneve")
# The segment each kind puts the conversations in (alerts JSON).
SEGMENTS = {"erspan2": ("erspan", 5), "erspan3": ("erspan", 6), "vxlan": ("vxlan", 4242), "geneve": ("geneve", 77)}
EXTERNAL = os.path.join(harness.SOURCE, "..", "shared", "corpus", "external")
# ICMP packets inside the third-party captures (tshark, which decodes them).
EXTERNAL_INNER = {"zeek__erspan.pcap": 84, "tcpdump__vxlan.pcap": 8, "tcpdump__various_gre.pcap": 10}

# Filled by the tests, printed at the end: kind -> path -> text.
TABLE = {}


def read_alerts(path, live):
    """Alerts as comparable strings: the segment keys (absent on bare
    traffic) left out; on live ports also the times and flow ids, which
    depend on when the EAL read each frame."""
    drop = {"vlan", "segment"} | ({"time", "first_seen", "last_seen", "flow_id"} if live else set())
    out = []
    raw = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip():
                    a = json.loads(line)
                    raw.append(a)
                    out.append(json.dumps({k: v for k, v in a.items() if k not in drop}, sort_keys=True))
    return sorted(out), raw


def run_offline(pcap, extra=()):
    with tempfile.TemporaryDirectory(prefix="ef-mirror-") as d:
        alerts_path = os.path.join(d, "alerts.jsonl")
        with harness.nfcapd() as collector:
            _, stats = harness.run_echoflow(["--pcap", pcap, "--collector", collector.address, "--alerts",
                                             alerts_path, "--quiet"] + list(extra))
            flows = collector.flows()
        alerts, raw = read_alerts(alerts_path, live=False)
    return stats, flows, alerts, raw


def run_net_pcap(pcap, extra=()):
    with tempfile.TemporaryDirectory(prefix="ef-mirror-") as d:
        alerts_path = os.path.join(d, "alerts.jsonl")
        with harness.nfcapd() as collector:
            # Not --quiet: run_live waits for the start line.
            rc, err, stats = run_live(["-l", "0", "--vdev", "net_pcap0,rx_pcap=" + pcap],
                                      ["--collector", collector.address, "--alerts", alerts_path] + list(extra),
                                      seconds=2.0)
            flows = collector.flows()
        if rc != 0:
            raise AssertionError("echoflow on net_pcap %s: exit %d: %s" % (pcap, rc, err))
        alerts, raw = read_alerts(alerts_path, live=True)
    return stats, flows, alerts, raw


class Mirrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.expected = harness.tshark_icmp_totals(BARE)
        cls.bare = {"pcap": run_offline(BARE), "net_pcap": run_net_pcap(BARE)}

    @classmethod
    def tearDownClass(cls):
        if TABLE:
            sys.stderr.write("\nencapsulation  path      packets/expected  alerts/expected\n")
            for kind in sorted(TABLE):
                for path in ("pcap", "net_pcap"):
                    if path in TABLE[kind]:
                        sys.stderr.write("%-14s %-9s %s\n" % (kind, path, TABLE[kind][path]))

    def check_like_bare(self, kind, path, result):
        stats, flows, alerts, raw = result
        _, _, bare_alerts, _ = self.bare[path]
        e = self.expected
        packets = sum(f["packets"] for f in flows)
        octets = sum(f["bytes"] for f in flows)
        TABLE.setdefault(kind, {})[path] = "%6d/%-6d      %3d/%-3d" % (packets, e["packets"], len(alerts),
                                                                      len(bare_alerts))
        self.assertEqual(packets, e["packets"], "%s %s: packets at the collector" % (kind, path))
        self.assertEqual(octets, e["octets"], "%s %s: IP octets at the collector" % (kind, path))
        self.assertEqual(stats["icmp_packets"], e["packets"])
        self.assertEqual(stats["icmp_octets"], e["octets"])
        self.assertEqual(stats["malformed_packets"], 0)
        self.assertEqual(stats["rx_packets"], stats["icmp_packets"] + stats["other_packets"] +
                         stats["malformed_packets"] + stats["mirror_duplicates"])
        self.assertGreater(len(bare_alerts), 0, "the demo capture's tunnel must raise an alert")
        self.assertEqual(alerts, bare_alerts, "%s %s: alerts differ from the bare capture's" % (kind, path))
        if kind in SEGMENTS:
            seg_type, seg_id = SEGMENTS[kind]
            for a in raw:
                self.assertEqual(a.get("segment"), {"type": seg_type, "id": seg_id}, kind)
        counter = {"qinq": "vlan", "mpls-pw": "pseudowire", "gre-teb": "gre_teb", "double": "erspan2"}.get(kind, kind)
        self.assertGreater(stats["decap_%s_packets" % counter], 0, kind)

    def test_every_encapsulation_counts_like_the_bare_capture_with_pcap(self):
        for kind in KINDS:
            with self.subTest(kind=kind):
                self.check_like_bare(kind, "pcap", run_offline(os.path.join(MIRRORS, "mirror-%s.pcap" % kind)))

    def test_every_encapsulation_counts_like_the_bare_capture_on_net_pcap(self):
        for kind in KINDS:
            with self.subTest(kind=kind):
                self.check_like_bare(kind, "net_pcap", run_net_pcap(os.path.join(MIRRORS, "mirror-%s.pcap" % kind)))

    def test_a_double_mirror_counts_once(self):
        pcap = os.path.join(MIRRORS, "mirror-double.pcap")
        for path, run in (("pcap", run_offline), ("net_pcap", run_net_pcap)):
            with self.subTest(path=path):
                result = run(pcap)
                self.check_like_bare("double", path, result)
                self.assertEqual(result[0]["mirror_duplicates"], self.expected["packets"])
                # Without the deduplicator every packet counts twice.
                stats, flows, _, _ = run(pcap, ["--dedup-window", "0"])
                self.assertEqual(sum(f["packets"] for f in flows), 2 * self.expected["packets"])
                self.assertEqual(stats["mirror_duplicates"], 0)

    def test_decap_none_counts_no_icmp_inside_tunnels(self):
        stats, flows, _, _ = run_offline(os.path.join(MIRRORS, "mirror-vxlan.pcap"), ["--decap", "none"])
        self.assertEqual(stats["icmp_packets"], 0)
        self.assertEqual(flows, [])
        self.assertEqual(stats["decap_vxlan_packets"], 0)

    def test_bad_decap_options_are_one_line_and_exit_2(self):
        too_many = [a for port in range(5000, 5007) for a in ("--vxlan-port", str(port))]
        for args in (["--decap", "maybe"], ["--vxlan-port", "0"], ["--vxlan-port", "70000"],
                     ["--dedup-window", "soon"], too_many):
            with self.subTest(args=args[:2]):
                proc, _ = harness.run_echoflow(["--pcap", BARE, "--quiet"] + args, check=False)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)

    def test_third_party_mirror_captures_show_their_inner_icmp(self):
        if not os.path.isdir(EXTERNAL):
            self.skipTest("third-party corpus absent (%s)" % EXTERNAL)
        for name, inner in EXTERNAL_INNER.items():
            with self.subTest(capture=name):
                stats, flows, _, _ = run_offline(os.path.join(EXTERNAL, name))
                self.assertEqual(stats["icmp_packets"], inner, name)
                self.assertEqual(sum(f["packets"] for f in flows), inner, name)
                self.assertEqual(stats["malformed_packets"], 0, name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
