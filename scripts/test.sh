#!/usr/bin/env bash
# Builds and runs every test: the release build with -Werror, the
# integration tests (tests/integration: `vmdb serve` on a private PostgreSQL
# cluster, driven over HTTP by node:test), the client conformance suite
# (tests/conformance, on the same cluster), the same unit tests again under
# AddressSanitizer + UBSan, and a short libFuzzer run of each fuzz target.
# Used by `make test` and by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)

echo "== release build (-Werror) and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMDB_WERROR=ON >/dev/null
cmake --build build -j "$JOBS"
(cd build && ctest --output-on-failure -j "$JOBS")

echo "== solana-local (the Solana runtime behind a local JSON-RPC server) tests"
(cd tools/solana-local && node vectors.mjs --check && node --test --test-timeout=120000 test/)

# The integration tests run twice: against the release build and against the
# ASan + UBSan build (where the harness fails a test whose server log holds a
# sanitizer report), then the crash test against the ASan build. One private
# cluster (fsync off) serves all three; each test file makes its own
# databases in it. Stopped and deleted on the way out.
it_dir=$(mktemp -d /tmp/vmdb-it.XXXXXX)
chmod 755 "$it_dir"
trap 'scripts/pgcluster.sh destroy "$it_dir/pg" >/dev/null 2>&1 || true; rm -rf "$it_dir"' EXIT
run_integration() {
  if [ -z "${VMDB_TEST_PG_URL:-}" ]; then
    VMDB_TEST_PG_URL=$(scripts/pgcluster.sh start "$it_dir/pg" auto --no-fsync)
    export VMDB_TEST_PG_URL
  fi
  VMDB_BIN=$1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    node --test --test-concurrency=2 --test-timeout=240000 tests/integration/
}

echo "== integration tests (real PostgreSQL, real HTTP)"
run_integration build/vmdb

echo "== ASan + UBSan build and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVMDB_WERROR=ON -DVMDB_SANITIZE=ON \
      -DVMDB_TEST_HOOKS=ON -DCMAKE_C_FLAGS=-O1 >/dev/null
cmake --build build-asan -j "$JOBS"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   VMDB_TEST_SCALE=${VMDB_ASAN_TEST_SCALE:-4} ctest --output-on-failure -j "$JOBS")

# Both clients (clients/js, clients/python) on the protocol vectors and
# against real servers (tampered answers, state file, rollback, fork, the
# agent-memory examples, solana-local), on the same cluster:
# tests/conformance/README.md. The release server, except for one server
# made to hide a row, which only the test-hooks build can be.
echo "== client conformance (clients/js + clients/python: vectors, live server, examples, solana-local)"
VMDB_BIN=build/vmdb VMDB_HOOK_BIN=build-asan/vmdb node tests/conformance/run.mjs

# This build has the test hooks: a test that needs them fails instead of
# skipping (tests/integration/lib.mjs skipWithoutHooks).
echo "== integration tests again, against the ASan + UBSan server (with the test hooks)"
VMDB_EXPECT_TEST_HOOKS=1 run_integration build-asan/vmdb

# Crash test (tests/crash/crash.mjs): concurrent writers, kill -9 and the
# test-only hook between the intent and COMMIT, restart, nothing lost, no
# false alarm. Same cluster; VMDB_CRASH_CYCLES=200 for a long local run.
echo "== crash test (${VMDB_CRASH_CYCLES:-20} cycles, ASan + UBSan server)"
VMDB_CRASH_CYCLES=${VMDB_CRASH_CYCLES:-20} VMDB_BIN=build-asan/vmdb \
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  node tests/crash/crash.mjs
scripts/pgcluster.sh destroy "$it_dir/pg" >/dev/null
rm -rf "$it_dir"
trap - EXIT

# The fuzz targets are built with -fsanitize=fuzzer,address,undefined
# (fuzz/CMakeLists.txt); fuzz_http feeds raw requests through libmicrohttpd
# and src/server/http.c (framing, request ids, deadlines, body cap, API
# keys, routing), the integration tests against build-asan above the rest.
echo "== fuzz smoke (libFuzzer, ${VMDB_FUZZ_SECONDS:-10}s per target)"
scripts/fuzz.sh "${VMDB_FUZZ_SECONDS:-10}"
