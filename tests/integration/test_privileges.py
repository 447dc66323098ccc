#!/usr/bin/env python3
"""--user/--group: once set up, echoflow runs as the given user with the
documented capabilities (probe/privileges.hpp, docs/deployment.md), on each
input path, and a stop still exports everything.

    --pcap FIFO          every thread: no capability
    EAL vdev (net_pcap)  every thread: no capability
    --interface (veth)   main thread: CAP_NET_ADMIN only; other threads: none;
                         the XDP program is gone after the stop; started
                         within deploy/echoflow.service's bounding set

The test reads /proc/PID/task/*/status of the running probe (every thread:
capabilities are per thread), counts the flows at a real nfcapd and compares
them with tshark's count of the capture or with the pings sent. Needs root
(it switches to `nobody`, creates a veth and a namespace); skips otherwise.
"""
import grp
import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

DEMO = os.path.join(harness.SOURCE, "tests", "data", "demo.pcap")
USER = "nobody"
CAP_NET_ADMIN = 12  # linux/capability.h
TAG = str(os.getpid() % 100000)
IFACE = "efpriv" + TAG
PEER = "efprivp" + TAG
NS = "ef-priv-" + TAG
ROOT_ADDR, NS_ADDR = "10.204.1.1", "10.204.1.2"
PINGS = 20


def unit_bounding_set(unit):
    """setpriv's --bounding-set for the unit's CapabilityBoundingSet=."""
    with open(os.path.join(harness.SOURCE, "deploy", unit)) as f:
        for line in f:
            if line.startswith("CapabilityBoundingSet="):
                caps = line.split("=", 1)[1].split()
                return "-all," + ",".join("+" + c.lower()[len("cap_"):] for c in caps)
    raise AssertionError(unit + " has no CapabilityBoundingSet=")


def thread_status(pid):
    """{tid: {field: value}} from /proc/PID/task/*/status (ids and capability sets)."""
    threads = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        fields = {}
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    key, _, value = line.partition(":")
                    fields[key] = value.split()
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                fields["comm"] = f.read().strip()
        except FileNotFoundError:
            continue  # a thread that just ended
        threads[int(tid)] = fields
    return threads


def reader_wchan(pid):
    """Where the ef-reader thread sleeps in the kernel ('' if unknown)."""
    for tid, s in thread_status(pid).items():
        if s["comm"] == "ef-reader":
            try:
                with open("/proc/%d/task/%d/wchan" % (pid, tid)) as f:
                    return f.read()
            except OSError:
                return ""
    return ""


def fifo_unread(fifo):
    """Bytes still waiting in the FIFO (FIONREAD on a second read end)."""
    import array
    import fcntl
    import termios
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        buf = array.array("i", [0])
        fcntl.ioctl(fd, termios.FIONREAD, buf, True)
        return buf[0]
    finally:
        os.close(fd)


