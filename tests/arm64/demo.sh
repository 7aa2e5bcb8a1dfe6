#!/bin/sh
# shellcheck shell=dash
# The arm64 demo, inside tests/arm64-vm's nested machine (busybox sh): Debian's stock arm64
# kernel boots on tide with a virtio-mem device that plugs 512 MiB at boot; tidectl then
# grows it to 1 GiB and gives it all back, and the guest's MemTotal follows on the console.
# Usage: demo.sh BUILD_DIR IMAGE INITRD
set -eu
build=$1 image=$2 initrd=$3
sock=/tmp/tide-demo.sock
log=/tmp/tide-demo.log
"$build/tide" -nographic -M virt -m 512M,maxmem=2G -smp 2 -kernel "$image" -initrd "$initrd" \
	-object memory-backend-ram,id=mem0,size=1G \
	-device virtio-mem-pci,id=vm0,memdev=mem0,requested-size=512M \
	-qmp "unix:$sock,server=on,wait=off" \
	-append "console=ttyS0 quiet panic=-1 memhp_default_state=online_movable tide.memwatch" \
	>"$log" 2>&1 &
tail -f "$log" &
i=0
until grep -q TIDE-READY "$log"; do
	i=$((i + 1))
	[ $i -lt 1200 ] || { echo "demo: no ready line after 240 s"; exit 1; }
	sleep 0.2
done
export TIDE_QMP_SOCKET=$sock
sleep 2
"$build/tidectl" info
echo "demo: tidectl resize vm0 1G --wait"
"$build/tidectl" resize vm0 1G --wait --timeout 120
sleep 1
echo "demo: tidectl resize vm0 0 --wait"
"$build/tidectl" resize vm0 0 --wait --timeout 120
sleep 1
"$build/tidectl" info
"$build/tidectl" raw '{"execute":"quit"}' >/dev/null
wait %1 2>/dev/null || true
kill %2 2>/dev/null || true
