#!/usr/bin/env bash
# Set-up + build + every test: unit tests, the integration tests that boot guests on
# /dev/kvm, the arm64 build's tests in a nested arm64 machine (QEMU TCG), the unit and
# test-guest integration tests again under ASan+UBSan, and a short run of each libFuzzer
# target over its seed corpus.
#
# Where /dev/kvm is absent (a host that is itself a guest without nested
# virtualisation), the integration tests run inside a QEMU TCG VM whose emulated
# AMD SVM gives them a real /dev/kvm (tests/kvm-vm/README.md).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --libvirt build
# arm64: a cross build, run by the arm64 suite in a nested arm64 machine (tests/arm64/).
scripts/setup-arm64.sh build-arm64
# The Linux guests are built (or taken from the cache) before the tests so that their
# build time does not count against a test's timeout.
guests/linux/build.sh >/dev/null
guests/linux-arm64/build.sh "${TIDE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tide}/linux-arm64/out" >/dev/null
tests/arm64-vm/run.sh --prepare
if [ ! -f build-asan/build.ninja ]; then
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C build-asan
# The libFuzzer targets (clang, ASan+UBSan): a short bounded run of each over its seed
# corpus, so that one that stops building or crashes fails here (fuzz/run.sh SECONDS fuzzes).
if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=disabled -Dguests=false \
		-Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C build-fuzz

status=0
rm -f build/meson-logs/testlog*.json build-asan/meson-logs/testlog*.json \
	build-fuzz/meson-logs/testlog*.json
logs=(build/meson-logs/testlog.json build-asan/meson-logs/testlog-asan.json
      build-fuzz/meson-logs/testlog-fuzz.json)
if [ -e /dev/kvm ]; then
	meson test -C build --print-errorlogs || status=1
else
	meson test -C build --no-suite integration --print-errorlogs || status=1
	echo "test.sh: /dev/kvm is absent on this machine; running the integration tests" \
		"inside a QEMU TCG VM with nested KVM (tests/kvm-vm/run.sh)"
	tests/kvm-vm/run.sh --cpus 1 --timeout 3000 -- \
		meson test -C build --suite integration --no-rebuild --print-errorlogs \
		--logbase testlog-kvm-vm || status=1
	logs+=(build/meson-logs/testlog-kvm-vm.json)
fi
# The unit tests, and the integration tests that boot the test guest (the Linux ones take
# minutes each), with tide and tidectl built with ASan+UBSan: memory errors and leaks on the
# paths a real VM takes fail them.
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --suite unit --suite integration --no-suite linux \
	--print-errorlogs --logbase testlog-asan || status=1
meson test -C build-fuzz --suite fuzz --print-errorlogs --logbase testlog-fuzz || status=1
# The layering (docs/architecture.md): no include cycle between modules, each layer using
# only those below it, no .c file over 600 lines.
python3 scripts/check-structure.py || status=1
python3 scripts/summarize-tests.py "${logs[@]}"
exit $status
