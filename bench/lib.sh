# Shared by the service benchmarks (bench/service.sh, bench/proof.sh):
# a temporary directory cleaned up on exit, a private PostgreSQL cluster
# with fsync on, `vmdb serve` on a free port, and the bench_rows table
# applied through the API. Sourced after the caller has set BENCH_NAME
# (for messages), VMDB_BIN and cd'ed to the repository root.
#
# After bench_start: TMP, PGDIR, PGURL, DBURL, q (psql on DBURL), VPORT,
# BASE (http://127.0.0.1:port), vmdb_pid.

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
  local p i
  for i in $(seq 1 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if port_free "$p"; then echo "$p"; return; fi
  done
  die "no free port found"
}

q() { psql -qAt -v ON_ERROR_STOP=1 "$DBURL" -c "$1"; }

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

  # --- vmdb -------------------------------------------------------------
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

  local schema ans
  schema='{"tables":[{"table_name":"bench_rows","primary_key_field":"id","primary_key_kind":"big_serial",
 "columns":[{"name":"owner","col_type":"int"},{"name":"n","col_type":"int"},{"name":"payload","col_type":"jsonb"}]}]}'
  ans=$(curl -sS -X POST -H 'Content-Type: application/json' --data "$schema" "$BASE/bootstrap/apply-schema")
  case "$ans" in *'"success":true'*) ;; *) die "apply-schema failed: $ans" ;; esac
}
