"""Shared pieces of the integration tests: the real echoflow binary, a real
nfcapd started per test, nfdump and tshark as the references.

Paths come from the environment that meson sets (tests/integration/meson.build):
ECHOFLOW (the binary), ECHOFLOW_SOURCE (source root), ECHOFLOW_CORPUS
(../shared/corpus/ndpi).
"""
import contextlib
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

ECHOFLOW = os.environ.get("ECHOFLOW", "build/probe/echoflow")
SOURCE = os.environ.get("ECHOFLOW_SOURCE", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
CORPUS = os.environ.get("ECHOFLOW_CORPUS", os.path.join(SOURCE, "..", "shared", "corpus", "ndpi"))
# The corpus lives outside the repository: a clone without it skips the cases
# that read it, saying so, instead of failing them.
HAVE_CORPUS = os.path.isfile(os.path.join(CORPUS, "README.md"))
needs_corpus = unittest.skipUnless(HAVE_CORPUS, "nDPI corpus not found at %s (ECHOFLOW_CORPUS)" % CORPUS)
CAPTURES = os.path.join(SOURCE, "tests", "data", "captures")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nfcapd:
    """A real nfcapd on loopback, writing into its own directory."""

    def __init__(self, buffer_bytes=4194304):
        self.dir = tempfile.mkdtemp(prefix="ef-nfcapd-")
        self.port = free_udp_port()
        # meson's MALLOC_PERTURB_ is for echoflow: it makes nfcapd several
        # times slower (every allocation filled), an unrepresentative collector.
        env = {k: v for k, v in os.environ.items() if k != "MALLOC_PERTURB_"}
        self.proc = subprocess.Popen(
            # -B: a 4 MiB socket buffer (net.core.rmem_max here): the end of
            # a run exports every conversation at once, thousands of records
            # within milliseconds, which nfcapd's default 208 KiB buffer
            # drops (silently: UDP) before nfcapd reads them.
            ["nfcapd", "-w", self.dir, "-p", str(self.port), "-b", "127.0.0.1", "-t", "3600", "-B", str(buffer_bytes)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        # nfcapd has no readiness signal: wait until its UDP port is bound.
        deadline = time.time() + 10
        while time.time() < deadline:
            if self._bound():
                return
            if self.proc.poll() is not None:
                raise RuntimeError("nfcapd exited: " + self.proc.stderr.read().decode(errors="replace"))
            time.sleep(0.05)
        raise RuntimeError("nfcapd did not bind port %d" % self.port)

    def _bound(self):
        out = subprocess.run(["ss", "-Hlun", "sport = :%d" % self.port], capture_output=True, text=True).stdout
        return str(self.port) in out

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def _unread_bytes(self):
        """Bytes waiting in nfcapd's socket (ss Recv-Q)."""
        out = subprocess.run(["ss", "-Hlun", "sport = :%d" % self.port], capture_output=True, text=True).stdout
        fields = out.split()
        return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0

    def stop(self):
        """SIGTERM makes nfcapd flush and close its file."""
        if self.proc.poll() is None:
            # nfcapd stops reading its socket on SIGTERM: datagrams still
            # queued there are lost. echoflow can start, export and exit
            # within a few ms, before a slow-starting nfcapd (MALLOC_PERTURB_
            # from meson makes its start-up slower) has read them; wait until
            # the queue is empty.
            deadline = time.time() + 10
            while self._unread_bytes() > 0 and time.time() < deadline:
                time.sleep(0.01)
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        if self.proc.stderr:
            self.proc.stderr.close()

    def flows(self):
        """Every flow nfdump reads: dicts with proto, src, dst, type, code, packets, bytes, start, end."""
        self.stop()
        fmt = "fmt:%pr|%sa|%da|%it|%ic|%pkt|%byt|%ts|%te"
        out = subprocess.run(["nfdump", "-R", self.dir, "-q", "-N", "-o", fmt], capture_output=True, text=True,
                             env=dict(os.environ, TZ="UTC"), check=True).stdout
        flows = []
        for line in out.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) != 9:
                continue
            flows.append(dict(proto=parts[0], src=parts[1], dst=parts[2], type=int(parts[3]), code=int(parts[4]),
                              packets=int(parts[5]), bytes=int(parts[6]), start=_nf_time(parts[7]),
                              end=_nf_time(parts[8])))
        return flows

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _nf_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


@contextlib.contextmanager
def nfcapd(buffer_bytes=4194304):
    n = Nfcapd(buffer_bytes)
    try:
        yield n
    finally:
        n.cleanup()


def run_echoflow(args, timeout=120, check=True):
    """Runs echoflow; returns (CompletedProcess, stats dict or None)."""
    with tempfile.TemporaryDirectory(prefix="ef-run-") as d:
        stats_path = os.path.join(d, "stats.json")
        cmd = [ECHOFLOW] + list(args) + ["--stats-json", stats_path]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError("echoflow %s failed (%d): %s" % (" ".join(args), proc.returncode, proc.stderr))
        stats = None
        if os.path.exists(stats_path):
            with open(stats_path) as f:
                stats = json.load(f)
        return proc, stats


def tshark_icmp_totals(pcap):
    """ICMP/ICMPv6 packets and IP octets in a capture as tshark counts them,
    IP fragments included (reassembly off), and the capture's time range.

    Octets are the outermost IP header's view: IPv4 total length, IPv6 40 +
    payload length (quoted packets inside ICMP errors are not counted again).
    """
    fields = ["frame.time_epoch", "ip.proto", "ip.len", "ipv6.plen", "ipv6.fraghdr.nxt", "frame.protocols"]
    cmd = ["tshark", "-r", pcap, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-T", "fields",
           "-E", "occurrence=f", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    packets = octets = 0
    first = last = None
    for line in out.splitlines():
        t, proto, ip_len, plen, frag_nxt, protocols = line.split("|")
        ts = float(t)
        first = ts if first is None else min(first, ts)
        last = ts if last is None else max(last, ts)
        stack = protocols.split(":")
        outer = next((layer for layer in stack if layer in ("ip", "ipv6")), None)
        if outer == "ip" and proto == "1":
            packets += 1
            octets += int(ip_len)
        elif outer == "ipv6" and ("icmpv6" in stack or frag_nxt == "58"):
            packets += 1
            octets += 40 + int(plen)
    return dict(packets=packets, octets=octets, first=first, last=last)


def labelled_captures():
    """(path, label, tool) for every row of tests/data/captures/labels.tsv."""
    rows = []
    path = os.path.join(CAPTURES, "labels.tsv")
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#") or line.startswith("file\t"):
                continue
            cols = line.rstrip("\n").split("\t")
            rows.append((os.path.join(CAPTURES, cols[0]), cols[1], cols[2] if len(cols) > 2 else ""))
    return rows
