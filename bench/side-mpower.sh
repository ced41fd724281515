#!/usr/bin/env bash
# MPower Code-True-One (issue 15) as a service sees it: `semnat serve
# --demo` on loopback with SQLite (plain HTTP, as bench/side-msign.sh); a
# system registered with `semnat mpower systems add` (API key).
# bench/loadgen (raw keep-alive connections, a cheap client) asks from 32
# connections about one authorization code that has no power: the answer
# is false, through the same path as any check (the power cache, whose
# not-found entries are kept like powers, and one audit entry per check
# under the change counter's guard). Target: 20,000 checks/s, p99 5 ms.
# The server runs with GOMAXPROCS=2 and GOGC=400, the default of `semnat
# mpower serve` ($GOGC to change it); its CPU per check is read from
# /proc (utime + stime of the server only). SIDE_MPOWER_STORE=postgres://...
# runs it on PostgreSQL instead (its server's CPU is not in the figure).
# Also printed: the load generator's own CPU per check (getrusage), the
# time per check that the server's threads and the load generator's were
# ready to run but waited for a CPU (Linux's schedstat: on 2 cores shared
# by both, a large part of a check's latency), and on
# SQLite the audit entries per audit transaction (the group commit), and
# the server's peak RSS.
# SIDE_MPOWER_PPROF=PREFIX builds the server with -tags pprof and writes
# PREFIX.cpu (3 s of the run), PREFIX.trace (an execution trace of the
# half second after it: go tool trace; bench/trace-checks.py prints where
# its checks' time went), PREFIX.loadgen.cpu (the load
# generator's) and PREFIX.allocs (the heap profile at the end;
# compare with -base PREFIX.allocs0, taken before the load).
# It measures SIDE_MPOWER_RUNS (3) runs in a row against the same server
# (each printed to stderr; the profiles are of the first) and prints the
# median of each figure: on a machine whose speed swings between runs, a
# figure of one run says little.
# Prints TSV rows: name metric ours peer ratio (peer / ours).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
DUR=${SIDE_MPOWER_DURATION:-5s}
C=${SIDE_MPOWER_CLIENTS:-32}
export SEMNAT_RATE_LIMIT=${SEMNAT_RATE_LIMIT:-1000000}
# The garbage collector's target of `semnat mpower serve` (cmd/semnat/mpower_gc.go),
# unless $GOGC is set: GOGC=100 gives Go's default for comparison.
export GOGC=${GOGC:-400}
. bench/demo.sh
if [ -n "${SIDE_MPOWER_PPROF:-}" ]; then
	SEMNAT_BIN=$(mktemp -u /tmp/semnat-pprof.XXXXXX)
	go build -tags pprof -o "$SEMNAT_BIN" ./cmd/semnat
	export SEMNAT_PPROF=127.0.0.1:${SIDE_MPOWER_PPROF_PORT:-16060}
fi
demo_setup
[ -n "${SIDE_MPOWER_PPROF:-}" ] && rm -f "$SEMNAT_BIN"
store=()
name=mpower-CodeTrueOne-c$C
if [ -n "${SIDE_MPOWER_STORE:-}" ]; then
	store=(--store "$SIDE_MPOWER_STORE")
	name=$name-postgres
