#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for Tide, then configures and builds it.
# Usage: scripts/setup.sh [--libvirt] [BUILD_DIR]   (default: build)
#   --libvirt: also libvirt, for tests/integration/test_libvirt.py (test.sh asks for it)
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_LIBVIRT=0
if [ "${1:-}" = "--libvirt" ]; then
	WITH_LIBVIRT=1
	shift
fi

PACKAGES=(meson ninja-build pkg-config gcc libc6-dev libfdt-dev liburing-dev libcap-ng-dev libseccomp-dev check
          libjson-c-dev busybox-static cpio python3
          clang libclang-rt-14-dev)  # libFuzzer and its sanitizer runtimes (fuzz/)

# Without /dev/kvm the integration tests run in a QEMU TCG VM with nested KVM (tests/kvm-vm).
[ -e /dev/kvm ] || PACKAGES+=(qemu-system-x86)

# install_missing [APT_OPTION...] -- PACKAGE...: installs those not installed yet.
install_missing() {
	local options=() missing=() pkg
	while [ "$1" != "--" ]; do options+=("$1"); shift; done
	shift
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
	done
	((${#missing[@]})) || return 0
	echo "setup: installing ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${options[@]}" "${missing[@]}"
}

install_missing -- "${PACKAGES[@]}"
# libvirt for tests/integration/test_libvirt.py (libvirt drives tide through its QEMU driver).
# Without recommends: they would bring QEMU and network tools the test does not use. Its
# daemons are not started here: the test runs a private libvirtd.
if ((WITH_LIBVIRT)); then
	install_missing --no-install-recommends -- libvirt-daemon-system libvirt-clients
fi

BUILD=${1:-build}
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD"
fi
ninja -C "$BUILD"
