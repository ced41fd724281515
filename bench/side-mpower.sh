#!/usr/bin/env bash
# MPower Code-True-One (issue 15) as a service sees it: `semnat serve
# --demo` on loopback with SQLite (plain HTTP, as bench/side-msign.sh); a
# system registered with `semnat mpower systems add` (API key).
# bench/loadgen (raw keep-alive connections, a cheap client) asks from 32
# connections about one authorization code that has no power: the answer
# is false, through the same path as any check (the power cache, whose
# not-found entries are kept like powers, and one audit entry per check
# under the change counter's guard). Target: 20,000 checks/s, p99 5 ms.
# The server runs with GOMAXPROCS=1 (SEMNAT_BENCH_SERVER_PROCS to change
# it): on this 2-CPU machine the load generator needs the other CPU, and
# with 2 the two processes' threads were switched between both CPUs: each
# check cost about a quarter more of the server's CPU (73 against 55 µs,
# 10 paired runs) and its p99 was worse in 8 of 10 pairs (issue 15's
# session 12 note). GOGC=400 is the default of `semnat mpower serve`
# ($GOGC to change it); the server's CPU per check is read from
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
# After each run of the server, the same load generator with the same
# request measures two floors, servers that answer with the check's
# bytes (status, headers, body; compared with the server's first) and do
# nothing else: bench/httpfloor (Go's net/http, on which Echo is built),
# and nginx when the machine has it (SIDE_MPOWER_NGINX=0 leaves it out),
# each with the server's GOMAXPROCS (nginx: as many workers) and CPUs.
# Their medians are the peers of the rows "..._beside_nethttp_floor" and
# "..._beside_nginx_floor": what this machine allows any server built on
# net/http, and any server at all, measured in the same minute.
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
export SEMNAT_BENCH_SERVER_PROCS=${SEMNAT_BENCH_SERVER_PROCS:-1}
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
check="/api/Authorization/check/Code-True-One?AuthorizationCode=1000000000000002"
# The floors, with the server's processors and CPUs (bench/demo.sh):
# bench/httpfloor, and nginx when the machine has it
# (SIDE_MPOWER_NGINX=0 leaves it out). Each must send the server's answer.
sprocs=$SEMNAT_BENCH_SERVER_PROCS
scpus=${SEMNAT_BENCH_SERVER_CPUS:-}
floor_pid= nginx_pid=
trap '[ -n "$floor_pid$nginx_pid" ] && kill $floor_pid $nginx_pid 2>/dev/null; demo_cleanup' EXIT
go build -o "$tmp/httpfloor" ./bench/httpfloor
GOMAXPROCS=$sprocs ${scpus:+taskset -c "$scpus"} "$tmp/httpfloor" >"$tmp/floor.out" 2>&1 &
floor_pid=$!
floor=$(listening_url "$tmp/floor.out")
[ -n "$floor" ] || { echo "side-mpower: bench/httpfloor did not start:" >&2; cat "$tmp/floor.out" >&2; exit 1; }
nginx=
if [ "${SIDE_MPOWER_NGINX:-1}" != 0 ] && command -v nginx >/dev/null; then
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	{
		echo "worker_processes $sprocs; pid $tmp/nginx.pid; error_log $tmp/nginx.err;"
		echo "events { worker_connections 1024; }"
		echo "http { access_log off; keepalive_requests 100000000; client_body_temp_path $tmp/nginx.body;"
		echo "server { listen 127.0.0.1:$port; location / {"
		"$tmp/httpfloor" -nginx
		echo "} } }"
	} >"$tmp/nginx.conf"
	${scpus:+taskset -c "$scpus"} nginx -e "$tmp/nginx.err" -c "$tmp/nginx.conf" -g 'daemon off;' &
	nginx_pid=$!
	nginx=http://127.0.0.1:$port
	for _ in $(seq 100); do curl -sf -o /dev/null "$nginx$check" && break; sleep 0.1; done
	if ! curl -sf -o /dev/null "$nginx$check"; then
		echo "side-mpower: nginx did not start; measured without it:" >&2
		cat "$tmp/nginx.err" >&2 2>/dev/null || true
		kill "$nginx_pid" 2>/dev/null || true
		nginx_pid= nginx=
	fi
fi
# The answer at URL $1 to the check, headers sorted, without those that
# differ between servers or requests.
answer() { curl -fsi -H "X-API-Key: $key" "$1$check" | tr -d '\r' | grep -viE '^(date|x-request-id|server|connection):' | sort; }
ours=$(answer "$base") || { echo "side-mpower: the server did not answer the check" >&2; exit 1; }
for f in $floor $nginx; do
	if [ "$(answer "$f")" != "$ours" ]; then
		echo "side-mpower: the floor at $f does not send the server's answer:" >&2
		diff <(echo "$ours") <(answer "$f") >&2
		exit 1
	fi
