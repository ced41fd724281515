#!/usr/bin/env bash
# `semnat serve` under hostile clients (issue 18): `semnat serve --demo` on
# loopback; bench/loadgen -hostile 64 runs 64 hostile clients (30 MB
# multipart bodies without a form token to /verify, 31 MB JSON to
# /api/v1/sign-requests/<unknown>/complete, uploads trickled a byte every
# 0.5 s) while one well-behaved connection verifies a signed 100 KB PDF
# (B-LT) in a loop. Targets: server peak RSS under 256 MB, the well-behaved
# client's p99 at most 1 s, no errors.
#
# Every client comes from 127.0.0.1, so the per-client rate limit would
# refuse the well-behaved client with the hostile ones: SEMNAT_RATE_LIMIT is
# raised (default here 100000) to measure the other defences. The server
# runs with GOMAXPROCS=2. Prints TSV rows: name metric ours peer ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
DUR=${SIDE_HOSTILE_DURATION:-5s}
N=${SIDE_HOSTILE_CLIENTS:-64}
export SEMNAT_RATE_LIMIT=${SEMNAT_RATE_LIMIT:-100000}
. bench/demo.sh
demo_setup
demo_start side-hostile
pki=$data/pki

"$tmp/mkpdf" -size 100K -o "$tmp/doc.pdf"
"$tmp/semnat" sign "$tmp/doc.pdf" -o "$tmp/signed.pdf" --force --level B-LT \
	--key "$pki/person-p256/key.pem" --cert "$pki/person-p256/cert.pem" --chain "$pki/person-p256/chain.pem" \
	--tsa "$base/tsa" --trust "$pki/trust-anchors.pem" >/dev/null
echo "side-hostile: $base, idle RSS $(hwm) MB; $N hostile clients, $DUR, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

read -r rate p50 p99 errs < <("$tmp/loadgen" -url "$base/api/v1/verifications" -req "$tmp/signed.pdf" -method POST -kind verify -c 1 -d "$DUR" -hostile "$N")
name=server-hostile$N-verify-100KB
printf '%s\treq/s\t%s\t-\t-\n' "$name" "$rate"
printf '%s\tp50_ms\t%s\t-\t-\n' "$name" "$p50"
printf '%s\tp99_ms\t%s\t1000 (target)\t%s\n' "$name" "$p99" "$(awk -v a="$p99" 'BEGIN { if (a > 0) printf "%.2f", 1000 / a; else print "-" }')"
printf '%s\terrors\t%s\t-\t-\n' "$name" "$errs"
rss=$(hwm)
printf '%s\tserver_peak_rss_MB\t%s\t256 (target)\t%s\n' "$name" "$rss" "$(awk -v a="$rss" 'BEGIN { if (a > 0) printf "%.2f", 256 / a; else print "-" }')"