fi
demo_start side-mpower "${store[@]}" --log-level warn
"$tmp/semnat" mpower systems add bench --api-key-file "$tmp/key" --data "$data" "${store[@]}" >/dev/null 2>&1
key=$(cat "$tmp/key")
: >"$tmp/none" # loadgen wants a request file; a GET sends none
# The load generator's processors (GOMAXPROCS; the server has 2) and,
# when set, the CPUs it may run on (taskset's list; the server's are
# SEMNAT_BENCH_SERVER_CPUS, bench/demo.sh).
LGPROCS=${SIDE_MPOWER_LOADGEN_PROCS:-2}
LGCPUS=${SIDE_MPOWER_LOADGEN_CPUS:-}
RUNS=${SIDE_MPOWER_RUNS:-3}
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; } # clock ticks
# ns the server's threads were ready to run but had no CPU (schedstat).
runq() { cat /proc/"$pid"/task/*/schedstat 2>/dev/null | awk '{ d += $2 } END { printf "%.0f", d }'; }
hz=$(getconf CLK_TCK)
echo "side-mpower: $base; GOGC=$GOGC; loadgen GOMAXPROCS=$LGPROCS; $C clients, $DUR, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
lgprof=()
if [ -n "${SIDE_MPOWER_PPROF:-}" ]; then
	lgprof=(-cpuprofile "$SIDE_MPOWER_PPROF.loadgen.cpu")
	curl -sf -o "$SIDE_MPOWER_PPROF.allocs0" "http://$SEMNAT_PPROF/debug/pprof/allocs"
	(sleep 1 && curl -sf -o "$SIDE_MPOWER_PPROF.cpu" "http://$SEMNAT_PPROF/debug/pprof/profile?seconds=3" &&
		curl -sf -o "$SIDE_MPOWER_PPROF.trace" "http://$SEMNAT_PPROF/debug/pprof/trace?seconds=0.5") &
	profiling=$!
fi
secs=${DUR%s}
# One measured run: prints rate p50 p99 errors server-CPU loadgen-CPU
# server-wait loadgen-wait (µs per check), the load generator's report to
# stderr.
measure() {
	local c0 c1 q0 q1 rate p50 p99 errs
	c0=$(cpu)
	q0=$(runq)
	read -r rate p50 p99 errs < <(GOMAXPROCS=$LGPROCS ${LGCPUS:+taskset -c "$LGCPUS"} "$tmp/loadgen" -url "$base/api/Authorization/check/Code-True-One?AuthorizationCode=1000000000000002" \
		-req "$tmp/none" -kind mpower-check -header "X-API-Key: $key" -c "$C" -d "$DUR" "$@" 2>"$tmp/loadgen.err") || { cat "$tmp/loadgen.err" >&2; exit 1; }
	c1=$(cpu)
	q1=$(runq)
	cat "$tmp/loadgen.err" >&2
	echo "$rate $p50 $p99 $errs $(per_check $(((c1 - c0) * 1000000 / hz))) $(loadgen_said 'CPU per reply')" \
		"$(per_check $(((q1 - q0) / 1000))) $(loadgen_said 'waiting for a CPU per reply')"
}
# µs per check of $1 µs over the run (rate, secs: measure's).
per_check() { awk -v d="$1" -v r="$rate" -v s="$secs" 'BEGIN { if (r > 0) printf "%.1f", d / (r * s); else print "-" }'; }
# The load generator's "N µs $1" (- when it did not say).
loadgen_said() {
	local v
	v=$(sed -n "s/^loadgen: \([0-9.]*\) µs $1.*/\1/p" "$tmp/loadgen.err")
	echo "${v:--}"
}
run=$(measure "${lgprof[@]}")
runs=("$run")
if [ -n "${SIDE_MPOWER_PPROF:-}" ]; then
	wait "$profiling"
	curl -sf -o "$SIDE_MPOWER_PPROF.allocs" "http://$SEMNAT_PPROF/debug/pprof/allocs"
	# Where the traced checks' time went (bench/trace-checks.py), to stderr.
	go tool trace -d=parsed "$SIDE_MPOWER_PPROF.trace" | /usr/bin/python3 bench/trace-checks.py >&2
fi
for _ in $(seq 2 "$RUNS"); do
	sleep 1
	run=$(measure)
	runs+=("$run")
done
if [ "$RUNS" -gt 1 ]; then
	echo "side-mpower: $RUNS runs (checks/s p50 p99 errors, µs per check: server CPU, load generator CPU, server and load generator waiting for a CPU):" >&2
	printf '  %s\n' "${runs[@]}" >&2
fi
# Column $1 of the runs, median (the middle one; the upper of two).
med() { printf '%s\n' "${runs[@]}" | awk -v k="$1" '{ print $k }' | sort -g | awk '{ v[NR] = $0 } END { print v[int(NR / 2) + 1] }'; }
rate=$(med 1)
p99=$(med 3)
printf '%s\tchecks/s\t%s\t20000 (target)\t%s\n' "$name" "$rate" "$(awk -v a="$rate" 'BEGIN { if (a > 0) printf "%.2f", 20000 / a; else print "-" }')"
printf '%s\tp50_ms\t%s\t-\t-\n' "$name" "$(med 2)"
printf '%s\tp99_ms\t%s\t5 (target)\t%s\n' "$name" "$p99" "$(awk -v a="$p99" 'BEGIN { if (a > 0) printf "%.2f", 5 / a; else print "-" }')"
printf '%s\terrors\t%s\t-\t-\n' "$name" "$(med 4)"
printf '%s\tserver_cpu_us/check\t%s\t-\t-\n' "$name" "$(med 5)"
printf '%s\tloadgen_cpu_us/check\t%s\t-\t-\n' "$name" "$(med 6)"
# The two share the machine's CPUs: how long each waited for one per
# check (Linux's run queue), beside what it used.
printf '%s\tserver_runq_wait_us/check\t%s\t-\t-\n' "$name" "$(med 7)"
printf '%s\tloadgen_runq_wait_us/check\t%s\t-\t-\n' "$name" "$(med 8)"
printf '%s\tserver_peak_rss_mb\t%s\t-\t-\n' "$name" "$(hwm)"
if [ -z "${SIDE_MPOWER_STORE:-}" ] && command -v sqlite3 >/dev/null; then
	# Entries of one audit transaction share its time (store.appendBatch).
	printf '%s\taudit_entries/tx\t%s\t-\t-\n' "$name" "$(sqlite3 "$data/semnat.db" "SELECT printf('%.1f', 1.0 * count(*) / count(DISTINCT at)) FROM audit WHERE action = 'mpower-check'")"
fi
echo "side-mpower: load after $(cut -d' ' -f1-3 /proc/loadavg)" >&2
