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

die() { echo "bench-proof: $*" >&2; exit 1; }
[ -x "$VMDB_BIN" ] || die "$VMDB_BIN not found (build first, or set VMDB_BUILD)"
command -v psql >/dev/null || die "psql not found (apt-get install postgresql-client-15)"
command -v curl >/dev/null || die "curl not found"
command -v node >/dev/null || die "node not found"
"$VMDB_BIN" help 2>&1 | grep -qw serve || die "this build of vmdb has no 'serve' command"

TMP=$(mktemp -d /tmp/vmdb-bench-proof.XXXXXX)
chmod 755 "$TMP" # the cluster runs as the postgres user and must reach $TMP/pg
PGDIR=$TMP/pg
vmdb_pid=""
pg_started=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$vmdb_pid" ] && kill -0 "$vmdb_pid" 2>/dev/null; then
    kill -INT "$vmdb_pid" 2>/dev/null || true
    wait "$vmdb_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_started" ]; then
    scripts/pgcluster.sh destroy "$PGDIR" 2>/dev/null || true
  fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    echo "bench-proof: kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local p i
  for i in $(seq 1 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if port_free "$p"; then echo "$p"; return; fi
  done
  die "no free port found"
}

# --- PostgreSQL ---------------------------------------------------------
PGURL=$(PGCLUSTER_NO_FSYNC=0 scripts/pgcluster.sh start "$PGDIR" auto --fsync)
pg_started=1
DBURL=${PGURL%/postgres}/vmdb_bench
psql -qAt -v ON_ERROR_STOP=1 "$PGURL" -c "CREATE DATABASE vmdb_bench" >/dev/null
q() { psql -qAt -v ON_ERROR_STOP=1 "$DBURL" -c "$1"; }

# --- vmdb ---------------------------------------------------------------
VPORT=$(pick_port)
BASE=http://127.0.0.1:$VPORT
mkdir -p "$TMP/data"
(cd "$TMP" && exec env DATABASE_URL="$DBURL" VMDB_LISTEN="127.0.0.1:$VPORT" VMDB_DATA_DIR="$TMP/data" \
   "$VMDB_BIN" serve) >"$TMP/vmdb.log" 2>&1 &
vmdb_pid=$!
for _ in $(seq 1 150); do
  curl -fsS "$BASE/health" >/dev/null 2>&1 && break
  kill -0 "$vmdb_pid" 2>/dev/null || { tail -n 20 "$TMP/vmdb.log" >&2; die "vmdb serve exited"; }
  sleep 0.2
done
curl -fsS "$BASE/health" >/dev/null || { tail -n 20 "$TMP/vmdb.log" >&2; die "vmdb did not answer /health"; }

schema='{"tables":[{"table_name":"bench_rows","primary_key_field":"id","primary_key_kind":"big_serial",
 "columns":[{"name":"owner","col_type":"int"},{"name":"n","col_type":"int"},{"name":"payload","col_type":"jsonb"}]}]}'
ans=$(curl -sS -X POST -H 'Content-Type: application/json' --data "$schema" "$BASE/bootstrap/apply-schema")
case "$ans" in *'"success":true'*) ;; *) die "apply-schema failed: $ans" ;; esac

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
