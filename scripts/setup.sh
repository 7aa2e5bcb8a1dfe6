#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for Tide, then configures and builds it.
# Usage: scripts/setup.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(meson ninja-build pkg-config gcc libc6-dev libfdt-dev liburing-dev libcap-ng-dev libseccomp-dev check
          libjson-c-dev busybox-static cpio python3
          clang libclang-rt-14-dev)  # libFuzzer and its sanitizer runtimes (fuzz/)

# Without /dev/kvm the integration tests run in a QEMU TCG VM with nested KVM (tests/kvm-vm).
[ -e /dev/kvm ] || PACKAGES+=(qemu-system-x86)

missing=()
for pkg in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
	echo "setup: installing ${missing[*]}"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

BUILD=${1:-build}
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD"
fi
ninja -C "$BUILD"
