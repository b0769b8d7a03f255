#!/usr/bin/env bash
# Installs the Debian packages vmdb needs to build and test. Idempotent: it
# only calls apt-get when something is missing, so `make test` stays fast on a
# machine that already has everything.
set -euo pipefail

PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libssl-dev libsodium-dev libjansson-dev libcmocka-dev
      libmicrohttpd-dev libgnutls28-dev libpq-dev libcurl4-openssl-dev
      postgresql-15 postgresql-client-15 nodejs npm python3
      python3-cryptography openssl curl chromium
      gnuplot-nox) # gnuplot-nox: the plot of `make bench` (bench/bench.sh)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The image may ship node/npm outside Debian's packages; do not fight it.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in nodejs|npm) ;; *) filtered+=("$p") ;; esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
# python3 and python3-cryptography are checked by dpkg like the rest: the
# Python client's tests run Debian's /usr/bin/python3 (a pyenv python3 on
# PATH does not count).

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi

# Node packages of the repository root (package-lock.json): the Swagger UI
# assets `vmdb serve` serves, and playwright-core, which drives Debian's
# chromium (headless) in tests/integration/swagger.test.mjs. `npm ci` only when they are missing or the lock
# file changed since the last install (npm writes node_modules/.package-lock.json).
cd "$(dirname "$0")/.."
if [ -f package-lock.json ] &&
   { [ ! -d node_modules/swagger-ui-dist ] || [ ! -d node_modules/playwright-core ] || [ ! -f node_modules/.package-lock.json ] ||
     [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  echo "install-deps: npm ci"
  npm ci --ignore-scripts --no-audit --no-fund
fi

# tools/solana-local (LiteSVM behind a local Solana JSON-RPC server, for the anchoring tests)
if [ ! -f tools/solana-local/node_modules/.package-lock.json ] ||
   [ tools/solana-local/package-lock.json -nt tools/solana-local/node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci (tools/solana-local)"
  (cd tools/solana-local && npm ci --ignore-scripts --no-audit --no-fund)
fi
