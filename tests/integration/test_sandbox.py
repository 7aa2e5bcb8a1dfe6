#!/usr/bin/env python3
"""Least privilege (docs/security.md): every thread of a running tide holds no capability,
has no_new_privs and its seccomp filter, as root, as -run-with user=nobody, inside a chroot,
and when an unprivileged user starts it; and the VM still does everything it does at run
time: the guest plugs, unplugs and reboots, QMP resizes and resets it, prealloc workers
populate boot RAM on every build, and tide exits cleanly."""
import grp
import os
import pwd
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import DEVICE_PATH, GiB, MiB, sanitized
from qmp import QMP, socket_path

NOBODY = pwd.getpwnam("nobody")


def thread_status(pid):
    """{tid: {field: value}} from /proc/PID/task/*/status."""
    found = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                found[tid] = dict(line.split(":", 1) for line in f.read().splitlines())
        except FileNotFoundError:
            pass  # a prealloc worker that just ended
    return {tid: {k: v.strip() for k, v in s.items()} for tid, s in found.items()}


class Sandbox(unittest.TestCase):
    def scratch_dir(self, owner=None):
        d = tempfile.mkdtemp(prefix="tide-sandbox-")
        os.chmod(d, 0o755)
        if owner:
            os.chown(d, owner.pw_uid, owner.pw_gid)
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def start(self, extra=(), prefix=(), sock=None, backend="memory-backend-ram,id=mem0,size=1G"):
        self.sock = sock or socket_path(self.id().rsplit(".", 1)[-1])
        self.addCleanup(lambda: os.path.exists(self.sock) and os.unlink(self.sock))
        # The guest follows requested-size; a line on its console ends that and the reset
        # scenario reboots it (kbd reset); boot RAM is preallocated by worker threads on
        # every build of the machine.
        args = ["-nographic", "-m", "256M,maxmem=4G",
                "-machine", "memory-backend=ram0",
                "-object", "memory-backend-memfd,id=ram0,size=256M,prealloc=on,prealloc-threads=4",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-kernel", harness.TESTGUEST, "-append", "tests=vmem_follow,reset",
                "-object", backend, "-device", "virtio-mem-pci,id=vm0,memdev=mem0",
                "-qmp", f"unix:{self.sock},server=on,wait=off"] + list(extra)
        console = harness.Console(args, prefix=prefix)
        self.addCleanup(console.kill)
        return console

    def assert_confined(self, console, seccomp=True, ids=None):
        """Every thread: no capability in any set, no_new_privs, its filter; ids: (uid, gid,
        groups) every thread must run with."""
        threads = thread_status(console.proc.pid)
        self.assertGreaterEqual(len(threads), 5, "main, I/O, device worker, console input, vCPU")
        asan = sanitized(console.proc.pid)
        for tid, s in threads.items():
            seen = {k: s[k] for k in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb",
                                      "NoNewPrivs", "Seccomp")}
            want = {"CapEff": "0" * 16, "CapPrm": "0" * 16, "CapInh": "0" * 16,
                    "CapBnd": "0" * 16, "CapAmb": "0" * 16, "NoNewPrivs": "1",
                    "Seccomp": "2" if seccomp else "0"}
            if os.getuid() != 0:
                del seen["CapBnd"], want["CapBnd"]  # only CAP_SETPCAP may empty it
            if asan and tid == str(console.proc.pid):
                # ASan builds leave main unfiltered for the leak check (docs/security.md).
                want["Seccomp"] = "0"
            self.assertEqual(seen, want, f"thread {tid} ({s['Name']})")
            if ids:
                uid, gid, groups = ids
                self.assertEqual(s["Uid"].split(), [str(uid)] * 4, f"thread {tid} ({s['Name']})")
                self.assertEqual(s["Gid"].split(), [str(gid)] * 4, f"thread {tid} ({s['Name']})")
                self.assertEqual(sorted(map(int, s["Groups"].split())), sorted(groups))
        names = sorted(s["Name"] for s in threads.values())
        self.assertIn("tide-io", names)
        self.assertIn("tide-device", names)
        self.assertIn("tide-vcpu", names)
        self.assertIn("tide-console", names)

    def resize(self, client, console, size):
        client.execute("qom-set", path=DEVICE_PATH, property="requested-size", value=size)
        client.wait_event("MEMORY_DEVICE_SIZE_CHANGE", 120,
                          lambda e: e["data"]["size"] == size)
        console.wait_for(rf"reached requested=0x{size:x} plugged=0x{size:x} checks=ok", 60)

    def run_through_everything(self, console, **confined):
        """Plug, unplug, guest reboot, system_reset, plug again, quit; confined throughout."""
        console.wait_for(r"vmem follow: ready", 60)
        client = QMP(self.sock)
        self.addCleanup(client.close)
        self.assert_confined(console, **confined)
        self.resize(client, console, 256 * MiB)  # the guest plugs
        self.resize(client, console, 64 * MiB)   # and unplugs
        console.send("next\n")                    # vmem_follow ends; the guest resets
        client.wait_event("RESET", 60, lambda e: e["data"]["guest"])
        console.wait_for(r"(?s)vmem follow: ready.*vmem follow: ready", 60)
        self.assert_confined(console, **confined)
        self.assertEqual(client.execute("system_reset"), {})
        client.wait_event("RESET", 60, lambda e: not e["data"]["guest"])
        console.wait_for(r"(?s)(vmem follow: ready.*){3}", 60)
        self.resize(client, console, 128 * MiB)
        self.assert_confined(console, **confined)
        self.assertEqual(client.execute("quit"), {})
        self.assertEqual(console.wait(30), 0, console.stderr_text())
        self.assertNotIn("seccomp", console.stderr_text())

    def test_as_root_every_thread_is_confined_through_resets(self):
        self.run_through_everything(self.start())

    def test_run_with_user_nobody(self):
        if os.getuid() != 0:
            self.skipTest("switching users needs root")
        groups = os.getgrouplist("nobody", NOBODY.pw_gid)
        console = self.start(["-run-with", "user=nobody"])
        self.run_through_everything(console, ids=(NOBODY.pw_uid, NOBODY.pw_gid, groups))

    def test_runas_with_a_group_and_chroot_keeps_files_open_across_resets(self):
        # -runas USER:GROUP and -chroot, the older spellings. After the chroot nothing of
        # the host's filesystem is in view: /dev/kvm and the backend's file were opened before.
        if os.getuid() != 0:
            self.skipTest("chroot and switching users need root")
        jail = self.scratch_dir()
        image = os.path.join(self.scratch_dir(), "guest-memory")
        with open(image, "wb") as f:
            f.truncate(GiB)
        group = grp.getgrnam("nogroup")
        # An ASan build's leak check at exit reads /proc, which is not in the chroot.
        before = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = "detect_leaks=0"
        self.addCleanup(lambda: os.environ.pop("ASAN_OPTIONS") if before is None
                        else os.environ.update(ASAN_OPTIONS=before))
        console = self.start(["-runas", f"nobody:{group.gr_gid}", "-chroot", jail],
                             backend=f"memory-backend-file,id=mem0,size=1G,mem-path={image},"
                                     "share=on")
        console.wait_for(r"vmem follow: ready", 60)
        self.assertEqual(os.readlink(f"/proc/{console.proc.pid}/root"), jail)
        self.run_through_everything(console, ids=(NOBODY.pw_uid, group.gr_gid, [group.gr_gid]))

    def test_sandbox_off_drops_privileges_without_filters(self):
        self.run_through_everything(self.start(["-sandbox", "off"]), seccomp=False)

    def test_an_unprivileged_user_who_may_open_dev_kvm_runs_tide(self):
        # As a member of the kvm group would: here a private mount namespace gives nobody
        # its own /dev/kvm node, and setpriv starts tide as nobody without any capability.
        if os.getuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"):
            self.skipTest("needs root, unshare and setpriv to make a user who may open /dev/kvm")
        node_dir = self.scratch_dir()
        sock_dir = self.scratch_dir(owner=NOBODY)
        st = os.stat("/dev/kvm")
        node = os.path.join(node_dir, "kvm")
        script = (f"mknod {node} c {os.major(st.st_rdev)} {os.minor(st.st_rdev)} && "
                  f"chown nobody {node} && mount --bind {node} /dev/kvm && exec \"$@\"")
        probe = subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", "true"],
                               capture_output=True, text=True)
        if probe.returncode:
            self.skipTest(f"no private mount namespace here: {probe.stderr.strip()}")
        os.unlink(node)
        for path in (harness.TIDE, harness.TESTGUEST):
            if not os.access(path, os.R_OK) or os.stat(path).st_mode & 0o005 != 0o005:
                self.skipTest(f"{path} is not readable by other users")
        prefix = ["unshare", "--mount", "sh", "-c", script, "sh",
                  "setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}",
                  "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
        console = self.start(prefix=prefix, sock=os.path.join(sock_dir, "qmp.sock"))
        self.run_through_everything(console, ids=(NOBODY.pw_uid, NOBODY.pw_gid, []))

    def test_bad_sandbox_options_are_refused(self):
        for args, message in [
                (["-run-with", "user=no-such-user-here"], "-run-with: unknown user"),
                (["-run-with", "chroot=/no/such/dir"], "-run-with: chroot directory"),
                (["-run-with", "colour=blue"], "-run-with"),
                (["-runas", "nobody:no-such-group-here"], "-runas: unknown group"),
                (["-sandbox", "maybe"], "-sandbox: must be on or off"),
                (["-sandbox", "on,spawn=allow"], "spawn=allow")]:
            run = harness.tide(["-kernel", harness.TESTGUEST] + args)
            self.assertEqual(run.status, 1, (args, run))
            self.assertIn(message, run.stderr, (args, run))
            self.assertEqual(run.stderr.count("\n"), 1, run.stderr)


if __name__ == "__main__":
    harness.main()
