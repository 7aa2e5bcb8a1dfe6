#!/usr/bin/env python3
"""Boots Tide's own test guest on KVM and checks what it reports about the machine."""
import re
import signal
import unittest

import harness
from harness import GUEST_FAIL, GUEST_PASS, GiB, MiB, assert_passed, testguest


def memmap(run):
    return [(int(a, 16), int(s, 16), int(t)) for a, s, t in
            re.findall(r"# memmap addr=(0x[0-9a-f]+) size=(0x[0-9a-f]+) type=(\d+)", run.stdout)]


class TestGuest(unittest.TestCase):
    def test_memory_map_pattern_and_pci(self):
        run = testguest("tests=memmap,pattern,pci", memory="256M")
        assert_passed(self, run, ["memmap", "pattern", "pci"])
        ram = [(a, s) for a, s, t in memmap(run) if t == 1]
        # Low RAM below the MP table, then RAM from 1 MiB to the end of -m.
        self.assertIn((0, 0x9fc00), ram, run)
        self.assertIn((0x100000, 256 * MiB - 0x100000), ram, run)
        self.assertTrue(any(t == 2 and a == 0x9fc00 for a, _, t in memmap(run)), run)
        self.assertRegex(run.stdout, r"# pci 00:00\.0 vendor=8086 device=[0-9a-f]{4} class=0600")
        self.assertRegex(run.stdout, r"# pattern done bytes=\d+")

    def test_ram_above_4g(self):
        # 3.25 GiB: 3 GiB below the PCI hole, 256 MiB from 4 GiB up; the pattern covers both.
        run = testguest("tests=memmap,pattern", memory="3328M", timeout=120)
        assert_passed(self, run, ["memmap", "pattern"])
        ram = [(a, s) for a, s, t in memmap(run) if t == 1]
        self.assertIn((0x100000, 0xc0000000 - 0x100000), ram, run)
        self.assertIn((0x100000000, 256 * MiB), ram, run)
        done = re.search(r"# pattern done bytes=(\d+)", run.stdout)
        self.assertGreater(int(done.group(1)), 3 * GiB, run)

    def test_debug_exit_status_is_value_shifted_or_one(self):
        run = testguest("tests=exit exitcode=5")
        self.assertEqual(run.status, (5 << 1) | 1, run)

    def test_unknown_scenario_fails(self):
        run = testguest("tests=nosuch")
        self.assertEqual(run.status, GUEST_FAIL, run)
        self.assertRegex(run.stdout, r"not ok 1 - nosuch")

    def test_two_vcpus(self):
        run = testguest("tests=memmap,pci", extra=["-smp", "2"])
        assert_passed(self, run, ["memmap", "pci"])

    def test_reset_with_no_reboot_exits_zero(self):
        run = testguest("tests=reset")
        self.assertEqual(run.status, 0, run)
        self.assertEqual(run.stdout.count("TAP version 13"), 1, run)

    def test_reset_without_no_reboot_boots_again(self):
        console = harness.Console(["-nographic", "-m", "128M", "-kernel", harness.TESTGUEST,
                                   "-append", "tests=reset"])
        try:
            console.wait_for(r"(?s)TAP version 13.*TAP version 13.*TAP version 13", timeout=60)
            console.signal(signal.SIGTERM)
            self.assertEqual(console.wait(timeout=30), 0)
        finally:
            console.kill()

    def test_serial_input_reaches_the_guest(self):
        console = harness.Console(["-nographic", "-no-reboot", "-m", "128M",
                                   "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                                   "-kernel", harness.TESTGUEST,
                                   "-append", "tests=input expect_input=hello-tide"])
        try:
            console.wait_for(r"# input: waiting", timeout=30)
            console.send("hello-tide\r")
            self.assertEqual(console.wait(timeout=30), GUEST_PASS, console.text())
            self.assertIn("ok 1 - input", console.text())
        finally:
            console.kill()

    def test_sigint_and_sigterm_end_tide_cleanly(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            console = harness.Console(["-nographic", "-m", "128M", "-kernel", harness.TESTGUEST,
                                       "-append", "tests=input expect_input=never"])
            try:
                console.wait_for(r"# input: waiting", timeout=30)
                console.signal(sig)
                self.assertEqual(console.wait(timeout=30), 0)
                self.assertIn(f"terminating on signal {int(sig)}",
                              console.stderr_after_exit())
            finally:
                console.kill()


if __name__ == "__main__":
    harness.main()
