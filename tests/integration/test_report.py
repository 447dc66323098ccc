#!/usr/bin/env python3
"""The analyst's view, end to end: echoflow --pcap on the demo capture with a
real nfcapd, --conversations, --alerts and --stats-json; scripts/report
renders the logs; headless Chromium (Debian's chromium) loads the page with
no console errors, every plot is decoded and not blank, and the totals the
page shows equal --stats-json. And logrotate, with the shipped snippet,
rotates the conversation log in the middle of a run without losing a line.

Run it under the integration lock (tests/integration/meson.build, RULES):
    flock /tmp/ef-integ.lock meson test -C build 'integration report' --print-errorlogs
"""
import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

DEMO = os.path.join(harness.SOURCE, "tests", "data", "demo.pcap")
REPORT = os.path.join(harness.SOURCE, "scripts", "report")
# Debian's interpreter: python3-matplotlib is installed for it.
PYTHON = "/usr/bin/python3"
LOGROTATE_SNIPPET = os.path.join(harness.SOURCE, "deploy", "echoflow.logrotate")


def have_matplotlib():
    return subprocess.run([PYTHON, "-c", "import matplotlib"], capture_output=True).returncode == 0


def chromium(args, workdir, timeout=120):
    """Headless Chromium with its own profile (other runs may use theirs)."""
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--user-data-dir=" + os.path.join(workdir, "profile"), "--enable-logging=stderr", "--v=0"] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def console_lines(stderr):
    """The page's console messages as Chromium logs them (INFO:CONSOLE(...))."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def read_png(png_bytes):
    """RGB floats 0..1, shape (h, w, 3)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    return mpimg.imread(io.BytesIO(png_bytes), format="png")[:, :, :3]


def ink_fraction(png_bytes, background=(1.0, 1.0, 1.0)):
    """Share of pixels that differ from the background: 0 for a blank plot."""
    import numpy
    img = read_png(png_bytes)
    return float((numpy.abs(img - numpy.array(background)).sum(axis=2) > 0.1).mean())


def has_colour(png_bytes, rgb, tolerance=0.12):
    """Whether any pixel is near the colour (0..1 floats)."""
    import numpy
    img = read_png(png_bytes)
    return bool((numpy.abs(img - numpy.array(rgb)).sum(axis=2) < tolerance).any())


# Appended to a copy of the report: the browser reports, in the DOM that
# --dump-dom prints, how many images it decoded; and one deliberate
# console.error proves that console messages reach the log this test reads.
CHECK_SCRIPT = """<script>
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) if (imgs[i].complete && imgs[i].naturalWidth > 100) ok++;
  document.body.setAttribute('data-decoded', ok + '/' + imgs.length);
  console.error('ef-control-message');
});
</script>"""


