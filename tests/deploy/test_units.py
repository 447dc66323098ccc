#!/usr/bin/env python3
"""The shipped systemd units (deploy/*.service): `systemd-analyze verify`
accepts them without a single complaint, and `systemd-analyze --offline=true
security` rates each at most MAX_EXPOSURE (docs/deployment.md gives the
scores and what each setting is for). Skips when systemd-analyze is missing.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE = os.environ.get("ECHOFLOW_SOURCE", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
ECHOFLOW = os.environ.get("ECHOFLOW", os.path.join(SOURCE, "build", "probe", "echoflow"))
UNITS = ("echoflow.service", "echoflow-vfio.service")
MAX_EXPOSURE = 4.0
INSTALLED_BINARY = "/usr/bin/echoflow"


@unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed (apt install systemd)")
class ShippedUnits(unittest.TestCase):
    def unit_path(self, name):
        return os.path.join(SOURCE, "deploy", name)

    def test_units_run_the_packaged_binary_as_root_then_switch_to_echoflow(self):
        for name in UNITS:
            with open(self.unit_path(name)) as f:
                text = f.read()
            exec_start = re.search(r"(?m)^ExecStart=(\S+)(.*)$", text)
            self.assertIsNotNone(exec_start, name)
            self.assertEqual(exec_start.group(1), INSTALLED_BINARY, name)
            self.assertIn("--user echoflow", exec_start.group(2), name)
            self.assertNotRegex(text, r"(?m)^(User|DynamicUser|AmbientCapabilities)=",
                                "%s: echoflow must start as root and drop privileges itself" % name)

    def test_security_exposure_is_at_most_the_target(self):
        for name in UNITS:
            p = subprocess.run(["systemd-analyze", "--offline=true", "security", self.unit_path(name)],
                               capture_output=True, text=True)
            m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", p.stdout)
            self.assertIsNotNone(m, "%s: no score in: %s%s" % (name, p.stdout[-500:], p.stderr))
            score = float(m.group(1))
            print("%s: exposure %.1f" % (name, score))
            self.assertLessEqual(score, MAX_EXPOSURE, "%s rates %.1f:\n%s" % (name, score, p.stdout))

    def test_verify_accepts_the_units_without_a_warning(self):
        # verify checks that ExecStart= is executable: the built binary
        # stands in for the installed one (the package test verifies the
        # installed units as they are).
        if not os.access(ECHOFLOW, os.X_OK):
            self.skipTest("no built echoflow at " + ECHOFLOW)
        with tempfile.TemporaryDirectory(prefix="ef-units-") as d:
            paths = []
            for name in UNITS:
                with open(self.unit_path(name)) as f:
                    text = f.read()
                path = os.path.join(d, name)
                with open(path, "w") as f:
                    f.write(text.replace(INSTALLED_BINARY, os.path.abspath(ECHOFLOW)))
                paths.append(path)
            p = subprocess.run(["systemd-analyze", "verify"] + paths, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.strip(), "", "systemd-analyze verify complained")


if __name__ == "__main__":
    unittest.main(verbosity=2)
