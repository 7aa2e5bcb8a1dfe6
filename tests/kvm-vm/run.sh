#!/usr/bin/env bash
# Run a command inside a QEMU (TCG) virtual machine that has /dev/kvm.
#
# This host kind has no /dev/kvm, but QEMU's TCG emulates AMD SVM (-cpu max),
# so a Linux kernel booted under TCG loads kvm_amd and offers a real /dev/kvm.
# The VM sees this machine's files: the host's root over 9p (read-only, with a
# throw-away tmpfs overlay), and the current directory plus the Tide cache
# directory read-write at their own paths.  See README.md beside this file.
#
# Usage: tests/kvm-vm/run.sh [OPTIONS] -- COMMAND [ARGS...]
#
# Exit status: COMMAND's; 124 if --timeout ended the VM; 127 if the VM could
# not be prepared or booted, or stopped without running COMMAND.
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT=${TIDE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tide}
VM_CACHE=$CACHE_ROOT/kvm-vm
# Kernel modules the VM needs, loaded with their dependencies.
VM_MODULES=(virtio_pci virtio_console 9pnet_virtio 9p overlay kvm_amd)
# Bumped when the kernel cache layout changes.
KERNEL_CACHE_FORMAT=4

mem=${TIDE_KVM_VM_MEM:-8G}
cpus=${TIDE_KVM_VM_CPUS:-2}
timeout=${TIDE_KVM_VM_TIMEOUT:-0}
custom_kernel=${TIDE_KVM_VM_KERNEL:-}
# Debian metapackage whose dependency names the kernel package to boot.
kernel_meta=${TIDE_KVM_VM_KERNEL_PACKAGE:-linux-image-6.12-amd64}
machine=${TIDE_KVM_VM_MACHINE:-q35}
# qboot (shipped with Debian's QEMU) starts ~1 s sooner than SeaBIOS under TCG.
bios=${TIDE_KVM_VM_BIOS-/usr/share/qemu/qboot.rom}
cpu_model=${TIDE_KVM_VM_CPU:-max}
verbose=0
quiet=0
overlay=1
share_cwd=1
prepare_only=0
refresh=0
extra_shares=()
extra_env=()
command_argv=()

usage() {
	cat <<'EOF'
Usage: tests/kvm-vm/run.sh [OPTIONS] -- COMMAND [ARGS...]

Boots a QEMU TCG virtual machine with /dev/kvm (kvm_amd on TCG's emulated
SVM) and runs COMMAND in it, in the current directory, on this machine's files.
COMMAND's stdout and stderr are streamed to ours; we exit with its status.

Options:
  --mem SIZE        guest memory (default 8G; env TIDE_KVM_VM_MEM)
  --cpus N          guest vCPUs (default 2; env TIDE_KVM_VM_CPUS)
  --timeout SECS    stop the VM after SECS seconds, exit 124 (default 0: none;
                    env TIDE_KVM_VM_TIMEOUT)
  --share DIR       also share DIR read-write (repeatable)
  --no-cwd-share    do not share the current directory read-write
  --env NAME[=VAL]  pass NAME (with our value, or VAL) to COMMAND (repeatable)
  --no-overlay      keep the host's root read-only (no tmpfs overlay)
  --kernel BZIMAGE  boot this kernel (KVM, KVM_AMD, 9P, VIRTIO_PCI, virtio
                    console built in) instead of Debian's (env TIDE_KVM_VM_KERNEL)
  --prepare         only download/build the cached kernel and initramfs
  --refresh         resolve Debian's current kernel package again
  --verbose         show the VM's serial console (kernel log) on stderr
  --quiet           no "kvm-vm:" status lines unless something fails
  -h, --help        this text

Exit status: COMMAND's; 124 on --timeout; 127 if the VM failed to boot.
EOF
}

die() {
	echo "kvm-vm: $*" >&2
	exit 127
}

