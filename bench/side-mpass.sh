#!/usr/bin/env bash
# MPass throughput (issue 14), the Go benchmarks of mpass/ at fixed
# iteration counts, each against its target: SAML Responses for an
# existing SSO session (HTTP-Redirect and cross-site POST, the default
# rsa-sha256 registration and the ecdsa-sha256 one) ≥ 1,000/s with p99 ≤
# 50 ms, the OIDC token endpoint ≥ 2,000/s, complete mobile logins with the
# simulator answering at once ≥ 200/s; 32 clients, load generator and
# server in one process sharing the machine's cores. The HTTP-Redirect rows
# use a light load generator on bench/loadgen's model (the relying
# service's signed AuthnRequests made before the clock starts, pre-encoded
# GETs with the browser's cookies on raw keep-alive connections, every
# reply checked for a signed successful Response to its request, every
# 256th fully by the relying service); the POST rows Go's http.Client,
# which follows the redirect the Lax cookie needs. redirect-ungated is
# the HTTP-Redirect row with every request worked on at once instead of
# a few at a time in arrival order (--max-saml-requests -1, mpass/admit.go).
# Besides each rate:
# p99, the process's CPU time per operation (server and clients) and
# bytes allocated per operation (the same), and
# on stderr the load average before and after (rates are only comparable
# on a quiet machine; CPU per operation much less depends on it).
# Prints TSV rows: name metric ours peer ratio (peer / ours).
#   SIDE_MPASS_N: iterations of the SSO and token benchmarks (default 3000);
#   the mobile logins run a third of it.
#   MPASS_BENCH_PROFILE=/tmp/p: CPU and allocation profiles of each timed
#   window, /tmp/p.NAME.cpu (the load generator's samples labelled
#   side=client: go tool pprof -tagignore side=client for the server) and
#   /tmp/p.NAME.allocs (-base /tmp/p.NAME.allocs.base); the test binary is
#   kept as /tmp/p.mpass.test for pprof.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
N=${SIDE_MPASS_N:-3000}
# The garbage collector's target of `semnat mpass serve` (cmd/semnat/mpass_gc.go),
# unless $GOGC is set: GOGC=100 gives Go's default for comparison.
export GOGC=${GOGC:-400}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/mpass.test" ./mpass/
if [ -n "${MPASS_BENCH_PROFILE:-}" ]; then cp "$tmp/mpass.test" "$MPASS_BENCH_PROFILE.mpass.test"; fi
echo "side-mpass: load average before: $(cut -d' ' -f1-3 /proc/loadavg), GOGC=$GOGC" >&2
(cd mpass && "$tmp/mpass.test" -test.run '^$' -test.bench 'SSOResponse/(post|redirect|redirect-ungated|post-ecdsa|redirect-ecdsa)$|OIDCToken/sqlite' -test.benchtime "${N}x" -test.benchmem
	"$tmp/mpass.test" -test.run '^$' -test.bench 'MobileLogin' -test.benchtime "$((N / 3))x") >"$tmp/out.txt" 2>&1 || {
	cat "$tmp/out.txt" >&2
	exit 1
}
echo "side-mpass: load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
grep '^Benchmark' "$tmp/out.txt" >&2
# name iterations ns/op then value unit pairs; the rate's target per name.
awk '/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "mpass.", name)
	target = 1000; if (name ~ /OIDCToken/) target = 2000; if (name ~ /MobileLogin/) target = 200
	for (i = 3; i + 1 <= NF; i += 2) {
		unit = $(i+1)
		if (unit ~ /\/s$/) printf "%s\t%s\t%s\t%d\t%.2f\n", name, unit, $i, target, target / $i
		else if (unit == "p99-ms") printf "%s\t%s\t%s\t%s\t%s\n", name, unit, $i, (name ~ /SSOResponse/ ? "50" : "-"), (name ~ /SSOResponse/ ? sprintf("%.2f", 50 / $i) : "-")
		else if (unit == "cpu-µs/op" || unit == "B/op") printf "%s\t%s\t%s\t-\t-\n", name, unit, $i
	}
}' "$tmp/out.txt"
