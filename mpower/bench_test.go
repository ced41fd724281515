package mpower

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/store"
)

// benchStores names a fresh store of each kind for a benchmark:
// PostgreSQL only when $SEMNAT_TEST_POSTGRES names one.
func benchStores(b *testing.B) map[string]func() string {
	m := map[string]func() string{"sqlite": func() string { return filepath.Join(b.TempDir(), "semnat.db") }}
	if os.Getenv("SEMNAT_TEST_POSTGRES") != "" {
		m["postgres"] = func() string { return testtool.PostgresSchema(b) }
	}
	return m
}

// cpuTime is the CPU time the process has used (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchClients is how many clients call at once: 32 (the load),
// or $BENCH_CLIENTS (the latency of fewer callers, on a small machine
// where 32 queue behind each other for the CPU).
func benchClients() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_CLIENTS")); err == nil && n > 0 {
		return n
	}
	return 32
}

// runClients runs b.N calls of f from clients goroutines at once and
// reports calls/s (as unit), the p50 and p99 latency of the calls that
// succeeded, the CPU time of the whole process (server and clients: one
// machine) per call, and how many calls failed (a timeout on a loaded
// machine is a number to see, not a reason to lose the others; all
// failing fails).
func runClients(b *testing.B, clients int, unit string, f func() error) {
	lat := make(chan time.Duration, b.N+64)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	var failed, next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := f(); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				lat <- time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	close(lat)
	var all []time.Duration
	for d := range lat {
		all = append(all, d)
	}
	slices.Sort(all)
	b.ReportMetric(float64(failed.Load()), "failed")
	if len(all) == 0 {
		b.Fatalf("every call failed: %v", firstErr.Load())
	}
	if err := firstErr.Load(); err != nil {
		b.Logf("%d of %d calls failed, the first: %v", failed.Load(), b.N, err)
	}
	if len(all) > 0 {
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), unit)
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(cpu.Microseconds())/float64(len(all)), "cpu-µs/op")
	}
}

// BenchmarkCodeTrueOne: Code-True-One over HTTPS, 32 clients at once (the
// issue's load), each check audited (group commit), on SQLite and on
// PostgreSQL; reports checks/s, the p99 latency and the CPU per check.
func BenchmarkCodeTrueOne(b *testing.B) { benchCodeTrueOne(b, true) }

// BenchmarkCodeTrueOneNoCache: the same without the power cache (each
// check reads the power), to see what the cache saves.
func BenchmarkCodeTrueOneNoCache(b *testing.B) { benchCodeTrueOne(b, false) }

func benchCodeTrueOne(b *testing.B, cache bool) {
	for name, dsn := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			e := newAPIEnvAt(b, dsn())
			if !cache {
				e.reg.cache = nil
			}
			p := e.validPower(b, e.alice.IDNP, e.bob.IDNP)
			ctx := context.Background()
			batches := e.st.AuditBatches()
			runClients(b, benchClients(), "checks/s", func() error {
				ok, err := e.asp.IsValid(ctx, p.Code)
				if err == nil && !ok {
					b.Error("the valid power was said not valid")
				}
				return err
			})
			b.ReportMetric(float64(b.N)/float64(max(1, e.st.AuditBatches()-batches)), "checks/audit-tx")
			// Every check is in the log, which still verifies.
			n, err := e.st.VerifyAudit(ctx)
			if err != nil || n < int64(b.N) {
				b.Fatalf("audit after %d checks: %d entries, %v", b.N, n, err)
			}
		})
	}
}

