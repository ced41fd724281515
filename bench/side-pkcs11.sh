#!/usr/bin/env bash
# Side by side: signatures/s through our pkcs11.Signer (session pool, one
# login, DER-encoded ECDSA) against a raw C_SignInit+C_Sign loop on the same
# SoftHSM2 key (the limit), with 1 and 2 goroutines; best of 3 short runs
# each, since the machine is shared. Rows:
#   name<TAB>metric<TAB>ours<TAB>raw C_Sign<TAB>raw/ours (peer / ours)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
if ! ls /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so >/dev/null 2>&1; then
	# Not measured: the row says so and the script fails, like any bench
	# that could not run.
	printf 'pkcs11-sign\tsigs/s\tnot run: SoftHSM2 not installed (apt-get install softhsm2)\t-\t-\n'
	exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "side-pkcs11: go test -bench BenchmarkSign (RSA-2048, P-256; ours vs raw C_Sign)" >&2
go test -run='^$' -bench='^BenchmarkSign(RSA2048|P256)$' -benchtime="${PKCS11_BENCHTIME:-0.5s}" -count=3 ./pkcs11/ > "$out"
awk '
/^BenchmarkSign/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i + 1 <= NF; i++) if ($(i+1) == "sigs/s" && $i + 0 > best[name]) best[name] = $i + 0
}
END {
	split("RSA2048 P256", keys, " ")
	for (k = 1; k <= 2; k++) {
		key = keys[k]; low = tolower(key)
		for (g = 1; g <= 2; g++) {
			o = best["BenchmarkSign" key "/ours/goroutines=" g]
			r = best["BenchmarkSign" key "/raw/goroutines=" g]
			printf "pkcs11-%s-sign-%dg\tsigs/s\t%.0f\t%.0f\t%.2f\n", low, g, o, r, (o > 0 ? r / o : 0)
		}
		o1 = best["BenchmarkSign" key "/ours/goroutines=1"]; o2 = best["BenchmarkSign" key "/ours/goroutines=2"]
		r1 = best["BenchmarkSign" key "/raw/goroutines=1"]; r2 = best["BenchmarkSign" key "/raw/goroutines=2"]
		so = (o1 > 0 ? o2 / o1 : 0); sr = (r1 > 0 ? r2 / r1 : 0)
		printf "pkcs11-%s-scaling-1to2g\tx\t%.2f\t%.2f\t%.2f\n", low, so, sr, (so > 0 ? sr / so : 0)
	}
}' "$out"