done
# The load generator's processors (GOMAXPROCS; the server has 1) and,
# when set, the CPUs it may run on (taskset's list; the server's are
# SEMNAT_BENCH_SERVER_CPUS, bench/demo.sh).
LGPROCS=${SIDE_MPOWER_LOADGEN_PROCS:-2}
LGCPUS=${SIDE_MPOWER_LOADGEN_CPUS:-}
RUNS=${SIDE_MPOWER_RUNS:-3}
# Clock ticks of CPU the processes $pids (a server's) have used.
cpu() { for p in $pids; do cat "/proc/$p/stat"; done | awk '{ t += $14 + $15 } END { print t }'; }
# ns their threads were ready to run but had no CPU (schedstat).
runq() { for p in $pids; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done | awk '{ d += $2 } END { printf "%.0f", d }'; }
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
# One measured run of the server at URL $1 (its processes: $2):
# prints rate p50 p99 errors server-CPU loadgen-CPU server-wait
# loadgen-wait (µs per check), the load generator's report to stderr.
# Every server gets the same request: the check with the system's key.
measure() {
	local url=$1 pids=$2 c0 c1 q0 q1 rate p50 p99 errs
	shift 2
	c0=$(cpu)
	q0=$(runq)
	read -r rate p50 p99 errs < <(GOMAXPROCS=$LGPROCS ${LGCPUS:+taskset -c "$LGCPUS"} "$tmp/loadgen" -url "$url$check" \
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
# Each run measures the server, then each floor.
run=$(measure "$base" "$pid" "${lgprof[@]}")
runs=("$run")
floor_runs=() nginx_runs=()
floors() {
	sleep 1
	floor_runs+=("$(measure "$floor" "$floor_pid")")
	if [ -n "$nginx" ]; then
		sleep 1
		nginx_runs+=("$(measure "$nginx" "$(pgrep -P "$nginx_pid" | tr '\n' ' ')")")
	fi
}
if [ -n "${SIDE_MPOWER_PPROF:-}" ]; then
	wait "$profiling"
	curl -sf -o "$SIDE_MPOWER_PPROF.allocs" "http://$SEMNAT_PPROF/debug/pprof/allocs"
	# Where the traced checks' time went (bench/trace-checks.py), to stderr.
	go tool trace -d=parsed "$SIDE_MPOWER_PPROF.trace" | /usr/bin/python3 bench/trace-checks.py >&2
fi
floors
for _ in $(seq 2 "$RUNS"); do
	sleep 1
	run=$(measure "$base" "$pid")
	runs+=("$run")
	floors
done
echo "side-mpower: $RUNS runs (checks/s p50 p99 errors, µs per check: server CPU, load generator CPU, server and load generator waiting for a CPU):" >&2
printf '  %s\n' "${runs[@]}" >&2
echo "side-mpower: the same of bench/httpfloor${nginx:+, then of nginx}:" >&2
printf '  %s\n' "${floor_runs[@]}" "${nginx_runs[@]}" >&2
# Column $1 of the runs $2... (default: the server's), median (the middle
# one; the upper of two).
med() {
	local k=$1
	shift
	[ $# -gt 0 ] || set -- "${runs[@]}"
	printf '%s\n' "$@" | awk -v k="$k" '{ print $k }' | sort -g | awk '{ v[NR] = $0 } END { print v[int(NR / 2) + 1] }'
}
# Rows of a floor $1 (its runs $2...): its checks/s, p99 and CPU per check
# as the peer of ours.
floor_rows() {
	local f=$1 col metric ours peer
	shift
	for col in 1:checks/s 3:p99_ms 5:server_cpu_us/check; do
		metric=${col#*:}
		col=${col%%:*}
		ours=$(med "$col")
		peer=$(med "$col" "$@")
		printf '%s\t%s_beside_%s_floor\t%s\t%s\t%s\n' "$name" "$metric" "$f" "$ours" "$peer" \
			"$(awk -v o="$ours" -v p="$peer" 'BEGIN { if (o > 0) printf "%.2f", p / o; else print "-" }')"
	done
}
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
floor_rows nethttp "${floor_runs[@]}"
[ -z "$nginx" ] || floor_rows nginx "${nginx_runs[@]}"
if [ -z "${SIDE_MPOWER_STORE:-}" ] && command -v sqlite3 >/dev/null; then
	# Entries of one audit transaction share its time (store.appendBatch).
	printf '%s\taudit_entries/tx\t%s\t-\t-\n' "$name" "$(sqlite3 "$data/semnat.db" "SELECT printf('%.1f', 1.0 * count(*) / count(DISTINCT at)) FROM audit WHERE action = 'mpower-check'")"
fi
echo "side-mpower: load after $(cut -d' ' -f1-3 /proc/loadavg)" >&2
