#!/usr/bin/env bash
# Service benchmark (`make bench-service`): vmdb serve against plain
# PostgreSQL doing the same inserts and reads at the same concurrency, both
# measured in the same run on the same PostgreSQL cluster.
#
# It starts a private PostgreSQL 15 cluster (scripts/pgcluster.sh, fsync ON),
# creates the database vmdb_bench, starts `vmdb serve` on a free port, applies
# the table bench_rows (big_serial id; owner int, n int, payload jsonb)
# through POST /bootstrap/apply-schema and creates bench_rows_pg, the same
# table under another name, with psql. Then, for every client count and batch
# size, it runs `vmdb-loadgen http` (create-batch through vmdb) and
# `vmdb-loadgen pg` (the same INSERT ... RETURNING row_to_json straight to
# PostgreSQL, one autocommit transaction per request), then the reads at the
# highest client count, and prints a table, the ratio vmdb/pg of rows/s for
# each pair, and PASS/FAIL for the target "vmdb writes/s >= PostgreSQL
# writes/s at 32 clients, batch 1". The verdict is informational: the script
# exits 0 either way (non-zero only when something could not run).
#
# Environment:
#   VMDB_BUILD     build directory holding vmdb and vmdb-loadgen (default build)
#   BENCH_SECONDS  measured seconds per run (default 5; each run also warms up 1 s)
#   BENCH_CLIENTS  client counts (default "1 8 32")
#   BENCH_BATCHES  records per request (default "1 10")
#   BENCH_KEEP     1 keeps the temporary directory (logs) after the run
#
# Besides throughput it reports, per run, the CPU time that vmdb, PostgreSQL
# (all processes of the private cluster) and the load generator used per
# request, WAL flushes per second, and for vmdb the mean number of requests
# per group commit (requests / vmdb_state.seq increments).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BUILD_DIR=${VMDB_BUILD:-build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
VMDB_BIN=$BUILD_DIR/vmdb
LOADGEN=$BUILD_DIR/vmdb-loadgen
SECONDS_PER_RUN=${BENCH_SECONDS:-5}
CLIENTS=${BENCH_CLIENTS:-"1 8 32"}
BATCHES=${BENCH_BATCHES:-"1 10"}
WARMUP=1

BENCH_NAME=bench-service
# shellcheck source=bench/lib.sh
. bench/lib.sh
[ -x "$VMDB_BIN" ] || die "$VMDB_BIN not found (build first, or set VMDB_BUILD)"
[ -x "$LOADGEN" ] || die "$LOADGEN not found (needs libcurl's development files: scripts/install-deps.sh)"
command -v psql >/dev/null || die "psql not found (apt-get install postgresql-client-15)"
command -v curl >/dev/null || die "curl not found"
"$VMDB_BIN" help 2>&1 | grep -qw serve || die "this build of vmdb has no 'serve' command"

bench_start
# The baseline table: vmdb's own DDL under another name, so both are identical.
ddl=$(q "SELECT create_table_sql FROM verifiable_models WHERE table_name = 'bench_rows'")
[ -n "$ddl" ] || die "no create_table_sql for bench_rows"
q "${ddl//\"bench_rows\"/\"bench_rows_pg\"}" >/dev/null
q "SELECT 1 FROM bench_rows_pg LIMIT 0" >/dev/null

