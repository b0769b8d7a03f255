#!/usr/bin/env bash
# Builds and runs every test: the release build with -Werror, the same
# tests again under AddressSanitizer + UBSan, and a short libFuzzer run of
# each fuzz target. Used by `make test` and by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)

echo "== release build (-Werror) and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMDB_WERROR=ON >/dev/null
cmake --build build -j "$JOBS"
(cd build && ctest --output-on-failure -j "$JOBS")

echo "== ASan + UBSan build and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVMDB_WERROR=ON -DVMDB_SANITIZE=ON \
      -DCMAKE_C_FLAGS=-O1 >/dev/null
cmake --build build-asan -j "$JOBS"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   VMDB_TEST_SCALE=${VMDB_ASAN_TEST_SCALE:-4} ctest --output-on-failure -j "$JOBS")

echo "== fuzz smoke (libFuzzer, ${VMDB_FUZZ_SECONDS:-10}s per target)"
scripts/fuzz.sh "${VMDB_FUZZ_SECONDS:-10}"
