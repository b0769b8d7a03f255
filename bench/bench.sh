#!/usr/bin/env bash
# `make bench`: the performance targets of issue 14 (P1-P6), vmdb against
# plain PostgreSQL measured by pgbench, in one run on one private cluster.
#
#   bench/bench.sh [--quick] [--out FILE.json] [--rows N] [--sweep|--no-sweep]
#
# It starts a private PostgreSQL 15 cluster (scripts/pgcluster.sh, fsync ON)
# and `vmdb serve` through bench/lib.sh, applies a table like the seed's
# agents (serial id; name text unique, payload jsonb, created_at
# timestamptz) through POST /bootstrap/apply-schema and creates agents_pg,
# the same DDL under another name, for pgbench. Then, in ROUNDS rounds (the
# order of vmdb and pgbench alternating between rounds), each target's two
# sides back to back:
#
#   P1  create-batch of 1 row, 32 clients      pgbench bench/pgbench/insert1.sql, -c 32
#   P2  create-batch of 100 rows, 2 clients    pgbench insert100.sql (INSERT ... SELECT of 100), -c 2
#   P3  read-batch of 1 random id, 32 clients  pgbench select1.sql (PK SELECT row_to_json), -c 32
#   P3p P3 with "proof": true                  (P3's pgbench figure)
#
# vmdb's side is bench/loadgen.c (vmdb-loadgen: one keep-alive connection
# per client thread), pgbench runs -M prepared -j N -T, its per-transaction
# log giving p50/p99; both drop the first WARMUP second. Reads are over ids
# 1..K that both tables have (rows the writes made). The full run adds the
# throughput-vs-clients sweep (1, 8, 32, 128; writes and reads, both sides;
# plotted with gnuplot when it is installed). Then, with the service idle:
#
#   P4  `vmdb bench tree`: batch-of-1000 updates vs the hash floor, proof
#       verifications/s (parsed by their labels)
#   P5  N rows (10M; --quick 200k) loaded straight into agents with INSERT
#       ... SELECT generate_series, adopted with POST /bootstrap/repair-roots
#       (accept_changes), then vmdb restarted: seconds from launch to the
#       first 200 from /health, and its RSS / leaves (--rows 0 skips it)
#   P6  p50/p99 of P1 and P3 (from their runs)
#
# Prints the targets table (the figures, ratio, target and PASS/FAIL) and the
# same as markdown for docs/BENCHMARKS.md; writes FILE.json (default
# bench/out/bench-<date>.json) and beside it .md, and for the sweep .dat and
# .png. Informational: exits 0 whatever the verdicts, 1 when something could
# not run.
#
# Environment:
#   VMDB_BUILD       build directory holding vmdb and vmdb-loadgen (default build)
#   BENCH_SECONDS    measured seconds per run (default 10; --quick 4), after 1 s warm-up
#   BENCH_ROUNDS     rounds of P1-P3 (default 2; --quick 1)
#   BENCH_SWEEP_CLIENTS  client counts of the sweep (default "1 8 32 128")
#   BENCH_KEEP       1 keeps the temporary directory (logs, pgbench logs)
#   PGBENCH          pgbench binary (default /usr/lib/postgresql/15/bin/pgbench)
#   VMDB_HTTP_PER_IP_CONNECTIONS  passed to vmdb (default here 512: the sweep's 128 clients)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

usage() { sed -n '4p' "$0" | sed 's/^# *//' >&2; exit "$1"; }
QUICK=0 OUT="" SWEEP="" P5_ROWS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --out) [ $# -ge 2 ] || usage 2; OUT=$2; shift ;;
    --rows) [ $# -ge 2 ] || usage 2; P5_ROWS=$2; shift ;;
    --sweep) SWEEP=1 ;;
    --no-sweep) SWEEP=0 ;;
    -h|--help) usage 0 ;;
    *) usage 2 ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then
  SECS=${BENCH_SECONDS:-4} ROUNDS=${BENCH_ROUNDS:-1} P5_ROWS=${P5_ROWS:-200000} SWEEP=${SWEEP:-0}
