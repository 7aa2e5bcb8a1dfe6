#!/usr/bin/env bash
# Boot the arm64 guest built by build.sh directly under QEMU (TCG, no KVM, no
# Tide) and check its markers. Validates the image and initramfs, not Tide.
#
# Usage: guests/linux-arm64/qemu-check.sh [--virtio-mem] OUTDIR
#
# Default: `tide.poweroff` with a virtio-mem-pci device (requested-size 0)
# attached; passes when TIDE-READY appears, no TIDE-ERROR does, virtio_mem
# bound to the device, and the guest powered off.
# --virtio-mem: boots with `tide.memcheck memhp_default_state=online_movable`
# and a 256M virtio-mem request, then (through the HMP monitor) asks for
# 512M and then 0; passes when MemTotal goes up (TIDE-MEMTOTAL, TIDE-MEMCHECK
# ok) and back down.
#
# Environment: TIDE_QEMU_CHECK_TIMEOUT (seconds per step, default 180).
set -euo pipefail

mode=boot
case "${1:-}" in
--virtio-mem) mode=virtio-mem; shift ;;
esac
outdir=${1:?usage: qemu-check.sh [--virtio-mem] OUTDIR}
step_timeout=${TIDE_QEMU_CHECK_TIMEOUT:-180}
image=$outdir/Image
initrd=$outdir/initramfs.cpio
if [ ! -f "$image" ] || [ ! -f "$initrd" ]; then
	echo "qemu-check: no $image or $initrd (run build.sh $outdir)" >&2
	exit 2
fi

log() { printf 'qemu-check: %s\n' "$*" >&2; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/tide-l2-check.XXXXXX")
qemu_pid=
cleanup() {
	[ -z "$qemu_pid" ] || kill "$qemu_pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

fail() {
	log "FAIL: $*"
	echo "--- console:" >&2
	cat "$dir/console.log" >&2 || true
	exit 1
}

# wait_for REGEX: until the console has a line matching REGEX; prints it.
wait_for() {
	local deadline=$((SECONDS + step_timeout)) line
	while [ $SECONDS -lt $deadline ]; do
		line=$(grep -a -E -m1 "$1" "$dir/console.log" 2>/dev/null || true)
		if [ -n "$line" ]; then
			printf '%s\n' "${line%$'\r'}"
			return 0
		fi
		kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited before '$1' appeared"
		sleep 0.2
	done
	fail "no '$1' within ${step_timeout}s"
}

# memtotal_reaches ge|le KB WHAT: until the last TIDE-MEMTOTAL line is >= or
# <= KB; logs the value and the time since the call.
memtotal_reaches() {
	local op=$1 want=$2 what=$3 t=$EPOCHREALTIME deadline=$((SECONDS + step_timeout)) kb
	while [ $SECONDS -lt $deadline ]; do
		kb=$(grep -a '^TIDE-MEMTOTAL ' "$dir/console.log" | tail -n 1 | tr -dc '0-9' || true)
		if [ -n "$kb" ] && { { [ "$op" = ge ] && [ "$kb" -ge "$want" ]; } ||
			{ [ "$op" = le ] && [ "$kb" -le "$want" ]; }; }; then
			log "TIDE-MEMTOTAL $kb $(since "$t") after $what"
			return 0
		fi
		kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited before MemTotal reached $want"
		sleep 0.2
	done
	fail "MemTotal did not reach $want kB within ${step_timeout}s after $what"
}

since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

# shellcheck disable=SC2054 # commas inside QEMU option values
qemu=(qemu-system-aarch64 -M virt,gic-version=3 -cpu max,pauth=off -accel tcg
	-nodefaults -no-user-config -display none -no-reboot
	-kernel "$image" -initrd "$initrd"
	-serial "file:$dir/console.log")

t0=$EPOCHREALTIME
if [ "$mode" = boot ]; then
	# shellcheck disable=SC2054
	"${qemu[@]}" -m 1G,maxmem=2G \
		-object memory-backend-ram,id=m0,size=1G \
		-device virtio-mem-pci,id=vm0,memdev=m0,requested-size=0 \
		-append "console=ttyAMA0 tide.poweroff" >"$dir/qemu.log" 2>&1 &
	qemu_pid=$!
	ready=$(wait_for '^TIDE-READY')
	log "$ready after $(since "$t0")"
	rc=0
	timeout "$step_timeout" tail --pid="$qemu_pid" -f /dev/null || rc=$?
	[ "$rc" = 0 ] || fail "QEMU did not exit after TIDE-READY (tide.poweroff)"
	wait "$qemu_pid" || fail "QEMU exit status $?: $(cat "$dir/qemu.log")"
	qemu_pid=
	log "powered off after $(since "$t0")"
	! grep -a -q TIDE-ERROR "$dir/console.log" || fail "$(grep -a TIDE-ERROR "$dir/console.log")"
	grep -a -q 'virtio_mem virtio[0-9]*: ' "$dir/console.log" || fail "virtio_mem did not bind"
	grep -a 'virtio_mem virtio[0-9]*: ' "$dir/console.log" | head -n 3 >&2
	log "ok"
	exit 0
fi

mkfifo "$dir/mon.in" "$dir/mon.out"
# shellcheck disable=SC2054
"${qemu[@]}" -m 1G,maxmem=3G \
	-object memory-backend-ram,id=m0,size=2G \
	-device virtio-mem-pci,id=vm0,memdev=m0,requested-size=256M \
	-chardev "pipe,id=mon,path=$dir/mon" -mon chardev=mon,mode=readline \
	-append "console=ttyAMA0 quiet memhp_default_state=online_movable tide.memcheck" \
	>"$dir/qemu.log" 2>&1 &
qemu_pid=$!
cat "$dir/mon.out" >"$dir/mon.log" &
exec 5>"$dir/mon.in"
hmp() { echo "$*" >&5; }

ready=$(wait_for '^TIDE-READY')
log "$ready after $(since "$t0")"
# Boot memory is 1G minus what the kernel reserves, so the thresholds hold
# whether or not part of the initial plug made it into TIDE-READY.
gib=$((1024 * 1024))
memtotal_reaches ge $((gib + gib / 8)) "the initial 256M request"
hmp "qom-set vm0 requested-size 512M"
memtotal_reaches ge $((gib + gib * 3 / 8)) "asking for 512M"
wait_for '^TIDE-MEMCHECK' >/dev/null
hmp "qom-set vm0 requested-size 0"
memtotal_reaches le "$gib" "asking for 0 (unplug)"
sleep 3 # let a last memcheck finish
grep -a '^TIDE-MEMCHECK' "$dir/console.log" >&2
! grep -a -q '^TIDE-MEMCHECK bad' "$dir/console.log" || fail "memcheck failed"
grep -a -c '^TIDE-MEMCHECK ok' "$dir/console.log" | grep -qvx 0 || fail "no memcheck ran"
hmp quit
wait "$qemu_pid" || true
qemu_pid=
log "ok ($(since "$t0") in all)"
