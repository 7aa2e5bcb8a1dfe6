#!/bin/busybox sh
# shellcheck shell=dash
#
# /init of the arm64-vm initramfs (PID 1, busybox ash). The initramfs stays
# the root: busybox, this script, kvmcheck, the 9p/virtio modules.
#
# 1. loads the modules listed in /modules/order (virtio-pci, virtio console,
#    9p and their dependencies),
# 2. mounts the run's control share (9p tag a64ctl) at /ctl,
# 3. mounts the host's root read-only at /host and the read-write shares from
#    /ctl/mounts at their host paths, and links the host's arm64 loader and
#    libraries (/lib/ld-linux-aarch64.so.1, /lib/aarch64-linux-gnu,
#    /usr/lib/aarch64-linux-gnu) so that arm64 programs built on the host run,
# 4. checks /dev/kvm (kvmcheck), then runs /ctl/cmd.sh (written by run.sh)
#    with busybox sh, stdout/stderr on two virtio-serial ports,
# 5. writes the command's exit status to /ctl/status, syncs, powers off.
#
# A failure before the command starts goes to /ctl/error (or, before the
# control share is mounted, to the console) and the VM powers off; run.sh
# reports it and exits 127.

PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
NINEP_OPTS="trans=virtio,version=9p2000.L,msize=512000"
OUT=/dev/console
ERR=/dev/console
QUIET=0
CTL_MOUNTED=0

# A milestone in the kernel log (on the console with --verbose).
mark() {
	echo "<7>arm64-vm init: $*" >/dev/kmsg 2>/dev/null || true
}

poweroff_now() {
	sync
	poweroff -f # PSCI SYSTEM_OFF: QEMU exits
	reboot -f   # QEMU runs with -no-reboot
	while :; do sleep 3600; done
}

die() {
	echo "arm64-vm: $*" >/dev/console
	if [ "$CTL_MOUNTED" = 1 ]; then
		{
			echo "$*"
			if [ -s /tmp/dmesg.tail ]; then
				echo "--- kernel log (last lines) ---"
				cat /tmp/dmesg.tail
			fi
		} >/ctl/error.tmp && mv /ctl/error.tmp /ctl/error
	fi
	poweroff_now
}

die_dmesg() {
	dmesg 2>/dev/null | tail -n 15 >/tmp/dmesg.tail
	die "$@"
}

mount_9p() { # tag dir extra-options
	mount -t 9p -o "$NINEP_OPTS,$3" "$1" "$2"
}

setup_initramfs() {
	/bin/busybox mkdir -p /proc /sys /dev /tmp /ctl /host /root /etc /sbin \
		/usr/bin /usr/sbin /usr/lib /lib /run
	/bin/busybox --install -s
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
	# The kernel found no /dev/console in the initramfs to open for us.
	[ ! -c /dev/console ] || exec </dev/null >/dev/console 2>&1
	mkdir -p /dev/pts /dev/shm
	mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
	mount -t tmpfs -o mode=1777 tmpfs /tmp
	mount -t tmpfs -o mode=0755 tmpfs /run
	hostname arm64-vm
	printf 'root:x:0:0:root:/root:/bin/sh\n' >/etc/passwd
	printf 'root:x:0:\n' >/etc/group
}

load_modules() {
	[ -f /modules/order ] || return 0
	while read -r mod; do
		[ -n "$mod" ] || continue
		if ! insmod "/modules/$mod" 2>/tmp/insmod.err; then
			echo "cannot load kernel module $mod: $(cat /tmp/insmod.err)" >>/tmp/modules.failed
			cat /tmp/modules.failed >/dev/console
		fi
	done </modules/order
}

check_modules() {
	[ ! -s /tmp/modules.failed ] || die_dmesg "$(cat /tmp/modules.failed)"
}

