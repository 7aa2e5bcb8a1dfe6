#!/bin/sh
# shellcheck shell=dash
# The arm64 suite, run inside tests/arm64-vm's nested arm64 machine (busybox sh, /dev/kvm):
# the unit tests built for arm64, then Debian's stock arm64 kernel booting on Tide, with
# virtio-mem resized through QMP. TAP on stdout; exit 1 when a test failed.
# Usage: suite.sh BUILD_DIR IMAGE INITRD OUT_DIR   (OUT_DIR: logs and the dumped device tree)
set -u
build=$1 image=$2 initrd=$3 out=$4
tide=$build/tide
tidectl=$build/tidectl
# 16550 at 0x09000000; online hotplugged memory as movable so that it can be unplugged again.
append="console=ttyS0 earlycon=uart8250,mmio,0x09000000 quiet panic=-1 memhp_default_state=online_movable"
boot_timeout=${TIDE_ARM64_BOOT_TIMEOUT:-240}
n=0
failed=0
mkdir -p "$out"

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

# not_ok NAME LOG: the last lines of LOG go with it.
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ -z "${2:-}" ] || tail -n 25 "$2" | sed 's/^/#   /'
}

# wait_for LOG PATTERN COUNT SECONDS: until LOG has COUNT lines matching PATTERN.
wait_for() {
	i=0
	while c=$(grep -c "$2" "$1" 2>/dev/null); [ "${c:-0}" -lt "$3" ]; do
		i=$((i + 1))
		[ $i -le $(($4 * 5)) ] || return 1
		sleep 0.2
	done
}

# The end of a number on a console line (which may end in \r).
end='\($\|[^0-9]\)'

# mark LOG: how many lines it has now; wait_after LOG MARK PATTERN SECONDS: until a line
# after the mark matches PATTERN (so that an earlier step's line does not count).
mark() {
	wc -l <"$1"
}
wait_after() {
	i=0
	while ! tail -n +$(($2 + 1)) "$1" | grep -q "$3"; do
		i=$((i + 1))
		[ $i -le $(($4 * 5)) ] || return 1
		sleep 0.2
	done
}

