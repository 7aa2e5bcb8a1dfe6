"""Shared helpers for Tide's integration tests: they boot real guests on /dev/kvm.

Each test file is a unittest program that meson runs with TIDE (the binary) and,
where needed, TIDE_TESTGUEST in the environment. Without /dev/kvm a whole file
exits 77 (meson's "skipped") and says why; nothing else makes it skip.
"""
import hashlib
import os
import re
import signal
import subprocess
import tempfile
import sys
import time
import unittest

import qmp

TIDE = os.environ.get("TIDE", "")
TIDECTL = os.environ.get("TIDECTL", "")
TESTGUEST = os.environ.get("TIDE_TESTGUEST", "")
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# QEMU's isa-debug-exit turns a guest write of V into exit status (V << 1) | 1.
GUEST_PASS = 1
GUEST_FAIL = 3

MiB = 1 << 20
GiB = 1 << 30
# A virtio-mem device's area starts at 4 GiB when boot RAM is below the PCI hole.
REGION = 0x100000000
# The QOM path of the virtio-mem device the tests call vm0.
DEVICE_PATH = "/machine/peripheral/vm0"


def require_kvm():
    if not os.path.exists("/dev/kvm"):
        print("SKIP: /dev/kvm is absent on this machine: guests cannot be booted")
        sys.exit(77)
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("FAIL: /dev/kvm exists but is not accessible to this user")
        sys.exit(1)


def host_kvm_is_emulating():
    """kvm_pvm: guest kernel code runs in KVM's instruction emulator (slow, and its quirks)."""
    return os.path.isdir("/sys/module/kvm_pvm")


# <linux/kvm.h>: _IO(KVMIO, 0x01) and _IO(KVMIO, 0x03); the capability numbers of kvm-api.md.
KVM_CREATE_VM = 0xAE01
KVM_CHECK_EXTENSION = 0xAE03
KVM_CAP_GUEST_MEMFD = 234
KVM_CAP_GUEST_MEMFD_FLAGS = 244
GUEST_MEMFD_FLAG_MMAP_INIT_SHARED = 0x3


def guest_memfd_missing():
    """Why tide cannot use guest_memfd on this host (the capabilities it probes), or None."""
    import fcntl
    kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    try:
        vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
        try:
            if fcntl.ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD) <= 0:
                return "this host's KVM has no guest_memfd (KVM_CAP_GUEST_MEMFD is 0)"
            flags = fcntl.ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS)
            if flags < 0 or (flags & GUEST_MEMFD_FLAG_MMAP_INIT_SHARED) != \
                    GUEST_MEMFD_FLAG_MMAP_INIT_SHARED:
                return (f"this host's guest_memfd cannot be mapped (KVM_CAP_GUEST_MEMFD_FLAGS "
                        f"is {flags}, tide needs MMAP | INIT_SHARED)")
        finally:
            os.close(vm)
    finally:
        os.close(kvm)
    return None


def require_guest_memfd(test):
    """Skips test, saying why, where the host's KVM cannot give tide a guest_memfd."""
    missing = guest_memfd_missing()
    if missing:
        test.skipTest(f"SKIP: {missing}")


def memory_image(test, size, name="image"):
    """A sparse file of size bytes whose first 64 MiB (at most) hold 0x5a: a memory image,
    removed when test ends."""
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"tide-{name}-{os.getpid()}")
    with open(path, "wb") as f:
        f.truncate(size)
        f.write(b"\x5a" * min(size, 64 << 20))
    test.addCleanup(os.unlink, path)
    return path


def scratch_mount(test, fstype, options, name):
    """A fresh mount of fstype for test (unmounted when it ends); skips the test when this
    host cannot mount one (not root)."""
    mnt = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"tide-{name}-{os.getpid()}")
    os.makedirs(mnt)
    test.addCleanup(os.rmdir, mnt)
    if subprocess.run(["mount", "-t", fstype, "-o", options, fstype, mnt]).returncode:
        test.skipTest(f"SKIP: cannot mount a {fstype} here (not root?)")
    test.addCleanup(subprocess.run, ["umount", mnt])
    return mnt


