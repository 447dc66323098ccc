#!/usr/bin/env python3
"""Bad packets, dead collectors and bad command lines: the probe survives,
counts, and says clearly what is wrong."""
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

TUNNEL = os.path.join(harness.CORPUS, "icmp-tunnel.pcap")


class BadPackets(unittest.TestCase):
    @harness.needs_corpus
    def test_broken_and_truncated_frames_are_counted_not_fatal(self):
        for name in ("badpackets.pcap", "malformed_icmp.pcap", "gnutella.pcap", "quic_interop_V.pcapng",
                     "6in4tunnel.pcap", "teredo.pcap", "anyconnect-vpn.pcap", "sflow.pcap"):
            with self.subTest(capture=name):
                pcap = os.path.join(harness.CORPUS, name)
                frames = int(subprocess.run(["capinfos", "-M", "-c", "-T", "-r", pcap], capture_output=True,
                                            text=True, check=True).stdout.split("\t")[-1])
                proc, stats = harness.run_echoflow(["--pcap", pcap, "--quiet"])
                self.assertEqual(proc.returncode, 0)
                self.assertEqual(stats["rx_packets"], frames, name + ": every frame is accounted for")
                self.assertEqual(stats["rx_packets"],
                                 stats["icmp_packets"] + stats["other_packets"] + stats["malformed_packets"] +
                                 stats["mirror_duplicates"])

    @harness.needs_corpus
    def test_badpackets_yield_no_flows(self):
        _, stats = harness.run_echoflow(["--pcap", os.path.join(harness.CORPUS, "badpackets.pcap"), "--quiet"])
        self.assertEqual(stats["flows_created"], 0)
        self.assertEqual(stats["icmp_packets"], 0)


