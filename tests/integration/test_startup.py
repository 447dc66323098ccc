#!/usr/bin/env python3
"""Live start-up on DPDK virtual devices: the mbuf pool is sized by
--mbufs when a driver holds more than its ring, and a pool too small for it
is one clear line naming the option, exit status 1, never a hang. Workers
build their tables on their own lcores (NUMA first touch) and say where
they landed; a worker that cannot is one line and exit status 1."""
import os
import json
import re
import resource
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


def lcores_spec(workers):
    """--lcores for a main lcore and `workers` worker lcores, spread over
    the CPUs this process may use (lcores may share a CPU)."""
    cpus = sorted(os.sched_getaffinity(0))
    return ",".join("%d@%d" % (i, cpus[i % len(cpus)]) for i in range(workers + 1)), cpus


def cpu_node(cpu):
    """The NUMA node of a CPU as sysfs says (0 without NUMA support)."""
    for name in os.listdir("/sys/devices/system/cpu/cpu%d" % cpu):
        if name.startswith("node") and name[4:].isdigit():
            return int(name[4:])
    return 0


def eal_workers(prefix, workers, vdevs):
    spec, cpus = lcores_spec(workers)
    cmd = [harness.ECHOFLOW, "--no-huge", "-m", "512", "--no-pci", "--file-prefix", prefix, "--lcores", spec,
           "--log-level", "lib.eal:error", "--log-level", "pmd.*:critical"]
    for v in vdevs:
        cmd += ["--vdev", v]
    return cmd + ["--"], cpus


WORKER_LINE = re.compile(r"^echoflow: worker (\d+): lcore (\d+), socket (\d+); (.*)$")
POOL_LINE = re.compile(r"^echoflow: mbuf pool (\S+): (\d+) mbufs for (\d+) worker\(s\) on socket (\d+); "
                       r"memory on node (\d+)$")
TABLE_PART = re.compile(r"^(conversation cache|detector state|record queue|alert queue) on node (\d+)$")


class Placement(unittest.TestCase):
    def test_each_workers_tables_and_each_pool_are_on_its_socket(self):
        """Every worker names its lcore, the lcore's socket and the node its
        tables' pages landed on (move_pages); they agree, and the socket is
        the node sysfs gives for the lcore's CPU."""
        demo = os.path.join(harness.SOURCE, "tests", "data", "demo.pcap")
        cmd, cpus = eal_workers("ef-place-%d" % os.getpid(), 2,
                                ["net_pcap0,rx_pcap=%s" % demo, "net_pcap1,rx_pcap=%s" % demo])
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "port(s)" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, "\n".join(lines) + err)
        workers = [WORKER_LINE.match(l) for l in lines if WORKER_LINE.match(l)]
        self.assertEqual(sorted(int(m.group(1)) for m in workers), [0, 1], "\n".join(lines))
        for m in workers:
            lcore, socket = int(m.group(2)), int(m.group(3))
            self.assertIn(lcore, (1, 2))
            self.assertEqual(socket, cpu_node(cpus[lcore % len(cpus)]), m.group(0))
            tables = {}
            for part in m.group(4).split(", "):
                t = TABLE_PART.match(part)
                self.assertIsNotNone(t, "a table not on a known node: " + m.group(0))
                tables[t.group(1)] = int(t.group(2))
            self.assertEqual(set(tables), {"conversation cache", "detector state", "record queue", "alert queue"})
            for name, node in tables.items():
                self.assertEqual(node, socket, "%s of worker %s" % (name, m.group(1)))
        pools = [POOL_LINE.match(l) for l in lines if POOL_LINE.match(l)]
        self.assertGreaterEqual(len(pools), 1, "\n".join(lines))
        self.assertEqual(sum(int(p.group(3)) for p in pools), 2)
        for p in pools:
            self.assertEqual(p.group(4), p.group(5), p.group(0))
            self.assertEqual(p.group(1), "echoflow_mbufs_s" + p.group(4))


class WorkerStartFailure(unittest.TestCase):
    def test_a_worker_that_cannot_build_its_tables_ends_the_run_with_one_line(self):
        """Each worker builds its tables on its own lcore. With the address
        space capped (RLIMIT_AS, as prlimit --as does) the EAL starts but a
        16 GiB conversation cache cannot be mapped: one line naming the
        worker, its lcore and the cause, exit 1, no hang."""
        limit = 3 << 30

        def cap_address_space():
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        cmd, _ = eal_workers("ef-fail-%d" % os.getpid(), 2, ["net_null0"])
        started = time.monotonic()
        proc = subprocess.run(cmd + ["--cache-size", str(1 << 27)], capture_output=True, text=True, timeout=60,
                              preexec_fn=cap_address_space)
        self.assertLess(time.monotonic() - started, 30)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        ours = [line for line in proc.stderr.splitlines() if line.startswith("echoflow:")]
        self.assertEqual(len(ours), 1, proc.stderr)
        m = re.match(r"^echoflow: worker (\d+) \(lcore (\d+), socket \d+\): (flow cache|detector state): "
                     r"cannot allocate \d+ bytes", ours[0])
        self.assertIsNotNone(m, ours[0])
        self.assertIn(int(m.group(2)), (1, 2), "built on a worker lcore, not the main one")

    def test_ctrl_c_while_workers_build_their_tables_ends_the_start(self):
        """A 1 GiB cache (and as much detector state) takes the worker's
        lcore a while to zero; Ctrl-C meanwhile ends the start at once with
        one line, exit 1, rather than waiting for it or hanging."""
        cmd, _ = eal_workers("ef-int-%d" % os.getpid(), 1, ["net_null0"])
        started = time.monotonic()
        proc = subprocess.Popen(cmd + ["--cache-size", str(1 << 23)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(0.25)  # the stop handlers are installed before the EAL starts; zeroing takes longer
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        self.assertLess(time.monotonic() - started, 20)
        self.assertEqual(proc.returncode, 1, err)
        ours = [line for line in err.splitlines() if line.startswith("echoflow:")]
        self.assertEqual(ours, ["echoflow: worker 0 (lcore 1): start-up interrupted while it built its tables"], err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
