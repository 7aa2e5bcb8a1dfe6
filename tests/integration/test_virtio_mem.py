#!/usr/bin/env python3
"""virtio-mem-pci on KVM, driven by the test guest's polling driver: one test per device rule.

The guest prints `# vmem ...` facts and TAP; tide's side (its memslots, requests and
counters) shows through QMP's x-query-virtio-mem, asked while the guest waits at a HOLD in
its scenario list (harness.TestGuestQMP).
"""
import os
import re
import subprocess
import time
import unittest

import harness
import qmp
from harness import GUEST_PASS, HOLD, GiB, MiB, REGION, assert_passed, testguest


def vmem_args(props="requested-size=128M", backend="memory-backend-ram", size="1G",
              backend_props=""):
    return [
        "-m", "256M,maxmem=4G",
        "-object", f"{backend},id=mem0,size={size}{backend_props}",
        "-device", f"virtio-mem-pci,id=vm0,memdev=mem0,{props}"]


def held_at_end(append):
    """append with HOLD after its scenarios ("tests=a,b x=1" -> "tests=a,b,input x=1")."""
    tests, _, rest = append.partition(" ")
    assert tests.startswith("tests="), append
    return f"{tests},{HOLD} {rest}".rstrip()


class VirtioMem(unittest.TestCase):
    def run_guest(self, append, **kw):
        run = testguest(append, extra=vmem_args(**kw), timeout=120)
        return run

    def run_then_query(self, append, **kw):
        """Runs append's scenarios, then asks x-query-virtio-mem about vm0 while the guest
        waits at a HOLD after them; returns (the guest's Run, that answer)."""
        guest = harness.TestGuestQMP(self, held_at_end(append), extra=vmem_args(**kw))
        guest.wait_held()
        x = guest.vmem()
        guest.release()
        return guest.finish(), x

    def assert_part_0_came_and_went_twice(self, run, x):
        """After vmem_plug (blocks at the region's start, plugged twice, unplugged twice, each
        plug checked by the guest through those blocks): only memslot part 0, which holds the
        blocks, was mapped, twice, and unmapped, twice. Two maps in all leave no room for any
        other part; nothing is mapped now."""
        plug = re.search(r"# vmem plug: blocks=\d+ addr=(0x[0-9a-f]+) bytes=(\d+)", run.stdout)
        start, size = int(plug.group(1), 16), int(plug.group(2))
        self.assertEqual(((start - REGION) // x["memslot-size"],
                          (start + size - 1 - REGION) // x["memslot-size"]), (0, 0), run)
        c = x["counters"]
        self.assertEqual((c["memslot-maps"], c["memslot-unmaps"]), (2, 2), x)
        self.assertEqual((x["mapped-memslots"], x["memslots-mapped"], x["kvm-memslots"]),
                         ([], 0, 0), x)

    def test_config_space_and_pci_identity(self):
        run = self.run_guest("tests=vmem_config vmem_block=0x200000 vmem_addr=0x100000000 "
                             "vmem_region=0x40000000 vmem_requested=0x8000000 "
                             "vmem_usable=0x18000000 vmem_plugged=0")
        assert_passed(self, run, ["vmem_config"])
        self.assertIn("# vmem identity vendor=1af4 device=1058 revision=1", run.stdout)
        self.assertIn("# vmem cap msix cfg=0x98 table_size=2", run.stdout)
        for cap in ("common", "notify", "isr", "device", "pci_cfg"):
            self.assertRegex(run.stdout, rf"# vmem cap {cap} cfg=0x[0-9a-f]+ bar=0", run)

    def test_usable_region_policy_requested_plus_256m_capped_at_region(self):
        run = self.run_guest("tests=vmem_config vmem_usable=0x40000000 vmem_requested=0x38000000",
                             props="requested-size=896M")
        assert_passed(self, run, ["vmem_config"])
        run = self.run_guest("tests=vmem_config vmem_usable=0 vmem_requested=0",
                             props="requested-size=0")
        assert_passed(self, run, ["vmem_config"])

    def test_features_offered_and_refused(self):
        run = self.run_guest("tests=vmem_features vmem_ui=auto")
        assert_passed(self, run, ["vmem_features"])
        self.assertRegex(run.stdout, r"attempt no_version_1 accepted=0x[0-9a-f]+ features_ok=0")
        self.assertRegex(run.stdout, r"offered=0x110000002 ")

    def test_unplugged_inaccessible_on_requires_the_feature(self):
        run, x = self.run_then_query("tests=vmem_features,vmem_plug vmem_ui=on",
                                     props="requested-size=128M,unplugged-inaccessible=on")
        assert_passed(self, run, ["vmem_features", "vmem_plug", HOLD])
        self.assertRegex(run.stdout, r"attempt no_ui accepted=0x100000000 features_ok=0")
        # The refusal was tide's, for the missing feature: once, for that attempt.
        self.assertEqual(x["counters"]["features-refused"], 1, x)

    def test_unplugged_inaccessible_off_maps_only_plugged_blocks_too(self):
        run, x = self.run_then_query("tests=vmem_features,vmem_plug vmem_ui=off",
                                     props="requested-size=128M,unplugged-inaccessible=off")
        assert_passed(self, run, ["vmem_features", "vmem_plug", HOLD])
        self.assertRegex(run.stdout, r"offered=0x110000000 .*unplugged_inaccessible=0")
        # A driver that may read unplugged memory reads it through MMIO exits (zeros,
        # tests/integration/test_memory_bound.py): KVM maps only what is plugged, as for
        # any driver, so its writes there take no host memory.
        self.assert_part_0_came_and_went_twice(run, x)

    def test_plug_write_unplug_replug_reads_zeros(self):
        run, x = self.run_then_query("tests=vmem_plug vmem_blocks=8")
        assert_passed(self, run, ["vmem_plug", HOLD])
        self.assertIn("# vmem plug: pattern ok", run.stdout)
        self.assertIn("# vmem plug: replug nonzero_words=0", run.stdout)
        # Only the memslot holding the blocks comes and goes: slot 0, twice.
        self.assert_part_0_came_and_went_twice(run, x)
        c = x["counters"]
        self.assertEqual({k: c[k] for k in ("plug-requests", "unplug-requests", "bytes-plugged",
                                            "bytes-unplugged", "errors", "nacks", "busy")},
                         {"plug-requests": 2, "unplug-requests": 2, "bytes-plugged": 32 * MiB,
                          "bytes-unplugged": 32 * MiB, "errors": 0, "nacks": 0, "busy": 0}, x)

    def test_moved_bar_takes_its_notifications_along(self):
        # The first scenario uses BAR0 where tide put it; the second moves it first. The
        # guest waits after each while the test asks where the queue's ioeventfd listens
        # (notifications work either way: without one they trap to tide).
        guest = harness.TestGuestQMP(
            self, f"tests=vmem_plug,{HOLD},vmem_plug,{HOLD} vpci_bar0=0xc0000000,0xd0000000",
            extra=vmem_args())
        places = []
        for _ in range(2):
            guest.wait_held()
            places.append(guest.vmem()["queue-notify-address"])
            guest.release()
        run = guest.finish()
        assert_passed(self, run, ["vmem_plug", HOLD, "vmem_plug", HOLD])
        self.assertIn("# virtio-pci: bar0 moved to 0xd0000000", run.stdout)
        # The ioeventfd followed BAR0 from its first place to the guest's choice (sizing
        # in between turns decoding off and on, which re-registers it in place).
        self.assertEqual(places, [0xc0003000, 0xd0003000], run)

    def test_memfd_backend_discards_by_punching_holes(self):
        run = self.run_guest("tests=vmem_plug,vmem_unplug_all", backend="memory-backend-memfd")
        assert_passed(self, run, ["vmem_plug", "vmem_unplug_all"])
        self.assertIn("# vmem plug: replug nonzero_words=0", run.stdout)

    def template_file(self, size=256 * MiB):
        return harness.memory_image(self, size, "template")

    def test_shared_file_backend_punches_what_is_unplugged(self):
        path = self.template_file()
        run = self.run_guest("tests=vmem_plug,vmem_unplug_all vmem_blocks=8",
                             backend="memory-backend-file", size="256M",
                             backend_props=f",mem-path={path},share=on")
        # First plugs read zeros although the file held data: tide gave it all back at start.
        assert_passed(self, run, ["vmem_plug", "vmem_unplug_all"])
        self.assertIn("# vmem plug: replug nonzero_words=0", run.stdout)
        self.assertEqual(os.stat(path).st_blocks, 0, "unplugged memory is punched out")

    def test_private_file_template_serves_two_vms_and_is_never_written(self):
        path = self.template_file()
        before = harness.sha256_of(path)
        props = f",mem-path={path},share=off,readonly=on,rom=off"
        procs = [subprocess.Popen(
            [harness.TIDE, "-nographic", "-no-reboot",
             "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", harness.TESTGUEST,
             "-append", f"tests=vmem_plug vmem_blocks=16 vmem_keep=1 seed={seed}"]
            + vmem_args(backend="memory-backend-file", size="256M", backend_props=props),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (11, 22)]
        outputs = [p.communicate(timeout=120) for p in procs]
        for p, (out, err) in zip(procs, outputs):
            # Each guest wrote its own pattern (its seed) and read it back intact.
            self.assertEqual(p.returncode, GUEST_PASS, out + err)
            self.assertIn("# vmem plug: pattern ok", out)
        self.assertEqual(harness.sha256_of(path), before, "the template file is unchanged")

    def reserve_huge_pages(self, count):
        """count more free 2 MiB huge pages, given back afterwards; False if the host has none."""
        nr = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
        free = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
        try:
            with open(nr) as f:
                old = int(f.read())
            with open(nr, "w") as f:
                f.write(str(old + count))
        except OSError as e:
            print(f"cannot reserve huge pages: {e}")
            return False

        def give_back():
            with open(nr, "w") as f:
                f.write(str(old))
        self.addCleanup(give_back)
        with open(free) as f:
            return int(f.read()) >= count

    def test_hugetlb_memfd_backend(self):
        if not self.reserve_huge_pages(64):
            self.skipTest("SKIP: no 2 MiB huge pages could be reserved on this host")
        with open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") as f:
            free_before = int(f.read())
        run = self.run_guest("tests=vmem_plug,vmem_unplug_all vmem_blocks=8",
                             backend="memory-backend-memfd", size="128M",
                             backend_props=",hugetlb=on,hugetlbsize=2M")
        assert_passed(self, run, ["vmem_plug", "vmem_unplug_all"])
        self.assertIn("# vmem plug: replug nonzero_words=0", run.stdout)
        with open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") as f:
            self.assertEqual(int(f.read()), free_before, "every huge page came back")
        # More than is free: a clear error at start.
        run = harness.tide(["-kernel", harness.TESTGUEST] + vmem_args(
            backend="memory-backend-memfd", size="64G", props="requested-size=0",
            backend_props=",hugetlb=on,hugetlbsize=2M").__add__(["-m", "256M,maxmem=80G"]),
            timeout=30)
        self.assertEqual(run.status, 1, run)
        self.assertIn("need 32768 huge pages of 2048 KiB", run.stderr)

    def test_hugetlbfs_file_backend(self):
        if not self.reserve_huge_pages(64):
            self.skipTest("SKIP: no 2 MiB huge pages could be reserved on this host")
        path = os.path.join(harness.scratch_mount(self, "hugetlbfs", "pagesize=2M", "hugetlbfs"),
                            "guest-memory")
        with open(path, "wb") as f:
            f.truncate(128 * MiB)
        self.addCleanup(os.unlink, path)
        free = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
        with open(free) as f:
            free_before = int(f.read())
        run = self.run_guest("tests=vmem_plug,vmem_unplug_all vmem_blocks=8",
                             backend="memory-backend-file", size="128M",
                             backend_props=f",mem-path={path},share=on")
        assert_passed(self, run, ["vmem_plug", "vmem_unplug_all"])
        self.assertIn("# vmem plug: replug nonzero_words=0", run.stdout)
        with open(free) as f:
            self.assertEqual(int(f.read()), free_before, "unplugged huge pages punched back")
        for props, message in ((",share=off", "is on hugetlbfs, where tide maps files shared "
                                              "only: use share=on"),
                               (",share=on,size=3M", "size 3145728 is not a multiple of the "
                                                     "2048 KiB huge pages")):
            run = harness.tide(["-kernel", harness.TESTGUEST] + vmem_args(
                backend="memory-backend-file", size="128M",
                backend_props=f",mem-path={path}{props}"), timeout=30)
            self.assertEqual(run.status, 1, run)
            self.assertIn(message, run.stderr)

    def test_device_prealloc_backs_plugs_and_memdev_prealloc_is_refused(self):
        run = self.run_guest("tests=vmem_plug vmem_blocks=8", props="requested-size=128M,prealloc=on")
        assert_passed(self, run, ["vmem_plug"])
        run = harness.tide(["-kernel", harness.TESTGUEST] + vmem_args(
            backend_props=",prealloc=on"), timeout=30)
        self.assertEqual(run.status, 1, run)
        self.assertIn("memdev 'mem0' has prealloc=on", run.stderr)

    def test_guest_memfd_backend_plug_unplug(self):
        harness.require_guest_memfd(self)
        run = self.run_guest("tests=vmem_plug,vmem_unplug_all vmem_blocks=8",
                             backend="memory-backend-guest-memfd")
        assert_passed(self, run, ["vmem_plug", "vmem_unplug_all"])
        self.assertIn("# vmem plug: replug nonzero_words=0", run.stdout)

    def test_read_only_memory_is_refused_as_memdev(self):
        path = self.template_file(4 * MiB)
        run = harness.tide(["-kernel", harness.TESTGUEST] + vmem_args(
            backend="memory-backend-file", size="4M", props="requested-size=0",
            backend_props=f",mem-path={path},readonly=on"), timeout=30)
        self.assertEqual(run.status, 1, run)
        self.assertIn("memdev 'mem0' is read-only memory (rom)", run.stderr)

    def test_every_request_rule(self):
        run = self.run_guest("tests=vmem_errors")
        assert_passed(self, run, ["vmem_errors"])
        cases = dict(re.findall(r"# vmem error-case (\S+): got (.+?) expected", run.stdout))
        for name in ("misaligned", "zero-blocks", "past-usable", "below-addr", "wrap-2^64"):
            for req in ("plug", "unplug", "state"):
                self.assertEqual(cases[f"{name}-{req}"], "ERROR", run)
        self.assertEqual(cases["plug-plugged"], "ERROR")
        self.assertEqual(cases["unplug-unplugged"], "ERROR")
        self.assertEqual(cases["plug-over-requested"], "NACK")
        self.assertEqual(cases["state-mixed"], "ACK state=MIXED")
        self.assertEqual(cases["unplug-all"], "ACK")

    def test_unplug_all_and_device_reset(self):
        run = self.run_guest("tests=vmem_unplug_all,vmem_reset")
        assert_passed(self, run, ["vmem_unplug_all", "vmem_reset"])
        self.assertIn("# vmem unplug_all: replug nonzero_words=0", run.stdout)
        self.assertRegex(run.stdout, r"# vmem reset: plugged_size before=0x800000 after=0x800000")
        self.assertIn("# vmem reset: pattern ok", run.stdout)

    def test_rings_and_buffers_in_plugged_memory(self):
        # Plugged memory is RAM for the device too; when the guest unplugs the block that
        # holds the device's own rings and answer, the device needs a reset (tide goes on).
        guest = harness.TestGuestQMP(self, f"tests=vmem_rings,{HOLD},vmem_plug",
                                     extra=vmem_args())
        guest.wait_held()
        x = guest.vmem()
        guest.release()
        run = guest.finish()
        assert_passed(self, run, ["vmem_rings", HOLD, "vmem_plug"])
        self.assertIn("# vmem rings: in plugged memory at 0x100000000: STATE ok", run.stdout)
        self.assertIn("# vmem rings: unplugging them: DEVICE_NEEDS_RESET", run.stdout)
        self.assertIn("response buffer no longer in guest RAM (unplugged?)", run.stderr)
        # The unplug itself happened: the block's memslot (part 0) went, as for any last
        # block, before vmem_plug ran.
        self.assertGreaterEqual(x["counters"]["memslot-unmaps"], 1, x)
        self.assertNotIn(0, x["mapped-memslots"], x)

    def test_malformed_queues_need_reset_and_tide_keeps_running(self):
        run = self.run_guest("tests=vmem_malformed,vmem_plug")
        assert_passed(self, run, ["vmem_malformed", "vmem_plug"])
        results = re.findall(r"# vmem malformed (\S+): result=(\S+)", run.stdout)
        self.assertEqual(len(results), 11, run)
        for name, result in results:
            self.assertEqual(result, "DEVICE_NEEDS_RESET", name)
        self.assertEqual(len(re.findall(r"recovered=1 ok", run.stdout)), 11, run)
        # The warning is rate-limited: at most 5 lines a second, however often the guest
        # breaks the rules and resets.
        lines = run.stderr.count("device needs reset")
        self.assertGreaterEqual(lines, 1, run)
        self.assertLessEqual(lines, 5 * (int(run.seconds) + 1), run)

    def test_dynamic_memslots_off_maps_one_slot_for_the_whole_region(self):
        guest = harness.TestGuestQMP(self, f"tests={HOLD},vmem_plug,{HOLD}", extra=vmem_args(
            props="requested-size=128M,dynamic-memslots=off"))
        # Before the guest has touched the device: one memslot of 1 GiB, all mapped now.
        guest.wait_held()
        before = guest.vmem()
        guest.release()
        # vmem_plug plugged and unplugged: the memslot stayed, mapped once, never unmapped.
        guest.wait_held()
        after = guest.vmem()
        guest.release()
        run = guest.finish()
        assert_passed(self, run, [HOLD, "vmem_plug", HOLD])
        for x in (before, after):
            self.assertEqual((x["dynamic-memslots"], x["memslots"], x["memslot-size"]),
                             (False, 1, GiB), x)
            self.assertEqual((x["mapped-memslots"], x["memslots-mapped"], x["kvm-memslots"]),
                             ([0], 1, 1), x)
            self.assertEqual((x["counters"]["memslot-maps"], x["counters"]["memslot-unmaps"]),
                             (1, 0), x)

    def test_region_of_1025_slot_granules_gets_equal_larger_memslots(self):
        # No power of two tiles 1025 x 128 MiB in at most 1024 slots; 205 slots of 640 MiB do.
        # (The test guest's config scenario: it cannot identity-map 128 GiB to plug in it.)
        guest = harness.TestGuestQMP(
            self, f"tests=vmem_config,{HOLD} vmem_region=0x2008000000 vmem_requested=0x8000000",
            extra=["-m", "256M,maxmem=140G",
                   "-object", "memory-backend-ram,id=mem0,size=131200M,reserve=off",
                   "-device", "virtio-mem-pci,id=vm0,memdev=mem0,requested-size=128M"])
        guest.wait_held()
        x = guest.vmem()
        guest.release()
        run = guest.finish()
        assert_passed(self, run, ["vmem_config", HOLD])
        self.assertEqual((x["memslots"], x["memslot-size"]), (205, 640 * MiB), x)

    def test_memslots_follow_plugged_blocks_across_the_region(self):
        # memslots=4: 256 MiB slots; blocks in slots 0 and 2 map exactly those two.
        run, x = self.run_then_query("tests=vmem_unplug_all vmem_blocks=4",
                                     props="requested-size=512M,memslots=4")
        assert_passed(self, run, ["vmem_unplug_all", HOLD])
        self.assertEqual((x["memslots"], x["memslot-size"]), (4, 256 * MiB), x)
        ranges = re.search(r"ranges 0x([0-9a-f]+)\+0x[0-9a-f]+ 0x([0-9a-f]+)", run.stdout)
        expected = {(int(a, 16) - REGION) // (256 * MiB) for a in ranges.groups()}
        # The guest plugged both ranges twice (and checked them through their memory) and
        # unplugged all twice: each time exactly the parts that hold them were mapped, one
        # map each and no more, and all were unmapped.
        self.assertEqual(len(expected), 2, run)
        c = x["counters"]
        self.assertEqual((c["memslot-maps"], c["memslot-unmaps"]),
                         (2 * len(expected), 2 * len(expected)), x)
        self.assertEqual(x["mapped-memslots"], [], x)

    def test_system_reset_unplugs_everything(self):
        # Boot 1 plugs and keeps 4 blocks, then resets the VM; boot 2 must find nothing plugged.
        console = harness.Console(
            ["-nographic", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
             "-kernel", harness.TESTGUEST,
             "-append", "tests=vmem_config,vmem_plug,reset vmem_plugged=0 vmem_keep=1"]
            + vmem_args())
        self.addCleanup(console.kill)
        # Boot 2 plugs the same blocks: they read zeros, not boot 1's pattern.
        console.wait_for(r"(?s)kept 4 blocks plugged.*TAP version 13.*ok 1 - vmem_config.*"
                         r"first plug reads zeros.*ok 2 - vmem_plug", 120)
        self.assertNotIn("not ok", console.text())

    def test_devices_share_at_most_2048_memslots(self):
        # Three 128 GiB devices with 128 MiB memslots want 3 x 1024: the third is refused.
        args = ["-m", "256M,maxmem=400G", "-kernel", harness.TESTGUEST]
        for i in range(3):
            args += ["-object", f"memory-backend-ram,id=m{i},size=128G,reserve=off",
                     "-device", f"virtio-mem-pci,id=vm{i},memdev=m{i},memslots=1024"]
        run = harness.tide(args, timeout=60)
        self.assertEqual(run.status, 1, run)
        self.assertIn("vm2 needs 1024 memslots but only 0 are left", run.stderr, run)
        self.assertEqual(len(run.stderr.strip().splitlines()), 1, run)

    def test_region_beyond_the_vcpus_physical_address_bits_is_refused(self):
        # 4 PiB from 4 GiB up ends above 2^52, more than any x86-64 CPU addresses.
        run = harness.tide(["-m", "256M,maxmem=4097T", "-kernel", harness.TESTGUEST,
                            "-object", "memory-backend-ram,id=m0,size=4P,reserve=off",
                            "-device", "virtio-mem-pci,id=vm0,memdev=m0"], timeout=60)
        self.assertEqual(run.status, 1, run)
        self.assertIn("virtio-mem-pci: vm0: region 0x100000000-0x10000100000000 ends above what "
                      "the vCPUs can address", run.stderr, run)

    def test_host_rss_follows_plugged_memory(self):
        self.check_rss_follows_plugged_memory("memory-backend-ram")

    def test_guest_memfd_backend_rss_follows_plugged_memory(self):
        harness.require_guest_memfd(self)
        self.check_rss_follows_plugged_memory("memory-backend-guest-memfd")

    def test_memfd_and_private_file_backends_give_memory_back(self):
        self.check_rss_follows_plugged_memory("memory-backend-memfd")
        path = self.template_file(1024 * MiB)
        self.check_rss_follows_plugged_memory(
            "memory-backend-file", f",mem-path={path},share=off,readonly=on,rom=off")

    def check_rss_follows_plugged_memory(self, backend, backend_props=""):
        blocks = 128  # 256 MiB
        console = harness.Console(["-nographic", "-no-reboot", "-device",
                                   "isa-debug-exit,iobase=0xf4,iosize=0x04",
                                   "-kernel", harness.TESTGUEST,
                                   "-append", f"tests=vmem_rss vmem_blocks={blocks} vmem_wait=1"]
                                  + vmem_args(props="requested-size=512M", backend=backend,
                                              backend_props=backend_props))
        self.addCleanup(console.kill)

        def rss_kb():
            # guest_memfd pages are KVM's, not in tide's page tables; the kernel keeps them
            # unevictable, so the host's Unevictable count is theirs (plus a steady rest).
            if backend == "memory-backend-guest-memfd":
                with open("/proc/meminfo") as f:
                    return int(re.search(r"Unevictable:\s+(\d+) kB", f.read()).group(1))
            return qmp.rss_kib(console.proc.pid)

        console.wait_for(r"# vmem rss: plugged bytes=\d+\s+# vmem rss: waiting", 120)
        plugged = rss_kb()
        console.send("go\n")
        console.wait_for(r"# vmem rss: unplugged\s+# vmem rss: waiting", 120)
        time.sleep(0.2)
        unplugged = rss_kb()
        console.send("go\n")
        self.assertEqual(console.wait(timeout=60), GUEST_PASS, console.text())
        # Touched plugged memory is resident; after the unplug it went back to the host.
        self.assertGreater(plugged - unplugged, 0.9 * blocks * 2 * 1024,
                           f"RSS plugged {plugged} kB, unplugged {unplugged} kB")


if __name__ == "__main__":
    harness.main()
