#!/usr/bin/env bash
# `make bench`: every Go benchmark of the module, then the side-by-side
# scripts bench/side-*.sh, printed as one table: name, metric, ours, peer, ratio.
#
# A side-by-side script prints TSV rows on stdout:
#   name<TAB>metric<TAB>ours<TAB>peer<TAB>ratio
# (peer and ratio may be "-"); ratio is always peer / ours (the peer may be
# a target): for times and sizes above 1 means we do better, for rates
# (req/s, sigs/s) below 1 does. Anything on stderr is progress for people. A script that
# fails gets an "error" row and makes `make bench` fail after the table.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
out=bench/out
mkdir -p "$out"
rows="$out/rows.tsv"
: > "$rows"

echo "bench: Go benchmarks (BENCHTIME=${BENCHTIME:-1s})" >&2
# A failing benchmark package is a row saying so (its other benchmarks
# still count), and `make bench` fails at the end.
status=0
if ! go test -run='^$' -bench="${BENCH:-.}" -benchtime="${BENCHTIME:-1s}" -benchmem ./... 2>&1 | tee "$out/go-bench.txt" >&2; then
	status=1
	awk '/^(FAIL|--- FAIL)/ { gsub(/\t/, " "); printf "go-bench\terror\t%s\t-\t-\n", $0 }' "$out/go-bench.txt" >> "$rows"
	grep -q 'FAIL' "$out/go-bench.txt" || printf 'go-bench\terror\tgo test -bench failed (see above)\t-\t-\n' >> "$rows"
fi
# Benchmark lines: name iterations value unit [value unit]...
awk '/^pkg: / { pkg=$2; sub(/^github.com\/semnat\/semnat\//, "", pkg) }
/^Benchmark/ {
	name=$1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name); name=pkg "." name;
	for (i = 3; i + 1 <= NF; i += 2) printf "%s\t%s\t%s\t-\t-\n", name, $(i+1), $i
}' "$out/go-bench.txt" >> "$rows"

for s in bench/side-*.sh; do
	[ -e "$s" ] || continue
	echo "bench: $s" >&2
	if ! bash "$s" >> "$rows"; then
		printf '%s\terror\tthe script failed (its messages are above)\t-\t-\n' "$(basename "$s")" >> "$rows"
		status=1
	fi
done

printf 'name\tmetric\tours\tpeer\tratio\n' | cat - "$rows" | column -t -s $'\t'
exit $status
