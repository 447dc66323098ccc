#!/usr/bin/env python3
"""Time on a live port: expiry runs on a monotonic clock, the wall clock
only dates what is exported.

A DPDK net_tap port (a kernel tap interface the test writes pings into,
needs root) is read by the real binary; two collectors receive the export:
a real nfcapd (read back with nfdump) and the independent IPFIX decoder of
test_export_decode (flowEndReason, which nfdump 1.7 does not show).

- The wall clock is stepped back one hour and forward again mid-run with
  libfaketime (LD_PRELOAD into echoflow only; by default libfaketime also
  moves CLOCK_MONOTONIC, the harsher case): every conversation still ends by
  idle timeout within its bound, dated by the wall clock of its export.
- The process is stopped (SIGSTOP) for longer than the idle timeout while
  pings wait in the tap's queue: every record is ordered (end >= start) and
  ends for the right reason.
"""
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

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
IDLE_S = 2
# The cache scans every conversation every 0.5 s and an idle one leaves at
# most 1 s after its timeout (README); a partly filled IPFIX message waits up
# to 0.2 s; the rest is scheduling slack on a shared machine.
LATE_BOUND_S = 1.0 + 0.2 + 0.8


class StampedReceiver(Receiver):
    """Keeps the arrival time of every datagram (this process's clock)."""

    def __init__(self):
        self.stamped = []
        super().__init__()

    def _run(self):
        while self.running:
            try:
                dg = self.sock.recv(65535)
            except OSError:
                continue
            self.stamped.append((time.time(), dg))
            self.datagrams.append(dg)


def decoded_flows(datagrams):
    """Flow records: dicts with src (dotted), start/end (s), reason, packets."""
    _, records, _ = decode(datagrams)
    flows = []
    for recs in records.values():
        for r in recs:
            if (2, None) not in r or (8, None) not in r:
                continue
            flows.append(dict(src=".".join(str(b) for b in r[(8, None)]),
                              start=int.from_bytes(r[(152, None)], "big") / 1000.0,
                              end=int.from_bytes(r[(153, None)], "big") / 1000.0,
                              reason=r[(136, None)][0],
                              packets=int.from_bytes(r[(2, None)], "big")))
    return flows


def nfdump_times(nf):
    """(src, start, duration) of every flow at nfcapd: %tsr and %td (1.7.1's
    %ter misprints its milliseconds)."""
    nf.stop()
    out = subprocess.run(["nfdump", "-R", nf.dir, "-q", "-N", "-o", "fmt:%sa|%tsr|%td"], capture_output=True,
                         text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3:
            rows.append((parts[0], float(parts[1]), float(parts[2])))
    return rows


class TapProbe:
    """echoflow on a net_tap port, with two collectors; frames are written
    into the tap from this process."""

    def __init__(self, extra_env=None, options=()):
        self.ifname = "efclk%d" % (os.getpid() % 100000)
        self.dir = tempfile.mkdtemp(prefix="ef-clock-")
        self.stats_path = os.path.join(self.dir, "stats.json")
        self.nf = harness.Nfcapd()
        self.rx = StampedReceiver()
        cmd = [harness.ECHOFLOW, "--no-huge", "-m", "512", "--no-pci", "--file-prefix", "ef-clock-%d" % os.getpid(),
               "-l", "0", "--log-level", "lib.eal:error", "--vdev", "net_tap0,iface=" + self.ifname, "--",
               "--idle-timeout", str(IDLE_S), "--active-timeout", "600", "--cache-size", "65536",
               "--collector", self.nf.address, "--collector", "127.0.0.1:%d" % self.rx.port,
               "--stats-json", self.stats_path] + list(options)
        env = dict(os.environ)
        env.update(extra_env or {})
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        self.t0 = time.time()
        self.err = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise AssertionError("echoflow exited at start: " + "".join(self.err))
            self.err.append(line)
            if "port(s)" in line:
                break
        while not os.path.exists("/sys/class/net/%s" % self.ifname) and time.time() < deadline:
            time.sleep(0.05)
        from scapy.all import conf  # python3-scapy, imported once
        self.sock = conf.L2socket(iface=self.ifname)

    def ping(self, src, ident, seq):
        from scapy.all import ICMP, IP, Ether
        self.sock.send(Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02") / IP(src=src, dst="10.9.255.1") /
                       ICMP(type=8, id=ident, seq=seq) / (b"\x10" * 56))

    def stop(self):
        """SIGINT, then the collectors' view: (stats, decoded flows with
        receive times, nfdump rows)."""
        self.sock.close()
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=60)
        self.err.append(err)
        rc = self.proc.returncode
        if rc != 0:
            raise AssertionError("echoflow exited %d: %s" % (rc, "".join(self.err)))
        time.sleep(0.3)
        self.rx.stop()
        with open(self.stats_path) as f:
            stats = json.load(f)
        return stats

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.nf.cleanup()


