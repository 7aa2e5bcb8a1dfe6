#!/usr/bin/env bash
# Set-up + build + boot the demo Linux guest (type into its shell; Ctrl-A x quits).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh build
eval "$(guests/linux/build.sh | grep -E '^(KERNEL_VMLINUX|INITRD)=')"
exec build/tide -nographic -m 512M,maxmem=4G -smp 1 \
	-kernel "$KERNEL_VMLINUX" -initrd "$INITRD" \
	-append "$(cat guests/linux/cmdline.txt)"
