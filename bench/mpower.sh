#!/usr/bin/env bash
# MPower's performance figures (issue 15) in one command:
#   - BenchmarkCodeTrueOne (HTTPS, 32 clients in the test process, SQLite
#     and PostgreSQL), CPU per check of server and clients together;
#   - BenchmarkIdnDetailsList over 1,000,000 powers (BENCH_POWERS) at 1, 4
#     and 32 clients (BENCH_LIST_CLIENTS), SQLite and PostgreSQL, with
#     the plans (indexes) of its statements logged (-v); its databases are
#     built once (minutes each) and kept in $SEMNAT_BENCH_CACHE (default
#     bench/out/) and a PostgreSQL schema bench_list_*, rebuilt only when
#     the schema changes, so later runs take seconds;
#   - bench/side-mpower.sh (semnat serve --demo with bench/loadgen: the
#     server's own rate and CPU per check, beside the same of two floors,
#     net/http and nginx answering with the check's bytes).
# PostgreSQL rows need $SEMNAT_TEST_POSTGRES; as root, .ci/postgres.sh is
# run to start Debian's cluster and name it. BENCH_CLIENTS (default 32)
# sets the clients of the Go benchmarks; CHECKS and LISTS how many calls.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
if [ -z "${SEMNAT_TEST_POSTGRES:-}" ] && [ "$(id -u)" = 0 ]; then
	SEMNAT_TEST_POSTGRES=$(bash .ci/postgres.sh)
	export SEMNAT_TEST_POSTGRES
fi
echo "bench/mpower.sh: load $(cut -d' ' -f1-3 /proc/loadavg), PostgreSQL: ${SEMNAT_TEST_POSTGRES:+yes}" >&2
go test -run '^$' -bench 'BenchmarkCodeTrueOne$' -benchtime "${CHECKS:-20000}x" -timeout 30m ./mpower/
go test -v -run '^$' -bench 'BenchmarkIdnDetailsList' -benchtime "${LISTS:-1000}x" -timeout 60m ./mpower/
bash bench/side-mpower.sh
