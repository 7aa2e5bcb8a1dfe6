#!/usr/bin/env python3
"""libvirt drives tide: a domain whose <emulator> is the built tide, started, resized and
destroyed with virsh through Debian's libvirt 9.0 (its QEMU driver, unchanged).

libvirtd runs privately (libvirt_host.py). The test guest's vmem_follow scenario follows
virsh update-memory-device, and dumpxml's <current> follows the plugged size through
MEMORY_DEVICE_SIZE_CHANGE. docs/libvirt.md has the XML and the settings.
"""
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
from xml.sax.saxutils import escape

import harness
import libvirt_host
from harness import GiB, MiB

BOOT_TIMEOUT = int(os.environ.get("TIDE_LINUX_BOOT_TIMEOUT", "900"))

DOMAIN_XML = """<domain type='kvm'>
  <name>{name}</name>
  <maxMemory slots='1' unit='GiB'>8</maxMemory>
  <memory unit='MiB'>{total_mib}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>{initrd}
    <cmdline>{cmdline}</cmdline>
  </os>
  <cpu mode='host-passthrough'>
    <numa><cell id='0' cpus='0' memory='{boot_mib}' unit='MiB'/></numa>
  </cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{tide}</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <serial type='file'><source path='{serial}'/><target port='0'/></serial>
    <memory model='virtio-mem'>
      <target>
        <size unit='MiB'>{vmem_mib}</size>
        <node>0</node>
        <block unit='MiB'>2</block>
        <requested unit='MiB'>0</requested>
      </target>
    </memory>
  </devices>
</domain>
"""


def domain_xml(name, serial, kernel, cmdline, boot_mib, vmem_mib, initrd=None):
    return DOMAIN_XML.format(
        name=name, tide=escape(os.path.abspath(harness.TIDE)), kernel=escape(os.path.abspath(kernel)),
        initrd=f"\n    <initrd>{escape(initrd)}</initrd>" if initrd else "",
        cmdline=escape(cmdline), serial=escape(serial), boot_mib=boot_mib, vmem_mib=vmem_mib,
        total_mib=boot_mib + vmem_mib)