else
  SECS=${BENCH_SECONDS:-10} ROUNDS=${BENCH_ROUNDS:-2} P5_ROWS=${P5_ROWS:-10000000} SWEEP=${SWEEP:-1}
fi
case "$P5_ROWS" in ''|*[!0-9]*) usage 2 ;; esac
WARMUP=1
SWEEP_CLIENTS=${BENCH_SWEEP_CLIENTS:-"1 8 32 128"}
C_P1=32 C_P2=2 C_P3=32
export VMDB_HTTP_PER_IP_CONNECTIONS=${VMDB_HTTP_PER_IP_CONNECTIONS:-512}

BUILD_DIR=${VMDB_BUILD:-build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
VMDB_BIN=$BUILD_DIR/vmdb
LOADGEN=$BUILD_DIR/vmdb-loadgen
PGBENCH=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
[ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench || echo "$PGBENCH")

BENCH_NAME=bench
# shellcheck source=bench/lib.sh
. bench/lib.sh
[ -x "$VMDB_BIN" ] || die "$VMDB_BIN not found (build first, or set VMDB_BUILD)"
[ -x "$LOADGEN" ] || die "$LOADGEN not found (needs libcurl's development files: scripts/install-deps.sh)"
[ -x "$PGBENCH" ] || die "pgbench not found (apt-get install postgresql-15)"
for tool in psql curl node; do command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh)"; done
"$VMDB_BIN" help 2>&1 | grep -qw serve || die "this build of vmdb has no 'serve' command"

if [ -z "$OUT" ]; then
  mkdir -p bench/out
  OUT=bench/out/bench-$(date -u +%Y%m%d-%H%M%S).json
fi
case "$OUT" in *.json) ;; *) OUT=$OUT.json ;; esac
mkdir -p "$(dirname "$OUT")"
OUT_BASE=${OUT%.json}

BENCH_SCHEMA='{"tables":[{"table_name":"agents","primary_key_field":"id","primary_key_kind":"serial",
 "columns":[{"name":"name","col_type":"text","unique":true,"nullable":false},
            {"name":"payload","col_type":"jsonb","nullable":false},
            {"name":"created_at","col_type":"timestamptz","nullable":false}]}]}'
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
bench_start
# The baseline table: vmdb's own DDL under another name, so both are identical.
ddl=$(q "SELECT create_table_sql FROM verifiable_models WHERE table_name = 'agents'")
[ -n "$ddl" ] || die "no create_table_sql for agents"
q "${ddl//\"agents\"/\"agents_pg\"}" >/dev/null
q "SELECT 1 FROM agents_pg LIMIT 0" >/dev/null

RUNS=$TMP/runs.txt
: >"$RUNS"
FAILED=()
commit="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src include 2>/dev/null || echo +local-changes)"
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || echo '?')
echo "bench: vmdb $commit ($build_type) on $BASE, PostgreSQL $(q 'SHOW server_version') (fsync=$(q 'SHOW fsync'), synchronous_commit=$(q 'SHOW synchronous_commit')), $("$PGBENCH" --version)"
echo "bench: $( [ "$QUICK" = 1 ] && echo '--quick, ' )${SECS} s per run after ${WARMUP} s warm-up, $ROUNDS round(s), $(nproc) CPU core(s) shared by the load generators, vmdb and PostgreSQL; load average $load_start"

# cpu_per_request <vmdb ticks before> <pg ticks before> <result line>: the CPU
# time vmdb and the whole PostgreSQL cluster used per request since, the
# requests of the warm-up estimated at the measured rate.
HZ=$(getconf CLK_TCK)
cpu_per_request() {
  local v1 p1 rps
  v1=$(ticks_of "$vmdb_pid"); p1=$(pg_ticks)
  rps=$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<<" $3")
  awk -v v=$((v1 - $1)) -v p=$((p1 - $2)) -v hz="$HZ" -v n="${rps:-0}" -v s=$((SECS + WARMUP)) \
    'BEGIN { n *= s; if (n < 1) n = 1; printf "vmdb_cpu_us=%.0f pg_cpu_us=%.0f", v * 1e6 / hz / n, p * 1e6 / hz / n }'
}

