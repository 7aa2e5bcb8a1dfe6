#!/usr/bin/env python3
"""Boot RAM from memory backends (-machine memory-backend=ID) with the test guest on KVM.

VM templating: two VMs start from one read-only memory image (memory-backend-file,
share=off,readonly=on,rom=off); each writes its own data, and the image never changes.
"""
import os
import subprocess
import unittest

import harness
from harness import GUEST_PASS, MiB


def backend_args(props, size="256M"):
    return ["-machine", "memory-backend=ram0", "-object", f"{props},id=ram0,size={size}"]


class BootRamBackends(unittest.TestCase):
    def image(self, size=256 * MiB):
        return harness.memory_image(self, size, "ram-image")

    def guest(self, append, extra):
        return [harness.TIDE, "-nographic", "-no-reboot",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-kernel", harness.TESTGUEST, "-append", append] + extra

    def test_two_vms_from_one_read_only_template(self):
        path = self.image()
        before = harness.sha256_of(path)
        extra = backend_args(f"memory-backend-file,mem-path={path},share=off,readonly=on,rom=off")
        procs = [subprocess.Popen(self.guest(f"tests=pattern pattern_mb=128 seed={seed}", extra),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for seed in (3, 4)]
        for p in procs:
            out, err = p.communicate(timeout=120)
            # Each wrote its own pattern (its seed) over 128 MiB and read it back intact.
            self.assertEqual(p.returncode, GUEST_PASS, out + err)
            self.assertIn("ok 1 - pattern", out)
        self.assertEqual(harness.sha256_of(path), before, "the template is never written")

    def test_shared_file_takes_the_guests_writes(self):
        path = self.image()
        before = harness.sha256_of(path)
        run = harness.tide(self.guest("tests=pattern pattern_mb=16", backend_args(
            f"memory-backend-file,mem-path={path},share=on"))[1:], timeout=120)
        self.assertEqual(run.status, GUEST_PASS, run)
        self.assertNotEqual(harness.sha256_of(path), before, "share=on: the guest wrote the file")

    def boot_ram_from(self, props):
        run = harness.tide(self.guest("tests=pattern pattern_mb=16",
                                      backend_args(props))[1:], timeout=120)
        self.assertEqual(run.status, GUEST_PASS, (props, run))

    def test_memfd_and_ram_backends_as_boot_ram(self):
        for props in ("memory-backend-memfd", "memory-backend-ram,prealloc=on"):
            self.boot_ram_from(props)

    def test_guest_memfd_as_boot_ram(self):
        harness.require_guest_memfd(self)
        self.boot_ram_from("memory-backend-guest-memfd")

    def test_guest_memfd_refused_with_the_reason_where_the_host_lacks_it(self):
        missing = harness.guest_memfd_missing()
        if not missing:
            self.skipTest("SKIP: this host's KVM has a guest_memfd tide can use")
        run = harness.tide(["-kernel", harness.TESTGUEST] + backend_args(
            "memory-backend-guest-memfd"), timeout=30)
        self.assertEqual(run.status, 1, run)
        self.assertIn("memory-backend-guest-memfd: this host's", run.stderr)

    def test_a_file_that_cannot_be_opened_as_asked_is_named(self):
        # Tests run as root, which file modes do not stop: a read-only mount does.
        mnt = harness.scratch_mount(self, "tmpfs", "size=8M", "ro")
        path = os.path.join(mnt, "image")
        with open(path, "wb") as f:
            f.truncate(4 * MiB)
        subprocess.run(["mount", "-o", "remount,ro", mnt], check=True)
        run = harness.tide(["-kernel", harness.TESTGUEST] + backend_args(
            f"memory-backend-file,mem-path={path},share=on", "4M"), timeout=30)
        self.assertEqual(run.status, 1, run)
        self.assertIn(f"mem-path '{path}': Read-only file system (readonly=on opens it "
                      "read-only)", run.stderr)
        # Read-only, it serves as a private template.
        run = harness.tide(self.guest("tests=pattern pattern_mb=1", backend_args(
            f"memory-backend-file,mem-path={path},share=off,readonly=on,rom=off", "4M"))[1:],
            timeout=60)
        self.assertEqual(run.status, GUEST_PASS, run)

    def test_refusals(self):
        path = self.image(4 * MiB)
        file_props = f"memory-backend-file,mem-path={path}"
        for args, message in [
            (["-m", "128M"] + backend_args(file_props, "4M"),
             "'ram0' is 4194304 bytes but -m asks for 134217728"),
            (backend_args(file_props + ",readonly=on", "4M"), "'ram0' is read-only memory (rom)"),
            (["-machine", "memory-backend=nope"], "'nope' is not a memory backend object"),
            (["-machine", "microvm"], "tide has one machine type"),
            (["-machine", "pc,accel=tcg"], "tide runs on KVM only"),
            (backend_args(file_props, "4M") + [
                "-m", "4M,maxmem=1G", "-device", "virtio-mem-pci,memdev=ram0"],
             "memdev 'ram0' is already boot RAM"),
        ]:
            run = harness.tide(["-kernel", harness.TESTGUEST] + args, timeout=30)
            self.assertEqual(run.status, 1, run)
            self.assertIn(message, run.stderr)


if __name__ == "__main__":
    harness.main()
