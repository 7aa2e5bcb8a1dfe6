#!/bin/sh
# shellcheck shell=dash
# bench/arm64.sh's part inside the nested arm64 machine (busybox sh): prints numbers for
# tide and, when QEMU_BINARY is given, for QEMU on the same KVM, guest and device.
# Usage: arm64-inner.sh BUILD_DIR IMAGE INITRD RUNS [QEMU_BINARY]
set -u
build=$1 image=$2 initrd=$3 runs=$4 qemu=${5:-}
tide=$build/tide
tidectl=$build/tidectl
append="quiet panic=-1 memhp_default_state=online_movable"
sock=/tmp/tide-bench.sock
extra=""
log=/tmp/tide-bench.log

now() { # seconds since boot, to 10 ms
	cut -d' ' -f1 /proc/uptime
}
elapsed() { # FROM TO -> seconds
	echo "$1 $2" | awk '{ printf "%.2f", $2 - $1 }'
}
wait_for() { # PATTERN SECONDS
	i=0
	until grep -q "$1" "$log"; do
		i=$((i + 1))
		[ $i -le $(($2 * 50)) ] || return 1
		sleep 0.02
	done
}
meminfo_kb() { # VmallocUsed + Slab: where KVM keeps its per-memslot arrays
	awk '/^VmallocUsed:/ { v = $2 } /^Slab:/ { s = $2 } END { print v + s }' /proc/meminfo
}
quit() {
	TIDE_QMP_SOCKET=$sock "$tidectl" raw '{"execute":"quit"}' >/dev/null 2>&1
	wait "$1" 2>/dev/null
}
# vmm NAME ARGS...: runs the VMM in the background (pid in $pid), log in $log. Both get
# the same kernel, initrd, memory and devices; each its own board's console.
vmm() {
	name=$1
	shift
	if [ "$name" = tide ]; then
		"$tide" -nographic -M virt -kernel "$image" -initrd "$initrd" "$@" \
			-append "console=ttyS0 $append $extra" >"$log" 2>&1 &
	else
		"$qemu" -accel kvm -M virt,gic-version=3 -cpu host -nodefaults -display none \
			-serial stdio -kernel "$image" -initrd "$initrd" "$@" \
			-append "console=ttyAMA0 $append $extra" >"$log" 2>&1 &
	fi
	pid=$!
}
vmms=tide
[ -z "$qemu" ] || vmms="tide qemu"

echo "== Linux boot, VMM start to the guest's ready marker (TIDE-READY), 1 vCPU, 512 MiB"
for v in $vmms; do
	line=""
	for _ in $(seq "$runs"); do
		t0=$(now)
		extra=tide.poweroff
		vmm "$v" -m 512M
		if wait_for TIDE-READY 300; then
			line="$line $(elapsed "$t0" "$(now)")"
		else
			line="$line (none)"
		fi
		wait "$pid"
	done
	echo "$v:$line s"
done

echo "== resize 0 -> 1G -> 0 (tidectl resize --wait; MEMORY_DEVICE_SIZE_CHANGE events)"
for v in $vmms; do
	for r in $(seq "$runs"); do
		extra=""
		# QEMU serves one client per -qmp socket: the event watch gets a second one
		# (tide serves any number of clients on its one socket).
		events_sock=$sock
		events_qmp=""
		if [ "$v" = qemu ]; then
			events_sock=$sock.events
			events_qmp="-qmp unix:$events_sock,server=on,wait=off"
		fi
		# shellcheck disable=SC2086 # events_qmp: zero or two words
		vmm "$v" -m 512M,maxmem=2G -object memory-backend-ram,id=mem0,size=1G \
			-device virtio-mem-pci,id=vm0,memdev=mem0,requested-size=0 \
			-qmp "unix:$sock,server=on,wait=off" $events_qmp
		wait_for TIDE-READY 300 || { echo "$v run $r: no ready marker"; kill "$pid"; continue; }
		sleep 2 # the driver has probed
		TIDE_QMP_SOCKET=$events_sock "$tidectl" watch >/tmp/events.log 2>&1 &
		wpid=$!
		sleep 1
		up=$(TIDE_QMP_SOCKET=$sock "$tidectl" resize vm0 1G --wait --timeout 120 | tail -n 1)
		down=$(TIDE_QMP_SOCKET=$sock "$tidectl" resize vm0 0 --wait --timeout 120 | tail -n 1)
		sleep 1.5 # the throttled final event
		kill "$wpid"
		events=$(grep -c MEMORY_DEVICE_SIZE_CHANGE /tmp/events.log)
		echo "$v run $r: 0 -> 1G: ${up#*after }; 1G -> 0: ${down#*after };" \
			"$events size-change events"
		quit "$pid"
	done
done

echo "== host memory, 64 GiB device with 1 GiB plugged (change from before the VMM started)"
for v in $vmms; do
	dyns="on off"
	[ "$v" = tide ] || dyns="-" # QEMU 7.2 has no dynamic-memslots: one memslot
	for dyn in $dyns; do
		prop=""
		[ "$dyn" = - ] || prop=",dynamic-memslots=$dyn"
		k0=$(meminfo_kb)
		extra=""
		vmm "$v" -m 512M,maxmem=65G \
			-object memory-backend-ram,id=mem0,size=64G,reserve=off \
			-device "virtio-mem-pci,id=vm0,memdev=mem0,requested-size=1G$prop" \
			-qmp "unix:$sock,server=on,wait=off"
		wait_for TIDE-READY 300 || { echo "$v: no ready marker"; kill "$pid"; continue; }
		TIDE_QMP_SOCKET=$sock "$tidectl" resize vm0 1G --wait --timeout 120 >/dev/null
		sleep 1
		k1=$(meminfo_kb)
		rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
		echo "$v dynamic-memslots=$dyn: host kernel (VmallocUsed+Slab) $((k1 - k0)) KiB," \
			"RSS $((rss / 1024)) MiB"
		quit "$pid"
	done
done
