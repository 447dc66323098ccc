#!/usr/bin/env python3
"""echoflow --interface on an emulated SPAN port.

Two network namespaces joined by veth carry real traffic; tc mirrors both
directions of that link (clsact ingress and egress on B's end, u32 match-all,
mirred egress mirror) to a third veth whose peer is echoflow's interface. That
end is in the root namespace, where echoflow runs, so that it reaches the
harness's nfcapd on 127.0.0.1:

    NS_A  ef-a0 ======== ef-b0  NS_B  --(tc mirred, both ways)--> ef-mir0 ==== efspanPID (root ns, echoflow)
    10.203.1.1  (tunnel)  10.203.1.2
    10.203.1.11 (pings)   10.203.1.12

The traffic: a ptunnel-ng session (client in A, proxy in B) carrying a real
TCP transfer of random bytes to a server in B, ordinary iputils pings of a few
sizes between the second pair of addresses, and a bulk TCP transfer A -> B.
echoflow's XDP program hands only ICMP to the probe and passes the rest in
the kernel. The checks: the tunnel alerts with the client as source and the
proxy as destination, the pings do not; the probe received no TCP while XDP
passed at least one frame per TCP segment of the bulk transfer; XDP's
redirected count is exactly what the probe received; nfcapd's ICMP flows add
up to the probe's ICMP count. A second run with --xdp-drop-other: the copies
of the TCP transfer are dropped in XDP, the transfer itself completes.

IPv6 is off on every test interface so that nothing but the traffic the test
drives (and ARP) crosses the mirror. Interface and namespace names carry the
test's pid; everything is removed in tearDownClass and, should that not run,
at exit.

TCP traffic comes from scripts/corpus/tcpxfer.py (the helper
scripts/make-corpus uses for its tunnel captures), run inside the namespaces.
"""
import atexit
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

PY = "/usr/bin/python3"
TCPXFER = os.path.join(harness.SOURCE, "scripts", "corpus", "tcpxfer.py")
TAG = str(os.getpid() % 100000)
NS_A = "ef-sa-" + TAG       # ptunnel-ng client, pinger, bulk sender
NS_B = "ef-sb-" + TAG       # ptunnel-ng proxy, TCP servers, the mirror
LINK_A, LINK_B = "ef-a0", "ef-b0"
MIRROR = "ef-mir0"          # in NS_B, the mirror's sending end
SPAN = "efspan" + TAG       # root namespace; also names echoflow's DPDK file prefix
TUN_A, TUN_B = "10.203.1.1", "10.203.1.2"
PING_A, PING_B = "10.203.1.11", "10.203.1.12"
BULK_PORT, TUNNEL_SERVER_PORT, TUNNEL_LOCAL_PORT = 5001, 9000, 8000
BULK_BYTES = 4 * 1024 * 1024
DROP_RUN_BULK_BYTES = 2 * 1024 * 1024
TUNNEL_UP, TUNNEL_DOWN = 24000, 12000
PING_SIZES = (56, 512, 1400, 3000)   # 3000: three fragments per echo
PING_COUNT = 5
# Largest TCP payload in a 1500-byte frame: at least BYTES / MSS_MAX segments.
MSS_MAX = 1460


