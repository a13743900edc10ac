#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit (cmocka),
# fuzz-corpus replays and integration tests, first in an ordinary build,
# then again under AddressSanitizer and UndefinedBehaviorSanitizer, then
# compiles the release build (its optimiser warns differently), and
# finally runs each libFuzzer harness for a short run.
#
#   FUZZ_SECONDS=N   seconds per harness in the libFuzzer run (default 10;
#                    0 skips the run but still builds the harnesses)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

./scripts/deps.sh --test

echo "== ordinary build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBULWARK_FAULT_INJECTION=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== sanitizer build (address, undefined)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBULWARK_SANITIZE=ON \
	-DBULWARK_FAULT_INJECTION=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build-asan --output-on-failure -j"$jobs"

echo "== release build (what scripts/run.sh builds: -O2 warnings differ)"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null
cmake --build build-release -j"$jobs" >/dev/null

echo "== libFuzzer harnesses (clang)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DBULWARK_FUZZ=ON \
	-DBUILD_TESTING=OFF >/dev/null
cmake --build build-fuzz -j"$jobs"
secs=${FUZZ_SECONDS:-10}
if [ "$secs" -gt 0 ]; then
	for h in build-fuzz/tests/fuzz/fuzz_*; do
		name=${h##*/fuzz_}
		work=$(mktemp -d)
		cp -r "tests/fuzz/$name/corpus/." "$work/"
		echo "fuzzing $name for ${secs}s"
		"$h" -max_total_time="$secs" -print_final_stats=0 "$work" \
			>"$work.log" 2>&1 || { tail -50 "$work.log"; rm -rf "$work" "$work.log"; exit 1; }
		rm -rf "$work" "$work.log"
	done
fi
echo "all tests passed"
