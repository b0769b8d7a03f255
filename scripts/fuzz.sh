#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for N seconds
# (default 60) on a copy of its committed corpus. New inputs that raise
# coverage stay in build-fuzz/corpus; copy interesting ones into fuzz/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
JOBS=$(nproc 2>/dev/null || echo 2)
if ! command -v clang >/dev/null; then
  echo "fuzz: clang not found, skipping" >&2
  exit 0
fi
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMDB_FUZZ=ON \
  -DVMDB_WERROR=ON >/dev/null
cmake --build build-fuzz -j "$JOBS" --target fuzz_jcs fuzz_proof fuzz_tree fuzz_request fuzz_soltx fuzz_verify fuzz_header fuzz_http
for t in fuzz_jcs fuzz_proof fuzz_tree fuzz_request fuzz_soltx fuzz_verify fuzz_header fuzz_http; do
  mkdir -p build-fuzz/corpus/$t
  cp -n fuzz/corpus/$t/* build-fuzz/corpus/$t/ 2>/dev/null || true
  echo "fuzz: $t for ${SECS}s"
  build-fuzz/$t -max_total_time="$SECS" -max_len=4096 -print_final_stats=1 \
    build-fuzz/corpus/$t 2>&1 | tail -n 3
done
