#!/usr/bin/env bash
# Run a command inside an arm64 Linux virtual machine ("L1") that has /dev/kvm.
#
# This x86 host cannot run arm64 KVM, but QEMU's TCG emulates an arm64 CPU
# with EL2 (-M virt,virtualization=on), so Debian's stock arm64 kernel booted
# under TCG offers a real /dev/kvm (VHE). The VM's root is a small busybox
# initramfs; it sees the host's root read-only at /host, and the current
# directory plus the Tide cache directory read-write at their own paths.
# COMMAND runs with busybox sh. See README.md beside this file.
#
# Usage: tests/arm64-vm/run.sh [OPTIONS] -- COMMAND [ARGS...]
#
# Exit status: COMMAND's; 124 if --timeout ended the VM; 127 if the VM could
# not be prepared or booted, or stopped without running COMMAND.
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT=${TIDE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tide}
# Kernel modules the VM loads, with their dependencies (virtio-pci and the
# virtio console are modules in Debian's arm64 6.1, as are 9p and netfs).
VM_MODULES=(virtio_pci virtio_console 9pnet_virtio 9p)
HOST_PACKAGES=(qemu-system-arm gcc-aarch64-linux-gnu libc6:arm64 cpio kmod xz-utils zstd)

mem=${TIDE_ARM64_VM_MEM:-4G}
cpus=${TIDE_ARM64_VM_CPUS:-2}
timeout=${TIDE_ARM64_VM_TIMEOUT:-0}
cpu_model=${TIDE_ARM64_VM_CPU:-max,pauth=off}
verbose=0
quiet=0
share_cwd=1
prepare_only=0
extra_shares=()
extra_env=()
command_argv=()

