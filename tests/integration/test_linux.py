#!/usr/bin/env python3
"""Boots the minimal Linux guest (guests/linux/build.sh) on tide.

On hardware KVM this takes seconds; on an emulating host (kvm_pvm) the guest
kernel runs through KVM's instruction emulator and the boot takes a minute or two.
"""
import functools
import os
import re
import subprocess
import time
import unittest

import harness
import qmp
from harness import MiB, REGION

BOOT_TIMEOUT = int(os.environ.get("TIDE_LINUX_BOOT_TIMEOUT", "600"))


def linux_guest():
    """Paths printed by the (cached) guest build."""
    script = os.path.join(harness.SOURCE_ROOT, "guests", "linux", "build.sh")
    out = subprocess.run([script], check=True, stdout=subprocess.PIPE, text=True).stdout
    paths = dict(re.findall(r"^(KERNEL_VMLINUX|KERNEL_BZIMAGE|INITRD)=(.*)$", out, re.M))
    with open(os.path.join(harness.SOURCE_ROOT, "guests", "linux", "cmdline.txt")) as f:
        paths["CMDLINE"] = f.read().strip()
    return paths


# How kvm_pvm's fault shows in the guest's log: a user process reads its TLS through %fs and
# finds a zero pointer ("segfault at 8") or a non-canonical one ("general protection fault").
HOST_TLS_FAULT = re.compile(r"segfault at |general protection fault ip:")


def retry_on_host_segfault(test):
    """kvm_pvm now and then faults a guest user process on a bad TLS pointer (seen with
    one and two vCPUs, with and without virtio-mem, more often on a loaded host). Not
    tide's doing as far as we can tell: each fault seen so far was busybox's first load
    through %fs (the locale pointer at fs:-0x80) finding 0 or garbage, i.e. the task ran
    with a wrong FS base, which tide never touches after boot; memory corruption would not
    pick that one word every time. There, and only there, a test whose guest showed that
    fault runs again (at most twice more), and says so."""
    @functools.wraps(test)
    def run(self):
        attempts = 3 if harness.host_kvm_is_emulating() else 1
        for attempt in range(1, attempts + 1):
            self.consoles = []
            try:
                return test(self)
            except Exception:
                faults = [line for c in self.consoles for line in c.text().splitlines()
                          if HOST_TLS_FAULT.search(line)]
                if attempt == attempts or not faults:
                    raise
                print(f"\nkvm_pvm faulted a guest process (attempt {attempt}); running "
                      f"{test.__name__} again:\n" + "\n".join(faults), flush=True)
                for c in self.consoles:
                    c.kill()
    return run


