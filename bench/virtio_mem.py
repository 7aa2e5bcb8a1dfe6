#!/usr/bin/env python3
"""virtio-mem costs, driven by the test guest.

1. Time tide spends per PLUG and per UNPLUG request (median, p99), for 2 MiB and 128 MiB
   requests: the guest's vmem_bench scenario plugs and unplugs in a loop; tide records how long
   each request takes from the moment it pops it until the response is in the used ring and
   prints the median and p99 at exit (-verbose).
2. Host memory for a 1 TiB device with 1 GiB plugged and touched, dynamic-memslots=on vs off:
   host kernel memory (VmallocUsed + Slab in /proc/meminfo, where KVM's per-memslot arrays
   live) and tide's RSS, sampled while the guest waits with the memory plugged, each as the
   difference to the host before tide started.

The 1 TiB device sits at 4 GiB, so its end needs more than 40 physical address bits. In the
nested-KVM VM: TIDE_KVM_VM_CPU=max,phys-bits=48 tests/kvm-vm/run.sh --cpus 1 -- bench/virtio_mem.py
5. The most fragmenting guest (vmem_fragment: every other block of an 8 GiB device with 1 GiB
   parts plugged until refused): plugged runs, KVM memslots and tide's VMAs then.
4. QMP round trip (query-status, p50/p99 of 500) while the guest is idle and while the test
   guest's vmem_flood scenario keeps the virtio-mem queue full.
3. The hostile guest of tests/integration/test_memory_bound.py (one block plugged per 128 MiB
   part, a write and a read every 64 KiB over the unplugged rest of 8 parts): tide's peak RSS,
   its host mappings (VMAs) and KVM memslots while the guest waits after the attack.

When qemu-system-x86_64 is installed, part 2 adds QEMU with the same guest and device.
--before BUILD adds, for parts 1 and 3, the tide built in BUILD (an earlier commit, built with
`meson setup BUILD -Dguests=false`), side by side in one run.
Usage: bench/virtio_mem.py [--build build] [--before BUILD] [--iters 200] [--runs 3]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MiB = 1 << 20


def tide_cmd(opts, append, device_props, size="1G", maxmem="4G", memory="256M", tide=None):
    return [tide or os.path.join(opts.build, "tide"), "-verbose", "-nographic", "-no-reboot",
            "-m", f"{memory},maxmem={maxmem}",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-object", f"memory-backend-ram,id=mem0,size={size},reserve=off",
            "-device", f"virtio-mem-pci,id=vm0,memdev=mem0,{device_props}",
            "-kernel", os.path.join(opts.build, "guests", "testguest", "tide-testguest.elf"),
            "-append", append]


def request_times(opts, blocks, pin, tide=None):
    """(plug median, plug p99, unplug median, unplug p99) in microseconds, medians over runs."""
    results = []
    for _ in range(opts.runs):
        proc = subprocess.run(
            tide_cmd(opts, f"tests=vmem_bench vmem_bench_blocks={blocks} "
                           f"vmem_bench_iters={opts.iters} vmem_bench_pin={pin}",
                     "requested-size=512M", tide=tide),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
        m = re.search(r"plug n=(\d+) median=(\d+) p99=(\d+); unplug n=(\d+) median=(\d+) "
                      r"p99=(\d+)", proc.stderr)
        if proc.returncode != 1 or not m:
            raise SystemExit(f"vmem_bench failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}"
                             f"\n{proc.stderr[-2000:]}")
        n = [int(x) for x in m.groups()]
        results.append((n[1], n[2], n[4], n[5]))
    return [statistics.median(r[i] for r in results) / 1000 for i in range(4)]


def meminfo_kb():
    with open("/proc/meminfo") as f:
        info = dict(re.findall(r"^(\w+):\s+(\d+) kB", f.read(), re.M))
    return int(info["VmallocUsed"]), int(info["Slab"])


ONE_TIB_GUEST = "tests=vmem_rss vmem_blocks=512 vmem_wait=1"
ONE_TIB_MAXMEM = f"{1024 * 1024 + 256}M"


def one_tib_tide(opts, dynamic):
    return tide_cmd(opts, ONE_TIB_GUEST, f"requested-size=1G,dynamic-memslots={dynamic}",
                    size="1T", maxmem=ONE_TIB_MAXMEM)


def one_tib_qemu(opts, qemu):
    """The same guest and device on QEMU (7.2 has no dynamic-memslots: one 1 TiB memslot).
    kvm_pvm refused QEMU's write of MSR 0x10a (IA32_ARCH_CAPABILITIES) on 2026-12-07."""
    return [qemu, "-accel", "kvm", "-cpu", "host,-arch-capabilities", "-nographic", "-no-reboot",
            "-m", f"256M,maxmem={ONE_TIB_MAXMEM}",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-object", "memory-backend-ram,id=mem0,size=1T,reserve=off",
            "-device", "virtio-mem-pci,id=vm0,memdev=mem0,requested-size=1G,block-size=2M",
            "-kernel", os.path.join(opts.build, "guests", "testguest", "tide-testguest.elf"),
            "-append", ONE_TIB_GUEST]


