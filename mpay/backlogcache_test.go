package mpay_test

// The backlog of BenchmarkConfirmationBacklog takes minutes to build at
// 100,000 (every payment pulled, approved and refused once by the SP,
// through MPay's own ledger and workers). With
// $SEMNAT_BENCH_BACKLOG_CACHE set to a directory, the first run keeps a
// copy of the database as it stands when the drain would start (SQLite's
// VACUUM INTO, a consistent snapshot), and later runs of the same size
// start from a copy of it: the times it holds (river's scheduled_at and
// MPay's next_attempt) are moved forward by the time since the copy was
// made, so that each retry is as far ahead as it was, the SP (a new one,
// with a new key) is registered again and given the orders, and the
// drain then runs on exactly the state a fresh build leaves. Only the
// drain is measured either way.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	_ "net/http/pprof" // SEMNAT_BENCH_PPROF
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semnat/semnat/mpay"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"github.com/semnat/semnat/mpay/demosp"
	"github.com/semnat/semnat/store"
)

// backlogCacheVersion names the layout of a kept backlog: change it when
// the tables change, so that an old copy is not used.
const backlogCacheVersion = "v1"

// backlogEnv is MPay (with mod) and its SP, down, with b.N approved
// payments whose confirmations each failed once and wait for their
// retries.
func backlogEnv(b *testing.B, mod func(*mpay.Config)) *env {
	if addr := os.Getenv("SEMNAT_BENCH_PPROF"); addr != "" {
		// Profiles of the drain while it runs: go tool pprof
		// http://ADDR/debug/pprof/profile?seconds=20, goroutine?debug=1.
		runtime.SetBlockProfileRate(int(time.Millisecond))
		runtime.SetMutexProfileFraction(10)
		srv := &http.Server{Addr: addr, Handler: http.DefaultServeMux}
		go srv.ListenAndServe()
		b.Cleanup(func() { srv.Close() })
	}
	dir := os.Getenv("SEMNAT_BENCH_BACKLOG_CACHE")
	if dir == "" {
		return buildBacklog(b, mod)
	}
	name := filepath.Join(dir, fmt.Sprintf("%s-%s-%d.db", strings.TrimPrefix(b.Name(), "Benchmark"), backlogCacheVersion, b.N))
	if _, err := os.Stat(name); err == nil {
		return restoreBacklog(b, mod, name)
	}
	e := buildBacklog(b, mod)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	tmp := name + ".part"
	os.Remove(tmp)
	t0 := time.Now()
	if _, err := e.st.DB().ExecContext(context.Background(), `VACUUM INTO '`+tmp+`'`); err != nil {
		b.Fatalf("keeping the backlog in %s: %v", tmp, err)
	}
	// When the copy was made, in the file's name's neighbour: the
	// restore moves the stored times forward by the time since.
	if err := os.WriteFile(name+".at", []byte(strconv.FormatInt(t0.UnixNano(), 10)), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		b.Fatal(err)
	}
	b.Logf("backlog of %d kept in %s", b.N, name)
	return e
}

