#!/usr/bin/env bash
# Proof benchmark (`make bench-proof`): what `"proof": true` (PROTOCOL.md §9,
# §10) costs a client of `vmdb serve` when the tree holds 1M leaves.
#
# It starts a private PostgreSQL 15 cluster (scripts/pgcluster.sh, fsync ON),
# creates the database vmdb_bench, starts `vmdb serve` on a free port and
# applies the table bench_rows (big_serial id; owner int, n int, payload
# jsonb) through POST /bootstrap/apply-schema, like bench/service.sh. Then
# bench/proof-load.mjs (Node, built-ins only) loads BENCH_ROWS rows through
# create-batch (the real write path: one leaf per row plus the id range
# leaf), and measures read-batch of 1 and 100 ids, read-latest limit 100 and
# create-batch of 1 and 100 rows, each without and with "proof": true,
# interleaved in the same run, at each client count; it verifies a sample of
# the proved answers with clients/js/src/protocol.mjs and prints requests/s,
# p50/p99 latency, answer and proof bytes, vmdb's CPU per request and the
# ratios proof / no-proof. Informational: the script exits 0 (non-zero only
# when something could not run).
#
# Environment (see bench/proof-load.mjs for the rest):
#   VMDB_BUILD      build directory holding vmdb (default build; use a release build)
#   BENCH_ROWS      rows loaded before measuring (default 1000000)
#   BENCH_CLIENTS   client counts (default "1 8")
#   BENCH_SCALE     multiplies the request count of every figure (default 1)
#   BENCH_ROUNDS    plain/proof alternations per figure (default 4)
#   BENCH_OPS       a subset of "read1 read100 latest100 create1 create100"
#   BENCH_KEEP      1 keeps the temporary directory (logs) after the run
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BUILD_DIR=${VMDB_BUILD:-build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
VMDB_BIN=$BUILD_DIR/vmdb

BENCH_NAME=bench-proof
# shellcheck source=bench/lib.sh
. bench/lib.sh
[ -x "$VMDB_BIN" ] || die "$VMDB_BIN not found (build first, or set VMDB_BUILD)"
command -v psql >/dev/null || die "psql not found (apt-get install postgresql-client-15)"
command -v curl >/dev/null || die "curl not found"
command -v node >/dev/null || die "node not found"
"$VMDB_BIN" help 2>&1 | grep -qw serve || die "this build of vmdb has no 'serve' command"

bench_start

echo "bench-proof: vmdb $(git rev-parse --short HEAD 2>/dev/null || echo ?)$(git diff --quiet HEAD -- src include 2>/dev/null || echo +local-changes) ($(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || echo '?')) on $BASE, PostgreSQL $(q 'SHOW server_version') (fsync=$(q 'SHOW fsync')), $(nproc) CPU core(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"

start=$(date +%s)
rc=0
node bench/proof-load.mjs --url "$BASE" --model bench_rows --pid "$vmdb_pid" || rc=$?
echo
echo "rows in bench_rows: $(q 'SELECT count(*) FROM bench_rows'), leaves: $(q 'SELECT count(*) FROM vmdb_leaves' 2>/dev/null || echo ?); health after the run: $(curl -fsS "$BASE/health" 2>/dev/null || echo ?)"
echo "bench-proof: $(( $(date +%s) - start )) s"
n=$(grep -ciE 'warn|error' "$TMP/vmdb.log" || true)
[ "$n" = 0 ] || echo "vmdb log: $n warning/error lines (first: $(grep -im1 -E 'warn|error' "$TMP/vmdb.log"))"
[ "$rc" = 0 ] || echo "bench-proof: the load generator reported failures (exit $rc); see above"
exit 0
