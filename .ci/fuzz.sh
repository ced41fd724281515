#!/usr/bin/env bash
# Runs every fuzz target of the module for a short time (default 10s each).
# Usage: .ci/fuzz.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
t="${1:-10s}"
status=0
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for fn in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "== $pkg $fn ($t)"
		go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$t" -fuzzminimizetime=5s "$pkg" || status=1
	done
done
exit $status
