#!/usr/bin/env bash
# MPay's backlog (issue 16): N confirmations (default 100,000) refused while
# the SP was down, each waiting for its retry; the SP comes back and the
# backlog must drain at >= 1,000/s. Runs BenchmarkConfirmationBacklogES256
# (MPay's default message key; MPAY_BACKLOG_BENCH=ConfirmationBacklog for
# the all-RSA one) once at N, with the built backlog kept in
# $SEMNAT_BENCH_BACKLOG_CACHE (default bench/out/backlog-cache): the first
# run builds it (minutes at 100,000) and keeps a copy, later runs start
# from the copy. Only the drain is timed either way; take a restored run's
# figure: a build of 100,000 outlasts the retries' back-off, so in the
# first run part of the backlog is already due when the SP comes back, while
# a restored one is all waiting (mpay/backlogcache_test.go). Prints the benchmark
# line (confirmations/s, CPU per confirmation, p99 from the SP's return,
# peak RSS) and the load average before and after on stderr, and TSV rows
# like bench/side-*.sh on stdout.
#   bash bench/mpay-backlog.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
N=${1:-100000}
export SEMNAT_BENCH_BACKLOG_CACHE=${SEMNAT_BENCH_BACKLOG_CACHE:-$PWD/bench/out/backlog-cache}
bench=${MPAY_BACKLOG_BENCH:-ConfirmationBacklogES256}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/mpay.test" ./mpay/
kept="$SEMNAT_BENCH_BACKLOG_CACHE/$bench-v1-$N.db"
[ -e "$kept" ] && echo "mpay-backlog: starting from the kept backlog $kept" >&2 || echo "mpay-backlog: building the backlog of $N (kept in $kept for the next runs)" >&2
echo "mpay-backlog: load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
(cd mpay && "$tmp/mpay.test" -test.run '^$' -test.bench "^Benchmark$bench\$" -test.benchtime "${N}x" -test.timeout 3h) >"$tmp/out.txt" 2>&1 || {
	cat "$tmp/out.txt" >&2
	exit 1
}
echo "mpay-backlog: load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
grep -E '^Benchmark|backlog of' "$tmp/out.txt" >&2
awk -v n="$N" '/^Benchmark/ { for (i = 3; i + 1 <= NF; i += 2) printf "mpay.%s-%d\t%s\t%s\t-\t-\n", substr($1, 10, index($1, "-") - 10), n, $(i+1), $i }' "$tmp/out.txt"
