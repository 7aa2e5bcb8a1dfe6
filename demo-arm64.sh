#!/usr/bin/env bash
# The arm64 demo: set-up + cross build + Debian's stock arm64 kernel booting on tide for
# arm64, inside a nested arm64 machine (QEMU TCG with a /dev/kvm; no arm64 hardware
# needed), with a virtio-mem device resized through tidectl. Non-interactive.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup-arm64.sh build-arm64
eval "$(guests/linux-arm64/build.sh "${TIDE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tide}/linux-arm64/out")"
exec tests/arm64-vm/run.sh --timeout 900 --share build-arm64 -- \
	sh tests/arm64/demo.sh build-arm64 "$IMAGE" "$INITRD"
