#!/bin/busybox sh
# shellcheck shell=dash
#
# /init of the kvm-vm initramfs (runs as PID 1 under busybox ash).
#
# 1. loads the kernel modules listed in /modules/order (KVM, virtio, 9p, ...),
# 2. mounts the run's control share (tag kvmvmctl) at /ctl,
# 3. mounts the host's root (9p, read-only) under an overlay with a tmpfs upper
#    layer, plus fresh /proc /sys /dev /dev/shm /tmp /run, then the
#    read-write shares listed in /ctl/mounts at their host paths,
# 4. checks /dev/kvm (kvmcheck), then chroots into the host's root and runs
#    /ctl/cmd.sh (written by run.sh) with stdout/stderr on two virtio-serial
#    ports that QEMU connects to the caller's stdout/stderr,
# 5. writes the command's exit status to /ctl/status, syncs, powers off.
#
# Any failure before the command starts is written to /ctl/error (or, if the
# control share is not mounted yet, to the serial console) and the VM powers
# off; run.sh reports it and exits 127.

PATH=/bin
export PATH
NINEP_OPTS="trans=virtio,version=9p2000.L,msize=512000"
OUT=/dev/console
ERR=/dev/console
QUIET=0
CTL_MOUNTED=0

# A milestone in the kernel log (shown on the console with --verbose).
mark() {
	echo "<7>kvm-vm init: $*" >/dev/kmsg 2>/dev/null || true
}

say() {
	[ "$QUIET" = 1 ] || echo "kvm-vm: $*" >"$ERR"
}

poweroff_now() {
	sync
	poweroff -f
	# Not reached unless ACPI power-off failed; QEMU runs with -no-reboot.
	reboot -f
	while :; do sleep 3600; done
}

die() {
	echo "kvm-vm: $*" >/dev/console
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

# die, attaching the kernel log's last lines (module load or mount errors).
die_dmesg() {
	dmesg 2>/dev/null | tail -n 15 >/tmp/dmesg.tail
	die "$@"
}

mount_9p() { # tag dir extra-options
	mount -t 9p -o "$NINEP_OPTS,$3" "$1" "$2"
}

setup_initramfs() {
	/bin/busybox mkdir -p /proc /sys /dev /tmp /ctl /lower /newroot
	/bin/busybox --install -s /bin
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
	mount -t tmpfs tmpfs /tmp
}

# A module that fails to load is reported once the control share is mounted
# (check_modules), with the kernel's log, so that run.sh can show why.
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

# The virtio-serial ports are named by run.sh (tide.stdout, tide.stderr); their
# /dev names depend on probe order, so look them up by name.
find_ports() {
	for port in /sys/class/virtio-ports/*; do
		[ -e "$port/name" ] || continue
		case "$(cat "$port/name")" in
		tide.stdout) OUT="/dev/${port##*/}" ;;
		tide.stderr) ERR="/dev/${port##*/}" ;;
		esac
	done
	[ "$OUT" != /dev/console ] ||
		die_dmesg "no virtio-serial port tide.stdout (kernel without VIRTIO_CONSOLE?)"
	[ "$ERR" != /dev/console ] || ERR=$OUT
}

mount_ctl() {
	mount_9p kvmvmctl /ctl cache=none ||
		die_dmesg "cannot mount the control share (9p tag kvmvmctl)"
	CTL_MOUNTED=1
	# config: KEY=value lines written by run.sh (QUIET=0|1, OVERLAY=0|1).
	QUIET=$(sed -n 's/^QUIET=//p' /ctl/config)
	OVERLAY=$(sed -n 's/^OVERLAY=//p' /ctl/config)
}

# The host's root, read-only; with OVERLAY=1 writes land in a tmpfs and are
# thrown away at the end (so tools that write caches under $HOME still work).
mount_root() {
	if [ "$OVERLAY" = 1 ]; then
		mount_9p hostroot /lower ro,cache=loose ||
			die_dmesg "cannot mount the host's root (9p tag hostroot)"
		mkdir -p /tmp/ovl
		mount -t tmpfs -o mode=0755 tmpfs /tmp/ovl
		mkdir -p /tmp/ovl/upper /tmp/ovl/work
		if mount -t overlay -o "lowerdir=/lower,upperdir=/tmp/ovl/upper,workdir=/tmp/ovl/work" \
			overlay /newroot 2>/dev/null; then
			return 0
		fi
		say "overlay over the host's root failed; using it read-only"
		umount /lower
	fi
	mount_9p hostroot /newroot ro,cache=loose ||
		die_dmesg "cannot mount the host's root (9p tag hostroot)"
}

mount_system() {
	mount -t proc proc /newroot/proc
	mount -t sysfs sysfs /newroot/sys
	mount -t devtmpfs devtmpfs /newroot/dev
	mkdir -p /newroot/dev/pts /newroot/dev/shm
	mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /newroot/dev/pts
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /newroot/dev/shm
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /newroot/tmp
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run
	mkdir -p /newroot/run/kvm-vm
	mount --bind /ctl /newroot/run/kvm-vm
}

# /ctl/mounts: "TAG PATH" lines, parents before children; each a read-write
# 9p share of the same host path.  Only the guest writes there during the run,
# so the page cache may keep everything (cache=loose).
mount_shares() {
	while read -r tag path; do
		[ -n "$tag" ] || continue
		mkdir -p "/newroot$path" 2>/dev/null || true
		mount_9p "$tag" "/newroot$path" rw,cache=loose ||
			die_dmesg "cannot mount $path (9p tag $tag) read-write"
	done </ctl/mounts
}

check_kvm() {
	if [ ! -c /newroot/dev/kvm ]; then
		dmesg | grep -i -E 'kvm|svm' | tail -n 10 >/tmp/dmesg.tail
		die "/dev/kvm does not exist in the VM (kvm_amd did not bind)"
	fi
	if [ -x /kvmcheck ]; then
		/kvmcheck kvm_amd >/tmp/kvmcheck.out 2>&1 ||
			die_dmesg "$(cat /tmp/kvmcheck.out)"
		say "$(sed 's/^kvm-vm: //' /tmp/kvmcheck.out)"
	else
		say "/dev/kvm ready (kvm_amd)"
	fi
}

run_command() {
	hostname kvm-vm
	: >/ctl/started
	status=0
	chroot /newroot /usr/bin/env -i /bin/bash /run/kvm-vm/cmd.sh \
		</dev/null >"$OUT" 2>"$ERR" || status=$?
	# Also sync the shares before the host reads the status.
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
	mount_root
	mount_system
	mount_shares
	mark "filesystems mounted"
	check_kvm
	mark "kvm checked"
	run_command
	mark "command done (status $status)"
	poweroff_now
}

main "$@"