@unittest.skipUnless(os.geteuid() == 0, "needs root (a tap interface)")
class Clock(unittest.TestCase):
    def received_flows(self, probe):
        """Decoded flows of our test addresses, each with the time its
        datagram arrived (this process's clock, never faked)."""
        flows = []
        templates = []  # the messages that carry templates: decoded with each data message
        for stamp, dg in probe.rx.stamped:
            if int.from_bytes(dg[16:18], "big") in (2, 3):
                templates.append(dg)
                continue
            for f in decoded_flows(templates + [dg]):
                if f["src"].startswith("10.9."):
                    f["received"] = stamp
                    flows.append(f)
        return flows

    def test_wall_clock_steps_change_timestamps_never_expiry(self):
        if not os.path.exists(FAKETIME_LIB):
            self.skipTest("libfaketime is not installed (Debian: faketime)")
        with tempfile.NamedTemporaryFile("w", prefix="ef-faketime-", delete=False) as f:
            offset_file = f.name
            f.write("+0\n")
        env = {"LD_PRELOAD": FAKETIME_LIB, "FAKETIME_TIMESTAMP_FILE": offset_file, "FAKETIME_NO_CACHE": "1"}
        probe = TapProbe(env)
        try:
            # Per phase: the wall offset echoflow sees, then four
            # conversations of four pings 0.2 s apart, then quiet for
            # longer than the idle timeout and its bound.
            sent = {}  # src -> (phase offset s, first send, last send, packets)
            for phase, offset in enumerate([0, -3600, 0, 3600]):
                with open(offset_file, "w") as f:
                    f.write("%+ds\n" % offset)
                for seq in range(4):
                    for n in range(4):
                        src = "10.9.%d.%d" % (phase, n + 1)
                        probe.ping(src, 100 + n, seq)
                        first = sent.get(src, (offset, time.time(), 0, 0))[1]
                        sent[src] = (offset, first, time.time(), seq + 1)
                    time.sleep(0.2)
                time.sleep(IDLE_S + LATE_BOUND_S + 0.5)
            with open(offset_file, "w") as f:
                f.write("+0\n")
            stats = probe.stop()
            flows = self.received_flows(probe)
            rows = nfdump_times(probe.nf)
        finally:
            probe.cleanup()
            os.unlink(offset_file)
        self.assertGreater(stats["elapsed_seconds"], 4 * (IDLE_S + 1.0))
        self.assertLess(stats["elapsed_seconds"], time.time() - probe.t0 + 1)
        self.assertEqual(sorted(f["src"] for f in flows), sorted(sent), "one record per conversation")
        # The run's record table, for the log (meson-logs/testlog.txt).
        for f in sorted(flows, key=lambda f: f["src"]):
            sys.stderr.write("clock step: %-9s wall offset %+5d s  flowEndReason %d  packets %d  exported %.2f s "
                             "after its last packet\n" % (f["src"], sent[f["src"]][0], f["reason"], f["packets"],
                                                          f["received"] - sent[f["src"]][2]))
        for f in flows:
            offset, first, last, packets = sent[f["src"]]
            with self.subTest(src=f["src"], wall_offset=offset):
                self.assertEqual(f["reason"], 1, "ended by idle timeout")
                self.assertEqual(f["packets"], packets)
                late = f["received"] - last
                self.assertGreaterEqual(late, IDLE_S - 0.05, "not before its idle timeout")
                self.assertLessEqual(late, IDLE_S + LATE_BOUND_S, "within the bound after it")
                # Dated by the wall clock echoflow saw when it exported.
                self.assertAlmostEqual(f["start"], first + offset, delta=1.0)
                self.assertGreaterEqual(f["end"], f["start"])
        ours = [r for r in rows if r[0].startswith("10.9.")]
        self.assertEqual(len(ours), len(sent))
        for src, start, duration in ours:
            self.assertGreaterEqual(duration, 0, src)
            self.assertAlmostEqual(start, sent[src][1] + sent[src][0], delta=1.0)

    def test_a_stopped_process_writes_ordered_times_and_right_reasons(self):
        probe = TapProbe()
        try:
            # A: pings before the stop. While stopped: more for half of A
            # and new conversations B; they wait in the tap's queue.
            for seq in range(3):
                for n in range(8):
                    probe.ping("10.9.1.%d" % (n + 1), 200 + n, seq)
                time.sleep(0.2)
            os.kill(probe.proc.pid, signal.SIGSTOP)
            try:
                for n in range(4):
                    probe.ping("10.9.1.%d" % (n + 1), 200 + n, 10)
                for n in range(16):
                    probe.ping("10.9.2.%d" % (n + 1), 300 + n, 0)
                time.sleep(IDLE_S + 2.0)
            finally:
                os.kill(probe.proc.pid, signal.SIGCONT)
            time.sleep(0.5)
            for n in range(16):
                probe.ping("10.9.2.%d" % (n + 1), 300 + n, 1)
            time.sleep(IDLE_S + LATE_BOUND_S + 0.5)
            stats = probe.stop()
            flows = self.received_flows(probe)
            rows = nfdump_times(probe.nf)
        finally:
            probe.cleanup()
        self.assertEqual(sum(f["packets"] for f in flows), 8 * 3 + 4 + 16 * 2)
        for f in flows:
            with self.subTest(src=f["src"]):
                self.assertGreaterEqual(f["end"], f["start"])
                self.assertLess(f["end"] - f["start"], 60)
                self.assertEqual(f["reason"], 1, "every conversation went idle before the stop")
        # A's conversations that took pings during the stop: the part before
        # it went idle meanwhile, the part after is its own conversation.
        for n in range(4):
            self.assertEqual(len([f for f in flows if f["src"] == "10.9.1.%d" % (n + 1)]), 2)
        self.assertEqual(stats["records_exported"], len(rows))
        for src, start, duration in rows:
            self.assertGreaterEqual(duration, 0, src)


