#!/usr/bin/env bash
# Side by side: `semnat ocsp serve` against `openssl ocsp` as a responder, same
# PKI, same delegated signer (ECDSA P-256), same DER request (with a nonce),
# new TCP connection per request (openssl's responder closes connections),
# 2 responder workers each (GOMAXPROCS=2 / openssl -multi 2). A last row
# gives ours with keep-alive connections (openssl's responder has none); the
# -nononce row sends requests without nonce, which ours answers from its
# cache of signed responses (RFC 5019 style) and openssl signs every time.
# Prints TSV rows: name metric ours peer ratio. Traffic: 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
DUR=${SIDE_OCSP_DURATION:-4s}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# `make bench` has just built bin/semnat; build only when run alone.
if [ -x bin/semnat ] && bin/semnat ocsp --help >/dev/null 2>&1; then cp bin/semnat "$tmp/semnat"; else go build -o "$tmp/semnat" ./cmd/semnat; fi
go build -o "$tmp/ocspload" ./bench/ocspload
"$tmp/semnat" testcerts generate --out "$tmp/pki" >/dev/null
pki=$tmp/pki
leaf=$pki/person-rsa2048/cert.pem
ca=$pki/token-ca/cert.pem

# Our responder.
GOMAXPROCS=2 "$tmp/semnat" ocsp serve --pki "$pki" --addr 127.0.0.1:0 >"$tmp/ours.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening on' "$tmp/ours.out" 2>/dev/null && break; sleep 0.1; done
ours_url="$(sed -n 's/^listening on //p' "$tmp/ours.out")/ocsp"

# openssl's responder, same signer, an index listing the leaf as valid.
serial=$(openssl x509 -in "$leaf" -noout -serial | cut -d= -f2)
[ $(( ${#serial} % 2 )) -eq 1 ] && serial="0$serial"
end=$(date -u -d "$(openssl x509 -in "$leaf" -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
printf 'V\t%s\t\t%s\tunknown\t/CN=leaf\n' "$end" "$serial" > "$tmp/index.txt"
openssl ocsp -index "$tmp/index.txt" -port 0 -rsigner "$pki/ocsp-token/cert.pem" -rkey "$pki/ocsp-token/key.pem" \
	-CA "$ca" -nmin 60 -multi 2 -ignore_err >"$tmp/peer.out" 2>&1 &
pids+=($!)
port=""
for _ in $(seq 100); do
	port=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\) .*/\1/p' "$tmp/peer.out" | head -1)
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { echo "side-ocsp: openssl ocsp did not start" >&2; cat "$tmp/peer.out" >&2; exit 1; }

openssl ocsp -issuer "$ca" -cert "$leaf" -reqout "$tmp/req.der" >/dev/null 2>&1
openssl ocsp -issuer "$ca" -cert "$leaf" -no_nonce -reqout "$tmp/req-nononce.der" >/dev/null 2>&1

echo "side-ocsp: ours at $ours_url, openssl at :$port, $DUR each" >&2
read -r o_rate o_p50 o_p99 < <("$tmp/ocspload" -url "$ours_url" -req "$tmp/req.der" -c 4 -d "$DUR")
read -r p_rate p_p50 p_p99 < <("$tmp/ocspload" -url "http://127.0.0.1:$port/" -req "$tmp/req.der" -c 4 -d "$DUR")
read -r on_rate _ _ < <("$tmp/ocspload" -url "$ours_url" -req "$tmp/req-nononce.der" -c 4 -d "$DUR")
read -r pn_rate _ _ < <("$tmp/ocspload" -url "http://127.0.0.1:$port/" -req "$tmp/req-nononce.der" -c 4 -d "$DUR")
read -r k_rate _ _ < <("$tmp/ocspload" -url "$ours_url" -req "$tmp/req.der" -c 4 -d "$DUR" -keepalive)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
printf 'side-ocsp-responder\tresponses/s\t%s\t%s\t%s\n' "$o_rate" "$p_rate" "$(ratio "$o_rate" "$p_rate")"
printf 'side-ocsp-responder\tp50_ms\t%s\t%s\t%s\n' "$o_p50" "$p_p50" "$(ratio "$o_p50" "$p_p50")"
printf 'side-ocsp-responder\tp99_ms\t%s\t%s\t%s\n' "$o_p99" "$p_p99" "$(ratio "$o_p99" "$p_p99")"
printf 'side-ocsp-responder-nononce\tresponses/s\t%s\t%s\t%s\n' "$on_rate" "$pn_rate" "$(ratio "$on_rate" "$pn_rate")"
printf 'side-ocsp-responder-keepalive\tresponses/s\t%s\t-\t-\n' "$k_rate"