info() {
	[ "$quiet" = 1 ] || echo "kvm-vm: $*" >&2
}

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
		--kernel) custom_kernel=${2:?--kernel needs a file}; shift 2 ;;
		--kernel=*) custom_kernel=${1#*=}; shift ;;
		--no-cwd-share) share_cwd=0; shift ;;
		--no-overlay) overlay=0; shift ;;
		--prepare) prepare_only=1; shift ;;
		--refresh) refresh=1; shift ;;
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
	[[ "$mem" =~ ^[1-9][0-9]*[MGT]?$ ]] || die "--mem: not a size like 512M or 8G: $mem"
	if [ "$prepare_only" = 0 ] && [ ${#command_argv[@]} -eq 0 ]; then
		usage >&2
		die "no command given"
	fi
}

# ---------------------------------------------------------------- host tools

# install_missing PACKAGE...: apt-get install the packages that are absent.
install_missing() {
	local pkg missing=()
	for pkg in "$@"; do
		if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$pkg")
		fi
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	[ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]} (install them: apt-get install ${missing[*]})"
	info "installing ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; then
		apt-get update -q >/dev/null 2>&1 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 ||
			die "apt-get install ${missing[*]} failed"
	fi
}

ensure_host_tools() {
	install_missing qemu-system-x86 busybox-static cpio kmod xz-utils zstd
	command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found"
}

# ------------------------------------------------------------- kernel cache