def one_tib_device(cmd, label):
    """(host kernel MiB, VMM RSS MiB) with 1 GiB of a 1 TiB device plugged and touched."""
    vmalloc0, slab0 = meminfo_kb()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    sample = None
    for line in proc.stdout:
        if line.startswith("# vmem rss: waiting") and sample is None:
            time.sleep(0.5)
            vmalloc, slab = meminfo_kb()
            with open(f"/proc/{proc.pid}/status") as f:
                rss = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))
            sample = ((vmalloc - vmalloc0 + slab - slab0) / 1024, rss / 1024)
            proc.stdin.write("go\n")
            proc.stdin.flush()
        elif line.startswith("# vmem rss: waiting"):
            proc.stdin.write("go\n")
            proc.stdin.flush()
    status = proc.wait()
    if status != 1 or sample is None:
        raise SystemExit(f"vmem_rss on {label} failed (exit {status})")
    return sample


def vma_count(pid):
    with open(f"/proc/{pid}/maps") as f:
        return sum(1 for _ in f)


def go(proc):
    """Lets a test guest that waits for a line go on."""
    proc.stdin.write("go\n")
    proc.stdin.flush()


def hostile_guest(opts, tide, backend):
    """(peak RSS MiB, VMAs, KVM memslots of the device or None) after the hostile attack."""
    cmd = tide_cmd(opts, "tests=vmem_hostile vmem_parts=8 vmem_stride=65536 vmem_wait=1",
                   "requested-size=768M", tide=tide)
    cmd[cmd.index("memory-backend-ram,id=mem0,size=1G,reserve=off")] = \
        f"{backend},id=mem0,size=1G"
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    sample = None
    for line in proc.stdout:
        if line.startswith("# vmem hostile: waiting"):
            with open(f"/proc/{proc.pid}/status") as f:
                peak = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))
            sample = (peak / 1024, vma_count(proc.pid))
        if "waiting" in line:
            go(proc)
    proc.wait()
    if sample is None:
        raise SystemExit(f"vmem_hostile on {tide} {backend} did not reach its wait")
    return sample


