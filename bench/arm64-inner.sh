#!/bin/sh
# shellcheck shell=dash
# bench/arm64.sh's part inside the nested arm64 machine (busybox sh): prints numbers.
# Usage: arm64-inner.sh BUILD_DIR IMAGE INITRD RUNS
set -u
build=$1 image=$2 initrd=$3 runs=$4
tide=$build/tide
tidectl=$build/tidectl
append="console=ttyS0 quiet panic=-1 memhp_default_state=online_movable"
sock=/tmp/tide-bench.sock
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

echo "== Linux boot, tide start to the guest's ready marker (TIDE-READY), 1 vCPU, 512 MiB"
for r in $(seq "$runs"); do
	t0=$(now)
	"$tide" -nographic -M virt -m 512M -kernel "$image" -initrd "$initrd" \
		-append "$append tide.poweroff" >"$log" 2>&1 &
	pid=$!
	wait_for TIDE-READY 300 && t1=$(now)
	wait "$pid"
	echo "run $r: $(elapsed "$t0" "$t1") s"
done

echo "== resize 0 -> 1G -> 0 (tidectl resize --wait; MEMORY_DEVICE_SIZE_CHANGE events)"
for r in $(seq "$runs"); do
	"$tide" -nographic -M virt -m 512M,maxmem=2G -kernel "$image" -initrd "$initrd" \
		-object memory-backend-ram,id=mem0,size=1G \
		-device virtio-mem-pci,id=vm0,memdev=mem0,requested-size=0 \
		-qmp "unix:$sock,server=on,wait=off" -append "$append" >"$log" 2>&1 &
	pid=$!
	wait_for TIDE-READY 300 || { echo "run $r: no ready marker"; kill "$pid"; continue; }
	sleep 2 # the driver has probed
	TIDE_QMP_SOCKET=$sock "$tidectl" watch >/tmp/events.log 2>&1 &
	wpid=$!
	sleep 0.5
	up=$(TIDE_QMP_SOCKET=$sock "$tidectl" resize vm0 1G --wait --timeout 120 | tail -n 1)
	down=$(TIDE_QMP_SOCKET=$sock "$tidectl" resize vm0 0 --wait --timeout 120 | tail -n 1)
	sleep 1.5 # the throttled final event
	kill "$wpid"
	events=$(grep -c MEMORY_DEVICE_SIZE_CHANGE /tmp/events.log)
	echo "run $r: 0 -> 1G: ${up#*after }; 1G -> 0: ${down#*after }; $events size-change events"
	quit "$pid"
done

echo "== host memory, 64 GiB device with 1 GiB plugged (change from before tide started)"
for dyn in on off; do
	k0=$(meminfo_kb)
	"$tide" -nographic -M virt -m 512M,maxmem=65G -kernel "$image" -initrd "$initrd" \
		-object memory-backend-ram,id=mem0,size=64G,reserve=off \
		-device virtio-mem-pci,id=vm0,memdev=mem0,requested-size=1G,dynamic-memslots=$dyn \
		-qmp "unix:$sock,server=on,wait=off" -append "$append" >"$log" 2>&1 &
	pid=$!
	wait_for TIDE-READY 300 || { echo "dynamic-memslots=$dyn: no ready marker"; kill "$pid"; continue; }
	TIDE_QMP_SOCKET=$sock "$tidectl" resize vm0 1G --wait --timeout 120 >/dev/null
	sleep 1
	k1=$(meminfo_kb)
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
	echo "dynamic-memslots=$dyn: host kernel (VmallocUsed+Slab) $((k1 - k0)) KiB," \
		"tide RSS $((rss / 1024)) MiB"
	quit "$pid"
done