class ReportInBrowser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("chromium") is None:
            raise unittest.SkipTest("missing chromium (scripts/setup installs it)")
        if not have_matplotlib():
            raise unittest.SkipTest("missing python3-matplotlib (scripts/setup installs it)")
        cls.dir = tempfile.mkdtemp(prefix="ef-report-")
        cls.conv = os.path.join(cls.dir, "conversations.jsonl")
        cls.alerts = os.path.join(cls.dir, "alerts.jsonl")
        cls.stats_path = os.path.join(cls.dir, "stats.json")
        with harness.nfcapd() as collector:
            proc = subprocess.run([harness.ECHOFLOW, "--pcap", DEMO, "--collector", collector.address, "--conversations",
                                   cls.conv, "--alerts", cls.alerts, "--stats-json", cls.stats_path, "--quiet"],
                                  capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stderr
            cls.nf_flows = collector.flows()
        with open(cls.stats_path) as f:
            cls.stats = json.load(f)
        cls.html = os.path.join(cls.dir, "report.html")
        out = subprocess.run([PYTHON, REPORT, "--conversations", cls.conv, "--alerts", cls.alerts, "--stats-json",
                              cls.stats_path, "-o", cls.html], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        with open(cls.html, encoding="utf-8") as f:
            cls.page = f.read()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def lines(self, path):
        with open(path) as f:
            return [json.loads(line) for line in f]

    def test_conversation_log_matches_the_run_and_the_collector(self):
        convs = self.lines(self.conv)
        self.assertEqual(len(convs), self.stats["flows_exported"])
        self.assertEqual(sum(c["packets"] for c in convs), self.stats["icmp_packets"])
        self.assertEqual(sum(c["octets"] for c in convs), self.stats["icmp_octets"])
        # nfdump shows one flow per direction that had packets: the same
        # packets as the log's src_/dst_ counters.
        self.assertEqual(sum(f["packets"] for f in self.nf_flows), sum(c["packets"] for c in convs))
        self.assertEqual(len(self.nf_flows), sum((c["src_packets"] > 0) + (c["dst_packets"] > 0) for c in convs))
        # Every alert names a conversation of the log by its flow id.
        alerts = self.lines(self.alerts)
        self.assertGreater(len(alerts), 0, "the demo capture holds a ptunnel-ng tunnel")
        ids = {c["flow_id"] for c in convs}
        for a in alerts:
            self.assertIn(a["flow_id"], ids)
        tunnels = [c for c in convs if c["verdict"] == "tunnel"]
        self.assertTrue(any(c["signature"] == "ptunnel-ng" for c in tunnels))
        self.assertTrue(any(c["fingerprint"] == "iputils-ping" and c["verdict"] == "benign" for c in convs))
        for path in (self.conv, self.alerts):
            self.assertEqual(os.stat(path).st_mode & 0o777 & ~0o640, 0, path + " is wider than 0640")

    def test_page_is_self_contained(self):
        # Nothing to fetch: no URL but data: ones, no script.
        self.assertNotRegex(self.page, r"(src|href)=\"(?!data:)")
        self.assertNotIn("<script", self.page)
        self.assertNotIn("http://", self.page)
        self.assertNotIn("https://", self.page)

    def test_embedded_plots_are_present_and_not_blank(self):
        images = dict(re.findall(r'<img id="(plot-[a-z]+)"[^>]*src="data:image/png;base64,([^"]+)"', self.page))
        self.assertEqual(sorted(images), ["plot-scatter", "plot-talkers", "plot-timeline"])
        tunnel_red = (0xC6 / 255, 0x28 / 255, 0x28 / 255)
        for name, data in images.items():
            png = base64.b64decode(data)
            ink = ink_fraction(png)
            self.assertGreater(ink, 0.03, "%s is blank (%.3f of its pixels drawn)" % (name, ink))
        # The tunnel is a red point in the scatter, a red bar in the talkers.
        self.assertTrue(has_colour(base64.b64decode(images["plot-scatter"]), tunnel_red, 0.15))
        self.assertTrue(has_colour(base64.b64decode(images["plot-talkers"]), tunnel_red, 0.15))

    def test_blank_plot_detector_detects_a_blank_plot(self):
        # The check above must be able to fail: a white image scores 0.
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=(4, 3))
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        self.assertLess(ink_fraction(buf.getvalue()), 0.001)

    def test_chromium_renders_without_console_errors_and_decodes_every_plot(self):
        # One browser run (a headless start costs seconds): the page plus a
        # checking script, screenshot and DOM.
        checked = os.path.join(self.dir, "checked.html")
        with open(checked, "w", encoding="utf-8") as f:
            f.write(self.page.replace("</body>", CHECK_SCRIPT + "</body>"))
        shot = os.path.join(self.dir, "report.png")
        run = chromium(["--screenshot=" + shot, "--window-size=1100,2600", "--dump-dom", "--virtual-time-budget=5000",
                        "file://" + checked], self.dir)
        console = console_lines(run.stderr)
        # The control message reached the log: so would the page's errors.
        self.assertTrue(any("ef-control-message" in line for line in console), run.stderr[-2000:])
        self.assertEqual([line for line in console if "ef-control-message" not in line], [],
                         "console messages from the report page")

        self.assertTrue(os.path.exists(shot), run.stderr[-2000:])
        with open(shot, "rb") as f:
            screenshot = f.read()
        self.assertGreater(ink_fraction(screenshot), 0.05, "the screenshot is (nearly) blank")
        self.assertTrue(has_colour(screenshot, (0xC6 / 255, 0x28 / 255, 0x28 / 255), 0.15))

        m = re.search(r'data-decoded="(\d+)/(\d+)"', run.stdout)
        self.assertIsNotNone(m, "the check script did not run")
        self.assertEqual(m.group(1), m.group(2), "images the browser could not decode")
        self.assertEqual(int(m.group(2)), 3)

        # The totals the page shows (as the browser built the DOM) equal --stats-json.
        shown = dict(re.findall(r'<td id="total-([a-z]+)">(\d+)</td>', run.stdout))
        self.assertEqual(int(shown["packets"]), self.stats["icmp_packets"])
        self.assertEqual(int(shown["octets"]), self.stats["icmp_octets"])
        self.assertEqual(int(shown["conversations"]), self.stats["flows_exported"])
        self.assertEqual(int(shown["alerts"]), self.stats["alerts"])
        self.assertNotIn("DIFFERENT", run.stdout)
        stat_cells = dict(re.findall(r'<td id="stat-([a-z_]+)">(\d+)</td>', run.stdout))
        self.assertEqual(int(stat_cells["rx_packets"]), self.stats["rx_packets"])
        self.assertEqual(int(stat_cells["records_exported"]), self.stats["records_exported"])
        self.assertGreater(self.stats["records_exported"], 0)


class PingRegions(unittest.TestCase):
    """The regions the scatter marks are where the repository's captures of
    those programs land: the report's payload models agree with echoflow's
    entropy of the real pings."""

    CASES = [  # capture, the report's model, tolerance (bits/byte)
        ("ping-linux-s56.pcap", "iputils", 0.25),
        ("ping-linux-s100.pcap", "iputils", 0.25),
        ("ping-linux-s1000.pcap", "iputils", 0.1),
        ("ping-macos.pcap", "bsd", 0.25),
        ("ping-windows.pcap", "windows", 0.1),
        ("ping-busybox.pcap", "zero_fill", 1.0),
        ("fping-default.pcap", "zero_fill", 1.0),
        ("ping-cisco-ios.pcap", "cisco", 0.1),
    ]

    def test_ping_captures_land_on_their_marks(self):
        if not have_matplotlib():
            self.skipTest("missing python3-matplotlib")
        import importlib.machinery
        import importlib.util
        loader = importlib.machinery.SourceFileLoader("echoflow_report", REPORT)
        spec = importlib.util.spec_from_loader("echoflow_report", loader)
        report = importlib.util.module_from_spec(spec)
        loader.exec_module(report)
        with tempfile.TemporaryDirectory(prefix="ef-regions-") as d:
            for capture, model, tolerance in self.CASES:
                conv = os.path.join(d, capture + ".jsonl")
                harness.run_echoflow(["--pcap", os.path.join(harness.CAPTURES, capture), "--conversations", conv,
                                      "--quiet"])
                with open(conv) as f:
                    echoes = [c for c in map(json.loads, f) if c["icmp_type"] == 8 and c["packets"] >= 2]
                self.assertTrue(echoes, capture)
                for c in echoes:
                    size = c["payload"]["max"]
                    want = report.entropy(getattr(report, model)(size))
                    self.assertAlmostEqual(c["payload"]["entropy"], want, delta=tolerance,
                                           msg="%s: %d bytes, echoflow %.3f, report's %s %.3f" % (
                                               capture, size, c["payload"]["entropy"], model, want))


class ConversationLogRotation(unittest.TestCase):
    def test_logrotate_with_the_shipped_snippet_moves_the_log_to_a_new_file_and_loses_nothing(self):
        if shutil.which("logrotate") is None:
            self.skipTest("missing logrotate (scripts/setup installs it)")
        from scapy.all import ICMP, IP, Ether, Raw  # python3-scapy
        from scapy.utils import PcapWriter

        def ping(t0, host, count):
            frames = []
            for i in range(count):
                for reply in (False, True):
                    ip = IP(src="198.51.100.1", dst=host) if reply else IP(src=host, dst="198.51.100.1")
                    f = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / ip / ICMP(type=0 if reply else 8, id=7, seq=i) / Raw(bytes(range(56)))
                    f.time = t0 + i + (0.001 if reply else 0)
                    frames.append(f)
            return frames

        with tempfile.TemporaryDirectory(prefix="ef-rotate-") as d:
            conv = os.path.join(d, "conv.jsonl")
            stats_path = os.path.join(d, "stats.json")
            proc = subprocess.Popen([harness.ECHOFLOW, "--pcap", "-", "--conversations", conv, "--stats-json",
                                     stats_path, "--idle-timeout", "5", "--quiet"],
                                    stdin=subprocess.PIPE, stderr=subprocess.PIPE)
            self.addCleanup(lambda: proc.poll() is None and proc.kill())
            writer = PcapWriter(proc.stdin, sync=True)
            t = 1764128000
            # 1: a conversation, then capture time moves 100 s on: it is
            # idle and goes to the log (flushed by the exporter's poll).
            writer.write(ping(t, "192.0.2.10", 3))
            writer.write(ping(t + 100, "192.0.2.11", 3))
            proc.stdin.flush()
            deadline = time.time() + 20
            while time.time() < deadline and (not os.path.exists(conv) or os.path.getsize(conv) == 0):
                time.sleep(0.05)
            self.assertGreater(os.path.getsize(conv), 0, "the first conversation was not logged")
            # 2: the shipped logrotate snippet, run by logrotate, for this
            # file and this process: it moves the file away and signals.
            with open(LOGROTATE_SNIPPET) as f:
                snippet = f.read()
            snippet = snippet.replace("/var/log/echoflow/alerts.jsonl /var/log/echoflow/conversations.jsonl", conv)
            snippet = re.sub(r"systemctl kill [^\n]*", "kill -HUP %d" % proc.pid, snippet)
            self.assertIn(conv + " {", snippet)
            self.assertIn("kill -HUP", snippet)
            conf = os.path.join(d, "logrotate.conf")
            with open(conf, "w") as f:
                f.write(snippet)
            rotate = subprocess.run(["logrotate", "-f", "-s", os.path.join(d, "state"), conf], capture_output=True,
                                    text=True, timeout=30)
            self.assertEqual(rotate.returncode, 0, rotate.stderr)
            deadline = time.time() + 20
            while time.time() < deadline and not os.path.exists(conv):
                time.sleep(0.05)
            self.assertTrue(os.path.exists(conv), "no new file after SIGHUP")
            # 3: more traffic; the end of the capture exports the rest.
            writer.write(ping(t + 200, "192.0.2.12", 3))
            proc.stdin.close()
            err = proc.stderr.read().decode(errors="replace")
            proc.stderr.close()
            self.assertEqual(proc.wait(timeout=60), 0, err)
            with open(stats_path) as f:
                stats = json.load(f)
            with open(conv + ".1") as f:
                old = [json.loads(line) for line in f]
            with open(conv) as f:
                new = [json.loads(line) for line in f]
            self.assertEqual([c["src"] for c in old], ["192.0.2.10"])
            self.assertEqual(sorted(c["src"] for c in new), ["192.0.2.11", "192.0.2.12"])
            self.assertEqual(sum(c["packets"] for c in old + new), stats["icmp_packets"])
            self.assertEqual(os.stat(conv).st_mode & 0o777, 0o640)


if __name__ == "__main__":
    unittest.main(verbosity=2)
