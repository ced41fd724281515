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
targets=() # "import-path dir FuzzName"
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for fn in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		targets+=("$pkg $dir $fn")
	done
done
status=0
start=$SECONDS
overhead=0 # seconds spent outside fuzzing so far (builds, worker start-up)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cache="$(go env GOCACHE)/fuzz" # where `go test -fuzz` keeps its corpus
built=""
for i in "${!targets[@]}"; do
	read -r pkg dir fn <<<"${targets[$i]}"
	left=$((${#targets[@]} - i))
	s0=$SECONDS
	# One instrumented test binary per package, for all its targets.
	if [ "$built" != "$pkg" ]; then
		if ! go test -c -fuzz=. -o "$tmp/fuzz.test" "$pkg" >"$tmp/log" 2>&1; then
			cat "$tmp/log"
			echo "FAIL $pkg: building the fuzz test binary"
			status=1
			continue
		fi
		built=$pkg
	fi
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
	# Run where `go test` would (testdata/fuzz of the package: seeds in,
	# failing inputs out).
	if (cd "$dir" && "$tmp/fuzz.test" -test.run='^$' -test.fuzz="^${fn}\$" -test.fuzztime="$t" \
		-test.fuzzminimizetime=5s -test.fuzzcachedir="$cache/$pkg" -test.paniconexit0) >"$tmp/log" 2>&1; then
		echo "ok   $pkg $fn (fuzzed $t, $((SECONDS - s0))s in all)"
	else
		cat "$tmp/log"
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
