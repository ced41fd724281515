#!/usr/bin/env bash
# Runs every fuzz target of the module for a short time, after its seeds.
# Usage: .ci/fuzz.sh [DURATION]
#   DURATION given (e.g. 1m): each target fuzzes that long.
#   Without it: a total budget of FUZZ_BUDGET seconds (default 270) is
#   shared out: before each target, what is left of the budget, less the
#   build and start-up time the targets so far needed on average, split
#   over the targets left; at least 2 s and at most 10 s per target.
# CI calls it through `make fuzz`. A failure leaves its input in the
# package's testdata/fuzz/FuzzXxx/ (commit it with the fix: it becomes a
# seed).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
fixed="${1:-}"
budget="${FUZZ_BUDGET:-270}"
targets=()
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for fn in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		targets+=("$pkg $fn")
	done
done
status=0
start=$SECONDS
overhead=0 # seconds spent outside fuzzing so far
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for i in "${!targets[@]}"; do
	read -r pkg fn <<<"${targets[$i]}"
	left=$((${#targets[@]} - i))
	if [ -n "$fixed" ]; then
		t="$fixed"
	else
		avg=0
		[ "$i" -gt 0 ] && avg=$((overhead / i))
		s=$(((budget - (SECONDS - start)) / left - avg))
		[ "$s" -lt 2 ] && s=2
		[ "$s" -gt 10 ] && s=10
		t="${s}s"
	fi
	s0=$SECONDS
	if go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$t" -fuzzminimizetime=5s "$pkg" >"$log" 2>&1; then
		echo "ok   $pkg $fn (fuzzed $t, $((SECONDS - s0))s in all)"
	else
		cat "$log"
		echo "FAIL $pkg $fn ($((SECONDS - s0))s)"
		status=1
	fi
	took=$((SECONDS - s0))
	fz=${t%s}
	[[ "$fz" =~ ^[0-9]+$ ]] || fz=0
	[ "$took" -gt "$fz" ] && overhead=$((overhead + took - fz))
done
echo "fuzz: ${#targets[@]} targets in $((SECONDS - start))s (budget ${budget}s; build and start-up ${overhead}s)"
exit $status