usage() {
	cat <<'EOF'
Usage: tests/arm64-vm/run.sh [OPTIONS] -- COMMAND [ARGS...]

Boots an arm64 Linux VM under QEMU TCG (EL2 emulated, so it has /dev/kvm) and
runs COMMAND there with busybox sh, in the current directory (shared
read-write at the same path; the host's root is at /host, read-only).
COMMAND's stdout and stderr are streamed to ours; we exit with its status.

Options:
  --mem SIZE        VM memory (default 4G; env TIDE_ARM64_VM_MEM)
  --cpus N          VM vCPUs (default 2; env TIDE_ARM64_VM_CPUS)
  --timeout SECS    stop the VM after SECS seconds, exit 124 (default 0: none;
                    env TIDE_ARM64_VM_TIMEOUT)
  --share DIR       also share DIR read-write at its path (repeatable)
  --no-cwd-share    do not share the current directory
  --env NAME[=VAL]  pass NAME (our value, or VAL) to COMMAND (repeatable)
  --prepare         only download/build the cached kernel and initramfs
  --refresh         ask apt again which kernel/busybox packages are current
  --verbose         show the VM's console (kernel log) and QEMU's messages
  --quiet           no "arm64-vm:" status lines unless something fails
  -h, --help        this text

Exit status: COMMAND's; 124 on --timeout; 127 if the VM failed to boot.
EOF
}

die() {
	echo "arm64-vm: $*" >&2
	exit 127
}

info() {
	[ "$quiet" = 1 ] || echo "arm64-vm: $*" >&2
}

# shellcheck source=fetch.sh
. "$HERE/fetch.sh"

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--mem) mem=${2:?--mem needs a size}; shift 2 ;;
		--mem=*) mem=${1#*=}; shift ;;
		--cpus) cpus=${2:?--cpus needs a number}; shift 2 ;;
		--cpus=*) cpus=${1#*=}; shift ;;
		--timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
		--timeout=*) timeout=${1#*=}; shift ;;
		--share) extra_shares+=("${2:?--share needs a directory}"); shift 2 ;;
		--share=*) extra_shares+=("${1#*=}"); shift ;;
		--env) extra_env+=("${2:?--env needs NAME[=VALUE]}"); shift 2 ;;
		--env=*) extra_env+=("${1#*=}"); shift ;;
		--no-cwd-share) share_cwd=0; shift ;;
		--prepare) prepare_only=1; shift ;;
		--refresh) A64_REFRESH=1; shift ;;
		--verbose) verbose=1; shift ;;
		--quiet) quiet=1; shift ;;
		-h | --help) usage; exit 0 ;;
		--) shift; command_argv=("$@"); break ;;
		-*) usage >&2; die "unknown option: $1" ;;
		*) command_argv=("$@"); break ;;
		esac
	done
	[[ "$cpus" =~ ^[1-9][0-9]*$ ]] || die "--cpus: not a number: $cpus"
	[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout: not a number of seconds: $timeout"
	[[ "$mem" =~ ^[1-9][0-9]*[MGT]?$ ]] || die "--mem: not a size like 512M or 4G: $mem"
	if [ "$prepare_only" = 0 ] && [ ${#command_argv[@]} -eq 0 ]; then
		usage >&2
		die "no command given"
	fi
}

# ------------------------------------------------------------ images

# The initramfs: static arm64 busybox, /init, kvmcheck, the modules. Named by
# a hash of its inputs, so editing init.sh or kvmcheck.c rebuilds it.
build_initramfs() {
	local moddir=$1 key out stage
	key=$({
		cat "$HERE/init.sh" "$HERE/kvmcheck.c" "$moddir/order"
		echo "$A64_BUSYBOX_VERSION"
		aarch64-linux-gnu-gcc -dumpfullversion
	} | sha256sum | cut -c1-16)
	out=$A64_KDIR/initramfs-$key.cpio
	if [ -f "$out" ]; then
		echo "$out"
		return 0
	fi
	stage=$(mktemp -d "$A64_CACHE/initramfs.XXXXXX")
	mkdir -p "$stage/bin" "$stage/modules"
	cp "$A64_BUSYBOX" "$stage/bin/busybox"
	install -m 0755 "$HERE/init.sh" "$stage/init"
	cp "$moddir/"*.ko "$moddir/order" "$stage/modules/"
	aarch64-linux-gnu-gcc -static -s -O2 -Wall -o "$stage/kvmcheck" "$HERE/kvmcheck.c" ||
		info "could not build kvmcheck; the VM will only check that /dev/kvm exists"
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) >"$out.tmp"
	rm -rf "$stage"
	rm -f "$A64_KDIR"/initramfs-*.cpio
	mv "$out.tmp" "$out"
	echo "$out"
}

# Sets kernel_image and initrd_image, downloading/building into the cache once.
prepare_images() {
	a64_lock
	a64_kernel
	a64_busybox
	a64_modules "$A64_KDIR/vm-modules" "${VM_MODULES[@]}"
	kernel_image=$A64_IMAGE
	initrd_image=$(build_initramfs "$A64_KDIR/vm-modules")
	a64_unlock
}

# ------------------------------------------------------------ the run

canonical_dir() {
	(cd -P -- "$1" 2>/dev/null && pwd -P) || die "not a directory: $1"
}

# Fills rw_shares with the read-write directories, none nested in another.
plan_shares() {
	local candidates=() dir other keep
	[ "$share_cwd" = 0 ] || candidates+=("$(pwd -P)")
	mkdir -p "$CACHE_ROOT"
	candidates+=("$(canonical_dir "$CACHE_ROOT")")
	for dir in "${extra_shares[@]}"; do
		candidates+=("$(canonical_dir "$dir")")
	done
	rw_shares=()
	for dir in "${candidates[@]}"; do
		case "$dir" in
		/) info "not sharing / read-write (the host's root is at /host, read-only)"; continue ;;
		/proc | /proc/* | /sys | /sys/* | /dev | /dev/* | /host | /host/* | /ctl | /ctl/* | \
			/bin | /bin/* | /sbin | /sbin/* | /lib | /lib/* | /usr | /usr/bin* | \
			/usr/sbin* | /usr/lib | /usr/share* | /etc | /run | /modules*)
			die "cannot share $dir (the VM's own root uses that path)" ;;
		*$'\n'* | *' '*) die "cannot share a path with a space or newline: $dir" ;;
		esac
		keep=1
		for other in "${candidates[@]}"; do
			if [ "$other" != "$dir" ] && [ "$other" != / ] && [[ "$dir/" == "$other/"* ]]; then
				keep=0 # inside another share
			fi
		done
		if [ "$keep" = 1 ] && ! printf '%s\n' "${rw_shares[@]}" | grep -qxF -- "$dir"; then
			rw_shares+=("$dir")
		fi
	done
}

# ctl/cmd.sh: run by busybox sh in the VM with an empty environment.
write_command_script() {
	local file=$1 name entry
	{
		echo "# written by tests/arm64-vm/run.sh"
		echo "export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root"
		for name in $(compgen -e); do
			case "$name" in
			TIDE_* | CI | TERM | LANG | LC_* | TZ | NO_COLOR | GITHUB_*)
				printf 'export %s=%q\n' "$name" "${!name}" ;;
			esac
		done
		for entry in "${extra_env[@]}"; do
			name=${entry%%=*}
			[[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "--env: bad name: $name"
			if [[ "$entry" == *=* ]]; then
				printf 'export %s=%q\n' "$name" "${entry#*=}"
			elif [ -n "${!name+set}" ]; then
				printf 'export %s=%q\n' "$name" "${!name}"
			fi
		done
		echo "export TIDE_ARM64_VM=1"
		printf 'umask %s\n' "$(umask)"
		if [ "$share_cwd" = 1 ]; then
			printf 'cd -- %q || exit 127\n' "$(pwd -P)"
		fi
		printf 'exec'
		printf ' %q' "${command_argv[@]}"
		printf '\n'
	} >"$file"
}

write_ctl() {
	local ctl=$1 i
	mkdir -p "$ctl"
	printf 'QUIET=%s\n' "$quiet" >"$ctl/config"
	: >"$ctl/mounts"
	for i in "${!rw_shares[@]}"; do
		printf 'rw%d %s\n' "$i" "${rw_shares[$i]}" >>"$ctl/mounts"
	done
	write_command_script "$ctl/cmd.sh"
}

qemu_path() {
	printf '%s' "${1//,/,,}"
}

build_qemu_cmdline() {
	local model=none i run console
	[ "$(id -u)" != 0 ] || model=passthrough
	local append="console=ttyAMA0 quiet loglevel=4 panic=-1 mitigations=off"
	[ "$verbose" = 0 ] || append=${append/ quiet loglevel=4/ loglevel=8}
	[ -z "${TIDE_ARM64_VM_APPEND:-}" ] || append+=" $TIDE_ARM64_VM_APPEND"
	run=$(qemu_path "$run_dir")
	console=$(qemu_path "$console_sink")
	# -display none rather than -nographic: QEMU never touches our stdio.
	# shellcheck disable=SC2054 # commas inside QEMU option values
	qemu_cmd=(qemu-system-aarch64
		-nodefaults -no-user-config -display none -no-reboot
		-machine virt,virtualization=on,gic-version=3
		-accel tcg,thread=multi -cpu "$cpu_model"
		-smp "$cpus" -m "$mem"
		-kernel "$kernel_image" -initrd "$initrd_image" -append "$append"
		-chardev "file,id=con,path=$console"
		-serial chardev:con
		-device virtio-serial-pci,id=vser
		-chardev "file,id=out,path=$run/out.fifo"
		-device virtserialport,bus=vser.0,nr=1,chardev=out,name=tide.stdout
		-chardev "file,id=err,path=$run/err.fifo"
		-device virtserialport,bus=vser.0,nr=2,chardev=err,name=tide.stderr
		-fsdev "local,id=hostroot,path=/,security_model=passthrough,readonly=on,multidevs=remap"
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
		-fsdev "local,id=a64ctl,path=$run/ctl,security_model=$model,multidevs=remap"
		-device virtio-9p-pci,fsdev=a64ctl,mount_tag=a64ctl
	)
	for i in "${!rw_shares[@]}"; do
		qemu_cmd+=(-fsdev "local,id=rw$i,path=$(qemu_path "${rw_shares[$i]}"),security_model=$model,multidevs=remap"
			-device "virtio-9p-pci,fsdev=rw$i,mount_tag=rw$i")
	done
}

# shellcheck disable=SC2317 # called from traps
cleanup() {
	local pid
	for pid in ${qemu_pid:-} ${sleep_pid:-} ${out_pid:-} ${err_pid:-}; do
		kill "$pid" 2>/dev/null || true
	done
	[ -z "${run_dir:-}" ] || rm -rf "$run_dir"
}

# shellcheck disable=SC2317 # called from traps
on_signal() {
	echo "arm64-vm: interrupted; stopping the VM" >&2
	cleanup
	exit "$1"
}

seconds_between() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'
}

# QEMU writes the two virtio-serial ports into FIFOs; cat relays them to our
# stdout and stderr, which QEMU never touches.
start_relays() {
	mkfifo "$run_dir/out.fifo" "$run_dir/err.fifo"
	cat <"$run_dir/out.fifo" &
	out_pid=$!
	cat <"$run_dir/err.fifo" >&2 &
	err_pid=$!
	# Hold a write end of each FIFO until QEMU is gone, so that the relays see
	# EOF exactly then (also if QEMU never opened them).
	exec 7>"$run_dir/out.fifo" 8>"$run_dir/err.fifo"
}

stop_relays() {
	exec 7>&- 8>&-
	wait "$out_pid" "$err_pid" || true
	out_pid='' err_pid=''
}

stop_qemu() {
	kill -TERM "$qemu_pid" 2>/dev/null || true
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$qemu_pid" 2>/dev/null || return 0
		sleep 0.2
	done
	kill -KILL "$qemu_pid" 2>/dev/null || true
}

# Waits until QEMU exits, the timeout passes, or a relay ends (our stdout or
# stderr was closed); sets ended_by to qemu, timeout or output.
wait_for_vm() {
	local pids=("$qemu_pid" "$out_pid" "$err_pid") done_pid=''
	if [ "$timeout" -gt 0 ]; then
		sleep "$timeout" >/dev/null 2>&1 7>&- 8>&- &
		sleep_pid=$!
		pids+=("$sleep_pid")
	fi
	wait -n -p done_pid "${pids[@]}" || true
	case "$done_pid" in
	"$qemu_pid") ended_by=qemu ;;
	"${sleep_pid:-}") ended_by=timeout ;;
	*) ended_by=output ;;
	esac
	if [ -n "${sleep_pid:-}" ]; then
		kill "$sleep_pid" 2>/dev/null || true
		wait "$sleep_pid" 2>/dev/null || true
		sleep_pid=''
	fi
	[ "$ended_by" = qemu ] || stop_qemu
	wait "$qemu_pid" || qemu_rc=$?
	qemu_pid=''
}

show_console() {
	if [ -s "$run_dir/qemu.log" ]; then
		echo "arm64-vm: --- QEMU said:" >&2
		tail -n 20 "$run_dir/qemu.log" >&2
	fi
	if [ -s "$run_dir/console.log" ]; then
		echo "arm64-vm: --- console (last lines; --verbose shows the kernel log):" >&2
		tail -n 30 "$run_dir/console.log" >&2
	fi
}

run_vm() {
	local t0 t_started t_end qemu_rc=0 ended_by status
	run_dir=$(mktemp -d "${TMPDIR:-/tmp}/tide-arm64-vm.XXXXXX")
	trap cleanup EXIT
	trap 'on_signal 130' INT
	trap 'on_signal 143' TERM
	trap 'on_signal 129' HUP
	write_ctl "$run_dir/ctl"
	start_relays
	console_sink=$run_dir/console.log
	[ "$verbose" = 0 ] || console_sink=$run_dir/err.fifo
	build_qemu_cmdline

	t0=$EPOCHREALTIME
	"${qemu_cmd[@]}" </dev/null >"$run_dir/qemu.log" 2>&1 7>&- 8>&- &
	qemu_pid=$!
	wait_for_vm
	t_end=$EPOCHREALTIME
	stop_relays

	if [ "$verbose" = 1 ] && [ -s "$run_dir/qemu.log" ]; then
		sed 's/^/arm64-vm: qemu: /' "$run_dir/qemu.log" >&2
	fi
	case "$ended_by" in
	timeout)
		echo "arm64-vm: timed out after ${timeout}s; the VM was stopped" >&2
		[ -f "$run_dir/ctl/started" ] || show_console
		exit 124 ;;
	output)
		echo "arm64-vm: our stdout or stderr was closed; the VM was stopped" >&2 || true
		exit 141 ;;
	esac
	if [ -f "$run_dir/ctl/status" ]; then
		status=$(cat "$run_dir/ctl/status")
		t_started=$(stat -c %.3Y "$run_dir/ctl/started")
		info "boot to command $(seconds_between "$t0" "$t_started")s," \
			"command $(seconds_between "$t_started" "$t_end")s," \
			"total $(seconds_between "$t0" "$t_end")s"
		exit "$status"
	fi
	if [ -f "$run_dir/ctl/error" ]; then
		echo "arm64-vm: the VM failed before running the command: $(cat "$run_dir/ctl/error")" >&2
		show_console
	elif [ -f "$run_dir/ctl/started" ]; then
		echo "arm64-vm: the VM stopped while the command was running (QEMU exit status $qemu_rc)" >&2
		show_console
	else
		echo "arm64-vm: the VM did not get to run the command (QEMU exit status $qemu_rc)" >&2
		show_console
	fi
	exit 127
}

main() {
	parse_args "$@"
	a64_host_setup "${HOST_PACKAGES[@]}"
	command -v qemu-system-aarch64 >/dev/null || die "qemu-system-aarch64 not found"
	prepare_images
	if [ "$prepare_only" = 1 ]; then
		info "kernel $kernel_image"
		info "initramfs $initrd_image"
		exit 0
	fi
	plan_shares
	run_vm
}

main "$@"