class Linux(unittest.TestCase):
    """Four boots in all: a Linux boot takes over a minute on an emulating host, so each
    boot checks as much as it can. Tests are named so that the plain bzImage boot, whose
    MemTotal the virtio-mem test compares with, runs first."""

    # MemTotal of a plain boot, by (kernel, vCPUs, -m): the base the virtio-mem test
    # compares with (per-CPU areas make it depend on the vCPU count).
    base_memtotal_kb = {}

    @classmethod
    def setUpClass(cls):
        cls.guest = linux_guest()

    def start(self, kernel, smp, memory, extra=(), append="", reboot=False):
        console = harness.Console(["-nographic", "-m", memory, "-smp", str(smp),
                                   "-kernel", kernel, "-initrd", self.guest["INITRD"],
                                   "-append", self.guest["CMDLINE"] + append]
                                  + ([] if reboot else ["-no-reboot"]) + list(extra))
        self.addCleanup(console.kill)
        self.consoles.append(console)
        return console

    def check_ready(self, console, smp):
        """Waits for /init's report; returns MemTotal in kB."""
        ready = console.wait_for(r"TIDE-GUEST-READY uptime=([0-9.]*)", BOOT_TIMEOUT)
        # No uptime: /init could not even mount /proc (a faulted mount, say).
        self.assertTrue(ready.group(1), console.text()[-3000:])
        cpus = int(console.wait_for(r"nproc=(\d+)", 60).group(1))
        mem_kb = int(console.wait_for(r"MemTotal=(\d+) kB", 60).group(1))
        self.assertEqual(cpus, smp, console.text())
        # 512 MiB of RAM minus what the kernel keeps for itself (a few MiB).
        self.assertGreater(mem_kb, 440 * 1024, console.text())
        self.assertLessEqual(mem_kb, 512 * 1024, console.text())
        return mem_kb

    def check_shell(self, console):
        """A person can type into the guest's shell through the serial port."""
        console.wait_for(r"[#$] ", 120)
        console.send("echo typed-$((6*7))\n")
        console.wait_for(r"typed-42", 120)

    @retry_on_host_segfault
    def test_bzimage_boot_shell_and_reboot_boots_again(self):
        kernel, smp, memory = self.guest["KERNEL_BZIMAGE"], 1, "512M,maxmem=4G"
        console = self.start(kernel, smp, memory, reboot=True)
        self.base_memtotal_kb[(kernel, smp, memory)] = self.check_ready(console, smp)
        self.check_shell(console)
        # Without -no-reboot a guest reboot rebuilds the VM and boots the kernel again.
        console.send("reboot -f\n")
        console.wait_for(r"(?s)typed-42.*TIDE-GUEST-READY", BOOT_TIMEOUT)
        console.signal()
        self.assertEqual(console.wait(timeout=60), 0)

    @retry_on_host_segfault
    def test_pvh_vmlinux_two_cpus_from_tides_mp_table(self):
        # /init reports and reboots at once (tide.poweroff): the shell is the bzImage test's.
        console = self.start(self.guest["KERNEL_VMLINUX"], 2, "512M", append=" tide.poweroff")
        self.check_ready(console, 2)
        self.assertEqual(console.wait(timeout=300), 0, console.text()[-3000:])
        self.assertIsNone(HOST_TLS_FAULT.search(console.text()), console.text()[-3000:])

    def base_memtotal(self, kernel, smp, memory):
        key = (kernel, smp, memory)
        if key not in self.base_memtotal_kb:  # this test ran alone
            console = self.start(kernel, smp, memory, append=" tide.poweroff")
            self.base_memtotal_kb[key] = self.check_ready(console, smp)
            self.assertEqual(console.wait(timeout=300), 0)
        return self.base_memtotal_kb[key]

    def tidectl_resize(self, console, sock, size):
        run = subprocess.run([harness.TIDECTL, "-s", sock, "resize", "vm0", size, "--wait",
                              "--timeout", str(BOOT_TIMEOUT)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, timeout=BOOT_TIMEOUT + 60)
        if run.returncode != 0:
            console.read_available()
            self.fail(f"{run}\nconsole:\n{console.text()[-3000:]}\n"
                      f"tide's log:\n{console.stderr_text()[-3000:]}")
        self.assertRegex(run.stdout, r"vm0: plugged .* = requested, after [0-9.]+ s")
        return run

    def assert_memslots(self, client, mapped, maps, unmaps):
        """vm0's memslot parts now (x-query-virtio-mem): those in mapped, each one KVM
        memslot of 128 MiB (a whole part), after maps maps and unmaps unmaps in all."""
        x = client.execute("x-query-virtio-mem")[0]
        self.assertEqual(x["memslot-size"], 128 * MiB, x)
        self.assertEqual((x["mapped-memslots"], x["memslots-mapped"], x["kvm-memslots"]),
                         (mapped, len(mapped), len(mapped)), x)
        self.assertEqual((x["counters"]["memslot-maps"], x["counters"]["memslot-unmaps"]),
                         (maps, unmaps), x)
        # What is plugged is exactly those parts, from the start of the region.
        self.assertEqual(x["plugged-ranges"],
                         [{"addr": REGION, "size": len(mapped) * 128 * MiB}] if mapped else [],
                         x)
        return x

    @retry_on_host_segfault
    def test_virtio_mem_requested_size_at_boot_then_tidectl_resizes(self):
        kernel, smp, memory = self.guest["KERNEL_BZIMAGE"], 1, "512M,maxmem=4G"
        base_kb = self.base_memtotal(kernel, smp, memory)
        sock = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"tide-linux-{os.getpid()}.sock")
        console = self.start(kernel, smp, memory, append=" tide.memwatch", extra=[
            "-object", "memory-backend-ram,id=mem0,size=1G",
            "-device", "virtio-mem-pci,id=vm0,memdev=mem0,requested-size=256M",
            "-qmp", f"unix:{sock},server=on,wait=off"])
        # The driver plugs in the background; /init reports each MemTotal change.
        console.wait_for(rf"MemTotal={base_kb + 256 * 1024} kB", BOOT_TIMEOUT)
        client = qmp.QMP(sock)
        self.addCleanup(client.close)
        self.assertEqual(client.device("vm0")["size"], 256 * MiB)
        # 256 MiB plugged from the start of the region: exactly the first two 128 MiB memslots,
        # unmapped as the guest unplugs and mapped again when it plugs once more.
        # Linux plugs whole 128 MiB memory blocks: one memslot per part, none swapped (each
        # part mapped once per plug, as one memslot of the whole part).
        self.assert_memslots(client, [0, 1], maps=2, unmaps=0)
        # Then a manager resizes the running guest: 256M -> 0 -> 256M -> 0.
        for size, kb, mapped, maps, unmaps in (("0", base_kb, [], 2, 2),
                                               ("256M", base_kb + 256 * 1024, [0, 1], 4, 2),
                                               ("0", base_kb, [], 4, 4)):
            shown = console.text().count(f"MemTotal={kb} kB")
            self.tidectl_resize(console, sock, size)
            # The guest's kernel code runs emulated on kvm_pvm: onlining or offlining 256 MiB
            # took over 60 s there once (2026-12-07); this is a wait, not a timing goal.
            deadline = time.monotonic() + 300
            while console.text().count(f"MemTotal={kb} kB") == shown:
                self.assertLess(time.monotonic(), deadline, console.text()[-2000:])
                time.sleep(0.5)
                console.read_available()
            x = self.assert_memslots(client, mapped, maps, unmaps)
        c = x["counters"]
        self.assertGreater(c["plug-requests"], 0, x)
        self.assertEqual({k: c[k] for k in ("bytes-plugged", "bytes-unplugged", "errors",
                                            "nacks")},
                         {"bytes-plugged": 512 * MiB, "bytes-unplugged": 512 * MiB,
                          "errors": 0, "nacks": 0}, x)
        client.close()
        console.signal()
        self.assertEqual(console.wait(timeout=60), 0)
        self.assertRegex(console.text(), r"virtio_mem virtio\d+: requested size: 0x10000000")


if __name__ == "__main__":
    harness.main()
