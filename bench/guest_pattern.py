#!/usr/bin/env python3
"""Guest RAM bandwidth as the test guest sees it: it writes a pattern over all of its RAM
from CPL3 (native speed even on an emulating host), then verifies it. The host timestamps
the guest's start/done markers; the guest's TSC counts split that time into write and verify.
The first pass includes the cost of faulting the memory in (KVM and host page faults).
Usage: bench/guest_pattern.py [--build build] [--memory 2G] [--runs 3]
"""
import argparse
import os
import re
import statistics
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def one_run(tide, guest, memory):
    proc = subprocess.Popen([tide, "-nographic", "-no-reboot", "-m", memory,
                             "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                             "-kernel", guest, "-append", "tests=pattern"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    start = done = None
    for line in proc.stdout:
        if line.startswith("# pattern start"):
            start = time.monotonic()
        m = re.match(r"# pattern done bytes=(\d+) write_tsc=(\d+) verify_tsc=(\d+)", line)
        if m:
            done = time.monotonic()
            nbytes, wtsc, vtsc = (int(x) for x in m.groups())
    status = proc.wait()
    if status != 1 or start is None or done is None:
        raise SystemExit(f"test guest failed (exit {status})")
    seconds = done - start
    write_s = seconds * wtsc / (wtsc + vtsc)
    return nbytes, write_s, seconds - write_s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--memory", default="2G")
    ap.add_argument("--runs", type=int, default=3)
    opts = ap.parse_args()
    tide = os.path.join(opts.build, "tide")
    guest = os.path.join(opts.build, "guests", "testguest", "tide-testguest.elf")
    runs = [one_run(tide, guest, opts.memory) for _ in range(opts.runs)]
    nbytes = runs[0][0]
    write = statistics.median(r[1] for r in runs)
    verify = statistics.median(r[2] for r in runs)
    gib = nbytes / 2**30
    print(f"{'RAM tested':>12} {'runs':>4} {'write GiB/s':>12} {'verify GiB/s':>13}")
    print(f"{gib:9.2f} GiB {len(runs):>4} {gib / write:12.2f} {gib / verify:13.2f}")


if __name__ == "__main__":
    main()
