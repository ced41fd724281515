# Sourced by the bench/side-*.sh scripts that measure `semnat serve --demo`
# on loopback; not run on its own.
#   demo_setup: a temporary folder $tmp (removed on exit, with the server
#     stopped), the semnat binary (SEMNAT_BIN, default bin/semnat, built if
#     missing) copied to $tmp/semnat, and bench/loadgen and bench/mkpdf
#     built into $tmp.
#   demo_start NAME [ARGS...]: starts `semnat serve --demo` with GOMAXPROCS=2
#     ($SEMNAT_BENCH_SERVER_PROCS to change it; SEMNAT_BENCH_SERVER_CPUS,
#     a CPU list for taskset, keeps it on those CPUs) and its data in
#     $data = $tmp/data, ARGS added to its command line; waits until it
#     listens and sets $base (its URL) and $pid; exits with the server's
#     errors, under NAME, when it does not start.
#   hwm: the server's peak RSS in MB.
#   listening_url FILE: waits (up to 30 s) until a server's output FILE
#     says "listening on URL" and prints URL (nothing if it never does).

demo_setup() {
	tmp=$(mktemp -d)
	pid=
	trap 'demo_cleanup' EXIT
	bin=${SEMNAT_BIN:-bin/semnat}
	[ -x "$bin" ] || go build -o "$bin" ./cmd/semnat
	cp "$bin" "$tmp/semnat"
	go build -o "$tmp/loadgen" ./bench/loadgen
	go build -o "$tmp/mkpdf" ./bench/mkpdf
	data=$tmp/data
}

demo_cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}

demo_start() {
	local name=$1
	shift
	GOMAXPROCS=${SEMNAT_BENCH_SERVER_PROCS:-2} ${SEMNAT_BENCH_SERVER_CPUS:+taskset -c "$SEMNAT_BENCH_SERVER_CPUS"} "$tmp/semnat" serve --demo --data "$data" --addr 127.0.0.1:0 "$@" >"$tmp/serve.out" 2>"$tmp/serve.err" &
	pid=$!
	base=$(listening_url "$tmp/serve.out")
	if [ -z "$base" ]; then
		echo "$name: the server did not start:" >&2
		cat "$tmp/serve.err" >&2
		exit 1
	fi
}

hwm() { awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }

listening_url() {
	for _ in $(seq 300); do grep -q '^listening on' "$1" 2>/dev/null && break; sleep 0.1; done
	sed -n 's/^listening on //p' "$1"
}
