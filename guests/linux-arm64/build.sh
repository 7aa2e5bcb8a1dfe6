#!/usr/bin/env bash
# Build Tide's arm64 Linux guest ("L2") into OUTDIR: Debian's stock arm64
# kernel (an uncompressed Image, unchanged) and a small initramfs (static arm64
# busybox, ./init, the virtio_pci and virtio_mem modules). See README.md.
#
# Usage: guests/linux-arm64/build.sh [--refresh] OUTDIR
#
# Writes OUTDIR/Image and OUTDIR/initramfs.cpio (only when their contents
# change) and prints on stdout, for `eval "$(guests/linux-arm64/build.sh DIR)"`:
#   IMAGE=<OUTDIR/Image>
#   INITRD=<OUTDIR/initramfs.cpio>
# Progress goes to stderr. The Debian packages come from tests/arm64-vm's
# cache (tests/arm64-vm/fetch.sh); the initramfs is cached under
# $TIDE_CACHE/linux-arm64/, keyed by init, the module list and busybox.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${TIDE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tide}/linux-arm64
GUEST_MODULES=(virtio_pci virtio_mem)
# Bumped when the initramfs layout changes.
FORMAT=1

log() { printf 'tide-linux-arm64: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
info() { log "$@"; }

# shellcheck source=../../tests/arm64-vm/fetch.sh
. "$HERE/../../tests/arm64-vm/fetch.sh"

usage() {
	echo "Usage: guests/linux-arm64/build.sh [--refresh] OUTDIR" >&2
	exit 2
}

outdir=
while [ $# -gt 0 ]; do
	case "$1" in
	--refresh) A64_REFRESH=1; shift ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) [ -z "$outdir" ] || usage; outdir=$1; shift ;;
	esac
done
[ -n "$outdir" ] || usage

# The initramfs for the kernel's modules in MODDIR, named by a hash of its
# inputs; built once.
build_initramfs() {
	local moddir=$1 key out stage
	key=$({
		echo "$FORMAT $A64_KPKG $A64_BUSYBOX_VERSION"
		cat "$HERE/init" "$moddir/order"
	} | sha256sum | cut -c1-16)
	out=$CACHE/initramfs-$key.cpio
	if [ -f "$out" ]; then
		echo "$out"
		return 0
	fi
	log "building the initramfs ($A64_KPKG modules: $(tr '\n' ' ' <"$moddir/order"))"
	mkdir -p "$CACHE"
	stage=$(mktemp -d "$CACHE/stage.XXXXXX")
	mkdir -p "$stage/bin" "$stage/modules"
	cp "$A64_BUSYBOX" "$stage/bin/busybox"
	install -m 0755 "$HERE/init" "$stage/init"
	cp "$moddir/"*.ko "$moddir/order" "$stage/modules/"
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) >"$out.tmp"
	rm -rf "$stage"
	rm -f "$CACHE"/initramfs-*.cpio
	mv "$out.tmp" "$out"
	echo "$out"
}

# install_if_changed SRC DST: copy unless DST has the same contents; echoes
# DST's name when it copied.
install_if_changed() {
	if cmp -s "$1" "$2"; then
		return 0
	fi
	cp "$1" "$2.tmp"
	mv "$2.tmp" "$2"
	echo " ${2##*/}"
}

main() {
	local cpio changed
	a64_host_setup cpio kmod xz-utils zstd
	a64_lock
	a64_kernel
	a64_busybox
	a64_modules "$A64_KDIR/guest-modules" "${GUEST_MODULES[@]}"
	cpio=$(build_initramfs "$A64_KDIR/guest-modules")
	mkdir -p "$outdir"
	changed=$(install_if_changed "$A64_IMAGE" "$outdir/Image")
	changed+=$(install_if_changed "$cpio" "$outdir/initramfs.cpio")
	a64_unlock
	if [ -n "$changed" ]; then
		log "$outdir: wrote$changed ($A64_KPKG, busybox $A64_BUSYBOX_VERSION)"
	else
		log "$outdir up to date"
	fi
	outdir=$(cd "$outdir" && pwd)
	printf 'IMAGE=%q\nINITRD=%q\n' "$outdir/Image" "$outdir/initramfs.cpio"
}

main