# vmdb_run <target> <round> <mode> <clients> <batch> [vmdb-loadgen options]
vmdb_run() {
  local t=$1 r=$2 mode=$3 c=$4 b=$5 line="" v0 p0
  shift 5
  v0=$(ticks_of "$vmdb_pid"); p0=$(pg_ticks)
  if ! line=$("$LOADGEN" "$mode" --url "$BASE" --model agents --clients "$c" --batch "$b" \
                --seconds "$SECS" --warmup "$WARMUP" "$@" 2>"$TMP/loadgen.err"); then
    FAILED+=("$t round $r vmdb-loadgen $mode -c $c: $(head -c 300 "$TMP/loadgen.err" | tr '\n' ' ')")
  fi
  if [ -s "$TMP/loadgen.err" ]; then sed 's/^/  /' "$TMP/loadgen.err" >&2; fi
  [ -n "$line" ] || line="mode=$mode clients=$c batch=$b ok=0 err=0"
  echo "target=$t side=vmdb round=$r $line $(cpu_per_request "$v0" "$p0" "$line")" | tee -a "$RUNS"
}

# pg_run <target> <round> <script> <clients> <batch> [pgbench options]
pg_run() {
  local t=$1 r=$2 script=$3 c=$4 b=$5 line d v0 p0
  shift 5
  d=$TMP/pgbench/$t-$r-$c
  rm -rf "$d" && mkdir -p "$d"
  v0=$(ticks_of "$vmdb_pid"); p0=$(pg_ticks)
  if ! "$PGBENCH" -n -M prepared -f "$ROOT/bench/pgbench/$script" -c "$c" -j "$c" -T $((SECS + WARMUP)) \
        --log --log-prefix="$d/log" "$@" "$DBURL" >"$d/out" 2>&1; then
    FAILED+=("$t round $r pgbench $script -c $c: $(tail -n 3 "$d/out" | tr '\n' ' ')")
    tail -n 5 "$d/out" | sed 's/^/  /' >&2
  fi
  line=$(node bench/report.mjs pgbench-log "$d" "$WARMUP" "$b")
  line="$line $(cpu_per_request "$v0" "$p0" "$line")"
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -f "$d"/log.*
  echo "target=$t side=pg round=$r mode=pgbench:$script clients=$c batch=$b $line" | tee -a "$RUNS"
}

# Ids both tables have (the writes of P1 and P2 made them).
read_max_id() {
  q "SELECT least((SELECT coalesce(max(id), 0) FROM agents), (SELECT coalesce(max(id), 0) FROM agents_pg))"
}

# --- P1, P2, P3, P3p: rounds, vmdb and pgbench alternating which goes first -----
# pair <round> <vmdb_run args> -- <pg_run args>: vmdb first in odd rounds.
pair() {
  local r=$1 v=() p=()
  shift
  while [ "$1" != -- ]; do v+=("$1"); shift; done
  shift
  p=("$@")
  if [ $((r % 2)) = 1 ]; then vmdb_run "${v[@]}"; pg_run "${p[@]}"; else pg_run "${p[@]}"; vmdb_run "${v[@]}"; fi
}
for r in $(seq 1 "$ROUNDS"); do
  echo "--- round $r of $ROUNDS"
  pair "$r" P1 "$r" http "$C_P1" 1 --shape agents -- P1 "$r" insert1.sql "$C_P1" 1
  pair "$r" P2 "$r" http "$C_P2" 100 --shape agents -- P2 "$r" insert100.sql "$C_P2" 100
  maxid=$(read_max_id)
  if [ "$maxid" -gt 0 ]; then
    pair "$r" P3 "$r" http-read "$C_P3" 1 --max-id "$maxid" -- P3 "$r" select1.sql "$C_P3" 1 -D "maxid=$maxid"
    vmdb_run P3p "$r" http-read "$C_P3" 1 --max-id "$maxid" --proof
  else
    FAILED+=("P3 round $r: no rows to read (the writes failed)")
  fi
done

