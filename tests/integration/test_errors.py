#!/usr/bin/env python3
"""Bad command lines and bad kernel files: one clear line on stderr, exit status 1."""
import os
import struct
import tempfile
import unittest

import harness
from harness import tide


class Errors(unittest.TestCase):
    def assert_one_line_error(self, args, fragment):
        run = tide(args, timeout=30)
        self.assertEqual(run.status, 1, run)
        lines = run.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, run)
        self.assertTrue(lines[0].startswith("tide: "), run)
        self.assertIn(fragment, lines[0], run)
        self.assertEqual(run.stdout, "", run)  # nothing started: no guest output

    def test_bad_options(self):
        self.assert_one_line_error(["-kernel", "x", "-frobnicate"], "unknown option '-frobnicate'")
        self.assert_one_line_error(["-kernel", "x", "-m", "lots"], "-m: size 'lots'")
        self.assert_one_line_error(["-kernel", "x", "-smp", "0"], "-smp: 0 CPUs")
        self.assert_one_line_error(["-kernel", "x", "-serial", "pty"], "-serial")
        self.assert_one_line_error(["-kernel", "x", "-device", "isa-debug-exit,iobase=0x10000"],
                                   "do not fit in the I/O space")
        self.assert_one_line_error(["-kernel", "x", "-device", "isa-debug-exit,speed=1"],
                                   "no property 'speed'")
        self.assert_one_line_error(["-m", "64M"], "no kernel given")

    def test_bad_virtio_mem_configurations(self):
        k = ["-kernel", harness.TESTGUEST, "-m", "1G,maxmem=9G"]
        ram = lambda i, size="4G": ["-object", f"memory-backend-ram,id=m{i},size={size}"]
        dev = lambda props: ["-device", "virtio-mem-pci," + props]
        cases = [
            (ram(0) + dev("memdev=m0,block-size=3M"), "must be a power of two"),
            (ram(0) + dev("memdev=m0,block-size=1M"), "(the THP size)"),
            (ram(0, "5M") + dev("memdev=m0,block-size=2M"), "not a multiple of block-size"),
            (ram(0) + dev("memdev=m0,requested-size=5G"), "is above the size"),
            (ram(0) + dev("memdev=m0,requested-size=3M"), "not a multiple of block-size"),
            (ram(0) + dev("memdev=nope"), "memdev 'nope' is not a memory backend"),
            (ram(0) + dev("requested-size=1G"), "needs memdev=ID"),
            (ram(0) + dev("memdev=m0") + dev("memdev=m0"), "memdev 'm0' is used twice"),
            (ram(0) + dev("memdev=m0,memaddr=0x100100000"), "must be aligned"),
            (ram(0) + ram(1) + dev("memdev=m0,memaddr=0x100000000")
             + dev("memdev=m1,memaddr=0x140000000"), "overlaps memdev 'm0'"),
            (ram(0) + ram(1, "5G") + dev("memdev=m0") + dev("memdev=m1"),
             "does not fit in the device memory area"),
            (ram(0) + dev("memdev=m0,memslots=0"), "outside 1..1024"),
            (ram(0) + dev("memdev=m0,memslots=1025"), "outside 1..1024"),
            (ram(0) + dev("memdev=m0,unplugged-inaccessible=maybe"), "unplugged-inaccessible"),
            # memaddr on 128 MiB but not on a 1 GiB block; memaddr below the device area.
            (ram(0) + dev("memdev=m0,block-size=1G,memaddr=0x108000000"), "must be aligned"),
            (ram(0) + dev("memdev=m0,memaddr=0x80000000"),
             "does not fit in the device memory area"),
            # The memslot split is checked before KVM is opened.
            (ram(0, "130M") + dev("memdev=m0"), "memdev 'm0': size 136314880 is not a multiple"),
            (ram(0) + dev("memdev=m0,memslots=3"), "memdev 'm0': memslots=3 does not split"),
            (ram(0) + dev("memdev=m0,dynamic-memslots=off,memslots=4"),
             "memslots=4 needs dynamic-memslots=on"),
        ]
        for args, fragment in cases:
            with self.subTest(fragment=fragment):
                self.assert_one_line_error(k + args, fragment)

    def test_missing_kernel(self):
        self.assert_one_line_error(["-kernel", "/nonexistent/vmlinuz"], "/nonexistent/vmlinuz")

    def test_corrupt_kernel(self):
        with tempfile.TemporaryDirectory() as tmp:
            junk = os.path.join(tmp, "junk")
            with open(junk, "wb") as f:
                f.write(os.urandom(64 * 1024))
            self.assert_one_line_error(["-kernel", junk], junk)

            # A bzImage header with a boot protocol too old for the 64-bit entry.
            old = bytearray(8192)
            old[0x1F1] = 4
            struct.pack_into("<H", old, 0x1FE, 0xAA55)
            old[0x202:0x206] = b"HdrS"
            struct.pack_into("<H", old, 0x206, 0x0200)
            bz = os.path.join(tmp, "old-bzImage")
            with open(bz, "wb") as f:
                f.write(old)
            self.assert_one_line_error(["-kernel", bz], "protocol")

            # The test guest, cut short: the ELF program headers point past the end.
            with open(harness.TESTGUEST, "rb") as f:
                head = f.read(200)
            cut = os.path.join(tmp, "cut.elf")
            with open(cut, "wb") as f:
                f.write(head)
            self.assert_one_line_error(["-kernel", cut], cut)

    def test_missing_initrd(self):
        self.assert_one_line_error(["-kernel", harness.TESTGUEST, "-initrd", "/nonexistent/rd"],
                                   "/nonexistent/rd")


if __name__ == "__main__":
    harness.main()