def sanitized(pid):
    """tide built with ASan: its shadow memory and quarantine are no guest's doing, and
    its main thread stays unfiltered for the leak check."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Run:
    """A finished tide process: exit status, console output and stderr."""

    def __init__(self, status, stdout, stderr, seconds):
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    def tap(self):
        """(number, ok, name) for each TAP result line the test guest printed."""
        found = []
        for m in re.finditer(r"^(not ok|ok) (\d+) - (\S+)", self.stdout, re.M):
            found.append((int(m.group(2)), m.group(1) == "ok", m.group(3)))
        return found

    def __repr__(self):
        return (f"<tide exit {self.status} after {self.seconds:.1f}s>\n--- console\n"
                f"{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-2000:]}")


def tide(args, timeout=60, stdin=subprocess.DEVNULL):
    """Runs tide to completion; a timeout is a test failure, not a hang."""
    start = time.monotonic()
    proc = subprocess.run([TIDE] + list(args), stdin=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, text=True,
                          errors="replace")
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


def assert_passed(test, run, names):
    """The test guest ran exactly the scenarios names, in order, each ok, and exited with
    GUEST_PASS."""
    results = run.tap()
    test.assertEqual([n for _, _, n in results], names, run)
    test.assertTrue(all(ok for _, ok, _ in results), run)
    test.assertEqual(run.status, GUEST_PASS, run)


def testguest(append, extra=(), memory="256M", timeout=60):
    args = ["-nographic", "-no-reboot", "-m", memory,
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", TESTGUEST, "-append", append] + list(extra)
    return tide(args, timeout=timeout)


class Console:
    """A running tide whose console is read line by line (for boots that wait on input)."""

    def __init__(self, args, prefix=()):
        """prefix: a command that runs tide (e.g. as another user), which it must exec."""
        # stderr goes to a file: a verbose log must never fill a pipe and stall tide.
        self.stderr_file = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(list(prefix) + [TIDE] + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr_file)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.output = b""

    def wait_for(self, pattern, timeout, start=0):
        """Returns the regex match once the console shows it (at or past offset start);
        raises on timeout or exit."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        while True:
            m = regex.search(self.output, start)
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {pattern!r}; "
                                     f"console so far:\n{self.text()[-3000:]}")
            chunk = self.proc.stdout.read()
            if chunk:
                self.output += chunk
            elif self.proc.poll() is not None:
                rest = self.proc.stdout.read() or b""
                self.output += rest
                if regex.search(self.output, start):
                    continue
                raise AssertionError(f"tide exited ({self.proc.returncode}) before "
                                     f"{pattern!r}; console:\n{self.text()[-3000:]}\n"
                                     f"stderr:\n{self.stderr_text()}")
            else:
                time.sleep(0.05)

    def mark(self):
        """The console's offset now, for wait_for(start=...): what comes after this."""
        self.read_available()
        return len(self.output)

    def read_available(self):
        """Takes in whatever console output has arrived, without waiting."""
        chunk = self.proc.stdout.read()
        if chunk:
            self.output += chunk

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        status = self.proc.wait(timeout=timeout)
        rest = self.proc.stdout.read()
        if rest:
            self.output += rest
        return status

    def text(self):
        return self.output.decode(errors="replace")

    def stderr_text(self):
        """tide's log so far."""
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode(errors="replace")

    def stderr_after_exit(self):
        """tide's log once it has exited."""
        self.proc.wait()
        return self.stderr_text()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.stderr_file):
            try:
                f.close()
            except OSError:
                pass


# The test guest's scenario "input" waits for a line on the serial port: placed in a
# scenario list, it holds the guest there, so that QMP sees the machine as the scenarios
# before it left it (TestGuestQMP).
HOLD = "input"
RELEASE = "go"


class TestGuestQMP:
    """The test guest, as testguest() runs it, with a QMP client on its socket: the test
    queries the machine each time the guest waits at a HOLD in its scenario list
    (wait_held), then release() lets it go on, and finish() gives its Run."""

    def __init__(self, test, append, extra=(), memory="256M"):
        self.sock = qmp.socket_path(test.id().rsplit(".", 1)[-1])
        self.started = time.monotonic()
        self.holds = 0
        self.console = Console(["-nographic", "-no-reboot", "-m", memory,
                                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                                "-kernel", TESTGUEST,
                                "-append", f"{append} expect_input={RELEASE}",
                                "-qmp", f"unix:{self.sock},server=on,wait=off"]
                               + list(extra))
        test.addCleanup(self.console.kill)
        test.addCleanup(lambda: os.path.exists(self.sock) and os.unlink(self.sock))
        self.qmp = qmp.QMP(self.sock)
        test.addCleanup(self.qmp.close)

    def wait_held(self, timeout=120):
        """Returns once the guest waits at its next HOLD: what came before it has run."""
        self.holds += 1
        self.console.wait_for(rf"(?s)(# input: waiting.*){{{self.holds}}}", timeout)

    def release(self):
        self.console.send(RELEASE + "\n")

    def vmem(self, dev_id="vm0"):
        """x-query-virtio-mem's entry for dev_id."""
        for d in self.qmp.execute("x-query-virtio-mem"):
            if d["id"] == dev_id:
                return d
        raise KeyError(dev_id)

    def finish(self, timeout=120):
        """The finished guest's Run (its console read to the end as it goes)."""
        self.console.wait_for(r"# tide-testguest: done ", timeout)
        status = self.console.wait(timeout)
        return Run(status, self.console.text(), self.console.stderr_text(),
                   time.monotonic() - self.started)


def main():
    require_kvm()
    if not TIDE or not os.access(TIDE, os.X_OK):
        print("FAIL: TIDE does not name the tide binary")
        sys.exit(1)
    unittest.main(verbosity=2)
