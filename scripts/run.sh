#!/usr/bin/env bash
# `make run`: runs `vmdb serve` in the foreground on a PostgreSQL database.
#
# Without DATABASE_URL it starts a private PostgreSQL 15 cluster in
# ${VMDB_DATA_DIR:-./.vmdb}/pg on 127.0.0.1:${VMDB_PG_PORT:-54329}
# (scripts/pgcluster.sh), creates the database `vmdb` in it, and stops the
# cluster again when vmdb exits. With DATABASE_URL set that database is used
# as it is.
#
# Ctrl-C or SIGTERM: vmdb gets SIGINT (its clean shutdown), the script waits
# for it, then stops the cluster if it started it.
#
# Environment passed to vmdb: DATABASE_URL, VMDB_LISTEN (default
# 127.0.0.1:3000), VMDB_DATA_DIR (default ./.vmdb), and whatever else is set
# (BATCH_COMMIT_SIZE, ALLOW_MULTI_INSTANCE, VMDB_MIGRATIONS_DIR,
# VMDB_SWAGGER_DIR, ...). VMDB_BIN overrides the binary (default build/vmdb).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

VMDB_BIN=${VMDB_BIN:-$ROOT/build/vmdb}
export VMDB_DATA_DIR=${VMDB_DATA_DIR:-$ROOT/.vmdb}
export VMDB_LISTEN=${VMDB_LISTEN:-127.0.0.1:3000}
PG_PORT=${VMDB_PG_PORT:-54329}

[ -x "$VMDB_BIN" ] || { echo "run: $VMDB_BIN not found; run 'make' first" >&2; exit 1; }
if ! "$VMDB_BIN" help 2>&1 | grep -qw serve; then
  echo "run: this build of vmdb has no 'serve' command yet" >&2
  exit 1
fi

# Swagger UI assets (node_modules/swagger-ui-dist), normally installed by
# scripts/install-deps.sh already.
if [ ! -d node_modules/swagger-ui-dist ] || [ ! -f node_modules/.package-lock.json ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "run: npm ci" >&2
  npm ci --ignore-scripts --no-audit --no-fund >&2
fi

mkdir -p "$VMDB_DATA_DIR"
started_pg=""
pgdir="$VMDB_DATA_DIR/pg"
vmdb_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$vmdb_pid" ] && kill -0 "$vmdb_pid" 2>/dev/null; then
    kill -INT "$vmdb_pid" 2>/dev/null || true
    wait "$vmdb_pid" 2>/dev/null || true
  fi
  if [ -n "$started_pg" ]; then
    scripts/pgcluster.sh stop "$pgdir" || true
  fi
  exit "$rc"
}
trap cleanup EXIT

if [ -z "${DATABASE_URL:-}" ]; then
  if scripts/pgcluster.sh status "$pgdir" >/dev/null 2>&1; then
    base=$(scripts/pgcluster.sh url "$pgdir")
    echo "run: using the PostgreSQL cluster already running in $pgdir" >&2
  else
    base=$(scripts/pgcluster.sh start "$pgdir" "$PG_PORT")
    started_pg=1
  fi
  if [ "$(psql -X -At -d "$base" -c "SELECT 1 FROM pg_database WHERE datname = 'vmdb'")" != 1 ]; then
    psql -X -q -d "$base" -v ON_ERROR_STOP=1 -c 'CREATE DATABASE vmdb' >/dev/null
    echo "run: created database vmdb" >&2
  fi
  export DATABASE_URL=${base%/postgres}/vmdb
fi

cat >&2 <<EOF

  vmdb        $VMDB_BIN serve
  database    $DATABASE_URL
  API         http://$VMDB_LISTEN
  Swagger UI  http://$VMDB_LISTEN/swagger-ui
  OpenAPI     http://$VMDB_LISTEN/api-docs/openapi.json
  health      curl -s http://$VMDB_LISTEN/health

  Ctrl-C stops vmdb$([ -n "$started_pg" ] && echo " and the PostgreSQL cluster").

EOF

# Job control puts vmdb in its own process group: a terminal Ctrl-C reaches
# only this script, which forwards exactly one SIGINT (and an asynchronous
# command does not start with SIGINT ignored).
set -m
"$VMDB_BIN" serve &
vmdb_pid=$!
set +m
on_signal() {
  echo "run: stopping vmdb" >&2
  kill -INT "$vmdb_pid" 2>/dev/null || true
}
trap on_signal INT TERM
rc=0
while :; do
  # `wait` returns early (status > 128) when a trapped signal arrives.
  wait "$vmdb_pid" && rc=0 || rc=$?
  kill -0 "$vmdb_pid" 2>/dev/null && continue
  if [ "$rc" -gt 128 ]; then
    # Perhaps interrupted just before vmdb ended: ask once more (127 = the
    # status was already collected, keep what we have).
    wait "$vmdb_pid" 2>/dev/null && rc=0 || { r=$?; [ "$r" -eq 127 ] || rc=$r; }
  fi
  break
done
vmdb_pid=""
echo "run: vmdb exited with status $rc" >&2
exit "$rc"
