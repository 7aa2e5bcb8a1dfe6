#!/usr/bin/env python3
"""-daemonize and -pidfile as a management tool uses them (libvirt's probe): the command
returns once the QMP socket listens and the pid file names the running tide; a child that
fails first passes its status and message on; a pid file in use is refused."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import harness
import qmp


class Daemonize(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tide-daemonize-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.sock = os.path.join(self.dir, "qmp.sock")
        self.pidfile = os.path.join(self.dir, "tide.pid")

    def probe(self, *extra):
        return subprocess.run([harness.TIDE, "-S", "-no-user-config", "-nodefaults",
                               "-nographic", "-machine", "none,accel=kvm:tcg", "-qmp",
                               f"unix:{self.sock},server=on,wait=off", "-pidfile",
                               self.pidfile, "-daemonize"] + list(extra),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=30)

    def wait_gone(self, pid):
        for _ in range(300):
            if not os.path.exists(f"/proc/{pid}"):
                return
            time.sleep(0.01)
        self.fail(f"tide {pid} is still running")

    def test_probe_returns_once_ready_and_ends_on_sigterm(self):
        run = self.probe()
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.stderr, "")
        # Both are there the moment the command returns: no waiting, no retry.
        with open(self.pidfile) as f:
            pid = int(f.read())
        self.addCleanup(lambda: os.path.exists(f"/proc/{pid}") and os.kill(pid, signal.SIGKILL))
        with open(f"/proc/{pid}/comm") as f:
            self.assertEqual(f.read().strip(), "tide")
        client = qmp.QMP(self.sock)
        self.assertEqual(client.execute("query-status")["status"], "prelaunch")
        self.assertEqual(client.execute("query-kvm"), {"enabled": True, "present": True})
        self.assertEqual(client.execute("query-memory-devices"), [])
        self.assertEqual(client.execute("query-version")["qemu"],
                         {"major": 7, "minor": 2, "micro": 0})
        # Detached: its own session, stdin/stdout/stderr on /dev/null.
        self.assertEqual(os.getsid(pid), pid)
        self.assertEqual(os.readlink(f"/proc/{pid}/fd/2"), "/dev/null")
        # A second tide may not take the pid file over.
        second = self.probe()
        self.assertEqual(second.returncode, 1)
        self.assertIn("cannot lock it", second.stderr)
        # libvirt ends the probe with SIGTERM: SHUTDOWN host-signal, and the files go.
        os.kill(pid, signal.SIGTERM)
        event = client.wait_event("SHUTDOWN", 10)
        self.assertEqual(event["data"], {"guest": False, "reason": "host-signal"})
        client.close()
        self.wait_gone(pid)
        self.assertFalse(os.path.exists(self.pidfile))
        self.assertFalse(os.path.exists(self.sock))

    def test_a_child_that_fails_passes_its_error_on(self):
        run = subprocess.run([harness.TIDE, "-nodefaults", "-daemonize", "-pidfile",
                              self.pidfile, "-kernel", os.path.join(self.dir, "missing")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(run.returncode, 1)
        self.assertIn("missing", run.stderr)
        self.assertFalse(os.path.exists(self.pidfile))

    def test_a_console_on_stdio_cannot_detach(self):
        run = harness.tide(["-kernel", "k", "-daemonize"])
        self.assertEqual(run.status, 1)
        self.assertIn("-daemonize: the serial port cannot be on stdio", run.stderr)


if __name__ == "__main__":
    harness.require_kvm()
    sys.argv[1:1] = ["-v"]
    unittest.main()
