#!/usr/bin/env python3
"""QMP costs and resize latency.

1. Round trip of qom-set requested-size over the QMP socket (client send to reply received),
   median and p99 over --iters calls, against an idle test guest.
2. Resize latency with the test guest's vmem_follow driver: from sending qom-set to the
   moment query-memory-devices shows the new plugged size (polled every millisecond, since
   MEMORY_DEVICE_SIZE_CHANGE is rate-limited to one a second), for 0 -> 4G and 4G -> 0.
3. With --linux, the same for the Linux guest (0 -> 1G -> 0; minutes on an emulating host).

Each runs on tide and, when qemu-system-x86_64 is installed, on QEMU with the same guest and
the same command line, printed side by side; --before BUILD adds the tide built in BUILD (an
earlier commit) as one more column.
Usage: bench/qmp.py [--build build] [--before BUILD] [--iters 1000] [--runs 3] [--linux]
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import qmp  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30


def guest_args(opts, append, kernel=None, initrd=None, memory="256M"):
    args = ["-nographic", "-no-reboot", "-m", f"{memory},maxmem=8G",
            "-object", "memory-backend-ram,id=mem0,size=4G",
            "-device", "virtio-mem-pci,id=vm0,memdev=mem0",
            "-kernel", kernel or os.path.join(opts.build, "guests", "testguest",
                                              "tide-testguest.elf"),
            "-append", append]
    if initrd:
        args += ["-initrd", initrd]
    else:
        args += ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    return args


def vmms(opts):
    found = [("tide", [os.path.join(opts.build, "tide")])]
    if opts.before:
        found.append(("tide before", [os.path.join(opts.before, "tide")]))
    qemu = shutil.which("qemu-system-x86_64")
    if qemu:
        found.append(("qemu", [qemu, "-accel", "kvm", "-cpu", "host"]))
    else:
        print("# qemu-system-x86_64 is not installed: tide only")
    return found


class Guest:
    def __init__(self, vmm, args):
        self.dir = tempfile.mkdtemp(prefix="tide-bench-")
        self.sock = os.path.join(self.dir, "qmp.sock")
        self.proc = subprocess.Popen(vmm + args + ["-qmp", f"unix:{self.sock},server=on,wait=off"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.output = b""
        self.client = qmp.QMP(self.sock)

    def wait_console(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.output):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"no {pattern!r}: {self.output[-2000:]!r}")
            self.output += self.proc.stdout.read() or b""
            time.sleep(0.01)

    def close(self):
        try:
            self.client.execute("quit")
        except (OSError, ConnectionError, qmp.QMPError):
            pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def qom_set_round_trip(opts, vmm):
    g = Guest(vmm, guest_args(opts, "tests=input expect_input=never"))
    try:
        times = []
        for i in range(opts.iters):
            size = (i % 2) * 2 * MiB
            t = time.perf_counter()
            g.client.execute("qom-set", path="/machine/peripheral/vm0",
                             property="requested-size", value=size)
            times.append((time.perf_counter() - t) * 1e6)
        return statistics.median(times), percentile(times, 99)
    finally:
        g.close()


def resize_to(g, size, timeout):
    t = time.perf_counter()
    g.client.execute("qom-set", path="/machine/peripheral/vm0", property="requested-size",
                     value=size)
    while g.client.device("vm0")["size"] != size:
        if time.perf_counter() - t > timeout:
            raise SystemExit(f"resize to {size} did not finish in {timeout} s")
        time.sleep(0.001)
    return time.perf_counter() - t


def resize_latency(opts, vmm, sizes, linux=None):
    results = {s: [] for s in sizes}
    for _ in range(1 if linux else opts.runs):
        if linux:
            g = Guest(vmm, guest_args(opts, linux["CMDLINE"], linux["KERNEL_BZIMAGE"],
                                      linux["INITRD"], memory="512M"))
            g.wait_console(rb"TIDE-GUEST-READY", 900)
        else:
            g = Guest(vmm, guest_args(opts, "tests=vmem_follow"))
            g.wait_console(rb"vmem follow: ready", 60)
        try:
            for size in sizes:
                results[size].append(resize_to(g, size, 900))
        finally:
            g.close()
    return {s: statistics.median(v) for s, v in results.items()}


def linux_guest():
    out = subprocess.run([os.path.join(ROOT, "guests", "linux", "build.sh")], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    paths = dict(re.findall(r"^(KERNEL_BZIMAGE|INITRD)=(.*)$", out, re.M))
    with open(os.path.join(ROOT, "guests", "linux", "cmdline.txt")) as f:
        paths["CMDLINE"] = f.read().strip()
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--linux", action="store_true")
    ap.add_argument("--before", help="an earlier tide build directory, one more column")
    opts = ap.parse_args()
    found = vmms(opts)
    print(f"{'':44}" + "".join(f"{name:>16}" for name, _ in found))
    rtt = [qom_set_round_trip(opts, vmm) for _, vmm in found]
    print(f"{'qom-set round trip, median (us)':44}" + "".join(f"{m:16.1f}" for m, _ in rtt))
    print(f"{'qom-set round trip, p99 (us)':44}" + "".join(f"{p:16.1f}" for _, p in rtt))
    steps = [4 * GiB, 0]
    lat = [resize_latency(opts, vmm, steps) for _, vmm in found]
    for size, label in zip(steps, ("0 -> 4G", "4G -> 0")):
        print(f"{'test guest resize ' + label + ', median (s)':44}"
              + "".join(f"{r[size]:16.3f}" for r in lat))
    if opts.linux:
        linux = linux_guest()
        steps = [1 * GiB, 0]
        lat = [resize_latency(opts, vmm, steps, linux) for _, vmm in found]
        for size, label in zip(steps, ("0 -> 1G", "1G -> 0")):
            print(f"{'Linux guest resize ' + label + ' (s)':44}"
                  + "".join(f"{r[size]:16.3f}" for r in lat))


if __name__ == "__main__":
    main()