def frames_per_echo(size):
    """IPv4 fragments of one echo of `size` data bytes on a 1500-byte MTU."""
    icmp = size + 8
    per_fragment = 1480  # (1500 - 20) rounded down to a multiple of 8
    return -(-icmp // per_fragment)


def wait_for(what, predicate, timeout, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


class Lab:
    """The namespaces, links, mirror and every process started in them."""

    # One queue each way, so every mirrored frame reaches RX queue 0 of the
    # SPAN interface, where echoflow's one AF_XDP socket is.
    ONE_QUEUE = ["numtxqueues", "1", "numrxqueues", "1"]

    def __init__(self, workdir):
        self.workdir = workdir
        self.namespaces = []
        self.procs = []
        self.span_created = False

    @staticmethod
    def _in(ns, cmd):
        return (["ip", "netns", "exec", ns] if ns else []) + list(cmd)

    def run(self, ns, *cmd, check=True, timeout=60):
        """A command in namespace `ns` (None: the root namespace)."""
        p = subprocess.run(self._in(ns, cmd), capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("%s: %s failed (%d): %s%s" % (ns, " ".join(cmd), p.returncode, p.stdout, p.stderr))
        return p

    def spawn(self, ns, cmd, log=None, **kw):
        """A background process in `ns` (None: the root namespace). `ip
        netns exec` execs the command, so the pid is the command's own."""
        out = open(os.path.join(self.workdir, log), "w") if log else subprocess.DEVNULL
        kw.setdefault("stdout", out)
        kw.setdefault("stderr", subprocess.STDOUT if log else subprocess.DEVNULL)
        proc = subprocess.Popen(self._in(ns, cmd), **kw)
        if log:
            out.close()
        self.procs.append(proc)
        return proc

    def stop(self, proc, sig=signal.SIGTERM, timeout=10):
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def build(self):
        self.build_link()
        self.add_span_pair(MIRROR)
        self.mirror_link_to(MIRROR)
        self.run(NS_A, "ping", "-c", "1", "-W", "2", TUN_B)

    def build_link(self):
        """NS_A and NS_B, joined by LINK_A -- LINK_B, with their addresses."""
        for ns in (NS_A, NS_B):
            if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
                raise AssertionError("cannot create namespace %s (stale? ip netns del %s)" % (ns, ns))
            self.namespaces.append(ns)
            # Only the traffic this test drives should cross the mirror: no
            # IPv6 (router solicitations, MLD, DAD) on any link.
            self.run(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
            self.run(ns, "ip", "link", "set", "lo", "up")
        subprocess.run(["ip", "link", "add", LINK_A] + self.ONE_QUEUE + ["netns", NS_A, "type", "veth", "peer",
                       "name", LINK_B] + self.ONE_QUEUE + ["netns", NS_B], check=True)
        self.run(NS_A, "ip", "addr", "add", TUN_A + "/24", "dev", LINK_A)
        self.run(NS_A, "ip", "addr", "add", PING_A + "/24", "dev", LINK_A)
        self.run(NS_B, "ip", "addr", "add", TUN_B + "/24", "dev", LINK_B)
        self.run(NS_B, "ip", "addr", "add", PING_B + "/24", "dev", LINK_B)
        self.set_up(NS_A, LINK_A)
        self.set_up(NS_B, LINK_B)

    def set_up(self, ns, dev, mtu=1500):
        # No TSO/GSO/GRO: wire-sized frames, so one mirrored frame per TCP
        # segment, and checksums computed in software.
        self.run(ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", "tx", "off", check=False)
        self.run(ns, "ip", "link", "set", dev, "mtu", str(mtu), "up")

    def add_span_pair(self, name, mtu=1500):
        """A veth `name` in NS_B whose peer is SPAN, echoflow's interface in
        the root namespace."""
        subprocess.run(["ip", "link", "add", name] + self.ONE_QUEUE + ["netns", NS_B, "type", "veth", "peer",
                       "name", SPAN] + self.ONE_QUEUE, check=True)
        self.span_created = True
        self.run(None, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % SPAN)
        self.set_up(NS_B, name, mtu)
        self.set_up(None, SPAN, mtu)

    def mirror_link_to(self, dev):
        """The SPAN session: both directions of LINK_B copied to `dev` in NS_B."""
        self.run(NS_B, "tc", "qdisc", "add", "dev", LINK_B, "clsact")
        for direction in ("ingress", "egress"):
            self.run(NS_B, "tc", "filter", "add", "dev", LINK_B, direction, "protocol", "all", "u32",
                     "match", "u32", "0", "0", "action", "mirred", "egress", "mirror", "dev", dev)

    def cleanup(self):
        for proc in reversed(self.procs):
            # echoflow gets SIGINT (it detaches XDP and exits cleanly).
            self.stop(proc, signal.SIGINT if proc.args[0] == harness.ECHOFLOW else signal.SIGTERM, timeout=15)
        self.procs = []
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces = []
        if self.span_created:
            # Deleting NS_B removed the pair already; this is for a failed build.
            subprocess.run(["ip", "link", "del", SPAN], capture_output=True)
            self.span_created = False
        shutil.rmtree("/var/run/dpdk/echoflow-" + SPAN, ignore_errors=True)


def read_telemetry(command):
    """One command over DPDK's telemetry socket (the v2 protocol that
    dpdk-telemetry.py speaks: a JSON hello, then one reply per command)."""
    path = "/var/run/dpdk/echoflow-%s/dpdk_telemetry.v2" % SPAN
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(5)
        s.connect(path)
        hello = json.loads(s.recv(4096))
        s.send(command.encode())
        return json.loads(s.recv(hello["max_output_len"]))[command]


class Probe:
    """echoflow --interface SPAN, started and stopped with SIGINT."""

    def __init__(self, lab, name, options):
        self.lab = lab
        self.stats_path = os.path.join(lab.workdir, name + "-stats.json")
        self.alerts_path = os.path.join(lab.workdir, name + "-alerts.jsonl")
        self.log = name + "-echoflow.log"
        cmd = [harness.ECHOFLOW, "--interface", SPAN, "--stats-json", self.stats_path, "--alerts", self.alerts_path]
        self.proc = lab.spawn(None, cmd + options, log=self.log)
        wait_for("echoflow to start", self._started, 60, 0.2)

    def stderr(self):
        with open(os.path.join(self.lab.workdir, self.log), errors="replace") as f:
            return f.read()

    def _started(self):
        if self.proc.poll() is not None:
            raise AssertionError("echoflow exited (%d) at start:\n%s" % (self.proc.returncode, self.stderr()))
        return "stop with Ctrl-C" in self.stderr()

    def xdp_attached(self):
        return "name icmp_steer" in self.lab.run(None, "ip", "link", "show", "dev", SPAN).stdout

    def promiscuous(self):
        flags = self.lab.run(None, "ip", "link", "show", "dev", SPAN).stdout.split(">", 1)[0]
        return "PROMISC" in flags

    def wait_quiet(self):
        """Until the probe's packet count has not moved for a second: every
        frame XDP redirected has been received before SIGINT."""
        history = []

        def settled():
            history.append(read_telemetry("/echoflow/stats")["rx_packets"])
            return len(history) >= 5 and len(set(history[-5:])) == 1
        wait_for("the probe's rx_packets to settle", settled, 20, 0.25)

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("echoflow did not stop on SIGINT:\n" + self.stderr())
        err = self.stderr()
        if self.proc.returncode != 0:
            raise AssertionError("echoflow exited %d:\n%s" % (self.proc.returncode, err))
        with open(self.stats_path) as f:
            stats = json.load(f)
        alerts = []
        if os.path.exists(self.alerts_path):
            with open(self.alerts_path) as f:
                alerts = [json.loads(line) for line in f if line.strip()]
        return stats, alerts, err


def report(name, stats, extra, err=""):
    """The figures of a run, and echoflow's own summary, in the test log."""
    keys = ("rx_packets", "icmp_packets", "tcp_packets", "xdp_redirected", "xdp_passed", "xdp_dropped", "alerts")
    print("%s: %s %s" % (name, " ".join("%s=%s" % (k, stats.get(k)) for k in keys), extra), file=sys.stderr)
    summary = err[err.find("echoflow summary"):] if "echoflow summary" in err else ""
    if summary:
        print(summary.rstrip(), file=sys.stderr)


class SpanTraffic:
    """Real traffic across LINK_A -- LINK_B (a mixin for test cases with a
    `lab`)."""

    # ------------------------------------------------------------ traffic
    def start_tcp_server(self, ns, host, port, expect, reply, name):
        proc = self.lab.spawn(ns, [PY, TCPXFER, "serve", host, str(port), str(reply), "--expect", str(expect)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        self.assertTrue(ready and proc.stdout.readline().strip() == "listening", name + " server did not start")
        return proc

    def server_received(self, proc, timeout=30):
        """The bytes the server read (tcpxfer's 'server rx=N tx=M' line)."""
        _, err = proc.communicate(timeout=timeout)
        match = re.search(r"server rx=(\d+)", err)
        return int(match.group(1)) if match else -1

    def bulk_transfer(self, nbytes):
        """A -> B over the mirrored link; returns the bytes B received."""
        server = self.start_tcp_server(NS_B, TUN_B, BULK_PORT, nbytes, 0, "bulk")
        self.lab.run(NS_A, PY, TCPXFER, "send", TUN_B, str(BULK_PORT), str(nbytes), "--expect", "0",
                     "--timeout", "60", timeout=90)
        return self.server_received(server)

    def start_pings(self, sizes, count):
        return [self.lab.spawn(NS_A, ["ping", "-n", "-q", "-I", PING_A, "-c", str(count), "-i", "0.2", "-W", "2",
                                      "-s", str(size), PING_B], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True) for size in sizes]

    def check_pings(self, pings, count):
        for p in pings:
            out, _ = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0, out)
            self.assertIn("%d received" % count, out)

    def tunnel_transfer(self):
        """A TCP session through ptunnel-ng: up TUNNEL_UP bytes, down TUNNEL_DOWN."""
        server = self.start_tcp_server(NS_B, "127.0.0.1", TUNNEL_SERVER_PORT, TUNNEL_UP, TUNNEL_DOWN, "tunnel")
        proxy = self.lab.spawn(NS_B, ["ptunnel-ng", "-v1", "-r127.0.0.1", "-R%d" % TUNNEL_SERVER_PORT],
                               log="ptunnel-proxy.log")
        # The proxy's raw ICMP socket is its readiness.
        wait_for("the ptunnel-ng proxy's ICMP socket",
                 lambda: self.lab.run(NS_B, "ss", "-Hwa", check=False).stdout.strip() != "", 15)
        client = self.lab.spawn(NS_A, ["ptunnel-ng", "-v1", "-p" + TUN_B, "-l%d" % TUNNEL_LOCAL_PORT,
                                       "-r127.0.0.1", "-R%d" % TUNNEL_SERVER_PORT], log="ptunnel-client.log")
        wait_for("the ptunnel-ng client to listen",
                 lambda: self.lab.run(NS_A, "ss", "-Hltn", "sport = :%d" % TUNNEL_LOCAL_PORT).stdout.strip() != "",
                 15)
        send = self.lab.run(NS_A, PY, TCPXFER, "send", "127.0.0.1", str(TUNNEL_LOCAL_PORT), str(TUNNEL_UP),
                            "--expect", str(TUNNEL_DOWN), "--timeout", "60", check=False, timeout=90)
        received = self.server_received(server, timeout=60)
        # Let the closing exchange cross the tunnel before the ends go.
        time.sleep(1)
        self.lab.stop(client)
        self.lab.stop(proxy)
        self.assertEqual(send.returncode, 0, "tunnel transfer failed: %s" % send.stderr)
        self.assertEqual(received, TUNNEL_UP)


class SpanXdp(SpanTraffic, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (network namespaces, XDP)")
        for tool in ("ptunnel-ng", "tc", "ethtool", "ping", "nfcapd", "nfdump", "dpdk-telemetry.py"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest("missing " + tool)
        cls.workdir = tempfile.mkdtemp(prefix="ef-span-")
        cls.lab = Lab(cls.workdir)
        atexit.register(cls.lab.cleanup)
        # meson's timeout sends SIGTERM: unwind, so that cleanup still runs.
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

    # --------------------------------------------------------------- runs
    def test_span_mirror_tunnel_alerts_pings_do_not_tcp_stays_in_kernel(self):
        with harness.nfcapd() as collector:
            probe = Probe(self.lab, "pass", ["--collector", collector.address])
            self.assertTrue(probe.xdp_attached(), "icmp_steer not attached to " + SPAN)
            pings = self.start_pings(PING_SIZES, PING_COUNT)
            bulk_received = self.bulk_transfer(BULK_BYTES)
            self.tunnel_transfer()
            self.check_pings(pings, PING_COUNT)
            probe.wait_quiet()
            # What an operator runs: DPDK's own telemetry client.
            tel = subprocess.run(["dpdk-telemetry.py", "-f", "echoflow-" + SPAN], input="/echoflow/stats\n",
                                 capture_output=True, text=True, timeout=30)
            stats, alerts, err = probe.stop()
            flows = collector.flows()
        report("pass run", stats, "%d flows at nfcapd, alerts: %s" % (
            len(flows), [(a["src"], a["dst"], a["score"], a["reasons"]) for a in alerts]), err)
        self.assertFalse(probe.xdp_attached(), "icmp_steer still attached after exit")
        self.assertIn("echoflow summary", err)

        replies = [json.loads(line) for line in tel.stdout.splitlines() if line.startswith("{")]
        self.assertEqual(len(replies), 1, tel.stdout + tel.stderr)
        live = replies[0]["/echoflow/stats"]
        self.assertGreater(live["rx_packets"], 0)
        self.assertLessEqual(live["rx_packets"], stats["rx_packets"])

        # The bulk transfer went through the link; its copies stayed in the
        # kernel: XDP passed at least one frame per data segment, the probe
        # received no TCP at all.
        self.assertEqual(bulk_received, BULK_BYTES)
        self.assertGreaterEqual(stats["xdp_passed"], -(-BULK_BYTES // MSS_MAX))
        self.assertEqual(stats["tcp_packets"], 0)
        self.assertEqual(stats["other_packets"], 0)
        self.assertEqual(stats["xdp_dropped"], 0)
        # Exactly what XDP redirected reached the probe, and all of it is ICMP.
        self.assertEqual(stats["xdp_redirected"], stats["rx_packets"])
        self.assertEqual(stats["icmp_packets"], stats["rx_packets"])

        # nfcapd holds every ICMP packet the probe counted.
        self.assertTrue(flows)
        self.assertTrue(all(f["proto"] == "1" for f in flows), flows)  # nfdump -N: numeric
        self.assertEqual(sum(f["packets"] for f in flows), stats["icmp_packets"])
        ping_pair = {PING_A, PING_B}
        ping_flows = [f for f in flows if {f["src"], f["dst"]} == ping_pair]
        self.assertEqual(sum(f["packets"] for f in ping_flows),
                         sum(2 * PING_COUNT * frames_per_echo(s) for s in PING_SIZES))
        tunnel_flows = [f for f in flows if {f["src"], f["dst"]} == {TUN_A, TUN_B}]
        self.assertTrue(tunnel_flows, "no flows of the tunnel at nfcapd")

        # The tunnel alerts, client -> proxy; the pings do not.
        self.assertTrue(alerts, "no alert for the ptunnel-ng session")
        self.assertEqual(stats["alerts"], len(alerts))
        for a in alerts:
            self.assertNotIn(a["src"], ping_pair, a)
            self.assertNotIn(a["dst"], ping_pair, a)
            self.assertEqual((a["src"], a["dst"]), (TUN_A, TUN_B), a)
            self.assertEqual(a["verdict"], "tunnel", a)

    def test_xdp_drop_other_drops_the_copies_not_the_link(self):
        probe = Probe(self.lab, "drop", ["--xdp-drop-other", "--no-detect"])
        self.assertTrue(probe.promiscuous(), "a SPAN port is read in promiscuous mode")
        pings = self.start_pings([56], PING_COUNT)
        received = self.bulk_transfer(DROP_RUN_BULK_BYTES)
        self.check_pings(pings, PING_COUNT)
        probe.wait_quiet()
        stats, _, err = probe.stop()
        report("drop run", stats, "", err)
        self.assertFalse(probe.xdp_attached(), "icmp_steer still attached after exit")
        self.assertFalse(probe.promiscuous(), "echoflow switched promiscuous mode on: off again at exit")
        # Dropping on the mirror leaves the real link alone.
        self.assertEqual(received, DROP_RUN_BULK_BYTES)
        self.assertGreaterEqual(stats["xdp_dropped"], -(-DROP_RUN_BULK_BYTES // MSS_MAX))
        self.assertEqual(stats["xdp_passed"], 0)
        self.assertEqual(stats["tcp_packets"], 0)
        # The pings still reach the probe: requests and replies, exactly.
        self.assertEqual(stats["xdp_redirected"], stats["rx_packets"])
        self.assertEqual(stats["icmp_packets"], 2 * PING_COUNT)


if __name__ == "__main__":
    unittest.main(verbosity=2)
