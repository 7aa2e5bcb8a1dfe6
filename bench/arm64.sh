#!/usr/bin/env bash
# arm64 numbers, printed, from the nested arm64 machine (tests/arm64-vm): a Linux boot to the
# ready marker, a virtio-mem resize 0 -> 1G -> 0 with its events, and host kernel memory and
# RSS for a 64 GiB device with 1 GiB plugged, dynamic memslots on and off; the same with
# QEMU 7.2 for arm64 (-accel kvm) side by side. Guest code runs at QEMU TCG speed there:
# the numbers describe that setup, not arm64 hardware.
# Usage: bench/arm64.sh [RUNS]   (default 3; needs scripts/setup-arm64.sh's build-arm64)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cache=${TIDE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tide}
scripts/setup-arm64.sh build-arm64 >/dev/null
eval "$(guests/linux-arm64/build.sh "$cache/linux-arm64/out")"

# QEMU for arm64, to run beside tide in the nested machine: its libraries are Multi-Arch
# (apt installs their arm64 builds beside the amd64 ones), the binary is not, so the
# package is unpacked into the cache and only qemu-system-aarch64 is used.
QEMU_LIBS=(libaio1 libbpf1 libcapstone4 libfdt1 libfuse3-3 libglib2.0-0 libgmp10 libgnutls30
           libhogweed6 libibverbs1 libjpeg62-turbo libnettle8 libnuma1 libpixman-1-0 libpmem1
           libpng16-16 librdmacm1 libsasl2-2 libseccomp2 libslirp0 libudev1 liburing2
           libvdeplug2 libzstd1 zlib1g)
qemu=$cache/arm64-qemu/root/usr/bin/qemu-system-aarch64
if [ ! -x "$qemu" ]; then
	missing=()
	for lib in "${QEMU_LIBS[@]}"; do
		dpkg-query -W -f='${Status}' "$lib:arm64" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$lib:arm64")
	done
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	((${#missing[@]} == 0)) ||
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
			"${missing[@]}" >/dev/null
	mkdir -p "$cache/arm64-qemu"
	(cd "$cache/arm64-qemu" && apt-get download -q qemu-system-arm:arm64 >/dev/null &&
		dpkg-deb -x qemu-system-arm_*_arm64.deb root)
fi
exec tests/arm64-vm/run.sh --timeout 3000 --share build-arm64 -- \
	sh bench/arm64-inner.sh build-arm64 "$IMAGE" "$INITRD" "$runs" "$qemu"