def template_lifetime_violations(datagrams, lifetime_s):
    """Data sets whose message export time is more than lifetime_s after the
    last (re)send of their template: what a UDP collector that forgets
    templates after their lifetime (RFC 7011 §8.4; ipfixcol2: 30 min) could
    not decode. Returns [(export time, template id)]."""
    sent = {}
    late = []
    for dg in datagrams:
        export_time = int.from_bytes(dg[4:8], "big")
        off = 16
        while off + 4 <= len(dg):
            set_id = int.from_bytes(dg[off:off + 2], "big")
            set_len = int.from_bytes(dg[off + 2:off + 4], "big")
            body = dg[off + 4:off + set_len]
            if set_id in (2, 3):
                p = 0
                while p + 4 <= len(body):
                    tid, count = int.from_bytes(body[p:p + 2], "big"), int.from_bytes(body[p + 2:p + 4], "big")
                    p += 6 if set_id == 3 else 4
                    for _ in range(count):
                        ie = int.from_bytes(body[p:p + 2], "big")
                        p += 8 if ie & 0x8000 else 4
                    sent[tid] = export_time
            elif set_id >= 256 and (set_id not in sent or export_time - sent[set_id] > lifetime_s):
                late.append((export_time, set_id))
            off += set_len
    return late


class CaptureTime(unittest.TestCase):
    """--pcap: the capture's clock drives export; a quiet gap must not let
    data outrun its templates, and the metering counters mean IP octets."""

    def run_pcap(self, packets, extra=()):
        from scapy.all import wrpcap  # python3-scapy
        with tempfile.TemporaryDirectory(prefix="ef-clock-") as d:
            pcap = os.path.join(d, "in.pcap")
            wrpcap(pcap, packets)
            rx = Receiver()
            try:
                _, stats = harness.run_echoflow(["--pcap", pcap, "--collector", "127.0.0.1:%d" % rx.port,
                                                 "--quiet"] + list(extra))
            finally:
                time.sleep(0.2)
                rx.stop()
        return rx.datagrams, stats

    def test_templates_precede_data_after_a_two_hour_gap(self):
        from scapy.all import ICMP, IP, Ether
        packets = []
        t0 = 1_700_000_000.0
        for phase, start in enumerate([t0, t0 + 2 * 3600]):
            for seq in range(4):
                for n in range(200):
                    p = (Ether() / IP(src="10.8.%d.%d" % (phase, n // 200 + 1), dst="10.8.255.%d" % (n % 200 + 1)) /
                         ICMP(type=8, id=n, seq=seq) / (b"\x10" * 56))
                    p.time = start + seq + n / 1000.0
                    packets.append(p)
        datagrams, stats = self.run_pcap(packets)
        self.assertEqual(template_lifetime_violations(datagrams, 1800), [],
                         "a collector with a 30 min template lifetime decodes every data set")
        _, records, _ = decode(datagrams)
        flow_records = [r for v in records.values() for r in v if (2, None) in r]
        self.assertEqual(len(flow_records), stats["records_exported"])
        self.assertEqual(len(flow_records), 400)
        sys.stderr.write("two-hour gap: %d of %d flow records decoded, %d packets\n" % (
            len(flow_records), stats["records_exported"],
            sum(int.from_bytes(r[(2, None)], "big") for r in flow_records)))
        self.assertEqual(sum(int.from_bytes(r[(2, None)], "big") for r in flow_records), len(packets))

    def test_ignored_octets_are_ip_octets(self):
        from scapy.all import ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, Padding
        packets = [
            Ether() / IP(src="10.7.0.1", dst="10.7.0.2") / ICMP(id=1) / (b"\x10" * 56),
            Ether() / IP(src="10.7.0.1", dst="10.7.0.2") / UDP(sport=1, dport=2) / Padding(b"\0" * 18),  # ip 28
            Ether() / Dot1Q(vlan=5) / IP(src="10.7.0.1", dst="10.7.0.2") / TCP() / (b"y" * 100),  # ip 140
            Ether() / IP(src="10.7.0.1", dst="10.7.0.2", proto=47) / (b"z" * 30),  # ip 50
            Ether() / ARP(),
        ]
        for i, p in enumerate(packets):
            p.time = 1_700_000_000 + i
        expected = 28 + 140 + 50
        datagrams, stats = self.run_pcap(packets)
        _, records, _ = decode(datagrams)
        ignored = [int.from_bytes(r[(165, None)], "big") for v in records.values() for r in v if (165, None) in r]
        self.assertTrue(ignored, "the metering statistics record was exported")
        self.assertEqual(ignored[-1], expected)
        self.assertEqual(stats["other_ip_octets"], expected)


if __name__ == "__main__":
    unittest.main(verbosity=2)
