#!/usr/bin/env bash
# Issue 20: the in-browser verifier. The module's size gzip-compressed
# (target <= 6 MB), and in headless chromium the first verification of a
# signed 1 MB PDF including the module's start (target <= 1.5 s) and the
# median of later ones (target <= 150 ms), from msign's TestWasmBudget,
# with where the first run goes (download+compile, Go start, the first
# call). SEMNAT_WASM_DIR=DIR measures another build of the module (DIR holds
# verify.wasm and wasm_exec.js), for a before/after.
# Prints TSV rows: name metric ours target ratio (target / ours: above 1
# is within budget).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
make -s wasm >&2
wasm=${SEMNAT_WASM_DIR:-msign/web/wasm}/verify.wasm
raw=$(wc -c < "$wasm")
gz=$(gzip -9c "$wasm" | wc -c)
awk -v r="$raw" -v g="$gz" 'BEGIN {
	printf "wasm-module\tMB\t%.2f\t-\t-\n", r / 1e6
	printf "wasm-module-gzip\tMB\t%.2f\t6\t%.2f\n", g / 1e6, 6e6 / g
}'
out=$(SEMNAT_WASM_BENCH=1 go test -count=1 -run '^TestWasmBudget$' -v ./msign/ 2>&1) || { echo "$out" >&2; exit 1; }
echo "$out" | grep '^ROW' | cut -f2- || { echo "$out" >&2; exit 1; }