# --- the sweep: throughput against concurrency -----------------------------------
if [ "$SWEEP" = 1 ]; then
  echo "--- sweep: clients $SWEEP_CLIENTS"
  for c in $SWEEP_CLIENTS; do
    vmdb_run sweep-write 1 http "$c" 1 --shape agents
    pg_run sweep-write 1 insert1.sql "$c" 1
  done
  maxid=$(read_max_id)
  for c in $SWEEP_CLIENTS; do
    vmdb_run sweep-read 1 http-read "$c" 1 --max-id "$maxid"
    pg_run sweep-read 1 select1.sql "$c" 1 -D "maxid=$maxid"
  done
fi

# --- P4: the tree benchmark (the service is idle) --------------------------------
echo "--- P4: vmdb bench tree$( [ "$QUICK" = 1 ] && echo ' --quick')"
tree_args=()
[ "$QUICK" = 1 ] && tree_args=(--quick)
if "$VMDB_BIN" bench tree "${tree_args[@]}" >"$TMP/tree.txt" 2>&1; then :; else
  FAILED+=("P4: vmdb bench tree exited $?")
fi
sed 's/^/  /' "$TMP/tree.txt"
# By label, so that lines added to its output do not matter: the first number
# on the line after the label; for proofs verified the best such line.
floor=$(awk '/^hash floor ratio/ { for (i = 4; i <= NF; i++) if ($i ~ /^[0-9]+(\.[0-9]+)?$/) { print $i; exit } }' "$TMP/tree.txt")
vps=$(awk '/^proofs verified/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+(\.[0-9]+)?$/) { if ($i + 0 > m) m = $i + 0; break } }
           END { if (m > 0) printf "%.0f", m }' "$TMP/tree.txt")
p4="target=P4"
if [ -n "$floor" ]; then p4+=" floor_ratio=$floor"; else FAILED+=("P4: no 'hash floor ratio' line"); fi
if [ -n "$vps" ]; then p4+=" verify_per_s=$vps"; else FAILED+=("P4: no 'proofs verified' line"); fi
echo "$p4" | tee -a "$RUNS"

# --- P5: restart of a big database ---------------------------------------------------
echo "--- P5: $P5_ROWS rows loaded with INSERT ... SELECT, adopted by repair-roots, vmdb restarted"
p5_run() {
  local t0 t1 ans load_s adopt_s rows leaves rss_kb health status
  t0=$(date +%s.%N)
  q "INSERT INTO agents (name, payload, created_at)
     SELECT 'p5-' || g, jsonb_build_object('k', lpad(g::text, 100, 'abcdefghijklmnopqrstuvwxyz')),
            timestamptz '2026-12-01 12:00:00+00' + g * interval '1 second'
     FROM generate_series(1, $P5_ROWS) g" >/dev/null || { FAILED+=("P5: the INSERT failed"); return; }
  t1=$(date +%s.%N)
  load_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  echo "  loaded in $load_s s; repair-roots..."
  ans=$(curl -sS -X POST -H 'Content-Type: application/json' --data '{"confirm":true,"accept_changes":true}' \
          "$BASE/bootstrap/repair-roots") || true
  t0=$(date +%s.%N)
  adopt_s=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.1f", b - a }')
  case "$ans" in *'"success":true'*) ;; *) FAILED+=("P5: repair-roots failed: ${ans:0:300}"); return ;; esac
  echo "  adopted in $adopt_s s; restarting vmdb..."
  vmdb_stop
  if ! vmdb_start 900; then FAILED+=("P5: vmdb did not answer /health within 900 s"); return; fi
  rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$vmdb_pid/status")
  health=$(curl -sS "$BASE/health" || true)
  status=$(sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' <<<"$health")
  rows=$(q "SELECT count(*) FROM agents")
  leaves=$(q "SELECT count(*) FROM vmdb_leaves")
  echo "target=P5 rows=$rows leaves=$leaves load_s=$load_s adopt_s=$adopt_s restart_s=$VMDB_START_S" \
       "rss_mb=$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')" \
       "bytes_per_leaf=$(awk -v k="$rss_kb" -v n="$leaves" 'BEGIN { printf "%.1f", n ? k * 1024 / n : 0 }')" \
       "health_status=${status:-?}" | tee -a "$RUNS"
  [ "$status" = ok ] || FAILED+=("P5: /health after the restart: ${health:0:300}")
  grep -E 'start-up' "$TMP/vmdb.log" | tail -n 4 | sed 's/^/  vmdb: /'
}
if [ "$P5_ROWS" -gt 0 ]; then p5_run; else echo "  skipped (--rows 0)"; fi

