#!/bin/sh
# shellcheck shell=dash
# The test guest's scenarios on arm64 Tide, run inside tests/arm64-vm's nested arm64
# machine (busybox sh, /dev/kvm), as tests/arm64/suite.sh is. One Tide boot of
# BUILD_DIR/guests/testguest/tide-testguest.img per scenario, mostly with a virtio-mem-pci
# device vm0 (1 GiB backend) after 512 MiB of RAM: its region is at 0xc0000000.
#
# A scenario passes when Tide exits 0 (the guest ends with PSCI SYSTEM_OFF, whatever its
# result) and the guest's TAP has the plan, an "ok" for every scenario it was asked to
# run, no "not ok", and "done pass=N fail=0".
#
# Usage: testguest.sh BUILD_DIR OUT_DIR   (OUT_DIR/testguest: console and stderr logs)
# TAP on stdout, one line per scenario; exit 1 when one failed.
set -u
build=$1
out=$2/testguest
tide=$build/tide
image=$build/guests/testguest/tide-testguest.img
run_timeout=${TIDE_ARM64_TESTGUEST_TIMEOUT:-300}
n=0
failed=0
mkdir -p "$out"

# What tests/integration/test_virtio_mem.py asks for on x86 (requested-size=128M), here
# with the region at 0xc0000000 (RAM ends at 0xa0000000; device memory is 1 GiB aligned).
config="vmem_block=0x200000 vmem_addr=0xc0000000 vmem_region=0x40000000"
config="$config vmem_requested=0x8000000 vmem_usable=0x18000000 vmem_plugged=0"
# test_memory_bound.py's attack: one block plugged in each of 8 parts of 128 MiB, a word
# every 64 KiB of the unplugged rest written and read.
hostile="vmem_parts=8 vmem_stride=65536"

# check LOG COUNT: the guest's TAP for COUNT scenarios, all passed.
check() {
	grep -q '^TAP version 13$' "$1" &&
		grep -q "^1\.\.$2\$" "$1" &&
		! grep -q '^not ok' "$1" &&
		[ "$(grep -c '^ok [0-9]* - ' "$1")" -eq "$2" ] &&
		grep -q "^# tide-testguest: done pass=$2 fail=0\$" "$1"
}

# scenario NAME APPEND TIDE_ARGS...: boots the guest with -append APPEND (whose tests=
# list is what it runs) and TIDE_ARGS (memory, devices).
scenario() {
	name=$1 append=$2
	shift 2
	log=$out/$name.log
	tests=$(echo "$append" | sed -n 's/.*tests=\([^ ]*\).*/\1/p')
	count=$(echo "$tests" | tr ',' '\n' | grep -c .)
	timeout "$run_timeout" "$tide" -nographic -M virt -kernel "$image" "$@" \
		-append "$append" </dev/null >"$log" 2>"$out/$name.err"
	status=$?
	n=$((n + 1))
	if [ "$status" -eq 0 ] && check "$log" "$count"; then
		echo "ok $n - testguest: $name"
	else
		failed=$((failed + 1))
		echo "not ok $n - testguest: $name (tide exit $status)"
		tail -n 25 "$log" | sed 's/^/#   /'
		tail -n 5 "$out/$name.err" | sed 's/^/#   stderr: /'
	fi
}

# vmem NAME APPEND VMEM_PROPS: the usual machine, vm0 with properties VMEM_PROPS.
vmem() {
	scenario "$1" "$2" -m 512M,maxmem=2G -object memory-backend-ram,id=mem0,size=1G \
		-device "virtio-mem-pci,id=vm0,memdev=mem0,$3"
}

if [ ! -f "$image" ]; then
	echo "1..0 # SKIP no $image (configure with -Dguests=true)"
	exit 0
fi

echo "1..17"
vmem memmap "tests=memmap" "requested-size=128M"
vmem pci "tests=pci expect_pci=1b36:0008,1af4:1058" "requested-size=128M"
vmem pattern "tests=pattern pattern_mb=64" "requested-size=128M"
vmem vmem_config "tests=vmem_config $config" "requested-size=128M"
vmem vmem_features "tests=vmem_features vmem_ui=on" \
	"requested-size=128M,unplugged-inaccessible=on"
vmem vmem_features_ui_off "tests=vmem_features vmem_ui=off" \
	"requested-size=128M,unplugged-inaccessible=off"
vmem vmem_plug "tests=vmem_plug vmem_blocks=8" "requested-size=128M"
vmem vmem_unplug_all "tests=vmem_unplug_all" "requested-size=128M"
vmem vmem_errors "tests=vmem_errors" "requested-size=128M"
vmem vmem_malformed "tests=vmem_malformed,vmem_plug" "requested-size=128M"
vmem vmem_hostile "tests=vmem_hostile $hostile" \
	"requested-size=768M,unplugged-inaccessible=on"
vmem vmem_hostile_ui_off_reset "tests=vmem_hostile $hostile vmem_hostile_reset=1" \
	"requested-size=768M,unplugged-inaccessible=off"
vmem vmem_reset "tests=vmem_reset" "requested-size=128M"
vmem vmem_rings "tests=vmem_rings,vmem_plug" "requested-size=128M"
vmem vmem_fragment_rss "tests=vmem_fragment,vmem_rss" "requested-size=128M"
vmem vmem_flood "tests=vmem_flood vmem_flood_requests=2000" "requested-size=128M"

# A region above 512 GiB, beyond the guest's static identity map (it adds a level 1
# table): vm0 takes 600 GiB of address space (reserve=off: nothing is allocated), vm1
# (slot 2) after it is the one driven.
scenario vmem_high_region "tests=vmem_plug,vmem_unplug_all,vmem_malformed vmem_slot=2" \
	-m 512M,maxmem=700G \
	-object memory-backend-ram,id=m0,size=600G,reserve=off \
	-device virtio-mem-pci,id=vm0,memdev=m0,requested-size=0 \
	-object memory-backend-ram,id=m1,size=1G \
	-device virtio-mem-pci,id=vm1,memdev=m1,requested-size=128M

[ "$failed" -eq 0 ] || exit 1