def qmp_round_trips(opts, tide, scenario, count=500):
    """(p50, p99) microseconds of query-status round trips while scenario runs."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    from qmp import QMP, socket_path
    sock = socket_path("bench-" + scenario.split()[0])
    cmd = tide_cmd(opts, f"tests={scenario}", "requested-size=128M", tide=tide)
    cmd += ["-qmp", f"unix:{sock},server=on,wait=off"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stdout:
            if "flooding" in line or "vmem rss: waiting" in line:
                break
        client = QMP(sock)
        times = []
        for _ in range(count):
            t = time.perf_counter()
            client.execute("query-status")
            times.append((time.perf_counter() - t) * 1e6)
        client.close()
    finally:
        proc.stdin.write("go\ngo\n")  # vmem_rss waits twice
        proc.stdin.flush()
        proc.stdout.read()
        proc.wait(timeout=120)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99) - 1]


def fragmenting_guest(opts, tide):
    """(runs plugged, how it ended, KVM memslots, VMAs) for the most fragmenting guest."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    from qmp import QMP, socket_path
    sock = socket_path("bench-fragment")
    cmd = tide_cmd(opts, "tests=vmem_fragment vmem_wait=1", "requested-size=4608M,memslots=8",
                   size="8G", maxmem="12G", tide=tide)
    cmd += ["-qmp", f"unix:{sock},server=on,wait=off"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    result = None
    for line in proc.stdout:
        m = re.match(r"# vmem fragment: runs=(\d+) then (\S+)", line)
        if m:
            runs, end = int(m.group(1)), m.group(2)
        elif line.startswith("# vmem fragment: waiting"):
            client = QMP(sock)
            info = client.execute("x-query-virtio-mem")[0]
            client.close()
            # Before the bound, KVM held one memslot per part with a plugged block.
            result = (runs, end, info.get("kvm-memslots", info["memslots-mapped"]),
                      vma_count(proc.pid))
            go(proc)
    proc.wait()
    if result is None:
        raise SystemExit(f"vmem_fragment on {tide} did not reach its wait")
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--before", help="an earlier tide build directory to compare with")
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    opts = ap.parse_args()

    print("time in tide per request (microseconds; median of the per-run medians/p99s, "
          f"{opts.runs} runs x {opts.iters} requests)")
    print(f"{'request':>43} {'PLUG median':>12} {'PLUG p99':>9} {'UNPLUG median':>14} "
          f"{'UNPLUG p99':>11}")
    # 128 MiB memslots: a 2 MiB request maps/unmaps its memslot unless another block keeps it.
    tides = [("now", os.path.join(opts.build, "tide"))]
    if opts.before:
        tides.append(("before", os.path.join(opts.before, "tide")))
    for blocks, pin, label in ((1, 1, "2 MiB, memslot stays mapped"),
                               (1, 0, "2 MiB, maps/unmaps its memslot"),
                               (64, 0, "128 MiB, one whole memslot")):
        for which, tide in tides:
            pm, pp, um, up = request_times(opts, blocks, pin, tide)
            print(f"{label + (' (before)' if which == 'before' else ''):>43} {pm:12.1f} {pp:9.1f} {um:14.1f} {up:11.1f}")
    print()
    print("1 TiB device, 1 GiB plugged and touched (MiB, change from before the VMM started)")
    print(f"{'VMM':>26} {'VmallocUsed+Slab':>17} {'VMM RSS':>9}")
    rows = [(f"tide, dynamic-memslots={d}", one_tib_tide(opts, d)) for d in ("on", "off")]
    qemu = shutil.which("qemu-system-x86_64")
    if qemu:
        rows.append(("QEMU (one memslot)", one_tib_qemu(opts, qemu)))
    for label, cmd in rows:
        kernel, rss = one_tib_device(cmd, label)
        print(f"{label:>26} {kernel:17.1f} {rss:9.1f}")
    if not qemu:
        print("# qemu-system-x86_64 is not installed: no QEMU row")
    print()
    print("QMP query-status round trip (us)")
    print(f"{'tide':>12} {'guest':>28} {'p50':>8} {'p99':>8}")
    for which, tide in tides:
        for scenario, label in (("vmem_rss vmem_blocks=1 vmem_wait=1", "idle (waiting)"),
                                ("vmem_flood", "keeps its queue full")):
            p50, p99 = qmp_round_trips(opts, tide, scenario)
            print(f"{which:>12} {label:>28} {p50:8.1f} {p99:8.1f}")
    print()
    print("hostile guest: 16 MiB plugged, writes and reads over 8 x 126 MiB unplugged")
    print(f"{'tide':>12} {'backend':>22} {'peak RSS MiB':>13} {'VMAs':>6}")
    for which, tide in tides:
        for backend in ("memory-backend-ram", "memory-backend-memfd"):
            peak, vmas = hostile_guest(opts, tide, backend)
            print(f"{which:>12} {backend:>22} {peak:13.1f} {vmas:6d}")
    print()
    print("most fragmenting guest: every other 2 MiB block of 8 GiB (1 GiB parts), until refused")
    print(f"{'tide':>12} {'runs plugged':>13} {'then':>6} {'KVM memslots':>13} {'VMAs':>6}")
    for which, tide in tides:
        runs, end, slots, vmas = fragmenting_guest(opts, tide)
        print(f"{which:>12} {runs:13d} {end:>6} {slots:13d} {vmas:6d}")


if __name__ == "__main__":
    main()