def read_telemetry(path, command):
    """One command over DPDK's telemetry socket (a JSON hello, then the reply)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(5)
        s.connect(path)
        hello = json.loads(s.recv(4096))
        s.send(command.encode())
        return json.loads(s.recv(hello["max_output_len"]))[command]


class Probe:
    """echoflow started with --user; stderr read on a thread until it ends."""

    def __init__(self, cmd, ready_marker):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.seen = False
        self.ready = threading.Event()
        self.marker = ready_marker
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            if self.marker in line:
                self.seen = True
                self.ready.set()
        self.ready.set()

    def wait_ready(self, timeout=60):
        if not self.ready.wait(timeout) or not self.seen:
            self.stop(signal.SIGKILL)
            raise AssertionError("echoflow did not start: " + "".join(self.lines))

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.reader.join(10)
        return rc

    @property
    def log(self):
        return "".join(self.lines)


@unittest.skipUnless(os.geteuid() == 0, "needs root: switches user, creates a veth and a namespace")
class RunsUnprivileged(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.user = pwd.getpwnam(USER)
        cls.group = grp.getgrgid(cls.user.pw_gid)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ef-priv-")
        self.stats_path = os.path.join(self.dir, "stats.json")
        self.alerts_path = os.path.join(self.dir, "alerts.jsonl")

    def tearDown(self):
        subprocess.run(["rm", "-rf", self.dir])

    def check_identity(self, pid, main_caps):
        """Every thread runs as USER; the main thread has exactly main_caps
        (bit numbers) permitted and effective, the others nothing."""
        threads = thread_status(pid)
        self.assertGreaterEqual(len(threads), 1)
        want_main = sum(1 << c for c in main_caps)
        for tid, s in threads.items():
            who = "thread %d (%s)" % (tid, s["comm"])
            self.assertEqual(s["Uid"], [str(self.user.pw_uid)] * 4, who)
            self.assertEqual(s["Gid"], [str(self.user.pw_gid)] * 4, who)
            self.assertEqual(s.get("Groups", []), [str(self.user.pw_gid)], who)
            want = want_main if tid == pid else 0
            for field in ("CapPrm", "CapEff"):
                self.assertEqual(int(s[field][0], 16), want, "%s %s" % (who, field))
            for field in ("CapInh", "CapAmb"):
                self.assertEqual(int(s[field][0], 16), 0, "%s %s" % (who, field))
        return threads

    def check_outputs(self):
        for path in (self.stats_path, self.alerts_path):
            mode = stat.S_IMODE(os.stat(path).st_mode)
            self.assertEqual(mode & 0o027, 0, "%s is mode %o: readable or writable by others" % (path, mode))

    def check_exported(self, stats, flows, expected_packets):
        self.assertEqual(stats["icmp_packets"], expected_packets)
        self.assertEqual(sum(f["packets"] for f in flows), expected_packets)
        self.assertEqual(stats["records_exported"], len(flows))
        self.assertEqual(stats["records_not_sent"], 0)

    def read_stats(self):
        with open(self.stats_path) as f:
            return json.load(f)

    def options(self, collector):
        return ["--collector", collector.address, "--user", USER, "--stats-json", self.stats_path,
                "--alerts", self.alerts_path, "--cache-size", "4096"]

    def test_pcap_fifo_drops_every_capability_and_still_exports_everything(self):
        expected = harness.tshark_icmp_totals(DEMO)
        fifo = os.path.join(self.dir, "in.fifo")
        os.mkfifo(fifo)
        with harness.nfcapd() as collector:
            probe = Probe([harness.ECHOFLOW, "--pcap", fifo] + self.options(collector), "running as")
            with open(fifo, "wb") as writer:  # opens once echoflow does
                with open(DEMO, "rb") as f:
                    writer.write(f.read())
                writer.flush()
                probe.wait_ready()
                self.check_identity(probe.proc.pid, [])
                # A signal ends the read where it is: stop once the reader
                # has taken everything from the FIFO and waits for more
                # (the writer is still open: a live pipe), and the main
                # thread has had time to take its last batch.
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not (fifo_unread(fifo) == 0 and
                                                            "poll" in reader_wchan(probe.proc.pid)):
                    time.sleep(0.05)
                time.sleep(0.5)
                rc = probe.stop(signal.SIGTERM)
            flows = collector.flows()
        self.assertEqual(rc, 0, probe.log)
        self.assertIn("capabilities: none", probe.log)
        self.check_exported(self.read_stats(), flows, expected["packets"])
        self.check_outputs()

    def test_dpdk_vdev_drops_every_capability_and_still_exports_everything(self):
        expected = harness.tshark_icmp_totals(DEMO)
        prefix = "ef-priv-%s" % TAG
        eal = [harness.ECHOFLOW, "--no-huge", "-m", "512", "--no-pci", "--file-prefix", prefix,
               "--log-level", "lib.eal:error", "-l", "0-1", "--vdev", "net_pcap0,rx_pcap=" + DEMO, "--"]
        try:
            with harness.nfcapd() as collector:
                probe = Probe(eal + self.options(collector), "port(s)")
                probe.wait_ready()
                threads = self.check_identity(probe.proc.pid, [])
                self.assertIn("rte-worker-1", [t["comm"] for t in threads.values()])
                # DPDK's telemetry socket: root's, not writable by others.
                sock = os.stat("/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix)
                self.assertEqual(stat.S_IMODE(sock.st_mode) & 0o002, 0)
                time.sleep(1)  # net_pcap delivers the file once; the stop exports it
                rc = probe.stop()
                flows = collector.flows()
        finally:
            subprocess.run(["rm", "-rf", "/var/run/dpdk/" + prefix])
        self.assertEqual(rc, 0, probe.log)
        self.check_exported(self.read_stats(), flows, expected["packets"])
        self.check_outputs()

    def xdp_attached(self):
        out = subprocess.run(["ip", "-d", "link", "show", "dev", IFACE], capture_output=True, text=True,
                             check=True).stdout
        return "prog/xdp" in out

    def test_interface_keeps_only_cap_net_admin_and_removes_the_xdp_program(self):
        def sh(*cmd, ns=None):
            subprocess.run((["ip", "netns", "exec", ns] if ns else []) + list(cmd), check=True, capture_output=True)
        try:
            sh("ip", "netns", "add", NS)
            sh("ip", "link", "add", IFACE, "numtxqueues", "1", "numrxqueues", "1", "type", "veth", "peer", "name",
               PEER, "numtxqueues", "1", "numrxqueues", "1", "netns", NS)
            sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % IFACE)
            sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", ns=NS)
            sh("ip", "addr", "add", ROOT_ADDR + "/24", "dev", IFACE)
            sh("ip", "link", "set", IFACE, "up")
            sh("ip", "addr", "add", NS_ADDR + "/24", "dev", PEER, ns=NS)
            sh("ip", "link", "set", PEER, "up", ns=NS)
            sh("ip", "link", "set", "lo", "up", ns=NS)
            with harness.nfcapd() as collector:
                # Within the AF_XDP unit's bounding set and with no new
                # privileges, as systemd would start it: the set-up must
                # need nothing more.
                sandbox = ["setpriv", "--bounding-set", unit_bounding_set("echoflow.service"), "--inh-caps=-all",
                           "--no-new-privs"]
                probe = Probe(sandbox + [harness.ECHOFLOW, "--interface", IFACE, "--no-detect"] +
                              self.options(collector), "port(s)")
                probe.wait_ready()
                self.assertTrue(self.xdp_attached())
                self.check_identity(probe.proc.pid, [CAP_NET_ADMIN])
                # The requests reach echoflow's socket (XDP redirects them,
                # so the kernel never answers): PINGS ICMP packets.
                subprocess.run(["ip", "netns", "exec", NS, "ping", "-c", str(PINGS), "-i", "0.05", "-W", "0.2",
                                ROOT_ADDR], capture_output=True)
                time.sleep(0.5)
                # Telemetry, served by a thread without capabilities, still
                # reads the XDP counters (through the map opened as root).
                live = read_telemetry("/var/run/dpdk/echoflow-%s/dpdk_telemetry.v2" % IFACE, "/echoflow/stats")
                self.assertEqual(live.get("xdp_redirected"), PINGS, live)
                rc = probe.stop()
                flows = collector.flows()
            self.assertEqual(rc, 0, probe.log)
            self.assertIn("capabilities: cap_net_admin", probe.log)
            self.assertFalse(self.xdp_attached(), "the XDP program outlived echoflow: " + probe.log)
            stats = self.read_stats()
            self.check_exported(stats, flows, PINGS)
            self.assertEqual(stats["xdp_redirected"], PINGS)
            self.check_outputs()
        finally:
            subprocess.run(["ip", "link", "del", IFACE], capture_output=True)
            subprocess.run(["ip", "netns", "del", NS], capture_output=True)
            subprocess.run(["rm", "-rf", "/var/run/dpdk/echoflow-" + IFACE])


class Refusals(unittest.TestCase):
    def run_echoflow(self, args, preexec=None):
        return subprocess.run([harness.ECHOFLOW] + args, capture_output=True, text=True, timeout=60,
                              preexec_fn=preexec)

    def test_unknown_user_or_group_is_a_configuration_error(self):
        for args, what in ((["--user", "no-such-user-ef"], "--user no-such-user-ef: no such user"),
                           (["--user", USER, "--group", "no-such-group-ef"], "--group no-such-group-ef: no such group"),
                           (["--user", "root"], "--user root: is root; name an unprivileged user"),
                           (["--group", "nogroup"], "--group needs --user")):
            p = self.run_echoflow(["--pcap", DEMO, "--quiet"] + args)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertEqual(p.stderr.strip(), "echoflow: " + what)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to start as another user")
    def test_an_unprivileged_start_cannot_switch_user(self):
        nobody = pwd.getpwnam(USER)

        def become_nobody():
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
        p = self.run_echoflow(["--pcap", DEMO, "--quiet", "--user", "daemon"], preexec=become_nobody)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stderr.strip(), "echoflow: --user daemon: needs root to switch from uid %d" % nobody.pw_uid)


if __name__ == "__main__":
    unittest.main(verbosity=2)
