#!/usr/bin/env bash
# Time-stamp authority throughput: `semnat tsa serve` (2 cores,
# GOMAXPROCS=2) answering `openssl ts -query` requests (SHA-256 imprint,
# nonce, certReq) POSTed at its root by bench/loadgen, 32 concurrent
# keep-alive connections over loopback. The peer column is the raw
# signature rate of the very same key in Go on 2 cores (PKCS#1 v1.5 for
# RSA-2048, ECDSA for P-256): the ceiling a TSA signing with that key can
# reach. (openssl has no TSA server to compare with: `openssl ts -reply`
# is one process per token.)
# Prints TSV rows: name metric ours peer ratio (peer / ours). Traffic:
# 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
DUR=${SIDE_TSA_DURATION:-5s}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

if [ -x bin/semnat ] && bin/semnat ca --help >/dev/null 2>&1; then cp bin/semnat "$tmp/semnat"; else go build -o "$tmp/semnat" ./cmd/semnat; fi
go build -o "$tmp/loadgen" ./bench/loadgen
"$tmp/semnat" testcerts generate --out "$tmp/pki" >/dev/null
pki=$tmp/pki
head -c 100000 /dev/urandom > "$tmp/doc.bin"
openssl ts -query -data "$tmp/doc.bin" -sha256 -cert -out "$tmp/req.tsq" 2>/dev/null

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
for entity in tsa tsa-rsa; do
	GOMAXPROCS=2 "$tmp/semnat" tsa serve --pki "$pki" --entity "$entity" --addr 127.0.0.1:0 >"$tmp/$entity.out" 2>/dev/null &
	pid=$!
	pids+=($pid)
	for _ in $(seq 100); do grep -q '^listening on' "$tmp/$entity.out" 2>/dev/null && break; sleep 0.1; done
	url=$(sed -n 's/^listening on //p' "$tmp/$entity.out")
	echo "side-tsa: $entity at $url, $DUR, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
	read -r rate p50 p99 errs < <("$tmp/loadgen" -url "$url/" -req "$tmp/req.tsq" -method POST -kind tsa -c 32 -d "$DUR")
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	read -r raw < <(GOMAXPROCS=2 "$tmp/loadgen" -signkey "$pki/$entity/key.pem" -c 2 -d 3s)
	name=side-tsa-p256
	[ "$entity" = tsa-rsa ] && name=side-tsa-rsa2048
	printf '%s\ttokens/s_vs_raw_signs/s\t%s\t%s\t%s\n' "$name" "$rate" "$raw" "$(ratio "$raw" "$rate")"
	printf '%s\tp50_ms\t%s\t-\t-\n' "$name" "$p50"
	printf '%s\tp99_ms\t%s\t-\t-\n' "$name" "$p99"
	printf '%s\terrors\t%s\t-\t-\n' "$name" "$errs"
done
printf 'side-tsa-loadavg\t1min\t%s\t-\t-\n' "$(cut -d' ' -f1 /proc/loadavg)"