# The kernel package that metapackage $kernel_meta currently depends on, e.g.
# linux-image-6.12.117+deb12-amd64.
resolve_kernel_package() {
	local pkg try
	for try in 1 2; do
		pkg=$(apt-cache depends "$kernel_meta" 2>/dev/null |
			awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
		if [ -n "$pkg" ] || [ "$try" = 2 ]; then
			break
		fi
		apt-get update -q >/dev/null 2>&1 || true
	done
	[ -n "$pkg" ] || die "cannot resolve Debian's kernel package (apt-cache depends $kernel_meta)"
	echo "$pkg"
}

# extract_vmlinux BZIMAGE OUT: the uncompressed ELF kernel inside a bzImage
# compressed with xz (Debian's 6.1) or zstd (Debian's 6.12), found as
# scripts/extract-vmlinux does: try each magic number until one gives an ELF.
extract_vmlinux() {
	local in=$1 out=$2 magic offset
	local -A decompress=([$'\xfd7zXZ']='xz -dc --single-stream' [$'\x28\xb5\x2f\xfd']='zstd -qdc')
	for magic in "${!decompress[@]}"; do
		for offset in $(LC_ALL=C grep -abo "$magic" "$in" | head -n 5 | cut -d: -f1); do
			# The decompressor may complain about data after its stream, and
			# tail then dies of SIGPIPE: only the result counts.
			tail -c "+$((offset + 1))" "$in" | ${decompress[$magic]} >"$out" 2>/dev/null || true
			if [ "$(head -c4 "$out" | od -An -c | tr -d ' ')" = '177ELF' ]; then
				return 0
			fi
		done
	done
	rm -f "$out"
	return 1
}

# fetch_kernel PACKAGE DIR: download PACKAGE, keep its vmlinuz and the modules
# in VM_MODULES with their dependencies (DIR/modules/*.ko, in load order in
# DIR/modules/order).
fetch_kernel() {
	local pkg=$1 dir=$2 tmp kver deb line ko name
	tmp=$(mktemp -d "$VM_CACHE/fetch.XXXXXX")
	info "downloading $pkg (one-time)"
	(cd "$tmp" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "$pkg" >/dev/null 2>"$tmp/apt.err") ||
		{ cat "$tmp/apt.err" >&2; rm -rf "$tmp"; die "apt-get download $pkg failed"; }
	deb=$(echo "$tmp"/*.deb)
	dpkg-deb -x "$deb" "$tmp/x"
	kver=${pkg#linux-image-}
	[ -f "$tmp/x/boot/vmlinuz-$kver" ] || { rm -rf "$tmp"; die "$pkg has no /boot/vmlinuz-$kver"; }
	depmod -b "$tmp/x" "$kver"
	mkdir -p "$tmp/out/modules"
	cp "$tmp/x/boot/config-$kver" "$tmp/out/config"
	if grep -qx 'CONFIG_PVH=y' "$tmp/out/config" &&
		extract_vmlinux "$tmp/x/boot/vmlinuz-$kver" "$tmp/out/vmlinux"; then
		: # PVH entry: no decompression or real-mode setup under TCG (~3 s less)
	else
		cp "$tmp/x/boot/vmlinuz-$kver" "$tmp/out/vmlinuz"
	fi
	: >"$tmp/out/modules/order"
	while read -r line; do
		case "$line" in
		insmod\ *) ko=${line#insmod } ;;
		*) continue ;; # "builtin NAME"
		esac
		ko=${ko%% *}
		name=$(basename "$ko")
		grep -qxF "${name%%.ko*}.ko" "$tmp/out/modules/order" && continue
		case "$name" in
		*.ko.xz) xz -dc "$ko" >"$tmp/out/modules/${name%.xz}" ;;
		*.ko.zst) zstd -qdc "$ko" >"$tmp/out/modules/${name%.zst}" ;;
		*.ko.gz) gzip -dc "$ko" >"$tmp/out/modules/${name%.gz}" ;;
		*) cp "$ko" "$tmp/out/modules/$name" ;;
		esac
		echo "${name%%.ko*}.ko" >>"$tmp/out/modules/order"
	done < <(modprobe -d "$tmp/x" -S "$kver" --show-depends -a "${VM_MODULES[@]}")
	echo "$KERNEL_CACHE_FORMAT ${VM_MODULES[*]}" >"$tmp/out/modules/wanted"
	rm -rf "$dir"
	mv "$tmp/out" "$dir"
	rm -rf "$tmp"
}

# The initramfs: static busybox, /init, kvmcheck, and the kernel's modules.
# Named by a hash of everything in it, so editing init.sh rebuilds it.
build_initramfs() {
	local kdir=$1 key out stage
	key=$({
		cat "$HERE/init.sh" "$HERE/kvmcheck.c"
		[ -z "$kdir" ] || cat "$kdir/modules/order"
		dpkg-query -W -f='${Version}\n' busybox-static
		if command -v gcc >/dev/null; then gcc -dumpfullversion; fi
	} | sha256sum | cut -c1-16)
	out=${kdir:-$VM_CACHE/custom}/initramfs-$key.cpio
	if [ -f "$out" ]; then
		echo "$out"
		return 0
	fi
	mkdir -p "$(dirname "$out")"
	stage=$(mktemp -d "$VM_CACHE/initramfs.XXXXXX")
	mkdir -p "$stage/bin" "$stage/modules"
	cp /bin/busybox "$stage/bin/busybox"
	install -m 0755 "$HERE/init.sh" "$stage/init"
	if [ -n "$kdir" ]; then
		cp "$kdir/modules/"*.ko "$kdir/modules/order" "$stage/modules/"
	fi
	if command -v gcc >/dev/null; then
		gcc -static -O2 -Wall -o "$stage/kvmcheck" "$HERE/kvmcheck.c" ||
			info "could not build kvmcheck; the VM will only check that /dev/kvm exists"
	fi
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) >"$out.tmp"
	rm -rf "$stage"
	rm -f "$(dirname "$out")"/initramfs-*.cpio
	mv "$out.tmp" "$out"
	echo "$out"
}

# Kernels that no resolved-* file names any more (Debian moved on).
remove_unused_kernels() {
	local dir
	for dir in "$VM_CACHE"/linux-image-*; do
		[ -d "$dir" ] || continue
		if ! cat "$VM_CACHE"/resolved-* 2>/dev/null | grep -qxF -- "${dir##*/}"; then
			info "removing the unused cached kernel ${dir##*/}"
			rm -rf "$dir"
		fi
	done
}

# Sets kernel_image and initrd_image, downloading/building into VM_CACHE once.
prepare_images() {
	local pkg kdir resolved
	mkdir -p "$VM_CACHE"
	exec 9>"$VM_CACHE/.lock"
	flock 9
	if [ -n "$custom_kernel" ]; then
		[ -f "$custom_kernel" ] || die "--kernel: no such file: $custom_kernel"
		kernel_image=$custom_kernel
		initrd_image=$(build_initramfs "")
	else
		resolved=$VM_CACHE/resolved-$kernel_meta
		if [ "$refresh" = 1 ] || [ ! -s "$resolved" ]; then
			resolve_kernel_package >"$resolved.tmp"
			mv "$resolved.tmp" "$resolved"
			remove_unused_kernels
		fi
		pkg=$(cat "$resolved")
		kdir=$VM_CACHE/$pkg
		[ "$(cat "$kdir/modules/wanted" 2>/dev/null)" = "$KERNEL_CACHE_FORMAT ${VM_MODULES[*]}" ] ||
			fetch_kernel "$pkg" "$kdir"
		kernel_image=$kdir/vmlinux
		[ -f "$kernel_image" ] || kernel_image=$kdir/vmlinuz
		initrd_image=$(build_initramfs "$kdir")
	fi
	flock -u 9
	exec 9>&-
}

# --------------------------------------------------------------- the run

# canonical_dir DIR: physical absolute path of an existing directory.
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
		/) info "not sharing / read-write (the host's root is shared read-only)"; continue ;;
		/proc | /proc/* | /sys | /sys/* | /dev | /dev/*) die "cannot share $dir" ;;
		*$'\n'*) die "cannot share a path with a newline: $dir" ;;
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

# Exported variables handed to COMMAND: a list of patterns plus --env.
env_wanted() {
	case "$1" in
	PATH | HOME | USER | LOGNAME | SHELL | LANG | LANGUAGE | LC_* | TZ | TERM | \
		CI | TIDE_* | MESON_* | NINJA_* | CC | CXX | CPP | CFLAGS | CXXFLAGS | \
		CPPFLAGS | LDFLAGS | PKG_CONFIG* | PYTHON* | PYENV* | VIRTUAL_ENV | \
		*SAN_OPTIONS | SOURCE_DATE_EPOCH | NO_COLOR | FORCE_COLOR | CLICOLOR* | \
		GITHUB_* | MAKEFLAGS | CCACHE_*)
		return 0 ;;
	esac
	return 1
}

# ctl/cmd.sh: run by the host's bash inside the VM (chroot into the host's
# root, empty environment).
write_command_script() {
	local file=$1 name entry
	{
		echo "# written by tests/kvm-vm/run.sh"
		for name in $(compgen -e); do
			if env_wanted "$name"; then
				printf 'export %s=%q\n' "$name" "${!name}"
			fi
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
		echo "export TIDE_KVM_VM=1"
		printf 'umask %s\n' "$(umask)"
		printf 'cd -- %q 2>/dev/null || cd -- %q || exit 127\n' "$PWD" "$(pwd -P)"
		printf 'exec'
		printf ' %q' "${command_argv[@]}"
		printf '\n'
	} >"$file"
}

write_ctl() {
	local ctl=$1 i
	mkdir -p "$ctl"
	printf 'QUIET=%s\nOVERLAY=%s\n' "$quiet" "$overlay" >"$ctl/config"
	: >"$ctl/mounts"
	for i in "${!rw_shares[@]}"; do
		printf 'rw%d %s\n' "$i" "${rw_shares[$i]}" >>"$ctl/mounts"
	done
	write_command_script "$ctl/cmd.sh"
}

# qemu_path PATH: PATH as a QEMU option value (commas doubled).
qemu_path() {
	printf '%s' "${1//,/,,}"
}

build_qemu_cmdline() {
	local model=none i run console
	[ "$(id -u)" != 0 ] || model=passthrough
	# The serial console goes to a file shown only when something fails (or
	# to stderr with --verbose): keep errors and panics (loglevel=4) there.
	# mitigations=off: no page-table isolation etc. under TCG (much faster).
	local append="console=ttyS0 quiet loglevel=4 panic=-1 mitigations=off"
	append+=" random.trust_cpu=on tsc=reliable i8042.noaux i8042.nokbd"
	[ "$verbose" = 0 ] || append=${append/ quiet loglevel=4/ loglevel=8}
	[ -z "${TIDE_KVM_VM_APPEND:-}" ] || append+=" $TIDE_KVM_VM_APPEND"
	run=$(qemu_path "$run_dir")
	console=$(qemu_path "$console_sink")
	# shellcheck disable=SC2054 # commas inside QEMU option values
	qemu_cmd=(qemu-system-x86_64
		-nodefaults -no-user-config -display none -no-reboot
		-machine "$machine" -accel tcg,thread=multi -cpu "$cpu_model"
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
		-fsdev "local,id=kvmvmctl,path=$run/ctl,security_model=$model,multidevs=remap"
		-device virtio-9p-pci,fsdev=kvmvmctl,mount_tag=kvmvmctl
	)
	if [ -n "$bios" ] && [ -f "$bios" ]; then
		qemu_cmd+=(-bios "$bios")
	fi
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
	echo "kvm-vm: interrupted; stopping the VM" >&2
	cleanup
	exit "$1"
}

# seconds_between START END: END - START with millisecond precision.
seconds_between() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'
}

# QEMU writes the two virtio-serial ports to FIFOs (through file descriptions
# of its own, which it makes non-blocking); cat relays them to our stdout and
# stderr, which QEMU never touches.
start_relays() {
	mkfifo "$run_dir/out.fifo" "$run_dir/err.fifo"
	cat <"$run_dir/out.fifo" &
	out_pid=$!
	cat <"$run_dir/err.fifo" >&2 &
	err_pid=$!
	# Hold a write end of each FIFO until QEMU is gone, so that the relays see
	# EOF exactly then (also if QEMU never opened them), and end early only if
	# our own stdout or stderr is closed.
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

run_vm() {
	local t0 t_started t_end qemu_rc=0 ended_by status
	run_dir=$(mktemp -d "${TMPDIR:-/tmp}/tide-kvm-vm.XXXXXX")
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
		sed 's/^/kvm-vm: qemu: /' "$run_dir/qemu.log" >&2
	fi
	case "$ended_by" in
	timeout)
		echo "kvm-vm: timed out after ${timeout}s; the VM was stopped" >&2
		[ -f "$run_dir/ctl/started" ] || show_console
		exit 124 ;;
	output)
		echo "kvm-vm: our stdout or stderr was closed; the VM was stopped" >&2 || true
		exit 141 ;;
	esac
	if [ -f "$run_dir/ctl/status" ]; then
		status=$(cat "$run_dir/ctl/status")
		t_started=$(stat -c %.3Y "$run_dir/ctl/started")
		info "VM boot to command start $(seconds_between "$t0" "$t_started")s," \
			"command $(seconds_between "$t_started" "$t_end")s," \
			"total $(seconds_between "$t0" "$t_end")s"
		exit "$status"
	fi
	if [ -f "$run_dir/ctl/error" ]; then
		echo "kvm-vm: the VM failed before running the command: $(cat "$run_dir/ctl/error")" >&2
	elif [ -f "$run_dir/ctl/started" ]; then
		echo "kvm-vm: the VM stopped while the command was running (QEMU exit status $qemu_rc)" >&2
		show_console
	else
		echo "kvm-vm: the VM did not get to run the command (QEMU exit status $qemu_rc)" >&2
		show_console
	fi
	exit 127
}

show_console() {
	if [ -s "$run_dir/qemu.log" ]; then
		echo "kvm-vm: --- QEMU said:" >&2
		tail -n 20 "$run_dir/qemu.log" >&2
	fi
	if [ -s "$run_dir/console.log" ]; then
		echo "kvm-vm: --- serial console (last lines; --verbose shows the kernel log):" >&2
		tail -n 30 "$run_dir/console.log" >&2
	fi
}

main() {
	parse_args "$@"
	ensure_host_tools
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
