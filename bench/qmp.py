#!/usr/bin/env python3
"""QMP costs and resize latency.

1. Round trip of qom-set requested-size over the QMP socket (client send to reply received),
   median and p99 over --iters calls, against an idle test guest.
2. Lateness of the final MEMORY_DEVICE_SIZE_CHANGE: its arrival minus the moment the client
   polling query-memory-devices saw the size reach requested-size (the test guest's
   vmem_follow driver, four resizes per run; median and largest, in ms; goal: 10 ms).
3. Round trip of query-memory-devices (it reads the device's state), p50 and p99: idle; while
   the test guest plugs 4 GiB with the device's prealloc=on (each 128 MiB request backed
   before it is answered); while the test guest floods the queue with requests (vmem_flood).
   Goal: p99 under 1 ms in both loaded cases.
4. Resize latency with the test guest's vmem_follow driver: from sending qom-set to the
   moment query-memory-devices shows the new plugged size (polled every millisecond), for
   0 -> 4G and 4G -> 0.
5. With --linux, the same for the Linux guest (0 -> 1G -> 0; minutes on an emulating host).

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


def guest_args(opts, append, kernel=None, initrd=None, memory="256M", device=""):
    args = ["-nographic", "-no-reboot", "-m", f"{memory},maxmem=8G",
            "-object", "memory-backend-ram,id=mem0,size=4G",
            "-device", "virtio-mem-pci,id=vm0,memdev=mem0" + device,
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
        # kvm_pvm refused QEMU's write of MSR 0x10a (IA32_ARCH_CAPABILITIES) on 2026-12-07.
        found.append(("qemu", [qemu, "-accel", "kvm", "-cpu", "host,-arch-capabilities"]))
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
        try:
            self.client = qmp.QMP(self.sock)
        except BaseException:
            # A VMM left running would flood a core and skew every later number.
            self.proc.kill()
            self.proc.wait()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

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


def set_size(g, size):
    g.client.execute("qom-set", path="/machine/peripheral/vm0", property="requested-size",
                     value=size)


def final_event_lateness(opts, vmm):
    """ms from the size seen reached (polling query-memory-devices) to the final event's
    arrival, on the one client QEMU allows per socket. Arrival, not the event's timestamp:
    QEMU stamps an event when the device raises it, also one its throttle holds back."""
    late = []
    for _ in range(opts.runs):
        g = Guest(vmm, guest_args(opts, "tests=vmem_follow"))
        try:
            g.wait_console(rb"vmem follow: ready", 60)
            for size in (1 * GiB, 256 * MiB, 768 * MiB, 0):
                g.client.events.clear()
                set_size(g, size)
                deadline = time.monotonic() + 120
                reached = arrived = None
                while reached is None or arrived is None:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{vmm[0]}: no final event for {size}")
                    if reached is None:
                        if g.client.device("vm0")["size"] == size:
                            reached = time.time()
                    else:
                        msg = g.client.read(10)
                        if "event" in msg:
                            g.client.events.append(msg)
                    if arrived is None and any(
                            e["event"] == "MEMORY_DEVICE_SIZE_CHANGE" and
                            e["data"]["size"] == size for e in g.client.events):
                        arrived = time.time()
                late.append(max(0.0, arrived - reached) * 1e3)
        finally:
            g.close()
    return statistics.median(late), max(late)


def round_trips_while(g, busy, limit_s=120):
    """query-memory-devices round trips (us) for as long as busy(size) says so."""
    times, started = [], time.monotonic()
    while True:
        t = time.perf_counter()
        size = g.client.device("vm0")["size"]
        times.append((time.perf_counter() - t) * 1e6)
        if not busy(size, time.monotonic() - started):
            return times
        if time.monotonic() - started > limit_s:
            raise SystemExit("no end in sight")


def query_round_trips(opts, vmm):
    """(p50, p99) in us of query-memory-devices: idle, during a 4 GiB prealloc plug,
    during a request flood."""
    out = {}
    g = Guest(vmm, guest_args(opts, "tests=input expect_input=never"))
    try:
        times = round_trips_while(g, lambda size, t: t < 2.0)
        out["idle"] = (statistics.median(times), percentile(times, 99))
    finally:
        g.close()
    times = []
    for _ in range(opts.runs):
        g = Guest(vmm, guest_args(opts, "tests=vmem_follow vmem_timeout=200000000000",
                                  device=",prealloc=on"))
        try:
            g.wait_console(rb"vmem follow: ready", 60)
            set_size(g, 4 * GiB)
            times += round_trips_while(g, lambda size, t: size != 4 * GiB)
        finally:
            g.close()
    out["prealloc"] = (statistics.median(times), percentile(times, 99))
    g = Guest(vmm, guest_args(opts, "tests=vmem_flood"))
    try:
        g.wait_console(rb"vmem flood: queue of \d+, flooding", 60)
        times = round_trips_while(g, lambda size, t: t < 2.0 * opts.runs)
        g.proc.stdin.write(b"q\n")
        g.proc.stdin.flush()
        out["flood"] = (statistics.median(times), percentile(times, 99))
    finally:
        g.close()
    return out


def resize_to(g, size, timeout):
    t = time.perf_counter()
    set_size(g, size)
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
    print(f"{'':52}" + "".join(f"{name:>16}" for name, _ in found))
    rtt = [qom_set_round_trip(opts, vmm) for _, vmm in found]
    print(f"{'qom-set round trip, median (us)':52}" + "".join(f"{m:16.1f}" for m, _ in rtt))
    print(f"{'qom-set round trip, p99 (us)':52}" + "".join(f"{p:16.1f}" for _, p in rtt))
    late = [final_event_lateness(opts, vmm) for _, vmm in found]
    print(f"{'final size event lateness, median (ms)':52}" + "".join(f"{m:16.2f}" for m, _ in late))
    print(f"{'final size event lateness, max (ms)':52}" + "".join(f"{x:16.2f}" for _, x in late))
    rtts = [query_round_trips(opts, vmm) for _, vmm in found]
    for case, label in (("idle", "idle"), ("prealloc", "4 GiB prealloc plug"),
                        ("flood", "request flood")):
        for i, stat in ((0, "p50"), (1, "p99")):
            print(f"{'query round trip, ' + label + ', ' + stat + ' (us)':52}"
                  + "".join(f"{r[case][i]:16.1f}" for r in rtts))
    steps = [4 * GiB, 0]
    lat = [resize_latency(opts, vmm, steps) for _, vmm in found]
    for size, label in zip(steps, ("0 -> 4G", "4G -> 0")):
        print(f"{'test guest resize ' + label + ', median (s)':52}"
              + "".join(f"{r[size]:16.3f}" for r in lat))
    if opts.linux:
        linux = linux_guest()
        steps = [1 * GiB, 0]
        lat = [resize_latency(opts, vmm, steps, linux) for _, vmm in found]
        for size, label in zip(steps, ("0 -> 1G", "1G -> 0")):
            print(f"{'Linux guest resize ' + label + ' (s)':52}"
                  + "".join(f"{r[size]:16.3f}" for r in lat))


if __name__ == "__main__":
    main()
