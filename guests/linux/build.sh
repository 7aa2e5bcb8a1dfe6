#!/bin/bash
# Build Tide's minimal Linux guest from Debian's linux-source-6.1 and
# busybox-static, plus our config fragment (tide.config), our patches
# (patches/*.patch) and /init (init). See README.md.
#
# Prints, on stdout and nothing else:
#   KERNEL_BZIMAGE=<path>   bzImage (payload stored uncompressed)
#   KERNEL_VMLINUX=<path>   uncompressed ELF vmlinux with the PVH entry note
#   INITRD=<path>           uncompressed newc cpio initramfs
# so callers can `eval "$(guests/linux/build.sh)"`. Progress goes to stderr,
# build logs to $CACHE/logs/. Results are cached and rebuilt only when the
# inputs (this script, tide.config, patches, init, the Debian packages)
# change.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${TIDE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tide}/linux
TARBALL=/usr/src/linux-source-6.1.tar.xz
BUSYBOX=/bin/busybox
FRAGMENT=$HERE/tide.config
INIT=$HERE/init
SRC_PARENT=$CACHE/src
SRC=$SRC_PARENT/linux-source-6.1
OBJ=$CACHE/build
OUT=$CACHE/out
LOGS=$CACHE/logs
TOOLS=$CACHE/tools
DEPS=(linux-source-6.1 busybox-static cpio bc flex bison libelf-dev libssl-dev
      build-essential)

log() { printf 'tide-linux: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Run a noisy command with its output in a log file; show the tail on failure.
run_logged() {
	local logfile=$LOGS/$1
	shift
	if ! "$@" >"$logfile" 2>&1; then
		tail -n 40 "$logfile" >&2
		die "'$*' failed, full log: $logfile"
	fi
}

# Hash of the files' names (without directory) and contents, so that the key
# does not depend on where the checkout is or how the script was invoked.
sha_of() {
	local f
	for f in "$@"; do
		printf '%s %s\n' "$(basename "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)"
	done | sha256sum | cut -d' ' -f1
}

pkg_version() { dpkg-query -W -f='${Version}' "$1"; }

install_deps() {
	local missing=() pkg
	for pkg in "${DEPS[@]}"; do
		if [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" \
			!= installed ]; then
			missing+=("$pkg")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] ||
		die "missing packages: ${missing[*]} (run as root or apt-get install them)"
	log "installing ${missing[*]}"
	apt-get update >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${DEPS[@]}" >&2
}

