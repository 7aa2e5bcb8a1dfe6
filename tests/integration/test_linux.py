#!/usr/bin/env python3
"""Boots the minimal Linux guest (guests/linux/build.sh) on tide.

On hardware KVM this takes seconds; on an emulating host (kvm_pvm) the guest
kernel runs through KVM's instruction emulator and the boot takes a minute or two.
"""
import os
import re
import subprocess
import unittest

import harness

BOOT_TIMEOUT = int(os.environ.get("TIDE_LINUX_BOOT_TIMEOUT", "600"))


def linux_guest():
    """Paths printed by the (cached) guest build."""
    script = os.path.join(harness.SOURCE_ROOT, "guests", "linux", "build.sh")
    out = subprocess.run([script], check=True, stdout=subprocess.PIPE, text=True).stdout
    paths = dict(re.findall(r"^(KERNEL_VMLINUX|KERNEL_BZIMAGE|INITRD)=(.*)$", out, re.M))
    with open(os.path.join(harness.SOURCE_ROOT, "guests", "linux", "cmdline.txt")) as f:
        paths["CMDLINE"] = f.read().strip()
    return paths


class Linux(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.guest = linux_guest()

    def boot(self, kernel, smp, memory="512M"):
        console = harness.Console(["-nographic", "-no-reboot", "-m", memory, "-smp", str(smp),
                                   "-kernel", kernel, "-initrd", self.guest["INITRD"],
                                   "-append", self.guest["CMDLINE"]])
        self.addCleanup(console.kill)
        return console

    def check_ready_shell_and_reboot(self, console, smp):
        console.wait_for(r"TIDE-GUEST-READY uptime=[0-9.]+", BOOT_TIMEOUT)
        cpus = int(console.wait_for(r"nproc=(\d+)", 60).group(1))
        mem_kb = int(console.wait_for(r"MemTotal=(\d+) kB", 60).group(1))
        self.assertEqual(cpus, smp, console.text())
        # 512 MiB of RAM minus what the kernel keeps for itself (a few MiB).
        self.assertGreater(mem_kb, 440 * 1024, console.text())
        self.assertLessEqual(mem_kb, 512 * 1024, console.text())
        # A person can type into the guest's shell through the serial port.
        console.wait_for(r"[#$] ", 120)
        console.send("echo typed-$((6*7))\n")
        console.wait_for(r"typed-42", 120)
        console.send("reboot -f\n")
        self.assertEqual(console.wait(timeout=300), 0, console.text()[-3000:])

    def test_vmlinux_pvh_boot_one_cpu(self):
        console = self.boot(self.guest["KERNEL_VMLINUX"], smp=1)
        self.check_ready_shell_and_reboot(console, smp=1)

    def test_bzimage_boot(self):
        console = self.boot(self.guest["KERNEL_BZIMAGE"], smp=1)
        self.check_ready_shell_and_reboot(console, smp=1)

    def test_two_cpus_from_tides_mp_table(self):
        console = self.boot(self.guest["KERNEL_VMLINUX"], smp=2)
        self.check_ready_shell_and_reboot(console, smp=2)

    def test_reboot_without_no_reboot_boots_again(self):
        console = harness.Console(["-nographic", "-m", "256M", "-kernel",
                                   self.guest["KERNEL_VMLINUX"], "-initrd", self.guest["INITRD"],
                                   "-append", self.guest["CMDLINE"] + " tide.poweroff"])
        self.addCleanup(console.kill)
        console.wait_for(r"(?s)TIDE-GUEST-READY.*TIDE-GUEST-READY", 2 * BOOT_TIMEOUT)
        console.signal()
        self.assertEqual(console.wait(timeout=60), 0)

    def memtotal_kb(self, extra, append=""):
        console = harness.Console(["-nographic", "-no-reboot", "-m", "512M,maxmem=4G",
                                   "-kernel", self.guest["KERNEL_VMLINUX"],
                                   "-initrd", self.guest["INITRD"],
                                   "-append", self.guest["CMDLINE"] + append] + extra)
        self.addCleanup(console.kill)
        return console, int(console.wait_for(r"MemTotal=(\d+) kB", BOOT_TIMEOUT).group(1))

    def test_virtio_mem_requested_size_at_boot(self):
        _, base_kb = self.memtotal_kb([])
        console, _ = self.memtotal_kb(
            ["-verbose", "-object", "memory-backend-ram,id=mem0,size=1G",
             "-device", "virtio-mem-pci,id=vm0,memdev=mem0,requested-size=256M"],
            append=" tide.memwatch")
        # The driver plugs in the background; /init reports each MemTotal change.
        console.wait_for(rf"MemTotal={base_kb + 256 * 1024} kB", 120)
        console.signal()
        self.assertEqual(console.wait(timeout=60), 0)
        log = console.stderr_after_exit()
        self.assertRegex(console.text(), r"virtio_mem virtio\d+: requested size: 0x10000000")
        self.assertRegex(log, r"requests plug=\d+ .*plugged 268435456 B.*errors=0 nacks=0")
        # 256 MiB plugged from the start of the region: exactly the first two 128 MiB memslots.
        mapped = re.findall(r"vm0: memslot (\d+) mapped: gpa (0x[0-9a-f]+)", log)
        self.assertEqual([(int(s), int(g, 16)) for s, g in mapped],
                         [(0, 0x100000000), (1, 0x108000000)], log)


if __name__ == "__main__":
    harness.main()
