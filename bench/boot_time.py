#!/usr/bin/env python3
"""Boot-time benchmark: median over several runs of
  - tide's own set-up cost: process start to vCPU 0's first KVM_RUN (tide's -verbose log line),
  - the test guest: start to its first TAP line, and to its exit,
  - the Linux guest: start to its ready marker (slow on an emulating host: fewer runs).
Prints a table. Usage: bench/boot_time.py [--build build] [--runs 7] [--linux-runs 3] [--no-linux]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_until(args, marker, timeout):
    """Starts tide, returns (setup_ms, marker_ms, exit_ms) measured on the host's clock."""
    start = time.monotonic()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    marker_ms = None
    out = b""
    os.set_blocking(proc.stdout.fileno(), False)
    while True:
        chunk = proc.stdout.read()
        if chunk:
            out += chunk
            if marker_ms is None and re.search(marker, out):
                marker_ms = (time.monotonic() - start) * 1e3
                if "-no-reboot" not in args:
                    break
        elif proc.poll() is not None:
            break
        elif time.monotonic() - start > timeout:
            proc.kill()
            raise SystemExit(f"timeout waiting for {marker!r}: {out[-2000:]!r}")
        else:
            time.sleep(0.001)
    exit_ms = (time.monotonic() - start) * 1e3
    if proc.poll() is None:
        proc.terminate()
    proc.wait()
    err = proc.stderr.read().decode(errors="replace")
    setup = re.search(r"vCPU 0 enters the guest ([0-9.]+) ms", err)
    if not setup or marker_ms is None:
        raise SystemExit(f"run failed:\n{out[-2000:].decode(errors='replace')}\n{err}")
    return float(setup.group(1)), marker_ms, exit_ms


def median_row(name, samples):
    cols = list(zip(*samples))
    return (name, len(samples), *(statistics.median(c) for c in cols))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--linux-runs", type=int, default=3)
    ap.add_argument("--no-linux", action="store_true")
    opts = ap.parse_args()
    tide = os.path.join(opts.build, "tide")
    guest = os.path.join(opts.build, "guests", "testguest", "tide-testguest.elf")
    rows = []

    args = [tide, "-verbose", "-nographic", "-no-reboot", "-m", "256M",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", guest,
            "-append", "tests=memmap"]
    rows.append(median_row("test guest (256M)",
                           [run_until(args, rb"TAP version 13", 60) for _ in range(opts.runs)]))

    if not opts.no_linux:
        out = subprocess.run([os.path.join(ROOT, "guests", "linux", "build.sh")], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        paths = dict(re.findall(r"^(KERNEL_VMLINUX|INITRD)=(.*)$", out, re.M))
        with open(os.path.join(ROOT, "guests", "linux", "cmdline.txt")) as f:
            cmdline = f.read().strip()
        args = [tide, "-verbose", "-nographic", "-m", "512M", "-kernel",
                paths["KERNEL_VMLINUX"], "-initrd", paths["INITRD"], "-append", cmdline]
        rows.append(median_row("Linux guest (512M, PVH)",
                               [run_until(args, rb"TIDE-GUEST-READY", 900)
                                for _ in range(opts.linux_runs)]))

    print(f"{'guest':<26} {'runs':>4} {'tide set-up ms':>15} {'ready marker ms':>16} "
          f"{'exit ms':>10}")
    for name, n, setup, marker, exit_ms in rows:
        exit_col = f"{exit_ms:10.1f}" if name.startswith("test") else f"{'-':>10}"
        print(f"{name:<26} {n:>4} {setup:15.1f} {marker:16.1f} {exit_col}")


if __name__ == "__main__":
    sys.exit(main())
