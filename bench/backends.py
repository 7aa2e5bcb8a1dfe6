#!/usr/bin/env python3
"""Plug throughput per memory backend, with and without virtio-mem's prealloc=on.

The test guest's vmem_rss scenario plugs --size of memory in requests of up to 65535 blocks
and writes one word in every 4 KiB page of it (so every page gets backed); the time from
its start line to its "plugged" line, seen on the console, gives GiB/s. Backends: ram,
memfd, a shared file in $TMPDIR, guest_memfd, and memfd on 2 MiB huge pages when the host
has enough free ones.
Usage: bench/backends.py [--build build] [--size-mib 1024] [--runs 3]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MiB = 1 << 20


def free_huge_pages():
    try:
        with open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") as f:
            return int(f.read())
    except OSError:
        return 0


def plug_seconds(opts, backend_props, device_props):
    blocks = opts.size_mib // 2
    cmd = [os.path.join(opts.build, "tide"), "-nographic", "-no-reboot",
           "-m", f"256M,maxmem={opts.size_mib * 2 + 1024}M",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-object", f"{backend_props},id=mem0,size={opts.size_mib}M",
           "-device", f"virtio-mem-pci,id=vm0,memdev=mem0,requested-size={opts.size_mib}M"
                      f"{device_props}",
           "-kernel", os.path.join(opts.build, "guests", "testguest", "tide-testguest.elf"),
           # prealloc=on backs a whole request before answering it: seconds for a file on disk.
           "-append", f"tests=vmem_rss vmem_blocks={blocks} vmem_timeout=1000000000000"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    start = end = None
    for line in proc.stdout:
        if "--- vmem_rss" in line:
            start = time.perf_counter()
        elif "vmem rss: plugged bytes=" in line:
            end = time.perf_counter()
    status = proc.wait(timeout=600)
    if status != 1 or start is None or end is None:
        raise SystemExit(f"vmem_rss failed with {backend_props}{device_props} (exit {status})")
    return end - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    opts = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tide-bench-")
    path = os.path.join(tmp, "mem")
    with open(path, "wb") as f:
        f.truncate(opts.size_mib * MiB)
    backends = [("ram", "memory-backend-ram"), ("memfd", "memory-backend-memfd"),
                ("file (shared)", f"memory-backend-file,mem-path={path},share=on"),
                ("guest_memfd", "memory-backend-guest-memfd")]
    if free_huge_pages() >= opts.size_mib // 2:
        backends.append(("memfd hugetlb 2M", "memory-backend-memfd,hugetlb=on,hugetlbsize=2M"))
    else:
        print(f"# memfd hugetlb: fewer than {opts.size_mib // 2} free 2 MiB huge pages; skipped")
    print(f"{'plug + touch ' + str(opts.size_mib) + ' MiB, GiB/s (median)':40}"
          f"{'prealloc=off':>14}{'prealloc=on':>14}")
    try:
        for name, props in backends:
            row = []
            for dev in ("", ",prealloc=on"):
                t = statistics.median(plug_seconds(opts, props, dev) for _ in range(opts.runs))
                row.append(opts.size_mib / 1024 / t)
            print(f"{name:40}{row[0]:14.2f}{row[1]:14.2f}", flush=True)
    finally:
        os.unlink(path)
        os.rmdir(tmp)


if __name__ == "__main__":
    sys.exit(main())
