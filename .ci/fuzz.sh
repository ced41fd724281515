#!/usr/bin/env bash
# Runs every fuzz target of the module for a short time, after its seeds.
# Usage: .ci/fuzz.sh [DURATION per target, default 7s]
# The default keeps the whole run under 5 minutes on 2 cores (28 targets:
# ~7 s of fuzzing plus ~3 s of build and worker start-up each); CI calls it
# through `make fuzz`. A failure leaves its input in the package's
# testdata/fuzz/FuzzXxx/ (commit it once fixed: it becomes a seed).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
t="${1:-7s}"
status=0
start=$SECONDS
n=0
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for fn in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		s=$SECONDS
		if go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$t" -fuzzminimizetime=5s "$pkg" >/tmp/semnat-fuzz.$$ 2>&1; then
			echo "ok   $pkg $fn ($t, $((SECONDS - s))s)"
		else
			cat /tmp/semnat-fuzz.$$
			echo "FAIL $pkg $fn ($((SECONDS - s))s)"
			status=1
		fi
		n=$((n + 1))
	done
done
rm -f /tmp/semnat-fuzz.$$
echo "fuzz: $n targets, $t each, $((SECONDS - start))s in all"
exit $status
