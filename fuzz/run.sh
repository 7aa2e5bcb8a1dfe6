#!/usr/bin/env bash
# Runs Tide's libFuzzer targets on a scratch copy of their seed corpora (fuzz/corpus/NAME),
# so the repository is never written. Crashes land in the current directory.
#   fuzz/run.sh [--build DIR] SECONDS [TARGET...]      each target for SECONDS
#   fuzz/run.sh [--build DIR] --runs N [TARGET...]     each target for N inputs
# The build directory is made with: CC=clang meson setup build-fuzz -Dfuzz=true
#   -Dtests=disabled -Dguests=false -Db_sanitize=address,undefined -Db_lundef=false
set -euo pipefail
# Undefined behaviour is a finding like a crash, not a line in a log.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build-fuzz
limit=()
while (($#)); do
	case $1 in
	--build) build=$2; shift 2 ;;
	--runs) limit=(-runs="$2"); shift 2 ;;
	*) break ;;
	esac
done
if ((${#limit[@]} == 0)); then
	[ $# -ge 1 ] || { echo "usage: fuzz/run.sh [--build DIR] SECONDS|--runs N [TARGET...]" >&2; exit 2; }
	limit=(-max_total_time="$1")
	shift
fi
targets=("$@")
((${#targets[@]})) || targets=(qmp loaders cmdline vmem pci)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for t in "${targets[@]}"; do
	mkdir -p "$scratch/$t"
	echo "fuzz/run.sh: $t (${limit[*]})"
	if ! "$build/fuzz/fuzz_$t" "${limit[@]}" -max_len=65536 -print_final_stats=1 \
		"$scratch/$t" "$here/corpus/$t" >"$scratch/$t.log" 2>&1; then
		status=1
		tail -n 60 "$scratch/$t.log"
	fi
	grep -E '^(stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)' "$scratch/$t.log" || true
done
exit $status
