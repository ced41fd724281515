package mpower

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/semnat/semnat/store"
)

// The databases of BenchmarkIdnDetailsList (a million powers take
// minutes to load) are built once and kept between runs: a SQLite file in
// $SEMNAT_BENCH_CACHE (else bench/out/, which git ignores) and a schema of
// the PostgreSQL database $SEMNAT_TEST_POSTGRES. Their names carry the
// number of powers and a digest of the schema (listSchemaDigest), so a
// change of the schema or of the generated data builds new ones; an old
// one is left for its owner to remove (`rm bench/out/mpower-list-*`,
// `DROP SCHEMA bench_list_... CASCADE`). A database is built under a
// temporary name and renamed once complete, so an interrupted build is
// never used. The kept database holds the registry as the benchmark left
// it: its lists only read powers (their audit entries are appended).

// listBulkVersion changes when bulkPowers makes different data.
const listBulkVersion = 2 // 2: no ANALYZE on SQLite

// listBenchStore is the DSN of the kept database of n powers on backend
// ("sqlite" or "postgres"), built first if needed.
func listBenchStore(b *testing.B, backend string, n int) string {
	b.Helper()
	name := fmt.Sprintf("bench_list_%d_%s", n, listSchemaDigest(b))
	if backend == "postgres" {
		return listBenchPostgres(b, name, n)
	}
	dir := os.Getenv("SEMNAT_BENCH_CACHE")
	if dir == "" {
		dir = filepath.Join("..", "bench", "out")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, name+".db")
	if _, err := os.Stat(path); err == nil {
		b.Logf("kept database: %s", path)
		warmFile(b, path)
		return path
	}
	building := path + ".building"
	for _, f := range []string{building, building + "-wal", building + "-shm"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			b.Fatal(err)
		}
	}
	buildListBench(b, building, n)
	if err := os.Rename(building, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// listBenchPostgres is listBenchStore's schema name of PostgreSQL.
func listBenchPostgres(b *testing.B, name string, n int) string {
	b.Helper()
	dsn := os.Getenv("SEMNAT_TEST_POSTGRES")
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	in := func(schema string) string {
		u, err := url.Parse(dsn)
		if err != nil {
			b.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	var found int
	if err := admin.QueryRow(`SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, name).Scan(&found); err != nil {
		b.Fatal(err)
	}
	if found > 0 {
		b.Logf("kept database: PostgreSQL schema %s", name)
		warmSchema(b, admin, name)
		return in(name)
	}
	building := name + "_building"
	for _, q := range []string{`DROP SCHEMA IF EXISTS ` + building + ` CASCADE`, `CREATE SCHEMA ` + building} {
		if _, err := admin.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	buildListBench(b, in(building), n)
	if _, err := admin.Exec(`ALTER SCHEMA ` + building + ` RENAME TO ` + name); err != nil {
		b.Fatal(err)
	}
	return in(name)
}

// A kept database is read once before the lists are measured, as a
// service that has run a while has it in memory: the first run after the
// machine dropped its page cache measured the first lists' reads from
// disk (SQLite person/c1 p99 14.8 ms, PostgreSQL 20.2, against 6.8 and
// 8.8 in the run after). A database just built is in memory already.

// warmFile reads the SQLite file at path through the page cache.
func warmFile(b *testing.B, path string) {
	b.Helper()
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	n, err := io.Copy(io.Discard, f)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("read the database (%d MB) in %s", n>>20, time.Since(start).Round(time.Millisecond))
}

// warmSchema reads the tables and indexes of the PostgreSQL schema into
// the page cache with pg_prewarm (PostgreSQL's contrib); without it the
// lists are measured as they are.
func warmSchema(b *testing.B, db *sql.DB, schema string) {
	b.Helper()
	start := time.Now()
	var blocks int64 // of 8 kB
	_, err := db.Exec(`CREATE EXTENSION IF NOT EXISTS pg_prewarm`)
	if err == nil {
		err = db.QueryRow(`SELECT coalesce(sum(pg_prewarm(c.oid, 'read')), 0) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'i')`, schema).Scan(&blocks)
	}
	if err != nil {
		b.Logf("pg_prewarm: %v; the lists are measured without reading the schema first", err)
		return
	}
	b.Logf("read the schema %s (%d MB) in %s", schema, blocks>>7, time.Since(start).Round(time.Millisecond))
}

// buildListBench makes the registry of the list benchmark in the empty
// store dsn: the fixture's types and company, the systems asp and other
// (apiEnv's API keys) and n powers (bulkPowers); the store is closed
// after.
func buildListBench(b *testing.B, dsn string, n int) {
	b.Helper()
	start := time.Now()
	ctx := context.Background()
	st, reg := openBenchRegistry(b, dsn)
	defer st.Close()
	defer reg.Close()
	for _, t := range []AuthType{testType("AT-0000001", true), testType("AT-0000002", false)} {
		if err := reg.AddType(ctx, "test", t); err != nil {
			b.Fatal(err)
		}
	}
	if err := reg.PutEntity(ctx, "test", Entity{IDNO: companyIDNO, Name: "Exemplu SRL", Form: "SRL"}); err != nil {
		b.Fatal(err)
	}
	for _, s := range []NewSystem{{Name: "asp", APIKey: []byte(aspKey)}, {Name: "other", APIKey: []byte(otherKey)}} {
		if err := AddSystem(ctx, st, "test", s); err != nil {
			b.Fatal(err)
		}
	}
	bulkPowers(b, st, time.Now().UTC().Truncate(time.Second), n)
	b.Logf("built the list benchmark's database of %d powers (%s) in %s", n, st.Backend(), time.Since(start).Round(time.Second))
}

// listSchemaDigest names the schema of a new registry and the data
// bulkPowers makes: SHA-256 (12 hex digits) of listBulkVersion, the
// catalog of a new SQLite registry (the store's tables, MPower's and
// those of the packages it uses, with their indexes) and MPower's
// PostgreSQL schema.
func listSchemaDigest(b *testing.B) string {
	b.Helper()
	ctx := context.Background()
	st, reg := openBenchRegistry(b, filepath.Join(b.TempDir(), "schema.db"))
	defer st.Close()
	defer reg.Close()
	h := sha256.New()
	fmt.Fprintf(h, "bulk %d\n", listBulkVersion)
	rows, err := st.Query(ctx, `SELECT type, name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var typ, name, q string
		if err := rows.Scan(&typ, &name, &q); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(h, "%s %s %s\n", typ, name, q)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	for _, sc := range []store.Schema{schema, historySchema, versionSchema} {
		fmt.Fprintf(h, "%s\n%s\n", sc.Name, sc.Postgres)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// openBenchRegistry opens the store dsn and a registry in it (no
// verifier: nothing is signed); the caller closes both.
func openBenchRegistry(b *testing.B, dsn string) (*store.Store, *Registry) {
	b.Helper()
	st, err := store.Open(dsn, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	reg, err := NewRegistry(context.Background(), st, nil)
	if err != nil {
		st.Close()
		b.Fatal(err)
	}
	return st, reg
}
