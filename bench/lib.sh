# shellcheck shell=bash
# Shared by the service benchmarks (bench/service.sh, bench/proof.sh,
# bench/bench.sh): a temporary directory cleaned up on exit, a private
# PostgreSQL cluster with fsync on, `vmdb serve` on a free port, and the
# bench_rows table (or $BENCH_SCHEMA, an apply-schema body) applied through
# the API. Sourced after the caller has set BENCH_NAME (for messages),
# VMDB_BIN and cd'ed to the repository root. vmdb inherits the caller's
# environment (e.g. VMDB_HTTP_PER_IP_CONNECTIONS).
#
# After bench_start: TMP, PGDIR, PGURL, DBURL, q (psql on DBURL), VPORT,
# BASE (http://127.0.0.1:port), vmdb_pid, POSTMASTER_PID (ticks_of, pg_ticks); vmdb_stop and vmdb_start restart
# vmdb on the same port, database and data directory.

die() { echo "$BENCH_NAME: $*" >&2; exit 1; }

vmdb_pid=""
pg_started=""

bench_cleanup() {
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
    echo "$BENCH_NAME: kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if port_free "$p"; then echo "$p"; return; fi
  done
  die "no free port found"
}

q() { psql -qAt -v ON_ERROR_STOP=1 "$DBURL" -c "$1"; }

BENCH_ROWS_SCHEMA='{"tables":[{"table_name":"bench_rows","primary_key_field":"id","primary_key_kind":"big_serial",
 "columns":[{"name":"owner","col_type":"int"},{"name":"n","col_type":"int"},{"name":"payload","col_type":"jsonb"}]}]}'

# vmdb_start [timeout-s]: starts `vmdb serve` on $VPORT (picked on the
# first call, kept across restarts, like the data directory) and waits for
# its first /health answer. Sets vmdb_pid and VMDB_START_S (seconds from
# the launch to that answer). Returns 1 if it does not answer in time.
vmdb_start() {
  local timeout=${1:-30} t0 deadline
  if [ -z "${VPORT:-}" ]; then
    VPORT=$(pick_port)
    BASE=http://127.0.0.1:$VPORT
  fi
  mkdir -p "$TMP/data"
  t0=$(date +%s.%N)
  (cd "$TMP" && exec env DATABASE_URL="$DBURL" VMDB_LISTEN="127.0.0.1:$VPORT" VMDB_DATA_DIR="$TMP/data" \
     "$VMDB_BIN" serve) >>"$TMP/vmdb.log" 2>&1 &
  vmdb_pid=$!
  deadline=$(awk -v a="$t0" -v b="$timeout" 'BEGIN { printf "%d", a + b + 1 }')
  until curl -fsS -o /dev/null "$BASE/health" 2>/dev/null; do
    if ! kill -0 "$vmdb_pid" 2>/dev/null; then
      tail -n 20 "$TMP/vmdb.log" >&2
      die "vmdb serve exited"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 20 "$TMP/vmdb.log" >&2
      return 1
    fi
    sleep 0.05
  done
  # shellcheck disable=SC2034 # read by the callers
  VMDB_START_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
}

# vmdb_stop: SIGINT (a clean shutdown) and wait for the process to end.
vmdb_stop() {
  if [ -n "$vmdb_pid" ] && kill -0 "$vmdb_pid" 2>/dev/null; then
    kill -INT "$vmdb_pid" 2>/dev/null || true
    wait "$vmdb_pid" 2>/dev/null || true
  fi
  vmdb_pid=""
}

# apply_schema <json>: POST /bootstrap/apply-schema; dies unless it succeeds.
apply_schema() {
  local ans
  ans=$(curl -sS -X POST -H 'Content-Type: application/json' --data "$1" "$BASE/bootstrap/apply-schema")
  case "$ans" in *'"success":true'*) ;; *) die "apply-schema failed: $ans" ;; esac
}

# CPU ticks (utime+stime) of a process (the comm field of vmdb and of
# postgres has no spaces, so the field numbers hold). pg_ticks: the
# postmaster, its reaped children (cutime+cstime) and its live children,
# i.e. every process of the private cluster.
ticks_of() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
  local t c
  t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$POSTMASTER_PID/stat")
  for c in $(pgrep -P "$POSTMASTER_PID" || true); do
    t=$(( t + $(ticks_of "$c") ))
  done
  echo "$t"
}

bench_start() {
  TMP=$(mktemp -d "/tmp/vmdb-$BENCH_NAME.XXXXXX")
  chmod 755 "$TMP" # the cluster runs as the postgres user and must reach $TMP/pg
  PGDIR=$TMP/pg
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM

  # --- PostgreSQL -------------------------------------------------------
  PGURL=$(PGCLUSTER_NO_FSYNC=0 scripts/pgcluster.sh start "$PGDIR" auto --fsync)
  pg_started=1
  DBURL=${PGURL%/postgres}/vmdb_bench
  psql -qAt -v ON_ERROR_STOP=1 "$PGURL" -c "CREATE DATABASE vmdb_bench" >/dev/null

  PG_HOME=$PGDIR
  [ -f "$PGDIR/location" ] && PG_HOME=$(cat "$PGDIR/location")
  POSTMASTER_PID=$(head -n 1 "$PG_HOME/data/postmaster.pid")

  vmdb_start 30 || die "vmdb did not answer /health"
  apply_schema "${BENCH_SCHEMA:-$BENCH_ROWS_SCHEMA}"
}
