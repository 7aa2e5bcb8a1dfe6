#!/usr/bin/env bash
# Installs what a fresh Debian 12 x86_64 machine lacks to build Tide for arm64, then
# configures and builds it (cross-compiled; it runs in tests/arm64-vm's nested machine).
# Usage: scripts/setup-arm64.sh [BUILD_DIR]   (default: build-arm64)
set -euo pipefail
cd "$(dirname "$0")/.."

HOST_PACKAGES=(meson ninja-build pkg-config gcc-aarch64-linux-gnu qemu-system-arm
               device-tree-compiler cpio libfdt-dev)
# Multi-Arch: same, so they install beside the amd64 ones.
ARM64_PACKAGES=(libc6-dev:arm64 libjson-c-dev:arm64 liburing-dev:arm64 libcap-ng-dev:arm64
                libseccomp-dev:arm64 check:arm64 libfdt1:arm64)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
update_needed=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	echo "setup-arm64: adding the arm64 architecture to dpkg"
	$SUDO dpkg --add-architecture arm64
	update_needed=1
fi
missing=()
for pkg in "${HOST_PACKAGES[@]}" "${ARM64_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
	echo "setup-arm64: installing ${missing[*]}"
	update_needed=1
fi
if ((update_needed)); then
	$SUDO apt-get update -q
fi
if ((${#missing[@]})); then
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

# libfdt-dev is not Multi-Arch: same (installing its arm64 build would remove the amd64
# one), so its arm64 static library is unpacked into the cache instead.
CACHE=${TIDE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tide}
FDT_ROOT=$CACHE/arm64-libfdt
FDT_LIBDIR=$FDT_ROOT/usr/lib/aarch64-linux-gnu
if [ ! -f "$FDT_LIBDIR/libfdt.a" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -q libfdt-dev:arm64 >/dev/null)
	mkdir -p "$FDT_ROOT"
	dpkg-deb -x "$tmp"/libfdt-dev_*_arm64.deb "$FDT_ROOT"
fi

BUILD=${1:-build-arm64}
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" --cross-file scripts/aarch64-linux-gnu.cross \
		-Dfdt_libdir="$FDT_LIBDIR"
fi
ninja -C "$BUILD"