# Key of the patched source tree: the Debian source package and our patches.
source_key() {
	local patches=("$HERE"/patches/*.patch)
	{
		echo "linux-source-6.1 $(pkg_version linux-source-6.1)"
		sha_of "${patches[@]}"
	} | sha256sum | cut -d' ' -f1
}

# Unpack the Debian tarball once and apply our patches in order. A changed
# patch set (or package) gives a fresh tree and a clean object directory.
unpack() {
	local key
	key=$(source_key)
	if [ -f "$SRC_PARENT/.stamp" ] && [ "$(cat "$SRC_PARENT/.stamp")" = "$key" ]; then
		return 0
	fi
	log "unpacking $TARBALL"
	rm -rf "$SRC_PARENT" "$OBJ"
	mkdir -p "$SRC_PARENT"
	tar -C "$SRC_PARENT" -xf "$TARBALL"
	[ -f "$SRC/Makefile" ] || die "unexpected tarball layout: no $SRC/Makefile"
	local p
	for p in "$HERE"/patches/*.patch; do
		log "applying $(basename "$p")"
		patch -d "$SRC" -p1 --forward --batch --no-backup-if-mismatch <"$p" >&2 ||
			die "patch $(basename "$p") does not apply"
	done
	echo "$key" >"$SRC_PARENT/.stamp"
}

kmake() { make -C "$SRC" O="$OBJ" "$@"; }

# tinyconfig + tide.config, then check that every option of the fragment
# ended up as asked.
configure() {
	log "configuring (tinyconfig + $(basename "$FRAGMENT"))"
	mkdir -p "$OBJ"
	run_logged config.log kmake tinyconfig
	run_logged merge.log "$SRC/scripts/kconfig/merge_config.sh" -m -O "$OBJ" \
		"$OBJ/.config" "$FRAGMENT"
	run_logged olddefconfig.log kmake olddefconfig

	local line opt val bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			opt=${line%%=*}
			val=${line#*=}
			grep -qxF "$opt=$val" "$OBJ/.config" || {
				log "config: wanted $opt=$val, got: $(grep -E "^(# )?${opt}[= ]" "$OBJ/.config" || echo unset)"
				bad=1
			}
			;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }
			opt=${opt%% *}
			if grep -qE "^$opt=" "$OBJ/.config"; then
				log "config: wanted $opt off, got: $(grep -E "^$opt=" "$OBJ/.config")"
				bad=1
			fi
			;;
		esac
	done <"$FRAGMENT"
	[ "$bad" -eq 0 ] || die "kernel config does not match $FRAGMENT (dependencies missing?)"
}

build_kernel() {
	log "building kernel with make -j$(nproc) (log: $LOGS/kernel.log)"
	local start=$SECONDS
	run_logged kernel.log kmake -j"$(nproc)" bzImage
	log "kernel built in $((SECONDS - start)) s"

	# The PVH entry point is an ELF note XEN_ELFNOTE_PHYS32_ENTRY (18).
	readelf -n "$OBJ/vmlinux" | grep -q 'Xen .*0x00000012' ||
		die "vmlinux lacks the PVH (XEN_ELFNOTE_PHYS32_ENTRY) note"

	mkdir -p "$OUT"
	cp "$OBJ/arch/x86/boot/bzImage" "$OUT/bzImage.tmp"
	cp "$OBJ/vmlinux" "$OUT/vmlinux.tmp"
	cp "$OBJ/.config" "$OUT/config"
	mv "$OUT/bzImage.tmp" "$OUT/bzImage"
	mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
}

# newc cpio, uncompressed, made by the kernel's gen_init_cpio from a file
# list: no root needed for /dev/console, owners are 0:0, output is
# reproducible.
build_initramfs() {
	log "building initramfs"
	if [ ! -x "$BUSYBOX" ] || readelf -l "$BUSYBOX" | grep -q INTERP; then
		die "$BUSYBOX is not the static busybox (busybox-static)"
	fi
	mkdir -p "$TOOLS" "$OUT"
	cc -O2 -o "$TOOLS/gen_init_cpio" "$SRC/usr/gen_init_cpio.c"

	local list=$TOOLS/initramfs.list dir
	{
		for dir in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp \
			/root /etc; do
			echo "dir $dir 0755 0 0"
		done
		echo "nod /dev/console 0600 0 0 c 5 1"
		echo "nod /dev/null 0666 0 0 c 1 3"
		echo "file /bin/busybox $BUSYBOX 0755 0 0"
		echo "file /init $INIT 0755 0 0"
		# Only /bin/sh, for /init's first line: the shell runs the other applets itself
		# (init explains why there are no more).
		echo "slink /bin/sh /bin/busybox 0777 0 0"
	} >"$list"
	"$TOOLS/gen_init_cpio" -t 0 "$list" >"$OUT/initramfs.cpio.tmp"
	mv "$OUT/initramfs.cpio.tmp" "$OUT/initramfs.cpio"
}

main() {
	install_deps
	mkdir -p "$CACHE" "$LOGS"
	exec 9>"$CACHE/.lock"
	flock 9

	local kernel_key initrd_key
	kernel_key=$( {
		source_key
		sha_of "${BASH_SOURCE[0]}" "$FRAGMENT"
	} | sha256sum | cut -d' ' -f1)
	initrd_key=$( {
		echo "busybox-static $(pkg_version busybox-static)"
		sha_of "${BASH_SOURCE[0]}" "$INIT"
	} | sha256sum | cut -d' ' -f1)

	if [ -f "$OUT/bzImage" ] && [ -f "$OUT/vmlinux" ] &&
		[ "$(cat "$OUT/.kernel.stamp" 2>/dev/null)" = "$kernel_key" ]; then
		log "kernel up to date"
	else
		rm -f "$OUT/.kernel.stamp"
		unpack
		configure
		build_kernel
		echo "$kernel_key" >"$OUT/.kernel.stamp"
	fi

	if [ -f "$OUT/initramfs.cpio" ] &&
		[ "$(cat "$OUT/.initramfs.stamp" 2>/dev/null)" = "$initrd_key" ]; then
		log "initramfs up to date"
	else
		rm -f "$OUT/.initramfs.stamp"
		unpack
		build_initramfs
		echo "$initrd_key" >"$OUT/.initramfs.stamp"
	fi

	echo "KERNEL_BZIMAGE=$OUT/bzImage"
	echo "KERNEL_VMLINUX=$OUT/vmlinux"
	echo "INITRD=$OUT/initramfs.cpio"
}

main "$@"