// buildBacklog builds the backlog through MPay itself. The back-off is
// that of a confirmation that failed a few times already (a minute,
// doubling to MPay's default 5 minutes), so that the backlog is built in
// minutes, not in those of a real outage.
func buildBacklog(b *testing.B, mod func(*mpay.Config)) *env {
	e := newEnv(b, mod)
	ctx := context.Background()
	e.sp.FailFirst.Store(1 << 40) // down: every confirmation refused
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				if err := payBacklog(ctx, e, "Q-"+strconv.FormatInt(i, 10)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	waitLongEvery(b, "every confirmation refused once", time.Second, func() bool { // a count over the whole table
		var n int
		err := e.st.QueryRow(ctx, `SELECT count(*) FROM mpay_payments WHERE attempts = 0`).Scan(&n)
		return err == nil && n == 0
	})
	return e
}

// restoreBacklog starts MPay on a copy of the kept backlog.
func restoreBacklog(b *testing.B, mod func(*mpay.Config), kept string) *env {
	ctx := context.Background()
	raw, err := os.ReadFile(kept + ".at")
	if err != nil {
		b.Fatal(err)
	}
	at, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		b.Fatalf("%s.at: %v", kept, err)
	}
	path := filepath.Join(b.TempDir(), "mpay.db")
	if err := copyFile(path, kept); err != nil { // streamed: the peak RSS reported is the drain's
		b.Fatal(err)
	}
	st, err := store.OpenSQLite(path, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	// Before MPay's workers start. A build of 100,000 takes longer than
	// the back-off (1 to 5 minutes), so when the copy was made the
	// confirmations refused first were due again (available, or running
	// their second refusal): they are put back as waiting, as if refused
	// again at the copy (the next retry 4 to 5 minutes ahead), so that
	// the drain, not the retries coming due, is what is measured. Then
	// every wait is made as long as it was at the copy.
	keptAt := time.Unix(0, at)
	shiftAt := time.Now()
	shift := shiftAt.Sub(keptAt)
	for _, q := range []string{
		`UPDATE river_job SET state = 'retryable', scheduled_at = strftime('%Y-%m-%d %H:%M:%f', '` + keptAt.UTC().Format("2006-01-02 15:04:05.000") + `', '+' || (240 + id % 60) || ' seconds')
			WHERE kind = 'mpay.confirm' AND state IN ('available', 'running')`,
		`UPDATE mpay_payments SET next_attempt = ` + strconv.FormatInt(keptAt.Add(270*time.Second).UnixNano(), 10) + `
			WHERE next_attempt < ` + strconv.FormatInt(at, 10) + ` AND confirmed_at = 0`,
	} {
		if _, err := st.DB().ExecContext(ctx, q); err != nil {
			b.Fatalf("restoring the backlog: %v", err)
		}
	}
	moveTimes(b, st, shift)
	// The updates above left their pages in the WAL: written back to the
	// file now, not by the first commits of the drain.
	if _, err := st.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatalf("restoring the backlog: %v", err)
	}
	var waiting int
	if err := st.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'mpay.confirm' AND state = 'retryable'`).Scan(&waiting); err != nil {
		b.Fatal(err)
	}
	if waiting != b.N {
		b.Fatalf("the kept backlog %s has %d waiting confirmations, not %d: remove it", kept, waiting, b.N)
	}
	// The SP is a new one (its key, its address): registered again.
	if err := mpay.RemoveService(ctx, st, "bench", serviceID); err != nil {
		b.Fatal(err)
	}
	e := newEnvOn(b, st, mod)
	e.sp.FailFirst.Store(1 << 40)
	for i := 0; i < b.N; i++ {
		e.sp.Put(demosp.Order{Key: "Q-" + strconv.Itoa(i), Reason: "Taxă", Amount: amount(10000)})
	}
	// As in a build, this process has seen the SP refuse a confirmation
	// (what makes the next acknowledgement start a drain): one of the
	// backlog's is tried now and refused again.
	var first string
	var attempt int
	if err := st.QueryRow(ctx, `SELECT p.id, j.attempt FROM mpay_payments p JOIN river_job j ON j.kind = 'mpay.confirm' AND j.state = 'retryable' AND j.args->>'paymentID' = p.id
		WHERE p.next_attempt = (SELECT min(next_attempt) FROM mpay_payments) LIMIT 1`).Scan(&first, &attempt); err != nil {
		b.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = datetime('now', 'subsec')
		WHERE kind = 'mpay.confirm' AND state = 'retryable' AND args->>'paymentID' = ?`, first); err != nil {
		b.Fatal(err)
	}
	waitLongEvery(b, "a confirmation refused again", 50*time.Millisecond, func() bool {
		var n int
		err := st.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'mpay.confirm' AND state = 'retryable' AND args->>'paymentID' = ? AND attempt = ?`, first, attempt+1).Scan(&n)
		return err == nil && n == 1
	})
	// The restore took a while (at 100,000, tens of seconds on a loaded
	// machine) after the times were moved, and the retries due in that
	// while would be due when the drain starts, which they were not at
	// the copy: the waits are moved once more by that while, in the
	// store's write slot (MPay runs now).
	lag := time.Since(shiftAt)
	moveTimes(b, st, lag)
	b.Logf("backlog of %d restored from %s (times moved %v forward, then %v for the restore's own time)", b.N, kept, shift.Round(time.Second), lag.Round(time.Millisecond))
	return e
}

// moveTimes moves the waits of a restored backlog (river's retries and
// timed jobs, MPay's next attempts) by d, in the store's write slot, and
// writes the pages it changed back to the database file (so that the
// drain's first commits do not).
func moveTimes(b *testing.B, st *store.Store, d time.Duration) {
	ctx := context.Background()
	if err := st.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE river_job SET scheduled_at = strftime('%Y-%m-%d %H:%M:%f', scheduled_at, '+`+fmt.Sprintf("%.3f", d.Seconds())+` seconds')
			WHERE state IN ('retryable', 'scheduled')`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE mpay_payments SET next_attempt = next_attempt + ? WHERE next_attempt IS NOT NULL`, int64(d))
		return err
	}); err != nil {
		b.Fatalf("restoring the backlog: moving its times: %v", err)
	}
	if _, err := st.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		b.Fatalf("restoring the backlog: %v", err)
	}
}

// payBacklog is an order of the SP paid: pulled (as the SP's answer would
// give it: the pull's HTTP is BenchmarkCompletePayments' part), started
// and approved.
func payBacklog(ctx context.Context, e *env, key string) error {
	l := e.svc.Ledger()
	e.sp.Put(demosp.Order{Key: key, Reason: "Taxă", Amount: amount(10000)})
	due := int64(10000)
	in, err := l.Pulled(ctx, &mpayclient.OrderDetails{ServiceID: serviceID, OrderKey: key, Reason: "Taxă", Status: mpayclient.StatusActive,
		Currency: "MDL", TotalAmountDue: &due, Lines: []mpayclient.OrderLine{{LineID: "1", Reason: "Taxă", AmountDue: due}}}, "", nil)
	if err != nil {
		return err
	}
	p, err := l.Start(ctx, in.Token, due, mpay.InstrumentCard, "1111")
	if err != nil {
		return err
	}
	_, err = l.Settle(ctx, p.ID, mpay.Outcome{State: mpay.PayApproved, AuthCode: "B" + key})
	return err
}

// progressEvery is how often drainProgress prints:
// $SEMNAT_BENCH_PROGRESS (a duration), 5 s by default.
var progressEvery = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SEMNAT_BENCH_PROGRESS")); err == nil && d > 0 {
		return d
	}
	return 5 * time.Second
}()

// drainProgress prints, with -test.v, every progressEvery of the drain how many
// confirmations the SP counted, at what rate and CPU time each over the
// last interval, and the load average: whether the cost of a confirmation
// changes as the backlog shrinks. The returned func stops it.
func drainProgress(e *env, start time.Time) (stop func()) {
	if !testing.Verbose() {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		n0, cpu0, idle0 := e.sp.ConfirmedCount(), cpuTime(), e.st.DB().Stats().MaxIdleClosed
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			n, cpu, db := e.sp.ConfirmedCount(), cpuTime(), e.st.DB().Stats()
			load, _ := os.ReadFile("/proc/loadavg")
			var available, running int // river's fetching index only
			e.st.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE state = 'available'`).Scan(&available)
			e.st.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE state = 'running'`).Scan(&running)
			fmt.Fprintf(os.Stderr, "drain %5.1fs: %6d confirmed, %5.0f/s, %5.0f cpu-µs/confirmation, load %s; jobs %d available, %d running; store connections %d open, %d closed as idle beyond the pool\n",
				time.Since(start).Seconds(), n, float64(n-n0)/progressEvery.Seconds(), float64((cpu-cpu0).Microseconds())/float64(max(1, n-n0)), strings.Join(strings.Fields(string(load))[:3], " "),
				available, running, db.OpenConnections, db.MaxIdleClosed-idle0)
			n0, cpu0, idle0 = n, cpu, db.MaxIdleClosed
		}
	}()
	return func() { close(done) }
}

// copyFile copies the file from to a new file to.
func copyFile(to, from string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
