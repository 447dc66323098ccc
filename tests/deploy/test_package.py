#!/usr/bin/env python3
"""The Debian package, end to end: dpkg-buildpackage -us -uc -b on a copy of
the source tree, lintian without errors, the contents (dpkg-deb -c), `apt
install ./echoflow_*.deb`, the installed binary (--version, --check on the
installed configuration, a capture read as the echoflow user), the installed
units verified, then `apt purge`.

Needs root and the build dependencies (scripts/setup); skips when echoflow
is already installed as a package (it would be replaced and purged).
DEB_BUILD_OPTIONS=nocheck: the tests are not built in the package.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

SOURCE = os.environ.get("ECHOFLOW_SOURCE", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
DEMO = os.path.join(SOURCE, "tests", "data", "demo.pcap")
MULTIARCH = "x86_64-linux-gnu"
EXPECTED_FILES = (
    "./usr/bin/echoflow",
    "./usr/lib/%s/echoflow/icmp_steer.bpf.o" % MULTIARCH,
    "./usr/share/echoflow/echoflow.patterns",
    "./lib/systemd/system/echoflow.service",
    "./lib/systemd/system/echoflow-vfio.service",
    "./etc/echoflow/echoflow.conf",
    "./usr/share/doc/echoflow/copyright",
    "./usr/share/doc/echoflow/deployment.md",  # uncompressed: the units link to it
    "./usr/share/doc/echoflow/README.md",
)
APT = ["apt", "-y", "-q", "-o", "DPkg::Lock::Timeout=300"]


def installed(package):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return "ok installed" in p.stdout


def copy_source(dest):
    """The tracked and untracked-but-not-ignored files (git), else the tree
    without build directories: the package builds from what is committed to
    be built, never from a build/ of ours."""
    git = subprocess.run(["git", "-C", SOURCE, "ls-files", "-co", "--exclude-standard", "-z"],
                         capture_output=True)
    if git.returncode == 0:
        for rel in filter(None, git.stdout.decode().split("\0")):
            src = os.path.join(SOURCE, rel)
            if not os.path.isfile(src):
                continue  # deleted in the work tree
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, rel), follow_symlinks=False)
    else:
        shutil.copytree(SOURCE, dest, dirs_exist_ok=True, symlinks=True,
                        ignore=shutil.ignore_patterns("build*", "obj-*", ".git"))


@unittest.skipUnless(os.geteuid() == 0, "needs root: installs and purges a package")
@unittest.skipUnless(all(shutil.which(t) for t in ("dpkg-buildpackage", "lintian", "apt")),
                     "needs dpkg-dev, debhelper and lintian (scripts/setup)")
class DebianPackage(unittest.TestCase):
    def run_ok(self, cmd, **kw):
        p = subprocess.run(cmd, capture_output=True, text=True, **kw)
        self.assertEqual(p.returncode, 0, "%s failed (%d):\n%s\n%s" % (" ".join(cmd), p.returncode, p.stdout[-3000:],
                                                                      p.stderr[-3000:]))
        return p

    def test_builds_passes_lintian_installs_runs_and_purges(self):
        if installed("echoflow"):
            self.skipTest("echoflow is installed as a package here: not replacing it")
        with tempfile.TemporaryDirectory(prefix="ef-deb-") as work:
            src = os.path.join(work, "echoflow")
            copy_source(src)
            env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck noddebs parallel=%d" % (os.cpu_count() or 1))
            env.pop("MALLOC_PERTURB_", None)  # meson test's, for echoflow; it slows the compilers down
            self.run_ok(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env)
            debs = [f for f in os.listdir(work) if f.startswith("echoflow_") and f.endswith(".deb")]
            self.assertEqual(len(debs), 1, os.listdir(work))
            deb = os.path.join(work, debs[0])

            lint = subprocess.run(["lintian", "--fail-on", "error", deb], capture_output=True, text=True)
            errors = [line for line in lint.stdout.splitlines() if line.startswith("E:")]
            self.assertEqual(errors, [], lint.stdout)
            self.assertEqual(lint.returncode, 0, lint.stdout + lint.stderr)

            listing = self.run_ok(["dpkg-deb", "-c", deb]).stdout
            paths = {line.split()[5] for line in listing.splitlines() if len(line.split()) >= 6}
            for path in EXPECTED_FILES:
                self.assertIn(path, paths)
            self.assertFalse(any(p.startswith("./usr/local") for p in paths), "files under /usr/local")

            try:
                self.run_ok(APT + ["install", "--no-install-recommends", "./" + debs[0]], cwd=work)
                version = self.run_ok(["/usr/bin/echoflow", "--version"]).stdout
                self.assertTrue(version.startswith("echoflow 0.1.0 "), version)
                check = self.run_ok(["/usr/bin/echoflow", "--config", "/etc/echoflow/echoflow.conf", "--check"])
                self.assertIn("configuration ok", check.stdout)
                conffiles = self.run_ok(["dpkg-query", "-W", "-f=${Conffiles}", "echoflow"]).stdout
                self.assertIn("/etc/echoflow/echoflow.conf", conffiles)
                self.run_ok(["getent", "passwd", "echoflow"])
                # The installed binary finds the installed pattern file and
                # switches to the package's user.
                run = self.run_ok(["/usr/bin/echoflow", "--pcap", DEMO, "--user", "echoflow", "--pattern-cache",
                                   "none"])
                self.assertIn("running as uid", run.stderr)
                self.assertIn("(echoflow)", run.stderr)
                if shutil.which("systemd-analyze"):
                    verify = self.run_ok(["systemd-analyze", "verify", "/lib/systemd/system/echoflow.service",
                                          "/lib/systemd/system/echoflow-vfio.service"])
                    self.assertEqual(verify.stderr.strip(), "")
            finally:
                purge = subprocess.run(APT + ["purge", "echoflow"], capture_output=True, text=True)
            self.assertEqual(purge.returncode, 0, purge.stdout + purge.stderr)
            self.assertFalse(installed("echoflow"))
            self.assertFalse(os.path.exists("/usr/bin/echoflow"))
            self.assertFalse(os.path.exists("/etc/echoflow"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