# The virtio-serial ports are named by run.sh; look them up by name.
find_ports() {
	for port in /sys/class/virtio-ports/*; do
		[ -e "$port/name" ] || continue
		case "$(cat "$port/name")" in
		tide.stdout) OUT="/dev/${port##*/}" ;;
		tide.stderr) ERR="/dev/${port##*/}" ;;
		esac
	done
	[ "$OUT" != /dev/console ] || die_dmesg "no virtio-serial port tide.stdout"
	[ "$ERR" != /dev/console ] || ERR=$OUT
}

mount_ctl() {
	mount_9p a64ctl /ctl cache=none ||
		die_dmesg "cannot mount the control share (9p tag a64ctl)"
	CTL_MOUNTED=1
	QUIET=$(sed -n 's/^QUIET=//p' /ctl/config)
}

# /ctl/mounts: "TAG PATH" lines, parents first; read-write 9p shares of the
# same host paths. Only the VM writes there during the run: cache=loose.
mount_shares() {
	mount_9p hostroot /host ro,cache=loose ||
		die_dmesg "cannot mount the host's root (9p tag hostroot)"
	while read -r tag path; do
		[ -n "$tag" ] || continue
		mkdir -p "$path" 2>/dev/null || true
		mount_9p "$tag" "$path" rw,cache=loose ||
			die_dmesg "cannot mount $path (9p tag $tag) read-write"
	done </ctl/mounts
}

# The host's arm64 loader and libraries, so that dynamically linked arm64
# programs built on the host (interpreter /lib/ld-linux-aarch64.so.1) run
# here. Multiarch libc6:arm64 first; the cross toolchain's copy otherwise.
link_host_libs() {
	if [ -e /host/lib/ld-linux-aarch64.so.1 ]; then
		ln -s /host/lib/ld-linux-aarch64.so.1 /lib/ld-linux-aarch64.so.1
		ln -s /host/lib/aarch64-linux-gnu /lib/aarch64-linux-gnu
		ln -s /host/usr/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu
	elif [ -e /host/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
		ln -s /host/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 /lib/ld-linux-aarch64.so.1
		ln -s /host/usr/aarch64-linux-gnu/lib /lib/aarch64-linux-gnu
	fi
	# Architecture-independent data (zoneinfo, terminfo, ...).
	ln -s /host/usr/share /usr/share
}

check_kvm() {
	if [ ! -c /dev/kvm ]; then
		dmesg | grep -i kvm | tail -n 10 >/tmp/dmesg.tail
		die "/dev/kvm does not exist in the VM (KVM did not initialize)"
	fi
	mode=$(dmesg | sed -n 's/.*kvm \[[0-9]*\]: \([A-Za-z]*\) mode initialized successfully.*/\1/p' | tail -n 1)
	[ -z "$mode" ] || mode=" $mode mode,"
	up=$(cut -d' ' -f1 /proc/uptime)
	if [ -x /kvmcheck ]; then
		/kvmcheck >/tmp/kvmcheck.out 2>&1 || die_dmesg "$(cat /tmp/kvmcheck.out)"
		echo "$(cat /tmp/kvmcheck.out);$mode L1 kernel up ${up}s" >/ctl/kvm
	else
		echo "/dev/kvm ready;$mode L1 kernel up ${up}s" >/ctl/kvm
	fi
	[ "$QUIET" = 1 ] || echo "arm64-vm: $(cat /ctl/kvm)" >"$ERR"
}

run_command() {
	: >/ctl/started
	status=0
	cd / || true
	env -i /bin/sh /ctl/cmd.sh </dev/null >"$OUT" 2>"$ERR" || status=$?
	cd / || true
	sync
	echo "$status" >/ctl/status.tmp && mv /ctl/status.tmp /ctl/status
}

main() {
	setup_initramfs
	mark "start"
	load_modules
	mark "modules loaded"
	mount_ctl
	check_modules
	find_ports
	mount_shares
	link_host_libs
	mark "filesystems mounted"
	check_kvm
	mark "kvm checked"
	run_command
	mark "command done (status $status)"
	poweroff_now
}

main "$@"
