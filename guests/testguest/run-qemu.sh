#!/bin/sh
# Boot the Tide test guest under QEMU and check its TAP result.
#
# usage: run-qemu.sh ELF [CMDLINE [extra qemu args...]]
#
# Environment:
#   QEMU          qemu binary            (default qemu-system-x86_64)
#   TG_ACCEL      -accel value           (default tcg; "kvm" needs /dev/kvm)
#   TG_CPU        -cpu value             (default max; qemu64 has no pdpe1gb,
#                                         so it exercises the 2 MiB tables)
#   TG_MEM        -m value               (default 256M)
#   TG_TIMEOUT    seconds                (default 120)
#   TG_EXPECT_RC  expected QEMU status   (default 1 = guest wrote 0 = all ok;
#                                         3 = guest reported a failure)
#
# With TG_EXPECT_RC=1 the output must also contain
# "# tide-testguest: done pass=N fail=0" and no "not ok" line.
set -u
elf=${1:?usage: run-qemu.sh ELF [CMDLINE [qemu args...]]}
cmdline=${2:-}
[ $# -ge 2 ] && shift 2 || shift $#
qemu=${QEMU:-qemu-system-x86_64}
expect=${TG_EXPECT_RC:-1}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

timeout "${TG_TIMEOUT:-120}" "$qemu" -accel "${TG_ACCEL:-tcg}" -cpu "${TG_CPU:-max}" \
	-m "${TG_MEM:-256M}" -display none -nodefaults -serial stdio -no-reboot \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-kernel "$elf" -append "$cmdline" "$@" >"$out" 2>&1
rc=$?
cat "$out"
if [ "$rc" -ne "$expect" ]; then
	echo "run-qemu.sh: QEMU exit status $rc, expected $expect" >&2
	exit 1
fi
if [ "$expect" -eq 1 ]; then
	if grep -q '^not ok' "$out" || ! grep -q '^# tide-testguest: done pass=[0-9]* fail=0$' "$out"; then
		echo "run-qemu.sh: guest output does not show a clean pass" >&2
		exit 1
	fi
fi
exit 0
