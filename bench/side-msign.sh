#!/usr/bin/env bash
# MSign for registered systems (issue 13): `semnat serve --demo` on
# loopback with SQLite; a system registered with `semnat msign systems add`
# (API key). bench/loadgen drives, from 32 keep-alive connections,
# PostSignRequest with one 100 KB PDF (JSON, base64) and then
# GetSignResponse of a pending request. Targets: PostSignRequest at least
# 1,000/s, GetSignResponse at least 5,000/s; p50/p99 and the server's peak
# RSS are reported. The server runs with GOMAXPROCS=2. Every client comes
# from 127.0.0.1, so SEMNAT_RATE_LIMIT is raised (default here 1000000), and
# the bench system is registered with its own --rate-limit of 1000000 (the
# default quota of a system is 500 requests/s).
# Prints TSV rows: name metric ours peer ratio (peer / ours).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
DUR=${SIDE_MSIGN_DURATION:-5s}
C=${SIDE_MSIGN_CLIENTS:-32}
export SEMNAT_RATE_LIMIT=${SEMNAT_RATE_LIMIT:-1000000}
. bench/demo.sh
demo_setup
demo_start side-msign --log-level warn
"$tmp/semnat" msign systems add bench --api-key-file "$tmp/key" --return-url https://bench.example.md/ --rate-limit 1000000 --data "$data" >/dev/null 2>&1
key=$(cat "$tmp/key")

"$tmp/mkpdf" -size 100K -o "$tmp/doc.pdf"
printf '{"shortContentDescription":"Bench","contentType":"Pdf","contents":[{"correlationID":"1","name":"bench.pdf","content":"%s"}]}' \
	"$(base64 -w0 "$tmp/doc.pdf")" >"$tmp/post.json"
echo "side-msign: $base, idle RSS $(hwm) MB; $C clients, $DUR each, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

rows() { # name target rate p50 p99 errs
	printf '%s\treq/s\t%s\t%s (target)\t%s\n' "$1" "$3" "$2" "$(awk -v a="$3" -v t="$2" 'BEGIN { if (a > 0) printf "%.2f", t / a; else print "-" }')"
	printf '%s\tp50_ms\t%s\t-\t-\n' "$1" "$4"
	printf '%s\tp99_ms\t%s\t-\t-\n' "$1" "$5"
	printf '%s\terrors\t%s\t-\t-\n' "$1" "$6"
}
read -r rate p50 p99 errs < <("$tmp/loadgen" -url "$base/api/v1/signature-requests" -req "$tmp/post.json" -method POST -kind sign-request \
	-header "X-API-Key: $key" -c "$C" -d "$DUR")
rows msign-PostSignRequest-100KB-c$C 1000 "$rate" "$p50" "$p99" "$errs"
# One request to poll, posted with bash's /dev/tcp (no curl needed).
hostport=${base#http://}
exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}"
printf 'POST /api/v1/signature-requests HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' \
	"$hostport" "$key" "$(stat -c %s "$tmp/post.json")" >&3
cat "$tmp/post.json" >&3
id=$(sed -n 's/.*"requestID":"\([0-9a-f]*\)".*/\1/p' <&3)
exec 3>&-
if [ -z "$id" ]; then
	echo "side-msign: PostSignRequest gave no requestID" >&2
	exit 1
fi
read -r rate p50 p99 errs < <("$tmp/loadgen" -url "$base/api/v1/signature-requests/$id?language=en" -req "$tmp/post.json" -method GET -kind sign-response \
	-header "X-API-Key: $key" -c "$C" -d "$DUR")
rows msign-GetSignResponse-c$C 5000 "$rate" "$p50" "$p99" "$errs"
rss=$(hwm)
printf 'msign-systems\tserver_peak_rss_MB\t%s\t-\t-\n' "$rss"
db=$(du -sm "$data/semnat.db" "$data/semnat.db-wal" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
printf 'msign-systems\tsqlite_db_and_wal_MB\t%s\t-\t-\n' "$db"
