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
#
# VMDB_ANCHOR=solana without SOLANA_RPC_URL (`make run VMDB_ANCHOR=solana`):
# a demo on tools/solana-local, the real Solana runtime behind a local
# JSON-RPC server, started here on 127.0.0.1:${SOLANA_LOCAL_PORT:-any free
# port} and stopped after vmdb. Its ledger lives in memory and is gone when
# this script ends, so the demo keeps its own data directory
# (./.vmdb/solana-local unless VMDB_DATA_DIR is set) and database
# (vmdb_solana_local unless DATABASE_URL is set), and removes that data
# directory's solana_anchor.json (the record of anchors on the previous,
# vanished ledger) before vmdb starts; vmdb then anchors its newest header on
# the new ledger. The identity (created with `vmdb keygen` if missing) and the
# SOLANA_KEYPAIR_PATH fee payer, if set, get a 10 SOL airdrop. For devnet see
# docs/SOLANA.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

VMDB_BIN=${VMDB_BIN:-$ROOT/build/vmdb}
solana_local=""
if [ "${VMDB_ANCHOR:-}" = solana ] && [ -z "${SOLANA_RPC_URL:-}" ]; then
  solana_local=1
fi
# The private cluster lives in the default data directory in every mode.
pgdir="${VMDB_DATA_DIR:-$ROOT/.vmdb}/pg"
db_name=vmdb
if [ -n "$solana_local" ]; then
  db_name=vmdb_solana_local
  export VMDB_DATA_DIR=${VMDB_DATA_DIR:-$ROOT/.vmdb/solana-local}
fi
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
vmdb_pid=""
sol_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$vmdb_pid" ] && kill -0 "$vmdb_pid" 2>/dev/null; then
    kill -INT "$vmdb_pid" 2>/dev/null || true
    wait "$vmdb_pid" 2>/dev/null || true
  fi
  if [ -n "$sol_pid" ] && kill -0 "$sol_pid" 2>/dev/null; then
    kill -TERM "$sol_pid" 2>/dev/null || true
    wait "$sol_pid" 2>/dev/null || true
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
  if [ "$(psql -X -At -d "$base" -c "SELECT 1 FROM pg_database WHERE datname = '$db_name'")" != 1 ]; then
    psql -X -q -d "$base" -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db_name" >/dev/null
    echo "run: created database $db_name" >&2
  fi
  export DATABASE_URL=${base%/postgres}/$db_name
fi

# Prints the base58 address (public key) of a Solana keypair JSON file.
keypair_address() {
  node -e '
    const k = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).slice(32, 64);
    const A = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let n = 0n, s = "";
    for (const b of k) n = n * 256n + BigInt(b);
    for (; n > 0n; n /= 58n) s = A[Number(n % 58n)] + s;
    for (const b of k) { if (b) break; s = "1" + s; }
    console.log(s);' "$1"
}

sol_banner=""
if [ -n "$solana_local" ]; then
  if [ ! -f tools/solana-local/node_modules/.package-lock.json ] ||
     [ tools/solana-local/package-lock.json -nt tools/solana-local/node_modules/.package-lock.json ]; then
    echo "run: npm ci (tools/solana-local)" >&2
    (cd tools/solana-local && npm ci --ignore-scripts --no-audit --no-fund >&2)
  fi
  idkey=${VMDB_IDENTITY_KEY:-$VMDB_DATA_DIR/identity.json}
  if [ ! -e "$idkey" ]; then
    [ -z "${VMDB_IDENTITY_KEY:-}" ] || { echo "run: VMDB_IDENTITY_KEY $idkey does not exist" >&2; exit 1; }
    "$VMDB_BIN" keygen "$idkey" >/dev/null
  fi
  if [ -e "$VMDB_DATA_DIR/solana_anchor.json" ]; then
    rm -f "$VMDB_DATA_DIR/solana_anchor.json"
    echo "run: removed $VMDB_DATA_DIR/solana_anchor.json (anchors on a previous local ledger, which is gone)" >&2
  fi
  sol_out="$VMDB_DATA_DIR/solana-local.out"
  : >"$sol_out"
  # Its own process group, like vmdb below: a terminal Ctrl-C must not stop
  # the RPC before vmdb's last anchor at SIGINT.
  set -m
  node tools/solana-local/server.mjs --port "${SOLANA_LOCAL_PORT:-0}" >"$sol_out" 2>"$VMDB_DATA_DIR/solana-local.log" &
  sol_pid=$!
  set +m
  for _ in $(seq 300); do
    grep -q 'listening on' "$sol_out" && break
    kill -0 "$sol_pid" 2>/dev/null || break
    sleep 0.1
  done
  SOLANA_RPC_URL=$(sed -n 's/^solana-local listening on //p' "$sol_out")
  if [ -z "$SOLANA_RPC_URL" ]; then
    echo "run: tools/solana-local did not start; see $VMDB_DATA_DIR/solana-local.log" >&2
    exit 1
  fi
  export SOLANA_RPC_URL
  id_addr=$(keypair_address "$idkey")
  fund="$id_addr"
  payer_line=""
  if [ -n "${SOLANA_KEYPAIR_PATH:-}" ]; then
    payer_addr=$(keypair_address "$SOLANA_KEYPAIR_PATH")
    fund="$fund $payer_addr"
    payer_line="
  fee payer   $payer_addr (SOLANA_KEYPAIR_PATH; 10 SOL airdropped)"
  fi
  # 10 SOL each, confirmed before vmdb starts (its first anchor is at start).
  node -e '
    const [url, ...addrs] = process.argv.slice(1);
    const rpc = async (method, params) => {
      const r = await (await fetch(url, { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) })).json();
      if (r.error) throw new Error(`${method}: ${r.error.message}`);
      return r.result;
    };
    (async () => {
      for (const a of addrs) {
        const sig = await rpc("requestAirdrop", [a, 10e9]);
        for (let i = 0; ; i++) {
          const st = (await rpc("getSignatureStatuses", [[sig]])).value[0];
          if (st && st.confirmationStatus !== "processed") break;
          if (i > 100) throw new Error(`airdrop to ${a} not confirmed`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })().catch((e) => { console.error(`run: ${e.message}`); process.exit(1); });' "$SOLANA_RPC_URL" $fund
  sol_banner="
  anchor      solana: tools/solana-local at $SOLANA_RPC_URL (in memory; gone when this script ends)
  identity    $id_addr (10 SOL airdropped)$payer_line
  anchors     VMDB_ANCHOR=solana SOLANA_RPC_URL=$SOLANA_RPC_URL VMDB_DATA_DIR=$VMDB_DATA_DIR $VMDB_BIN anchor list"
fi

cat >&2 <<EOF

  vmdb        $VMDB_BIN serve
  database    $DATABASE_URL
  API         http://$VMDB_LISTEN
  Swagger UI  http://$VMDB_LISTEN/swagger-ui
  OpenAPI     http://$VMDB_LISTEN/api-docs/openapi.json
  health      curl -s http://$VMDB_LISTEN/health$sol_banner

  Ctrl-C stops vmdb$([ -n "$sol_pid" ] && echo ", tools/solana-local")$([ -n "$started_pg" ] && echo " and the PostgreSQL cluster").

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