# --- measurement helpers ------------------------------------------------
HZ=$(getconf CLK_TCK)
wal_syncs() { q "SELECT wal_sync FROM pg_stat_wal"; }
vmdb_seq() { curl -fsS "$BASE/health" | sed -n 's/.*"seq":\([0-9]*\).*/\1/p'; }
rowcount() { q "SELECT count(*) FROM $1"; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

RESULTS=$TMP/results.txt
: >"$RESULTS"

# run <system vmdb|pg> <mode> <clients> <batch> [max-id]
run() {
  local sys=$1 mode=$2 c=$3 b=$4 maxid=${5:-}
  local args=(--clients "$c" --batch "$b" --seconds "$SECONDS_PER_RUN" --warmup "$WARMUP")
  [ -n "$maxid" ] && args+=(--max-id "$maxid")
  if [ "$sys" = vmdb ]; then args+=(--url "$BASE"); else args+=(--dsn "$DBURL"); fi
  local table=bench_rows; [ "$sys" = pg ] && table=bench_rows_pg
  local v0 p0 w0 s0 r0 v1 p1 w1 s1 r1 line
  case "$mode" in http|pg) r0=$(rowcount "$table") ;; *) r0=0 ;; esac
  s0=$(vmdb_seq); w0=$(wal_syncs); v0=$(ticks_of "$vmdb_pid"); p0=$(pg_ticks)
  if ! line=$("$LOADGEN" "$mode" "${args[@]}" 2>"$TMP/loadgen.err"); then
    cat "$TMP/loadgen.err" >&2
    [ -n "$line" ] || die "vmdb-loadgen $mode failed"
  fi
  v1=$(ticks_of "$vmdb_pid"); p1=$(pg_ticks); w1=$(wal_syncs); s1=$(vmdb_seq)
  case "$mode" in http|pg) r1=$(rowcount "$table") ;; *) r1=0 ;; esac
  [ -s "$TMP/loadgen.err" ] && sed 's/^/  /' "$TMP/loadgen.err" >&2
  local ok secs wall reqs
  ok=$(field ok "$line")
  secs=$SECONDS_PER_RUN
  wall=$(( secs + WARMUP ))
  # Requests over the whole run (warm-up included), for per-request figures.
  if [ "$r1" -gt "$r0" ]; then reqs=$(( (r1 - r0) / b )); else reqs=$(awk -v o="$ok" -v s="$secs" -v w="$wall" 'BEGIN{printf "%d", o*w/s}'); fi
  [ "$reqs" -gt 0 ] || reqs=1
  local extra
  extra=$(awk -v vt=$((v1 - v0)) -v pt=$((p1 - p0)) -v lg="$(field loadgen_cpu_s "$line")" -v hz="$HZ" \
              -v n="$reqs" -v ws=$((w1 - w0)) -v wall="$wall" -v sq=$((s1 - s0)) -v sys="$sys" -v mode="$mode" \
    'BEGIN { us = 1e6 / hz / n;
             g = (sys == "vmdb" && (mode == "http") && sq > 0) ? sprintf("%.1f", n / sq) : "-";
             printf "vmdb_cpu_us=%.0f pg_cpu_us=%.0f loadgen_cpu_us=%.0f wal_syncs_per_s=%.0f group=%s",
                    vt * us, pt * us, lg * 1e6 / n, ws / wall, g }')
  echo "system=$sys $line $extra" | tee -a "$RESULTS"
}

echo "bench-service: vmdb $(git rev-parse --short HEAD 2>/dev/null || echo ?)$(git diff --quiet HEAD -- src include 2>/dev/null || echo +local-changes) on $BASE, PostgreSQL $(q 'SHOW server_version') (fsync=$(q 'SHOW fsync'), synchronous_commit=$(q 'SHOW synchronous_commit')), ${SECONDS_PER_RUN}s per run after ${WARMUP}s warm-up"
echo "bench-service: note: the load generator, vmdb and PostgreSQL all share this machine's $(nproc) CPU core(s); the figures are for that setup, not for a dedicated server"
max_c=0
for c in $CLIENTS; do [ "$c" -gt "$max_c" ] && max_c=$c; done
for c in $CLIENTS; do
  for b in $BATCHES; do
    run vmdb http "$c" "$b"
    run pg pg "$c" "$b"
  done
done
# Reads over the ids both tables have.
mv=$(q "SELECT coalesce(max(id), 0) FROM bench_rows"); mp=$(q "SELECT coalesce(max(id), 0) FROM bench_rows_pg")
maxid=$(( mv < mp ? mv : mp ))
if [ "$maxid" -gt 0 ]; then
  for b in $BATCHES; do
    run vmdb http-read "$max_c" "$b" "$maxid"
    run pg pg-read "$max_c" "$b" "$maxid"
  done
fi
curl -fsS "$BASE/health" >"$TMP/health.json" || true

