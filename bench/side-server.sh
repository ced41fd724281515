#!/usr/bin/env bash
# The API server under load (issue 5): `semnat serve --demo` on loopback,
# driven by bench/loadgen from a second process with 32 concurrent
# keep-alive connections:
#   - POST /api/v1/verifications with a signed 1 MB PDF at B-LT (revocation
#     embedded: the server verifies offline); target >= 500 req/s, p99 <= 100 ms.
#     The warm rows (server-verify-1MB-B-LT-one-doc) replay ONE document:
#     after the first request the server's verify cache already knows its
#     CMS signature, timestamp, chain and OCSP response, and each request
#     still reads, parses and hashes the whole document. The cold rows
#     (server-verify-1MB-B-LT-cold) send COLD_DOCS (default 64) distinct
#     documents, each signed on its own and verified once (loadgen -once):
#     the cache can only help with what they share, the PKI;
#   - POST /api/v1/seal (X-API-Key from DATA/api-key) with a 100 KB PDF,
#     software key (the demo seal is B-T: one TSA request to the server's own
#     TSA per seal); target >= 400 req/s;
# and the server's peak RSS (VmHWM) after each run.
#
# The server's per-client rate limit (default 50/s) and concurrency cap
# (default 4) would throttle a single load generator; this script sets
# SEMNAT_RATE_LIMIT (default here 100000) and SEMNAT_MAX_CONCURRENT (default
# here: unset, the server's own default) in the server's environment, for
# `semnat serve` to read. The server runs with GOMAXPROCS=2 (the issue's
# 2 cores), sharing them with the load generator.
# Prints TSV rows: name metric ours peer ratio. Traffic: 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
DUR=${SIDE_SERVER_DURATION:-5s}
export SEMNAT_RATE_LIMIT=${SEMNAT_RATE_LIMIT:-100000}
export SEMNAT_SYSTEM_RATE_LIMIT=${SEMNAT_SYSTEM_RATE_LIMIT:-100000} # the seal's API key is a system's
[ -n "${SEMNAT_MAX_CONCURRENT:-}" ] && export SEMNAT_MAX_CONCURRENT
. bench/demo.sh
demo_setup
demo_start side-server
pki=$data/pki
key=$(cat "$data/api-key")
echo "side-server: $base (rate limit ${SEMNAT_RATE_LIMIT}/s, max concurrent ${SEMNAT_MAX_CONCURRENT:-default}), idle RSS $(hwm) MB" >&2

# A 1 MB document signed at B-LT by the demo PKI (timestamp and OCSP from
# the server's own TSA/OCSP responder, revocation data stored in the DSS).
"$tmp/mkpdf" -size 1M -o "$tmp/doc-1M.pdf"
"$tmp/semnat" sign "$tmp/doc-1M.pdf" -o "$tmp/signed-1M.pdf" --force --level B-LT \
	--key "$pki/person-p256/key.pem" --cert "$pki/person-p256/cert.pem" --chain "$pki/person-p256/chain.pem" \
	--tsa "$base/tsa" --trust "$pki/trust-anchors.pem" >/dev/null
"$tmp/mkpdf" -size 100K -o "$tmp/doc-100K.pdf"

echo "side-server: verify, $DUR, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
read -r rate p50 p99 errs < <("$tmp/loadgen" -url "$base/api/v1/verifications" -req "$tmp/signed-1M.pdf" -method POST -kind verify -c 32 -d "$DUR")
# ratio = peer / ours (here the target / ours), as in every row of `make bench`.
printf 'server-verify-1MB-B-LT-one-doc\treq/s\t%s\t500 (target)\t%s\n' "$rate" "$(awk -v a="$rate" 'BEGIN { if (a > 0) printf "%.2f", 500 / a; else print "-" }')"
printf 'server-verify-1MB-B-LT-one-doc\tp50_ms\t%s\t-\t-\n' "$p50"
printf 'server-verify-1MB-B-LT-one-doc\tp99_ms\t%s\t100 (target)\t%s\n' "$p99" "$(awk -v a="$p99" 'BEGIN { if (a > 0) printf "%.2f", 100 / a; else print "-" }')"
printf 'server-verify-1MB-B-LT-one-doc\terrors\t%s\t-\t-\n' "$errs"
printf 'server-verify-1MB-B-LT-one-doc\tserver_peak_rss_MB\t%s\t-\t-\n' "$(hwm)"

# Cold: distinct documents (each its own signature and timestamp), each
# verified once.
n=${COLD_DOCS:-64}
echo "side-server: signing $n distinct documents at B-LT for the cold run" >&2
seq 1 "$n" | xargs -P 2 -I{} "$tmp/semnat" sign "$tmp/doc-1M.pdf" -o "$tmp/cold-{}.pdf" --force --level B-LT \
	--key "$pki/person-p256/key.pem" --cert "$pki/person-p256/cert.pem" --chain "$pki/person-p256/chain.pem" \
	--tsa "$base/tsa" --trust "$pki/trust-anchors.pem" >/dev/null
cold=$(seq 1 "$n" | sed "s|.*|$tmp/cold-&.pdf|" | paste -sd,)
echo "side-server: verify cold, $n documents once each, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
read -r rate p50 p99 errs < <("$tmp/loadgen" -url "$base/api/v1/verifications" -req "$cold" -method POST -kind verify -c 32 -once)
printf 'server-verify-1MB-B-LT-cold\treq/s\t%s\t500 (target)\t%s\n' "$rate" "$(awk -v a="$rate" 'BEGIN { if (a > 0) printf "%.2f", 500 / a; else print "-" }')"
printf 'server-verify-1MB-B-LT-cold\tp50_ms\t%s\t-\t-\n' "$p50"
printf 'server-verify-1MB-B-LT-cold\tp99_ms\t%s\t100 (target)\t%s\n' "$p99" "$(awk -v a="$p99" 'BEGIN { if (a > 0) printf "%.2f", 100 / a; else print "-" }')"
printf 'server-verify-1MB-B-LT-cold\terrors\t%s\t-\t-\n' "$errs"

echo "side-server: seal, $DUR, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
read -r rate p50 p99 errs < <("$tmp/loadgen" -url "$base/api/v1/seal" -req "$tmp/doc-100K.pdf" -method POST -kind seal -header "X-API-Key: $key" -c 32 -d "$DUR")
printf 'server-seal-100KB-B-T\treq/s\t%s\t400 (target)\t%s\n' "$rate" "$(awk -v a="$rate" 'BEGIN { if (a > 0) printf "%.2f", 400 / a; else print "-" }')"
printf 'server-seal-100KB-B-T\tp50_ms\t%s\t-\t-\n' "$p50"
printf 'server-seal-100KB-B-T\tp99_ms\t%s\t-\t-\n' "$p99"
printf 'server-seal-100KB-B-T\terrors\t%s\t-\t-\n' "$errs"
printf 'server-seal-100KB-B-T\tserver_peak_rss_MB\t%s\t-\t-\n' "$(hwm)"
printf 'side-server-loadavg\t1min\t%s\t-\t-\n' "$(cut -d' ' -f1 /proc/loadavg)"
