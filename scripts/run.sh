#!/usr/bin/env bash
# `make run`: for now vmdb has no server (the HTTP service is the next
# milestone); this shows what the built binary does today: the verifier
# core, checked by a short run of the tree benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
./build/vmdb help
echo
echo "vmdb serve is not built yet; running the tree benchmark on 100k leaves:"
./build/vmdb bench tree --leaves 100000 --quick
