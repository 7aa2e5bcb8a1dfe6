#!/usr/bin/env bash
# The arm64 suite from this x86 machine: Tide built for arm64 (scripts/setup-arm64.sh) runs
# in tests/arm64-vm's nested arm64 machine, where suite.sh runs its unit tests and boots
# Debian's stock arm64 kernel (guests/linux-arm64) on it; then the device tree it dumped is
# decompiled with dtc here. Exit 77 (skip) with the reason when the arm64 build is missing.
# Usage: tests/arm64/run.sh [ARM64_BUILD_DIR]   (default: build-arm64 in the source tree)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
build=${1:-build-arm64}
build=$(cd "$build" 2>/dev/null && pwd) || true
if [ ! -x "$build/tide" ]; then
	echo "arm64: skipped: no arm64 build in ${1:-build-arm64} (scripts/setup-arm64.sh makes it)"
	exit 77
fi
# What meson test runs is what the tree says (test.sh has built it already).
ninja -C "$build" >/dev/null
out=$build/meson-logs/arm64
rm -rf "$out"
mkdir -p "$out"
guest_dir=${TIDE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tide}/linux-arm64/out
eval "$(guests/linux-arm64/build.sh "$guest_dir")"
status=0
# The build directory and the guest are both under shares (the tree, the cache).
tests/arm64-vm/run.sh --timeout "${TIDE_ARM64_TIMEOUT:-1500}" --share "$build" -- \
	sh tests/arm64/suite.sh "$build" "$IMAGE" "$INITRD" "$out" || status=$?
# The tree tide dumped (-machine dumpdtb) must decompile cleanly and say what the machine has.
if [ -f "$out/virt.dtb" ]; then
	if dtc -I dtb -O dts -o "$out/virt.dts" "$out/virt.dtb" 2>"$out/dtc.err" && [ ! -s "$out/dtc.err" ] &&
		grep -q 'compatible = "pci-host-ecam-generic";' "$out/virt.dts" &&
		grep -q 'compatible = "arm,gic-v3-its";' "$out/virt.dts" &&
		grep -q 'linux,initrd-start' "$out/virt.dts"; then
		echo "ok - dtc decompiles the dumped device tree without warnings"
	else
		echo "not ok - dtc decompiles the dumped device tree without warnings"
		sed 's/^/#   /' "$out/dtc.err"
		status=1
	fi
fi
exit "$status"
