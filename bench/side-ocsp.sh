#!/usr/bin/env bash
# Side by side: `semnat ocsp serve` against `openssl ocsp` acting as the
# responder, on the same certificate set (every certificate the token CA
# issued, one revoked), the same delegated signer (ECDSA P-256), 2 cores
# each (GOMAXPROCS=2 / openssl -multi 2), driven by the same load generator
# (bench/loadgen: 32 concurrent keep-alive connections over loopback; openssl
# closes each connection, which is its cost, not the generator's).
#   side-ocsp-get:   RFC 5019 GET without nonce, the way browsers and
#                    PAdES verifiers ask; ours answers from pre-signed
#                    responses, openssl signs each one.
#   side-ocsp-nonce: POST with a nonce: both sign every response.
# Prints TSV rows: name metric ours peer ratio. Traffic: 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
DUR=${SIDE_OCSP_DURATION:-5s}
tmp=$(mktemp -d)
pids=()
peer_pid=""
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	# openssl -multi puts itself and its workers in their own process group
	# and they ignore SIGTERM: kill the group.
	[ -n "$peer_pid" ] && kill -KILL -- "-$peer_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# `make bench` has just built bin/semnat; build only when run alone.
if [ -x bin/semnat ] && bin/semnat ca --help >/dev/null 2>&1; then cp bin/semnat "$tmp/semnat"; else go build -o "$tmp/semnat" ./cmd/semnat; fi
go build -o "$tmp/loadgen" ./bench/loadgen
"$tmp/semnat" testcerts generate --out "$tmp/pki" >/dev/null
pki=$tmp/pki
ca=$pki/token-ca/cert.pem

# The certificate set: what token-ca issued; one request each.
ca_subject=$(openssl x509 -in "$ca" -noout -subject | sed 's/^subject=//')
: > "$tmp/index.txt"
get_reqs=() post_reqs=()
for c in "$pki"/*/cert.pem; do
	[ "$(openssl x509 -in "$c" -noout -issuer | sed 's/^issuer=//')" = "$ca_subject" ] || continue
	name=$(basename "$(dirname "$c")")
	serial=$(openssl x509 -in "$c" -noout -serial | cut -d= -f2)
	[ $(( ${#serial} % 2 )) -eq 1 ] && serial="0$serial"
	end=$(date -u -d "$(openssl x509 -in "$c" -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
	if [ "$name" = revoked ]; then
		printf 'R\t%s\t%s,keyCompromise\t%s\tunknown\t/CN=%s\n' "$end" "$(date -u +%y%m%d%H%M%SZ)" "$serial" "$name" >> "$tmp/index.txt"
	else
		printf 'V\t%s\t\t%s\tunknown\t/CN=%s\n' "$end" "$serial" "$name" >> "$tmp/index.txt"
	fi
	openssl ocsp -issuer "$ca" -cert "$c" -no_nonce -reqout "$tmp/get-$name.der" >/dev/null 2>&1
	openssl ocsp -issuer "$ca" -cert "$c" -reqout "$tmp/post-$name.der" >/dev/null 2>&1
	get_reqs+=("$tmp/get-$name.der") post_reqs+=("$tmp/post-$name.der")
done
get_list=$(IFS=,; echo "${get_reqs[*]}")
post_list=$(IFS=,; echo "${post_reqs[*]}")

GOMAXPROCS=2 "$tmp/semnat" ocsp serve --pki "$pki" --addr 127.0.0.1:0 >"$tmp/ours.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening on' "$tmp/ours.out" 2>/dev/null && break; sleep 0.1; done
ours=$(sed -n 's/^listening on //p' "$tmp/ours.out")

openssl ocsp -index "$tmp/index.txt" -port 0 -rsigner "$pki/ocsp-token/cert.pem" -rkey "$pki/ocsp-token/key.pem" \
	-CA "$ca" -nmin 60 -multi 2 -ignore_err >"$tmp/peer.out" 2>&1 &
peer_pid=$!
port=""
for _ in $(seq 100); do
	port=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\) .*/\1/p' "$tmp/peer.out" | head -1)
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { echo "side-ocsp: openssl ocsp did not start" >&2; cat "$tmp/peer.out" >&2; exit 1; }
peer=http://127.0.0.1:$port

echo "side-ocsp: ours at $ours, openssl at $peer, ${#get_reqs[@]} certificates, $DUR per run, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# A run that fails (no reply, or more than 1% errors) makes the script fail
# (set -e); the errors of a run that passes are a row of their own.
read -r og_rate og_p50 og_p99 og_err < <("$tmp/loadgen" -url "$ours" -req "$get_list" -method GET -c 32 -d "$DUR")
read -r pg_rate pg_p50 pg_p99 pg_err < <("$tmp/loadgen" -url "$peer" -req "$get_list" -method GET -c 32 -d "$DUR")
read -r on_rate _ _ on_err < <("$tmp/loadgen" -url "$ours" -req "$post_list" -method POST -c 32 -d "$DUR")
read -r pn_rate _ _ pn_err < <("$tmp/loadgen" -url "$peer" -req "$post_list" -method POST -c 32 -d "$DUR")
# ratio = peer / ours, as in every row of `make bench`.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
printf 'side-ocsp-get\tresponses/s\t%s\t%s\t%s\n' "$og_rate" "$pg_rate" "$(ratio "$pg_rate" "$og_rate")"
printf 'side-ocsp-get\tp50_ms\t%s\t%s\t%s\n' "$og_p50" "$pg_p50" "$(ratio "$pg_p50" "$og_p50")"
printf 'side-ocsp-get\tp99_ms\t%s\t%s\t%s\n' "$og_p99" "$pg_p99" "$(ratio "$pg_p99" "$og_p99")"
printf 'side-ocsp-get\terrors\t%s\t%s\t-\n' "$og_err" "$pg_err"
printf 'side-ocsp-nonce\tresponses/s\t%s\t%s\t%s\n' "$on_rate" "$pn_rate" "$(ratio "$pn_rate" "$on_rate")"
printf 'side-ocsp-nonce\terrors\t%s\t%s\t-\n' "$on_err" "$pn_err"
printf 'side-ocsp-loadavg\t1min\t%s\t-\t-\n' "$(cut -d' ' -f1 /proc/loadavg)"