class CaptureInputs(unittest.TestCase):
    """--pcap reads on its own thread (probe/capture_reader.cpp): a pipe is
    read like a file, frames from a FIFO are handled as they arrive, and a
    stop signal ends the run even while the FIFO's writer is silent."""

    @harness.needs_corpus
    def test_standard_input_counts_like_the_file(self):
        _, from_file = harness.run_echoflow(["--pcap", TUNNEL, "--quiet"])
        with tempfile.TemporaryDirectory(prefix="ef-stdin-") as d:
            stats_path = os.path.join(d, "stats.json")
            # Through a pipe (cat), not a file opened as stdin: the pipe path.
            cat = subprocess.Popen(["cat", TUNNEL], stdout=subprocess.PIPE)
            proc = subprocess.run([harness.ECHOFLOW, "--pcap", "-", "--quiet", "--stats-json", stats_path],
                                  stdin=cat.stdout, capture_output=True, text=True, timeout=120)
            cat.stdout.close()
            cat.wait()
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(stats_path) as s:
                import json
                from_stdin = json.load(s)
        for key in ("rx_packets", "icmp_packets", "icmp_octets", "flows_created", "alerts"):
            self.assertEqual(from_stdin[key], from_file[key], key)
        self.assertGreater(from_stdin["icmp_packets"], 0)

    @harness.needs_corpus
    def test_a_stop_signal_ends_a_fifo_read_whose_writer_is_silent(self):
        with open(TUNNEL, "rb") as f:
            data = f.read()
        with tempfile.TemporaryDirectory(prefix="ef-fifo-") as d:
            fifo = os.path.join(d, "capture")
            os.mkfifo(fifo)
            stats_path = os.path.join(d, "stats.json")
            proc = subprocess.Popen([harness.ECHOFLOW, "--pcap", fifo, "--quiet", "--stats-json", stats_path],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            writer = open(fifo, "wb")  # opens once echoflow has opened the read end
            try:
                writer.write(data[:40000])  # header and the first frames, then silence
                writer.flush()
                # The frames already written are handed to the worker while
                # the writer is silent: wait until the reader has taken them
                # from the FIFO and sleeps in poll() (it hands its batch over
                # before it waits), then stop.
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not (self._fifo_unread(fifo, proc.pid) == 0 and
                                                            "poll" in self._reader_wchan(proc.pid)):
                    time.sleep(0.02)
                proc.send_signal(__import__("signal").SIGINT)
                _, err = proc.communicate(timeout=60)  # hangs here if the read is not interrupted
            finally:
                writer.close()
            self.assertEqual(proc.returncode, 0, err)
            import json
            with open(stats_path) as s:
                stats = json.load(s)
            self.assertGreater(stats["icmp_packets"], 0, "frames that arrived before the stop are counted")
            self.assertEqual(stats["rx_packets"], stats["icmp_packets"] + stats["other_packets"] +
                             stats["malformed_packets"])

    @staticmethod
    def _reader_wchan(pid):
        """Where the ef-reader thread sleeps in the kernel ('' if unknown)."""
        task_dir = "/proc/%d/task" % pid
        for tid in os.listdir(task_dir):
            try:
                with open(os.path.join(task_dir, tid, "comm")) as f:
                    if f.read().strip() != "ef-reader":
                        continue
                with open(os.path.join(task_dir, tid, "wchan")) as f:
                    return f.read()
            except OSError:
                continue
        return ""

    @staticmethod
    def _fifo_unread(fifo, pid):
        """Bytes still waiting in the FIFO (FIONREAD on a second read end)."""
        import fcntl
        import termios
        import array
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            buf = array.array("i", [0])
            fcntl.ioctl(fd, termios.FIONREAD, buf, True)
            return buf[0]
        finally:
            os.close(fd)


class DeadCollector(unittest.TestCase):
    @harness.needs_corpus
    def test_udp_collector_down_is_counted_and_the_run_completes(self):
        port = harness.free_udp_port()  # nothing listens there
        start = time.monotonic()
        proc, stats = harness.run_echoflow(["--pcap", TUNNEL, "--collector", "127.0.0.1:%d" % port, "--quiet",
                                            "--idle-timeout", "1"])
        self.assertLess(time.monotonic() - start, 30)
        self.assertEqual(proc.returncode, 0)
        self.assertGreater(stats["flows_exported"], 0)
        # Loopback answers with port unreachable: later sends fail and are
        # counted. (Which message was lost is not knowable over UDP: the
        # error surfaces on the send after the lost one.)
        self.assertGreater(stats["export_errors"], 0)

    @harness.needs_corpus
    def test_tcp_collector_down_does_not_block(self):
        port = harness.free_tcp_port()  # closed: connect is refused
        start = time.monotonic()
        proc, stats = harness.run_echoflow(["--pcap", TUNNEL, "--collector", "tcp://127.0.0.1:%d" % port,
                                            "--quiet", "--idle-timeout", "1"])
        self.assertLess(time.monotonic() - start, 30)
        self.assertEqual(proc.returncode, 0)
        self.assertGreater(stats["flows_exported"], 0)
        self.assertEqual(stats["records_exported"] - stats["records_not_sent"], 0,
                         "nothing can have been delivered to a closed port")

    @harness.needs_corpus
    def test_tcp_collector_receives_the_stream(self):
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        received = bytearray()
        import threading

        def accept():
            conn, _ = server.accept()
            with conn:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    received.extend(chunk)

        t = threading.Thread(target=accept, daemon=True)
        t.start()
        _, stats = harness.run_echoflow(["--pcap", TUNNEL, "--collector", "tcp://127.0.0.1:%d" % port, "--quiet"])
        t.join(timeout=10)
        server.close()
        # Walk the IPFIX messages: version 10, lengths chain exactly.
        off, messages, data_sets = 0, 0, 0
        while off < len(received):
            self.assertEqual(int.from_bytes(received[off:off + 2], "big"), 10)
            length = int.from_bytes(received[off + 2:off + 4], "big")
            self.assertGreaterEqual(length, 16)
            set_off = off + 16
            while set_off < off + length:
                set_id = int.from_bytes(received[set_off:set_off + 2], "big")
                set_len = int.from_bytes(received[set_off + 2:set_off + 4], "big")
                self.assertGreaterEqual(set_len, 4)
                if set_id >= 256:
                    data_sets += 1
                set_off += set_len
            self.assertEqual(set_off, off + length)
            off += length
            messages += 1
        self.assertEqual(off, len(received))
        self.assertEqual(messages, stats["messages_sent"])
        self.assertGreater(data_sets, 0)
        self.assertEqual(stats["records_not_sent"], 0)


class CommandLine(unittest.TestCase):
    def run_raw(self, args):
        return subprocess.run([harness.ECHOFLOW] + args, capture_output=True, text=True, timeout=30)

    def assert_usage_error(self, args, needle):
        p = self.run_raw(args)
        self.assertEqual(p.returncode, 2, "%s: %s" % (args, p.stderr))
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn(needle, lines[0])
        self.assertTrue(lines[0].startswith("echoflow: "))

    @harness.needs_corpus
    def test_bad_options_give_one_clear_line_and_exit_2(self):
        self.assert_usage_error(["--pcap", TUNNEL, "--frobnicate"], "--frobnicate")
        self.assert_usage_error(["--pcap", TUNNEL, "--cache-size", "lots"], "--cache-size")
        self.assert_usage_error(["--pcap", TUNNEL, "--cache-size", "4"], "out of range")
        self.assert_usage_error(["--pcap", TUNNEL, "--idle-timeout", "0"], "--idle-timeout")
        self.assert_usage_error(["--pcap", TUNNEL, "--collector", "udp://nohostport"], "nohostport")
        self.assert_usage_error(["--pcap", TUNNEL, "--collector", "sctp://127.0.0.1:4739"], "sctp")
        self.assert_usage_error(["--pcap", TUNNEL, "--allow", "10.0.0.0/33"], "10.0.0.0/33")
        self.assert_usage_error(["--pcap", TUNNEL, "--weight", "bogus=1"], "bogus")
        self.assert_usage_error(["--pcap", TUNNEL, "--weight", "volume"], "REASON=N")
        self.assert_usage_error(["--pcap"], "needs a value")
        self.assert_usage_error([], "no input")
        self.assert_usage_error(["--pcap", TUNNEL, "--interface", "lo"], "only one input")

    def test_missing_capture_names_the_file_and_exits_1(self):
        p = self.run_raw(["--pcap", "/nonexistent/x.pcap"])
        self.assertEqual(p.returncode, 1)
        self.assertIn("/nonexistent/x.pcap", p.stderr)

    @harness.needs_corpus
    def test_bad_pattern_file_names_the_line(self):
        with tempfile.NamedTemporaryFile("w", suffix=".patterns", delete=False) as f:
            f.write("# comment\n")
            f.write("this is not a pattern line\n")
            path = f.name
        try:
            p = self.run_raw(["--pcap", TUNNEL, "--patterns", path])
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(path + ":2", p.stderr)
        finally:
            os.unlink(path)

    def test_help_lists_every_option_the_parser_accepts(self):
        p = self.run_raw(["--help"])
        self.assertEqual(p.returncode, 0)
        for opt in ("--pcap", "--interface", "--collector", "--odid", "--active-timeout", "--idle-timeout",
                    "--cache-size", "--stats-json", "--alerts", "--biflow", "--template-refresh", "--config",
                    "--version", "--help"):
            self.assertIn(opt, p.stdout)
        v = self.run_raw(["--version"])
        self.assertEqual(v.returncode, 0)
        self.assertTrue(v.stdout.startswith("echoflow "))

    @harness.needs_corpus
    def test_config_file_sets_options_and_errors_name_the_key(self):
        with tempfile.TemporaryDirectory() as d:
            good = os.path.join(d, "good.conf")
            stats = os.path.join(d, "s.json")
            with open(good, "w") as f:
                f.write("# echoflow\npcap = %s\nstats-json = %s\nquiet = true\ncache-size = 64\n" % (TUNNEL, stats))
            p = self.run_raw(["--config", good])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stderr, "", "quiet = true was read")
            self.assertTrue(os.path.exists(stats))
            # An input on the command line replaces the file's input.
            svc = os.path.join(d, "service.conf")
            with open(svc, "w") as f:
                f.write("interface = ef-does-not-exist\nquiet = true\n")
            p = self.run_raw(["--config", svc, "--pcap", TUNNEL, "--stats-json", stats])
            self.assertEqual(p.returncode, 0, p.stderr)
            bad = os.path.join(d, "bad.conf")
            with open(bad, "w") as f:
                f.write("pcap = %s\n\nidle-timeout = soon\n" % TUNNEL)
            p = self.run_raw(["--config", bad])
            self.assertEqual(p.returncode, 2)
            self.assertIn(bad + ":3: idle-timeout", p.stderr)
            with open(bad, "w") as f:
                f.write("colector = 127.0.0.1:4739\n")
            p = self.run_raw(["--config", bad])
            self.assertEqual(p.returncode, 2)
            self.assertIn("unknown key 'colector'", p.stderr)

    def test_example_config_checks_clean_with_every_option_uncommented(self):
        example = os.path.join(harness.SOURCE, "deploy", "echoflow.conf.example")
        p = self.run_raw(["--config", example, "--check"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration ok", p.stdout)
        with open(example) as f:
            text = f.read()
        import re
        # Every commented-out `# key = value   # note` line, switched on.
        enabled = re.sub(r"(?m)^# ([a-z-]+ = )", r"\1", text)
        self.assertGreater(enabled.count("\n"), 10)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "all.conf")
            with open(path, "w") as f:
                f.write(enabled.replace("/etc/echoflow/site.patterns",
                                        os.path.join(harness.SOURCE, "detect", "patterns", "echoflow.patterns")))
            p = self.run_raw(["--config", path, "--check"])
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(path, "w") as f:
                f.write(enabled)  # the site pattern file does not exist here
            p = self.run_raw(["--config", path, "--check"])
            self.assertEqual(p.returncode, 1)
            self.assertIn("/etc/echoflow/site.patterns", p.stderr)


class HostileInput(unittest.TestCase):
    """What an operator can point echoflow at by mistake: a device, a
    directory, a pattern with a NUL, a number reserved by RFC 5103, an
    unwritable counters file, an option for the wrong layer. One line, exit 2
    (usage) or 1 (start-up), and before the run, not after it."""

    PING = os.path.join(harness.CAPTURES, "ping-linux-s56.pcap")

    def run_raw(self, args, timeout=30):
        return subprocess.run([harness.ECHOFLOW] + args, capture_output=True, text=True, timeout=timeout)

    def assert_one_line(self, args, status, needle, timeout=30):
        p = self.run_raw(args, timeout)
        self.assertEqual(p.returncode, status, "%s: %s" % (args, p.stderr[-2000:]))
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, "%s: %s" % (args, p.stderr[-2000:]))
        self.assertTrue(lines[0].startswith("echoflow: "), lines[0])
        self.assertIn(needle, lines[0])
        self.assertEqual(p.stdout, "")
        return lines[0]

    def test_an_endless_config_or_pattern_file_is_refused_at_its_cap(self):
        # Each would read until memory ran out: the timeout is the failure.
        self.assert_one_line(["--config", "/dev/zero", "--pcap", self.PING], 2,
                             "config file /dev/zero: larger than the 1 MiB limit")
        self.assert_one_line(["--pcap", self.PING, "--patterns", "/dev/zero", "--check"], 1,
                             "patterns /dev/zero: larger than the 4 MiB limit")

    def test_a_directory_is_not_a_configuration(self):
        with tempfile.TemporaryDirectory() as d:
            self.assert_one_line(["--config", d, "--pcap", self.PING], 2, "config file %s: is a directory" % d)
            self.assert_one_line(["--pcap", self.PING, "--patterns", d, "--check"], 1,
                                 "patterns %s: is a directory" % d)

    def test_the_rfc5103_reverse_pen_is_refused(self):
        self.assert_one_line(["--pcap", self.PING, "--collector", "127.0.0.1:4739", "--pen", "29305", "--biflow",
                              "--check"], 2, "29305")

    def test_a_nul_in_a_pattern_regex_is_an_error_not_a_shorter_regex(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "nul.patterns")
            with open(path, "wb") as f:
                f.write(b"1:ok:tunnel:-:/^abc/\n2:cut:suspicious:-:/sh\x00ell/\n")
            self.assert_one_line(["--pcap", self.PING, "--patterns", path, "--pattern-cache", "none", "--check"], 1,
                                 path + ":2: NUL byte in the regex")

    def test_stats_json_into_a_missing_directory_fails_before_the_run(self):
        with tempfile.TemporaryDirectory() as d:
            # A FIFO nobody writes: a run would wait for it forever, so only
            # a check made before the run can end this in time.
            fifo = os.path.join(d, "capture")
            os.mkfifo(fifo)
            stats = os.path.join(d, "missing", "stats.json")
            self.assert_one_line(["--pcap", fifo, "--stats-json", stats], 1,
                                 "stats json %s: directory %s" % (stats, os.path.join(d, "missing")), timeout=20)
            # --check judges the configuration: the unit's RuntimeDirectory
            # (/run/echoflow) exists only once the service starts.
            p = self.run_raw(["--pcap", self.PING, "--stats-json", stats, "--check"])
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_a_bad_eal_option_is_one_line_and_exit_2(self):
        line = self.assert_one_line(["--no-such-eal-option", "--no-huge", "--no-pci", "--", "--quiet"], 2,
                                    "--no-such-eal-option")
        self.assertIn("EAL options", line)
        self.assert_one_line(["-l", "banana", "--no-huge", "--no-pci", "--", "--quiet"], 2, "EAL options")


if __name__ == "__main__":
    unittest.main(verbosity=2)
