#!/usr/bin/env bash
# arm64 numbers, printed, from the nested arm64 machine (tests/arm64-vm): a Linux boot to the
# ready marker, a virtio-mem resize 0 -> 1G -> 0 with its events, and host kernel memory and
# RSS for a 64 GiB device with 1 GiB plugged, dynamic memslots on and off. Guest code runs
# at QEMU TCG speed there: the numbers describe that setup, not arm64 hardware.
# Usage: bench/arm64.sh [RUNS]   (default 3; needs scripts/setup-arm64.sh's build-arm64)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
scripts/setup-arm64.sh build-arm64 >/dev/null
eval "$(guests/linux-arm64/build.sh "${TIDE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tide}/linux-arm64/out")"
exec tests/arm64-vm/run.sh --timeout 1800 --share build-arm64 -- \
	sh bench/arm64-inner.sh build-arm64 "$IMAGE" "$INITRD" "$runs"
