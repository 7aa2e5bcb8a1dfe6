#!/usr/bin/env bash
# Set-up + build + every test: unit tests, the same unit tests under ASan+UBSan,
# and the integration tests that boot guests on /dev/kvm.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh build
# The Linux guest is built (or taken from the cache) before the tests so that its
# build time does not count against a test's timeout.
guests/linux/build.sh >/dev/null
if [ ! -f build-asan/build.ninja ]; then
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dguests=false
fi
ninja -C build-asan

status=0
meson test -C build --print-errorlogs || status=1
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --suite unit --print-errorlogs || status=1
python3 scripts/summarize-tests.py build/meson-logs/testlog.json build-asan/meson-logs/testlog.json
exit $status