# --- report ----------------------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
cat >"$TMP/meta.json" <<EOF
{"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "commit": "$commit", "build_type": "$build_type",
 "cpu": "${cpu//\"/}", "cores": $(nproc), "mem_gib": $mem, "kernel": "$(uname -r)",
 "postgresql": "$(q 'SHOW server_version')", "fsync": "$(q 'SHOW fsync')", "pgbench": "$("$PGBENCH" --version)",
 "quick": $( [ "$QUICK" = 1 ] && echo true || echo false ), "seconds": $SECS, "warmup": $WARMUP, "rounds": $ROUNDS,
 "clients": {"P1": $C_P1, "P2": $C_P2, "P3": $C_P3}, "p5_rows_loaded": $P5_ROWS,
 "vmdb_http_per_ip_connections": $VMDB_HTTP_PER_IP_CONNECTIONS,
 "load_average_start": "$load_start", "load_average_end": "$load_end", "wall_s": $(( $(date +%s) - started ))}
EOF
echo
echo "=== targets (vmdb $commit, $(date -u +%Y-%m-%d), $(nproc) cores, load average $load_start -> $load_end)"
node bench/report.mjs report "$RUNS" "$TMP/meta.json" "$OUT" "$OUT_BASE.md" "$OUT_BASE.dat" || FAILED+=("the report failed")
echo
echo "markdown (for docs/BENCHMARKS.md), also in $OUT_BASE.md:"
cat "$OUT_BASE.md" 2>/dev/null || true
if [ -f "$OUT_BASE.dat" ]; then
  if command -v gnuplot >/dev/null; then
    gnuplot <<EOF || FAILED+=("gnuplot failed")
set terminal pngcairo size 1100,480 font 'sans,10'
set output '$OUT_BASE.png'
set multiplot layout 1,2 title 'vmdb serve vs PostgreSQL 15 (pgbench -M prepared), fsync on, $(nproc) cores shared by clients and servers, ${SECS} s per point'
set logscale x 2
set xrange [0.8:$(( $(tr ' ' '\n' <<<"$SWEEP_CLIENTS" | sort -n | tail -n 1) * 5 / 4 ))]
set xtics ($(tr ' ' '\n' <<<"$SWEEP_CLIENTS" | grep . | paste -sd, -))
set xlabel 'clients (keep-alive connections)'
set ylabel 'requests/s'
set yrange [0:*]
set key top left
set offsets 0, 0, graph 0.2, 0
set grid
set title 'writes: one row per request'
plot '$OUT_BASE.dat' using 1:2 with linespoints lw 2 pt 7 title 'vmdb create-batch of 1', \
     '' using 1:3 with linespoints lw 2 pt 5 title 'PostgreSQL INSERT (autocommit)'
set title 'reads: one random id per request'
plot '$OUT_BASE.dat' using 1:4 with linespoints lw 2 pt 7 title 'vmdb read-batch of 1', \
     '' using 1:5 with linespoints lw 2 pt 5 title 'PostgreSQL PK SELECT row\_to\_json'
unset multiplot
EOF
    [ -f "$OUT_BASE.png" ] && echo "plot: $OUT_BASE.png"
  else
    echo "plot: skipped (gnuplot not installed: apt-get install gnuplot-nox); data in $OUT_BASE.dat"
  fi
fi
echo "results: $OUT ($(( $(date +%s) - started )) s)"
n=$(grep -ciE 'warn|error' "$TMP/vmdb.log" || true)
[ "$n" = 0 ] || echo "vmdb log: $n warning/error lines (first: $(grep -im1 -E 'warn|error' "$TMP/vmdb.log"))"
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "bench: some parts could not run:" >&2
  printf '  %s\n' "${FAILED[@]}" >&2
  exit 1
fi
exit 0
