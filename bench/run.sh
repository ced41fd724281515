#!/usr/bin/env bash
# `make bench`: every Go benchmark of the module, then the side-by-side
# scripts bench/side-*.sh, printed as one table: name, metric, ours, peer, ratio.
#
# A side-by-side script prints TSV rows on stdout:
#   name<TAB>metric<TAB>ours<TAB>peer<TAB>ratio
# (peer and ratio may be "-"); anything on stderr is progress for people.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
out=bench/out
mkdir -p "$out"
rows="$out/rows.tsv"
: > "$rows"

echo "bench: Go benchmarks (BENCHTIME=${BENCHTIME:-1s})" >&2
go test -run='^$' -bench="${BENCH:-.}" -benchtime="${BENCHTIME:-1s}" -benchmem ./... | tee "$out/go-bench.txt" >&2 || true
# Benchmark lines: name iterations value unit [value unit]...
awk '/^pkg: / { pkg=$2; sub(/^github.com\/semnat\/semnat\//, "", pkg) }
/^Benchmark/ {
	name=$1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name); name=pkg "." name;
	for (i = 3; i + 1 <= NF; i += 2) printf "%s\t%s\t%s\t-\t-\n", name, $(i+1), $i
}' "$out/go-bench.txt" >> "$rows"

for s in bench/side-*.sh; do
	[ -e "$s" ] || continue
	echo "bench: $s" >&2
	bash "$s" >> "$rows" || echo -e "$(basename "$s")\terror\t-\t-\t-" >> "$rows"
done

printf 'name\tmetric\tours\tpeer\tratio\n' | cat - "$rows" | column -t -s $'\t'
