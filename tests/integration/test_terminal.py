#!/usr/bin/env python3
"""tide on a real terminal (a pty): typed input reaches the guest, Ctrl-C goes to the guest
rather than killing tide, Ctrl-A x quits, and the terminal's settings are restored afterwards."""
import fcntl
import os
import pty
import select
import subprocess
import termios
import time
import unittest

import harness
from harness import GUEST_PASS


class Terminal(unittest.TestCase):
    def start(self, append):
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        before = termios.tcgetattr(slave)
        proc = subprocess.Popen([harness.TIDE, "-nographic", "-m", "128M",
                                 "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                                 "-kernel", harness.TESTGUEST, "-append", append],
                                stdin=slave, stdout=slave, stderr=slave,
                                preexec_fn=self.take_terminal)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return master, slave, before, proc

    @staticmethod
    def take_terminal():
        # The pty becomes tide's controlling terminal with tide in the foreground, so that
        # without raw mode a Ctrl-C would really send SIGINT to tide.
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    def read_until(self, master, text, timeout=30):
        out = b""
        deadline = time.monotonic() + timeout
        while text.encode() not in out:
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, f"no {text!r} on the terminal: {out[-2000:]!r}")
            ready, _, _ = select.select([master], [], [], left)
            if ready:
                try:
                    out += os.read(master, 4096)
                except OSError:  # the other side closed
                    break
        self.assertIn(text.encode(), out)
        return out

    def finish(self, slave, before, proc, status):
        self.assertEqual(proc.wait(timeout=30), status)
        self.assertEqual(termios.tcgetattr(slave), before, "terminal settings not restored")
        os.close(slave)

    def test_typed_line_reaches_the_guest(self):
        master, slave, before, proc = self.start("tests=input expect_input=hello-pty")
        self.read_until(master, "# input: waiting")
        os.write(master, b"hello-pty\r")
        self.read_until(master, "ok 1 - input")
        self.finish(slave, before, proc, GUEST_PASS)

    def test_ctrl_c_goes_to_the_guest_and_ctrl_a_x_quits(self):
        master, slave, before, proc = self.start("tests=input expect_input=never")
        self.read_until(master, "# input: waiting")
        os.write(master, b"\x03")  # raw mode: a byte for the guest, not SIGINT for tide
        time.sleep(1)
        self.assertIsNone(proc.poll(), "Ctrl-C reached tide instead of the guest")
        os.write(master, b"\x01x")
        self.read_until(master, "terminated by C-a x")
        self.finish(slave, before, proc, 0)


if __name__ == "__main__":
    harness.main()
