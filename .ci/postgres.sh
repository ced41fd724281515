#!/usr/bin/env bash
# Start a local PostgreSQL (Debian's cluster) for the store tests and print
# the DSN they take from $SEMNAT_TEST_POSTGRES. Idempotent; runs as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v pg_lsclusters >/dev/null || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
read -r ver cluster port status _ < <(pg_lsclusters -h | head -1)
# pg_stat_statements, for the benchmarks' statements and planning time per
# operation (mpay's BenchmarkCompletePayments*Postgres*): loaded at the cluster's
# next start; a running cluster is not restarted for it.
confd=/etc/postgresql/$ver/$cluster/conf.d
if [ -d "$confd" ] && [ ! -f "$confd/semnat-bench.conf" ]; then
	echo "shared_preload_libraries = 'pg_stat_statements'" >"$confd/semnat-bench.conf"
fi
if [ -f "$confd/semnat-bench.conf" ] && ! grep -q track_planning "$confd/semnat-bench.conf"; then
	echo "pg_stat_statements.track_planning = on" >>"$confd/semnat-bench.conf"
fi
if [ "$status" != "online" ]; then
	pg_ctlcluster "$ver" "$cluster" start >&2
fi
psql_su() { su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -qAtc \"$1\"" </dev/null; }
for _ in $(seq 50); do psql_su "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
if [ "$(psql_su "SELECT 1 FROM pg_roles WHERE rolname = 'semnat_test'")" != "1" ]; then
	psql_su "CREATE ROLE semnat_test LOGIN PASSWORD 'semnat_test'" >&2
fi
if [ "$(psql_su "SELECT 1 FROM pg_database WHERE datname = 'semnat_test'")" != "1" ]; then
	psql_su "CREATE DATABASE semnat_test OWNER semnat_test" >&2
fi
if psql_su "SHOW shared_preload_libraries" | grep -q pg_stat_statements; then
	su postgres -c "psql -p $port -d semnat_test -v ON_ERROR_STOP=1 -qAtc 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements'" </dev/null >&2
fi
# pg_prewarm (contrib), with which BenchmarkIdnDetailsList reads a kept
# schema into the page cache before measuring (mpower/listbench_test.go).
su postgres -c "psql -p $port -d semnat_test -v ON_ERROR_STOP=1 -qAtc 'CREATE EXTENSION IF NOT EXISTS pg_prewarm'" </dev/null >&2
echo "postgres://semnat_test:semnat_test@127.0.0.1:$port/semnat_test?sslmode=disable"