// bulkPowers loads n Valid powers into e's registry with one INSERT ...
// SELECT over a series (the store's own SQL: a recursive CTE on SQLite,
// generate_series on PostgreSQL), between n/10 people (each the grantor
// of about ten and the representative of about ten), and one
// company that grants one power in a hundred (the heavy party); it returns
// the people and the company.
func bulkPowers(b testing.TB, st *store.Store, now time.Time, n int) (people []string, heavy string) {
	b.Helper()
	ctx := context.Background()
	people, heavy = bulkParties(b, n)
	from, to := now.AddDate(0, 0, -1).UnixNano(), now.AddDate(0, 6, 0).UnixNano()
	pg := st.Backend() == "postgres"
	series := `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) `
	code := `printf('9%015d', s.i)`
	if pg {
		series, code = `WITH s(i) AS (SELECT generate_series(1, ?::bigint)) `, `'9' || lpad(s.i::text, 15, '0')`
	}
	err := st.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE bench_people (i BIGINT PRIMARY KEY, idnp TEXT NOT NULL)`); err != nil {
			return err
		}
		for i := 0; i < len(people); i += 1000 {
			var q strings.Builder
			var args []any
			q.WriteString(`INSERT INTO bench_people (i, idnp) VALUES `)
			for j := i; j < min(i+1000, len(people)); j++ {
				if j > i {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?)")
				args = append(args, j, people[j])
			}
			if _, err := tx.Exec(ctx, q.String(), args...); err != nil {
				return err
			}
		}
		if err := bumpVersion(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, series+`INSERT INTO mpower_powers (`+powerColumns+`)
			SELECT `+code+`, 'AT-0000002', CASE WHEN s.i % 100 = 0 THEN 2 ELSE 1 END,
				CASE WHEN s.i % 100 = 0 THEN ? ELSE a.idnp END, a.idnp, r.idnp, ?, ?, 'valid', '', ? + s.i, ? + s.i, 'ro', 0
			FROM s JOIN bench_people a ON a.i = s.i % ? JOIN bench_people r ON r.i = (s.i * 7 + 1) % ?`,
			n, heavy, from, to, now.UnixNano(), now.UnixNano(), len(people), len(people))
		return err
	})
	if err != nil {
		b.Fatalf("bulk-loading %d powers: %v", n, err)
	}
	// SQLite: the load's WAL written back now, not during the
	// measurement; no ANALYZE, as in service (semnat never runs it, and
	// the registry names its indexes): modernc's SQLite is built with
	// STAT4, whose statistics made every list statement be prepared
	// again for each new value bound (a tenth of Registry.List's CPU)
	// without changing a plan. PostgreSQL: statistics for the planner,
	// as its autovacuum keeps them in service.
	tidy := []string{`PRAGMA wal_checkpoint(TRUNCATE)`}
	if pg {
		tidy = []string{`ANALYZE mpower_powers`}
	}
	for _, q := range tidy {
		rows, err := st.Query(ctx, q)
		if err != nil {
			b.Fatalf("%s: %v", q, err)
		}
		rows.Close()
	}
	return people, heavy
}

// bulkParties are bulkPowers' people (IDNPs made from their numbers, the
// same at every call) and its heavy party, the company.
func bulkParties(b testing.TB, n int) (people []string, heavy string) {
	people = make([]string, max(10, n/10))
	for i := range people {
		p, err := idn.Complete(fmt.Sprintf("2%011d", 10_000_000_000+i))
		if err != nil {
			b.Fatal(err)
		}
		people[i] = p
	}
	return people, companyIDNO
}

// BenchmarkIdnDetailsList: Idn-Details-List over HTTPS among 1,000,000
// powers (BENCH_POWERS to change), on SQLite and on PostgreSQL, from 1, 4
// and 32 clients at once (BENCH_LIST_CLIENTS, e.g. "32"): "person" asks
// for the first page (50) of a random person's powers (about 20);
// "heavy" pages through the company's 10,000 with the cursor (keyset
// paging), a page of 50 at a random depth. The databases are built once
// and kept (listBenchStore: $SEMNAT_BENCH_CACHE, else bench/out/), so a
// run takes seconds; -v logs the plan of each statement.
func BenchmarkIdnDetailsList(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("BENCH_POWERS")); err == nil && v > 0 {
		n = v
	}
	clients := []int{1, 4, 32}
	if v := os.Getenv("BENCH_LIST_CLIENTS"); v != "" {
		clients = nil
		for _, f := range strings.Split(v, ",") {
			c, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || c < 1 {
				b.Fatalf("BENCH_LIST_CLIENTS %q: want numbers of clients, e.g. 1,4,32", v)
			}
			clients = append(clients, c)
		}
	}
	backends := []string{"sqlite"}
	if os.Getenv("SEMNAT_TEST_POSTGRES") != "" {
		backends = append(backends, "postgres")
	}
	for _, backend := range backends {
		b.Run(backend, func(b *testing.B) {
			e := serveAPI(b, openFixture(b, listBenchStore(b, backend, n)), false)
			people, heavy := bulkParties(b, n)
			ctx := context.Background()
			// The cursors of the company's pages, walked once.
			var cursors []string
			for q := (client.ListQuery{IDNx: heavy, PageSize: 50}); ; {
				page, err := e.asp.ListPage(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Items) > 0 {
					cursors = append(cursors, q.Cursor)
				}
				if page.Next == "" {
					break
				}
				q.Cursor = page.Next
			}
			explainList(b, e, Filter{IDN: people[0], System: "asp"})
			if c := cursors[len(cursors)/2]; c != "" { // a deep page of the company
				explainList(b, e, Filter{IDN: heavy, System: "asp", After: listCursor(b, c)})
			}
			for _, c := range clients {
				b.Run(fmt.Sprintf("person/c%d", c), func(b *testing.B) {
					runClients(b, c, "lists/s", func() error {
						who := people[rand.IntN(len(people))]
						var out client.Envelope[[]client.AuthorizationDetails]
						if _, err := e.asp.GetRaw(ctx, client.PathIdnDetailsList, "IDNx="+who, &out); err != nil {
							return err
						}
						if len(out.Data) == 0 {
							return fmt.Errorf("no powers of %s", who)
						}
						return nil
					})
				})
				b.Run(fmt.Sprintf("heavy/c%d", c), func(b *testing.B) {
					runClients(b, c, "lists/s", func() error {
						page, err := e.asp.ListPage(ctx, client.ListQuery{IDNx: heavy, PageSize: 50, Cursor: cursors[rand.IntN(len(cursors))]})
						if err == nil && len(page.Items) == 0 {
							err = fmt.Errorf("an empty page of %s", heavy)
						}
						return err
					})
				})
			}
		})
	}
}

// listCursor reads a cursor of the API.
func listCursor(b *testing.B, s string) *Cursor {
	c, err := ParseCursor(s)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// explainList logs the plan of each statement of the list f asks for
// (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN ANALYZE), so that a
// run names the indexes its lists use.
func explainList(b *testing.B, e *apiEnv, f Filter) {
	b.Helper()
	ctx := context.Background()
	f.Page, f.PageSize = 1, DefaultPageSize
	lq, err := e.reg.listQueries(ctx, f)
	if err != nil || lq == nil {
		b.Fatalf("the list's statements: %v", err)
	}
	explain := `EXPLAIN QUERY PLAN `
	if e.st.Backend() == "postgres" {
		explain = `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) `
	}
	stmts, args := lq.pages, lq.pageArgs
	if lq.countQ != "" && !lq.counted {
		stmts, args = append([]string{lq.countQ}, stmts...), append([][]any{lq.countArgs}, args...)
	}
	for i, q := range stmts {
		rows, err := e.st.Query(ctx, explain+q, args[i]...)
		if err != nil {
			b.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		var plan []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for j := range vals {
				ptrs[j] = &vals[j]
			}
			if err := rows.Scan(ptrs...); err != nil {
				b.Fatal(err)
			}
			plan = append(plan, fmt.Sprint(vals[len(vals)-1]))
		}
		rows.Close()
		b.Logf("plan of %s\n  %s", q, strings.Join(plan, "\n  "))
	}
}
