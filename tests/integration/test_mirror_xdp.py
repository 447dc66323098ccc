#!/usr/bin/env python3
"""Remote mirrors on the AF_XDP path: echoflow --interface reading VXLAN that
the kernel itself encapsulates, and encapsulated captures replayed onto a veth.

The lab of test_span_xdp.py (two namespaces joined by veth, real pings, a
real ptunnel-ng session and a TCP transfer across the link), but the SPAN
session mirrors both directions of the link into a kernel `vxlan` device
(VNI 4243, UDP 4789) whose underlay is a veth to echoflow's interface:

    NS_A  ef-a0 ===== ef-b0  NS_B --(tc mirred)--> ef-vx0 (vxlan) -> ef-u0 ===== efspanPID (root, echoflow)
                                                                 10.204.9.1     (static neighbour 10.204.9.2)

The XDP program must find the ICMP inside the VXLAN and leave the VXLAN'd
TCP in the kernel; the flows at nfcapd must be the ICMP that crossed the
link (counted by tcpdump on ef-b0, decoded by tshark) and the tunnel must
alert client -> proxy as it does bare. A capture of the underlay read with
--pcap gives the same.

Then the encapsulated captures of tests/data/mirrors (QinQ, MPLS, MPLS
pseudowire, GRE, GRE-TEB, ERSPAN I/II/III, VXLAN, Geneve: the demo capture
wrapped) are replayed with tcpreplay onto the underlay veth, one echoflow
run each: the packets and IP octets at nfcapd are the bare capture's ICMP
(tshark) and the alerts those of the bare capture replayed the same way.
The table encapsulation x path -> packets/expected, alerts/expected is
printed at the end. ECHOFLOW_ALL_MIRRORS=1 replays every kind (CI replays
one of each path through the XDP program, for time).
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
import atexit

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import test_mirrors  # noqa: E402
from test_span_xdp import (LINK_B, NS_A, NS_B, PING_A, PING_B, SPAN, TUN_A, TUN_B, Lab, Probe,  # noqa: E402
                           SpanTraffic, report, wait_for)

UNDERLAY = "ef-u0"          # in NS_B, the VXLAN underlay; its peer is SPAN
VXLAN_DEV = "ef-vx0"        # in NS_B, the mirror's destination
VTEP_B, VTEP_SPAN = "10.204.9.1", "10.204.9.2"
VNI, VXLAN_PORT = 4243, 4789
# Frames of 1514 bytes plus 50 of VXLAN: an underlay MTU that carries them
# whole (a fragmented tunnel packet is not followed, by design).
UNDERLAY_MTU = 1600
PING_SIZES = (56, 1400, 3000)
PING_COUNT = 4
BULK_BYTES = 1024 * 1024
MSS_MAX = 1460
REPLAY_PPS = 1000
# Replayed kinds: one of each path through the XDP program's walk (tags,
# MPLS pseudowire, GRE, ERSPAN II and III, VXLAN, Geneve), to stay within
# CI's time; ECHOFLOW_ALL_MIRRORS=1 replays every one of test_mirrors.KINDS.
REPLAY_KINDS = ("qinq", "mpls-pw", "gre", "erspan2", "erspan3", "vxlan", "geneve")

TABLE = []


class VxlanLab(Lab):
    def build(self):
        self.build_link()
        self.add_span_pair(UNDERLAY, mtu=UNDERLAY_MTU)
        mac = json.loads(self.run(None, "ip", "-j", "link", "show", "dev", SPAN).stdout)[0]["address"]
        self.run(NS_B, "ip", "addr", "add", VTEP_B + "/30", "dev", UNDERLAY)
        # No address in the root namespace: nothing there answers or
        # rejects the VXLAN datagrams; the neighbour entry replaces ARP.
        self.run(NS_B, "ip", "neigh", "add", VTEP_SPAN, "lladdr", mac, "dev", UNDERLAY, "nud", "permanent")
        self.run(NS_B, "ip", "link", "add", VXLAN_DEV, "type", "vxlan", "id", str(VNI), "local", VTEP_B,
                 "remote", VTEP_SPAN, "dstport", str(VXLAN_PORT), "dev", UNDERLAY)
        self.set_up(NS_B, VXLAN_DEV)
        self.mirror_link_to(VXLAN_DEV)
        self.run(NS_A, "ping", "-c", "1", "-W", "2", TUN_B)


class MirrorXdp(SpanTraffic, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (network namespaces, XDP)")
        for tool in ("ptunnel-ng", "tc", "ethtool", "ping", "nfcapd", "nfdump", "tshark", "tcpdump", "tcpreplay",
                     "dpdk-telemetry.py"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest("missing " + tool)
        cls.workdir = tempfile.mkdtemp(prefix="ef-mirror-xdp-")
        cls.lab = VxlanLab(cls.workdir)
        atexit.register(cls.lab.cleanup)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            cls.lab.build()
        except BaseException:
            cls.lab.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.lab.cleanup()
        shutil.rmtree(cls.workdir, ignore_errors=True)
        if TABLE:
            sys.stderr.write("\nencapsulation  path            packets/expected  octets/expected    alerts/expected\n")
            for row in TABLE:
                sys.stderr.write(row + "\n")

    def capture(self, ns, dev, name, bpf):
        """tcpdump on `dev` until stop_capture(); returns (process, path)."""
        path = os.path.join(self.workdir, name)
        proc = self.lab.spawn(ns, ["tcpdump", "-i", dev, "-n", "-U", "-s", "0", "-w", path, bpf],
                              log=name + ".log")
        wait_for("tcpdump on " + dev, lambda: "listening on" in open(os.path.join(self.workdir, name + ".log")).read(),
                 15)
        return proc, path

    def stop_capture(self, proc):
        time.sleep(0.5)
        self.lab.stop(proc, signal.SIGINT)

    def test_kernel_vxlan_mirror_of_pings_and_ptunnel(self):
        link_cap, link_pcap = self.capture(NS_B, LINK_B, "link.pcap", "icmp")
        under_cap, under_pcap = self.capture(NS_B, UNDERLAY, "underlay.pcap", "udp port %d" % VXLAN_PORT)
        with harness.nfcapd() as collector:
            probe = Probe(self.lab, "vxlan", ["--collector", collector.address])
            pings = self.start_pings(PING_SIZES, PING_COUNT)
            bulk_received = self.bulk_transfer(BULK_BYTES)
            self.tunnel_transfer()
            self.check_pings(pings, PING_COUNT)
            probe.wait_quiet()
            stats, alerts, err = probe.stop()
            flows = collector.flows()
        self.stop_capture(link_cap)
        self.stop_capture(under_cap)
        inner = harness.tshark_icmp_totals(link_pcap)
        packets = sum(f["packets"] for f in flows)
        octets = sum(f["bytes"] for f in flows)
        report("vxlan run", stats, "%d flows, %d packets at nfcapd; link carried %s; alerts %s" % (
            len(flows), packets, inner, [(a["src"], a["dst"], a.get("segment")) for a in alerts]), err)
        TABLE.append("%-14s %-15s %6d/%-6d     %8d/%-8d   %3d/%s" % (
            "vxlan (kernel)", "af_xdp", packets, inner["packets"], octets, inner["octets"], len(alerts),
            ">=1 tunnel"))

        # Every ICMP packet that crossed the link, and nothing else.
        self.assertGreater(inner["packets"], 2 * PING_COUNT * len(PING_SIZES))
        self.assertEqual(packets, inner["packets"])
        self.assertEqual(octets, inner["octets"])
        self.assertEqual(stats["icmp_packets"], inner["packets"])
        self.assertGreaterEqual(stats["decap_vxlan_packets"], inner["packets"])
        self.assertEqual(stats["xdp_redirected"], stats["rx_packets"])
        self.assertEqual(stats["malformed_packets"], 0)
        # The mirrored TCP transfer stayed in the kernel: passed by XDP, never
        # seen by the probe.
        self.assertEqual(bulk_received, BULK_BYTES)
        self.assertGreaterEqual(stats["xdp_passed"], -(-BULK_BYTES // MSS_MAX))
        self.assertEqual(stats["tcp_packets"], 0)
        # The tunnel alerts client -> proxy in the VXLAN segment; the pings do not.
        self.assertTrue(alerts, "no alert for the ptunnel-ng session inside VXLAN")
        for a in alerts:
            self.assertEqual((a["src"], a["dst"]), (TUN_A, TUN_B), a)
            self.assertEqual(a["verdict"], "tunnel", a)
            self.assertEqual(a.get("segment"), {"type": "vxlan", "id": VNI}, a)
        self.assertFalse([f for f in flows if {f["src"], f["dst"]} == {VTEP_B, VTEP_SPAN}],
                         "the tunnel endpoints made a conversation")

        # The same underlay traffic from a capture.
        with harness.nfcapd() as collector:
            _, offline = harness.run_echoflow(["--pcap", under_pcap, "--collector", collector.address, "--quiet"])
            offline_flows = collector.flows()
        offline_packets = sum(f["packets"] for f in offline_flows)
        TABLE.append("%-14s %-15s %6d/%-6d     %8d/%-8d" % (
            "vxlan (kernel)", "pcap of underlay", offline_packets, inner["packets"],
            sum(f["bytes"] for f in offline_flows), inner["octets"]))
        self.assertEqual(offline_packets, inner["packets"])
        self.assertEqual(offline["icmp_packets"], inner["packets"])

    def replay(self, pcap, name):
        """One echoflow run on SPAN with `pcap` replayed onto the underlay."""
        with harness.nfcapd() as collector:
            probe = Probe(self.lab, "replay-" + name, ["--collector", collector.address])
            self.lab.run(NS_B, "tcpreplay", "-q", "-i", UNDERLAY, "--pps", str(REPLAY_PPS), pcap, timeout=60)
            probe.wait_quiet()
            stats, alerts, err = probe.stop()
            flows = collector.flows()
        strip = {"vlan", "segment", "time", "first_seen", "last_seen", "flow_id"}
        comparable = sorted(json.dumps({k: v for k, v in a.items() if k not in strip}, sort_keys=True)
                            for a in alerts)
        return stats, flows, comparable, alerts, err

    def test_encapsulated_captures_replayed_count_like_the_bare_one(self):
        expected = harness.tshark_icmp_totals(test_mirrors.BARE)
        _, bare_flows, bare_alerts, _, _ = self.replay(test_mirrors.BARE, "bare")
        self.assertEqual(sum(f["packets"] for f in bare_flows), expected["packets"])
        self.assertTrue(bare_alerts, "the demo capture's tunnel must alert when replayed bare")
        kinds = test_mirrors.KINDS if os.environ.get("ECHOFLOW_ALL_MIRRORS") == "1" else REPLAY_KINDS
        for kind in kinds:
            with self.subTest(kind=kind):
                pcap = os.path.join(test_mirrors.MIRRORS, "mirror-%s.pcap" % kind)
                stats, flows, alerts, raw, err = self.replay(pcap, kind)
                packets = sum(f["packets"] for f in flows)
                octets = sum(f["bytes"] for f in flows)
                TABLE.append("%-14s %-15s %6d/%-6d     %8d/%-8d   %3d/%d" % (
                    kind, "af_xdp replay", packets, expected["packets"], octets, expected["octets"], len(alerts),
                    len(bare_alerts)))
                self.assertEqual(packets, expected["packets"], err)
                self.assertEqual(octets, expected["octets"])
                self.assertEqual(stats["icmp_packets"], expected["packets"])
                self.assertEqual(stats["malformed_packets"], 0)
                self.assertEqual(stats["xdp_redirected"], stats["rx_packets"])
                self.assertEqual(alerts, bare_alerts)
                if kind in test_mirrors.SEGMENTS:
                    seg_type, seg_id = test_mirrors.SEGMENTS[kind]
                    for a in raw:
                        self.assertEqual(a.get("segment"), {"type": seg_type, "id": seg_id}, kind)


if __name__ == "__main__":
    unittest.main(verbosity=2)