# The unit tests, one TAP line each (Check prints its own report into the log).
mkdir -p "$out/unit"
units=0
for t in "$build"/tests/unit/test_*; do
	if [ ! -f "$t" ] || [ ! -x "$t" ]; then continue; fi
	name=unit/${t##*/test_}
	units=$((units + 1))
	if CK_DEFAULT_TIMEOUT=120 "$t" >"$out/$name.log" 2>&1; then
		ok "$name"
	else
		not_ok "$name" "$out/$name.log"
	fi
done

[ "$units" -gt 0 ] || not_ok "unit tests: none in $build/tests/unit"

run_tide() { # LOG ARGS...: tide in the foreground, bounded
	log=$1
	shift
	timeout "$boot_timeout" "$tide" -nographic -M virt -kernel "$image" -initrd "$initrd" "$@" \
		>"$log" 2>&1
}

# Two vCPUs (the secondary comes up through PSCI CPU_ON), /init, PSCI SYSTEM_OFF: exit 0.
if run_tide "$out/boot.log" -m 512M -smp 2 -append "$append tide.poweroff" &&
	grep -q "TIDE-READY .*cpus=2" "$out/boot.log"; then
	ok "linux: two vCPUs boot to /init and power off (exit 0)"
else
	not_ok "linux: two vCPUs boot to /init and power off (exit 0)" "$out/boot.log"
fi

# PSCI SYSTEM_RESET with -no-reboot: tide exits 0, as QEMU does.
if run_tide "$out/no-reboot.log" -m 512M -no-reboot -append "$append tide.reboot" &&
	grep -q "TIDE-READY" "$out/no-reboot.log"; then
	ok "linux: reboot with -no-reboot exits 0"
else
	not_ok "linux: reboot with -no-reboot exits 0" "$out/no-reboot.log"
fi

# -machine dumpdtb=FILE writes the tree and exits 0 without running (the caller decompiles it).
rm -f "$out/virt.dtb"
if timeout 60 "$tide" -M virt,dumpdtb="$out/virt.dtb" -m 512M -smp 2 -kernel "$image" -initrd "$initrd" \
	-append "$append" >"$out/dumpdtb.log" 2>&1 &&
	[ "$(od -An -tx1 -N4 "$out/virt.dtb" | tr -d ' ')" = d00dfeed ]; then
	ok "dumpdtb writes a device tree"
else
	not_ok "dumpdtb writes a device tree" "$out/dumpdtb.log"
fi

# virtio-mem: 0 -> 1G -> 256M -> 0 through tidectl, data written and read back in what was
# plugged, then a reboot that unplugs everything, then quit.
sock=/tmp/tide-arm64-$$.sock # not on 9p: it cannot hold sockets
vlog=$out/virtio-mem.log
resize() { # SIZE: plugged == requested, or the test fails
	TIDE_QMP_SOCKET=$sock timeout $((boot_timeout + 30)) "$tidectl" resize vm0 "$1" --wait \
		--timeout "$boot_timeout" >>"$vlog.qmp" 2>&1
}
qmp() { # COMMAND: one QMP command through tidectl, answered with return
	TIDE_QMP_SOCKET=$sock "$tidectl" raw "$1" >>"$vlog.qmp" 2>&1 &&
		tail -n 1 "$vlog.qmp" | grep -q '"return"'
}

# system_reset while tidectl watch records the events: the reset's MEMORY_DEVICE_SIZE_CHANGE
# to size 0 says it unplugged everything before the guest boots (and plugs) again.
reset_and_watch() {
	TIDE_QMP_SOCKET=$sock "$tidectl" watch >"$vlog.events" 2>&1 &
	watch_pid=$!
	sleep 2 # subscribed (there is no ready line to wait for)
	TIDE_QMP_SOCKET=$sock "$tidectl" raw '{"execute":"system_reset"}' >>"$vlog.qmp" 2>&1
}
watch_pid=
: >"$vlog.qmp"
start_vmem_guest() {
	"$tide" -nographic -M virt -m 512M,maxmem=2G -smp 2 -kernel "$image" -initrd "$initrd" \
		-object memory-backend-ram,id=mem0,size=1G \
		-device virtio-mem-pci,id=vm0,memdev=mem0,requested-size=0 \
		-qmp "unix:$sock,server=on,wait=off" \
		-append "$append tide.memcheck" >"$vlog" 2>&1 &
	pid=$!
}
stop_vmem_guest() {
	TIDE_QMP_SOCKET=$sock "$tidectl" raw '{"execute":"quit"}' >/dev/null 2>&1
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}
start_vmem_guest
step="boot"
# Once in some dozens of boots under the nested TCG machine, the guest kernel oopses in its
# first instructions (a return address overwritten, before any device is used; seen
# once, 2026-12-07). Such a boot is tried once more, and the TAP output says so.
wait_for "$vlog" "TIDE-READY\|end Kernel panic" 1 "$boot_timeout"
if ! grep -q TIDE-READY "$vlog" && grep -q "Internal error: Oops" "$vlog"; then
	echo "# virtio-mem: the guest kernel oopsed at boot; trying once more:"
	grep -m1 -A1 "Unable to handle\|Internal error" "$vlog" | sed 's/^/#   /'
	stop_vmem_guest
	start_vmem_guest
fi
if wait_for "$vlog" TIDE-READY 1 "$boot_timeout"; then
	base=$(grep TIDE-READY "$vlog" | sed 's/.*memtotal_kb=\([0-9]*\).*/\1/')
	# Each step: resize, then the guest's MemTotal after it (and its data check on growth).
	m=$(mark "$vlog") && step="resize to 1G" && resize 1G &&
		step="MemTotal + 1G" && wait_after "$vlog" "$m" "TIDE-MEMTOTAL $((base + 1048576))$end" 180 &&
		step="the driver took MSI-X (through the ITS)" &&
		TIDE_QMP_SOCKET=$sock "$tidectl" raw '{"execute":"x-query-virtio-mem"}' >"$vlog.x" 2>&1 &&
		grep -q '"msix-enabled": *true' "$vlog.x" &&
		m=$(mark "$vlog") && step="data in plugged memory" &&
		wait_after "$vlog" "$m" "TIDE-MEMCHECK" 300 && ! grep -q "TIDE-MEMCHECK bad" "$vlog" &&
		step="QMP stop and cont" && qmp '{"execute":"stop"}' && sleep 1 &&
		qmp '{"execute":"cont"}' && kill -0 "$pid" &&
		m=$(mark "$vlog") && step="resize to 256M" && resize 256M &&
		step="MemTotal + 256M" && wait_after "$vlog" "$m" "TIDE-MEMTOTAL $((base + 262144))$end" 180 &&
		m=$(mark "$vlog") && step="resize to 0" && resize 0 &&
		step="MemTotal back" && wait_after "$vlog" "$m" "TIDE-MEMTOTAL $base$end" 180 &&
		step="resize to 512M again" && resize 512M &&
		step="system_reset" && reset_and_watch &&
		step="reset unplugged all (size-0 event)" &&
		wait_for "$vlog.events" '"size": *0[,}]' 1 30 &&
		step="boots again" && wait_for "$vlog" TIDE-READY 2 "$boot_timeout" &&
		step="the new boot plugs 512M again" && resize 512M &&
		step=finished
fi
stop_vmem_guest
[ -z "$watch_pid" ] || kill "$watch_pid" 2>/dev/null
if [ "$step" = finished ]; then
	ok "virtio-mem: resized 0 -> 1G -> 256M -> 0 through QMP, data verified, reset unplugs"
else
	cat "$vlog.qmp" "$vlog.x" "$vlog.events" >>"$vlog" 2>/dev/null
	not_ok "virtio-mem: failed at: $step" "$vlog"
fi

# The test guest's scenarios (tests/arm64/testguest.sh: virtio-mem's malformed and hostile
# ones among them), one line each here.
if [ -f "$build/guests/testguest/tide-testguest.img" ]; then
	sh "${0%/*}/testguest.sh" "$build" "$out" >"$out/testguest.tap" 2>&1
	while IFS= read -r line; do
		case "$line" in
		"ok "*) ok "${line#ok * - }" ;;
		"not ok "*) not_ok "${line#not ok * - }" ;;
		"#"*) echo "$line" ;;
		esac
	done <"$out/testguest.tap"
else
	not_ok "testguest: no $build/guests/testguest/tide-testguest.img"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