class Libvirt(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.libvirtd = libvirt_host.Libvirtd()

    @classmethod
    def tearDownClass(cls):
        cls.libvirtd.stop()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tide-libvirt-test-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.serial = os.path.join(self.dir, "serial.log")

    def serial_text(self):
        return libvirt_host.read_text(self.serial)

    def wait_serial(self, pattern, timeout, start=0):
        deadline = time.monotonic() + timeout
        while True:
            match = re.compile(pattern).search(self.serial_text(), start)
            if match:
                return match
            if time.monotonic() > deadline:
                self.fail(f"no {pattern!r} on the serial port in {timeout} s:\n"
                          f"{self.serial_text()[-3000:]}\n{self.libvirtd.domain_logs()[-3000:]}")
            time.sleep(0.1)

    def current_kib(self, name):
        """dumpxml's <current> of the domain's virtio-mem device (KiB)."""
        xml = self.libvirtd.virsh("dumpxml", name).stdout
        match = re.search(r"<current unit='KiB'>(\d+)</current>", xml)
        return int(match.group(1)) if match else None

    def wait_current(self, name, size, timeout):
        deadline = time.monotonic() + timeout
        while self.current_kib(name) != size // 1024:
            if time.monotonic() > deadline:
                self.fail(f"<current> is {self.current_kib(name)} KiB, not {size // 1024}")
            time.sleep(0.2)

    def define_and_start(self, name, xml):
        path = os.path.join(self.dir, f"{name}.xml")
        with open(path, "w") as f:
            f.write(xml)
        self.libvirtd.virsh("define", path)
        self.addCleanup(self.libvirtd.virsh, "undefine", name, check=False)
        self.addCleanup(self.libvirtd.virsh, "destroy", name, check=False)
        self.libvirtd.virsh("start", name)
        self.assertEqual(self.libvirtd.virsh("domstate", name).stdout.strip(), "running")

    def destroy_and_check(self, name):
        """virsh destroy is SIGTERM: tide answers SHUTDOWN host-signal and exits."""
        pid = self.libvirtd.domain_pid(name)
        self.libvirtd.virsh("destroy", name)
        self.assertEqual(self.libvirtd.virsh("domstate", name).stdout.strip(), "shut off")
        self.assertFalse(os.path.exists(f"/proc/{pid}"), "tide is still running")
        shutdowns = [data for event, data in self.libvirtd.events(name) if event == "SHUTDOWN"]
        self.assertTrue(shutdowns, "libvirt saw no SHUTDOWN")
        self.assertIn('"reason": "host-signal"', shutdowns[-1])
        self.assertIn("tide: warning: terminating on signal 15", self.libvirtd.domain_logs())

    def test_virsh_resizes_the_test_guest_and_current_follows(self):
        """0 -> 1G -> 256M -> 0 with update-memory-device; the guest plugs and unplugs each
        size, and <current> equals the plugged size after each step."""
        name = "tide-follow"
        self.define_and_start(name, domain_xml(name, self.serial, harness.TESTGUEST,
                                               "tests=vmem_follow", 256, 2048))
        self.wait_serial(r"vmem follow: ready", 120)
        self.assertEqual(self.current_kib(name), 0)
        for size in (1 * GiB, 256 * MiB, 0):
            self.libvirtd.virsh("update-memory-device", name, "--requested-size",
                                f"{size // 1024}KiB")
            self.wait_serial(rf"vmem follow: reached requested=0x{size:x} plugged=0x{size:x} "
                             r"checks=ok", 120)
            self.wait_current(name, size, 60)
            requested = re.search(r"<requested unit='KiB'>(\d+)</requested>",
                                  self.libvirtd.virsh("dumpxml", name).stdout)
            self.assertEqual(int(requested.group(1)), size // 1024)
        self.destroy_and_check(name)

    @unittest.skipUnless(os.environ.get("TIDE_LIBVIRT_LINUX", "1") == "1",
                         "TIDE_LIBVIRT_LINUX=0")
    def test_virsh_resizes_a_linux_guest(self):
        """The Linux guest boots under libvirt and plugs what virsh asks for once; its
        MemTotal grows by it. Minutes on an emulating host (test_linux.py)."""
        import test_linux  # its guest build and retry rules
        guest = test_linux.linux_guest()
        name = "tide-linux"
        self.define_and_start(name, domain_xml(
            name, self.serial, guest["KERNEL_BZIMAGE"], guest["CMDLINE"] + " tide.memwatch",
            512, 1024, initrd=guest["INITRD"]))
        ready = self.wait_serial(r"TIDE-GUEST-READY", BOOT_TIMEOUT)
        before = int(self.wait_serial(r"MemTotal=(\d+) kB", 120, ready.end()).group(1))
        mark = len(self.serial_text())
        self.libvirtd.virsh("update-memory-device", name, "--requested-size", "128MiB")
        self.wait_current(name, 128 * MiB, BOOT_TIMEOUT)
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            totals = [int(kb) for kb in re.findall(r"MemTotal=(\d+) kB",
                                                   self.serial_text()[mark:])]
            if totals and totals[-1] == before + 128 * 1024:
                break
            if time.monotonic() > deadline:
                self.fail(f"MemTotal went {before} -> {totals}, not +128 MiB")
            time.sleep(1)
        self.destroy_and_check(name)


if __name__ == "__main__":
    harness.require_kvm()
    why = libvirt_host.missing()
    if why:
        libvirt_host.print_skip(why)
    if not harness.TESTGUEST:
        libvirt_host.print_skip("the test guest is not built (-Dguests=false)")
    sys.argv[1:1] = ["-v"]
    unittest.main()
