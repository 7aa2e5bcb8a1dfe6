#!/usr/bin/env bash
# Set-up + build + boot the demo Linux guest, with a virtio-mem device, to its shell (type into
# it; Ctrl-A x quits). `cat /proc/meminfo` in the guest shows the plugged memory.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh build
eval "$(guests/linux/build.sh)"
cmdline=$(cat guests/linux/cmdline.txt)
# 512 MiB of boot RAM plus a 3 GiB virtio-mem device of which the guest plugs 512 MiB at boot,
# resizable while it runs through the QMP socket (tidectl, or any QMP client).
sock=${TIDE_QMP_SOCKET:-/tmp/tide-demo.sock}
tide=(build/tide -nographic -m 512M,maxmem=4G -smp 1 -kernel "$KERNEL_VMLINUX" -initrd "$INITRD"
	-object memory-backend-ram,id=mem0,size=3G,reserve=off
	-device virtio-mem-pci,id=vm0,memdev=mem0,requested-size=512M
	-qmp "unix:$sock,server=on,wait=off")
if [ -e /dev/kvm ]; then
	echo "demo: resize from another terminal: build/tidectl -s $sock resize vm0 1G --wait" >&2
	exec "${tide[@]}" -append "$cmdline"
fi
# No /dev/kvm here: boot inside the nested-KVM QEMU VM instead. It has no terminal to type
# into, so the guest shows its ready lines and reboots, which ends tide.
echo "demo: /dev/kvm is absent on this machine; booting the guest inside a QEMU TCG VM" \
	"with nested KVM (tests/kvm-vm), non-interactively" >&2
exec tests/kvm-vm/run.sh --cpus 1 --timeout 900 -- "${tide[@]}" -no-reboot -append "$cmdline tide.poweroff"