# --- report -------------------------------------------------------------
echo
echo "rows: bench_rows $(rowcount bench_rows), bench_rows_pg $(rowcount bench_rows_pg); reads over ids 1..$maxid"
awk '
function f(line, k,   i, n, a, kv) {
  n = split(line, a, " ")
  for (i = 1; i <= n; i++) { split(a[i], kv, "="); if (kv[1] == k) return kv[2] }
  return ""
}
{ L[NR] = $0 }
END {
  printf "\n%-6s %7s %5s | %9s %10s %7s %7s %5s | %9s %10s %7s %7s | %6s\n", "op", "clients", "batch",
         "vmdb rps", "rows/s", "p50 ms", "p99 ms", "group", "pg rps", "rows/s", "p50 ms", "p99 ms", "ratio"
  for (i = 1; i + 1 <= NR; i += 2) {
    v = L[i]; p = L[i + 1]
    op = (f(v, "mode") == "http") ? "write" : "read"
    pr = f(p, "rows_per_s") + 0
    ratio = pr > 0 ? (f(v, "rows_per_s") + 0) / pr : 0
    printf "%-6s %7s %5s | %9s %10s %7s %7s %5s | %9s %10s %7s %7s | %6.2f\n", op, f(v, "clients"), f(v, "batch"),
           f(v, "rps"), f(v, "rows_per_s"), f(v, "p50_ms"), f(v, "p99_ms"), f(v, "group"),
           f(p, "rps"), f(p, "rows_per_s"), f(p, "p50_ms"), f(p, "p99_ms"), ratio
  }
  printf "\nCPU time per request in microseconds (vmdb process, PostgreSQL cluster, load generator;\n"
  printf "warm-up included) and WAL flushes per second, for the vmdb run and the PostgreSQL run:\n"
  printf "%-6s %7s %5s | %6s %6s %6s %7s | %6s %6s %7s\n", "", "", "", "vmdb:", "", "", "", "pg:", "", ""
  printf "%-6s %7s %5s | %6s %6s %6s %7s | %6s %6s %7s\n", "op", "clients", "batch", "vmdb", "pg", "lg", "wal/s",
         "pg", "lg", "wal/s"
  for (i = 1; i + 1 <= NR; i += 2) {
    v = L[i]; p = L[i + 1]
    op = (f(v, "mode") == "http") ? "write" : "read"
    printf "%-6s %7s %5s | %6s %6s %6s %7s | %6s %6s %7s\n", op, f(v, "clients"), f(v, "batch"),
           f(v, "vmdb_cpu_us"), f(v, "pg_cpu_us"), f(v, "loadgen_cpu_us"), f(v, "wal_syncs_per_s"),
           f(p, "pg_cpu_us"), f(p, "loadgen_cpu_us"), f(p, "wal_syncs_per_s")
  }
  printf "\n"
  for (i = 1; i + 1 <= NR; i += 2) {
    v = L[i]; p = L[i + 1]
    op = (f(v, "mode") == "http") ? "write" : "read"
    pr = f(p, "rows_per_s") + 0
    r = pr > 0 ? (f(v, "rows_per_s") + 0) / pr : 0
    printf "ratio vmdb/pg rows_per_s=%.2f (%s, clients=%s, batch=%s)\n", r, op, f(v, "clients"), f(v, "batch")
  }
}' "$RESULTS"

target=$(awk -v c="$max_c" '
function f(line, k,   i, n, a, kv) {
  n = split(line, a, " ")
  for (i = 1; i <= n; i++) { split(a[i], kv, "="); if (kv[1] == k) return kv[2] }
  return ""
}
{ if (f($0, "clients") == c && f($0, "batch") == 1) { if (f($0, "mode") == "http") v = f($0, "rows_per_s"); if (f($0, "mode") == "pg") p = f($0, "rows_per_s") } }
END { if (v == "" || p == "") print "SKIP"; else printf "%s %.1f %.1f %.2f\n", (v + 0 >= p + 0) ? "PASS" : "FAIL", v, p, (p > 0 ? v / p : 0) }' "$RESULTS")
echo
if [ "$target" = SKIP ]; then
  echo "target (vmdb writes/s >= PostgreSQL writes/s at $max_c clients, batch 1): not measured (needs batch 1 and $max_c clients)"
else
  # shellcheck disable=SC2086 # four words on purpose
  set -- $target
  echo "target: vmdb writes/s >= PostgreSQL writes/s at $max_c clients, batch 1: vmdb $2, PostgreSQL $3 rows/s (ratio $4)"
  echo "$1"
fi
echo "health after the run: $(cat "$TMP/health.json" 2>/dev/null)"
n=$(grep -ciE 'warn|error' "$TMP/vmdb.log" || true)
[ "$n" = 0 ] || echo "vmdb log: $n warning/error lines (first: $(grep -im1 -E 'warn|error' "$TMP/vmdb.log"))"
exit 0
