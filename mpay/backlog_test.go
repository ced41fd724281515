package mpay_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpay/demosp"
	"github.com/semnat/semnat/store"
)

// TestBacklogDrainsWhenSPBack: the SP is down while confirmations pile up,
// each with its retry a minute or more ahead; when it answers again (a new
// payment's confirmation is acknowledged), every waiting confirmation is
// delivered at once, long before its retry was due, and counted once.
func TestBacklogDrainsWhenSPBack(t *testing.T) {
	backlogDrainsWhenSPBack(t, newEnv(t, slowRetries))
}

// TestBacklogDrainsWhenSPBackPostgres is the same on PostgreSQL.
func TestBacklogDrainsWhenSPBackPostgres(t *testing.T) {
	backlogDrainsWhenSPBack(t, newPostgresEnv(t, slowRetries))
}

// slowRetries: the first retry of a failed confirmation comes 45 s or
// more after the failure (a quarter of jitter off a minute). Calls get
// 10 s: a delivery the SP counted but that outlasted the test
// environment's 500 ms under load would be delivered again, a third call.
func slowRetries(c *mpay.Config) {
	c.RetryBase, c.RetryMax = time.Minute, 5*time.Minute
	c.CallTimeout = 10 * time.Second
}

func backlogDrainsWhenSPBack(t *testing.T, e *env) {
	const n = 30
	pids, failedBy := e.failBacklog(t, "B-", n)
	e.sp.FailFirst.Store(0) // back
	pids = append(pids, e.payApproved(t, "B-new", 999))
	e.waitConfirmed(t, pids, failedBy.Add(30*time.Second)) // the retries were due 45 s after their failure at the earliest
	calls, pays := e.sp.Confirmed()
	if len(pays) != n+1 {
		t.Fatalf("the SP counted %d payments, want %d", len(pays), n+1)
	}
	for _, pid := range pids[:n] {
		if calls[pid] != 2 {
			t.Errorf("payment %s: %d calls to the SP, want 2 (the failure and the delivery)", pid, calls[pid])
		}
	}
}

// TestBacklogDrainOnOtherInstancePostgres: two instances share one
// PostgreSQL database. The SP is back when instance a delivers a
// confirmation, and the drain a asks for runs on instance b (a's workers
// stop meanwhile); later, a backlog of confirmations that failed at a is
// drained when a sees the SP back again. A drain is the store's, not the
// process's: before, a kept its own note of "a drain is under way", which
// only the instance running the drain cleared, so a never drained that SP
// again.
func TestBacklogDrainOnOtherInstancePostgres(t *testing.T) {
	g := newConfirmGate()
	a, b := newPostgresPair(t, func(c *mpay.Config) { slowRetries(c); c.HTTP = g.client() })
	jobsOff(t, b)
	// The SP fails the deliveries of a.
	pids, failedBy := a.failBacklog(t, "A1-", 20)
	// The SP is back. a's delivery of a new payment is held at the SP
	// while a's workers stop and b's start: a asks for the drain, b runs it.
	a.sp.FailFirst.Store(0)
	g.hold()
	pids = append(pids, a.payApproved(t, "A1-new", 999))
	g.waitHeld(t)
	jobsOn(t, b)
	a.stopJobsAround(t, g.release)
	a.waitConfirmed(t, pids, failedBy.Add(30*time.Second))
	if by := drainsRunBy(t, a); by != "b/mpay" {
		t.Fatalf("the drains were run by %q, want by b only (b/mpay)", by)
	}
	// A later backlog at a, b's workers stopped: a drains it.
	jobsOn(t, a.svc)
	jobsOff(t, b)
	pids, failedBy = a.failBacklog(t, "A2-", 20)
	a.sp.FailFirst.Store(0)
	pids = append(pids, a.payApproved(t, "A2-new", 998))
	a.waitConfirmed(t, pids, failedBy.Add(30*time.Second))
	jobsOn(t, b)
	if _, pays := a.sp.Confirmed(); len(pays) != 42 {
		t.Fatalf("the SP counted %d payments, want 42", len(pays))
	}
}

// TestBacklogDrainAfterDiscardedDrain: a drain that failed for good
// (discarded before it ran) does not keep the next one out: a later
// backlog is drained, with the one the discarded drain left.
func TestBacklogDrainAfterDiscardedDrain(t *testing.T) {
	ctx := context.Background()
	g := newConfirmGate()
	e := newEnv(t, func(c *mpay.Config) { slowRetries(c); c.HTTP = g.client() })
	pids, failedBy := e.failBacklog(t, "D1-", 10)
	e.sp.FailFirst.Store(0)
	g.hold()
	pids = append(pids, e.payApproved(t, "D1-new", 999))
	g.waitHeld(t)
	e.stopJobsAround(t, g.release) // the drain is asked for, and not run
	err := e.st.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = datetime('now', 'subsec') WHERE kind = 'mpay.drain' AND state = 'available'`)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%d drains waiting, want 1", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	jobsOn(t, e.svc)
	more, _ := e.failBacklog(t, "D2-", 10)
	e.sp.FailFirst.Store(0)
	more = append(more, e.payApproved(t, "D2-new", 998))
	e.waitConfirmed(t, append(pids, more...), failedBy.Add(30*time.Second))
}

// payApproved pays an order of sum by an approved card: the payment's ID.
func (e *env) payApproved(t *testing.T, key string, sum int64) string {
	t.Helper()
	e.sp.Put(demosp.Order{Key: key, Reason: "Taxă", Amount: amount(sum)})
	_, payURL, body := e.payCard(t, e.checkout(t, key), cardsim.CardApprove, mpay.FormatAmount(sum))
	if payURL == "" {
		t.Fatalf("pay %s: %s", key, body)
	}
	return paymentIDOf(payURL)
}

// failBacklog takes the SP down and pays n orders, whose confirmations
// fail and wait for their retries (checked to be 30 s ahead or more): the
// payments and when the last failed.
func (e *env) failBacklog(t *testing.T, prefix string, n int) ([]string, time.Time) {
	t.Helper()
	ctx := context.Background()
	e.sp.FailFirst.Store(1 << 30) // down
	var pids []string
	for i := range n {
		pids = append(pids, e.payApproved(t, fmt.Sprintf("%s%02d", prefix, i), int64(100+i)))
	}
	waitFor(t, "every confirmation to fail once", func() bool {
		for _, pid := range pids {
			if p, err := e.svc.Ledger().Payment(ctx, pid); err != nil || p.Attempts == 0 {
				return false
			}
		}
		return true
	})
	failedBy := time.Now()
	for _, pid := range pids {
		p, _ := e.svc.Ledger().Payment(ctx, pid)
		if !p.ConfirmedAt.IsZero() || p.NextAttempt.Before(failedBy.Add(30*time.Second)) {
			t.Fatalf("payment %s: confirmed %v, next attempt %v: the retries are not a minute ahead", pid, p.ConfirmedAt, p.NextAttempt)
		}
	}
	return pids, failedBy
}

// waitConfirmed fails the test when a payment is not acknowledged by
// deadline (before its retry was due: the backlog waited for it).
func (e *env) waitConfirmed(t *testing.T, pids []string, deadline time.Time) {
	t.Helper()
	for _, pid := range pids {
		for {
			p, err := e.svc.Ledger().Payment(context.Background(), pid)
			if err != nil {
				t.Fatal(err)
			}
			if !p.ConfirmedAt.IsZero() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("payment %s not confirmed 30 s after the SP came back (attempts %d, next %v): the backlog waits for its retries",
					pid, p.Attempts, p.NextAttempt)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// stopJobsAround stops e's job workers while its held delivery goes on:
// they stop fetching at once, then release lets the delivery end (and ask
// for what it asks for, which this instance does not run).
func (e *env) stopJobsAround(t *testing.T, release func()) {
	t.Helper()
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped <- e.svc.StopJobs(ctx)
	}()
	time.Sleep(300 * time.Millisecond)
	release()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

func jobsOff(t *testing.T, s *mpay.Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.StopJobs(ctx); err != nil {
		t.Fatal(err)
	}
}

func jobsOn(t *testing.T, s *mpay.Service) {
	t.Helper()
	if err := s.StartJobs(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// newPostgresPair is MPay instance "a" (an env) and instance "b" on one
// PostgreSQL database ($SEMNAT_TEST_POSTGRES), with the same SP.
func newPostgresPair(t *testing.T, mod func(*mpay.Config)) (*env, *mpay.Service) {
	t.Helper()
	dsn := testtool.PostgresSchema(t)
	open := func() *store.Store {
		st, err := store.OpenPostgres(dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	a := newEnvOn(t, open(), func(c *mpay.Config) { mod(c); c.Instance = "a" })
	cfg := a.cfg
	cfg.Store, cfg.Instance, cfg.HTTP = open(), "b", nil
	t.Cleanup(func() { cfg.Store.Close() })
	b, err := mpay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

// drainsRunBy lists the instances that ran MPay's drain jobs so far.
func drainsRunBy(t *testing.T, e *env) string {
	t.Helper()
	rows, err := e.st.Query(context.Background(), `SELECT DISTINCT unnest(attempted_by) FROM river_job WHERE kind = 'mpay.drain' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var by []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		by = append(by, s)
	}
	return strings.Join(by, ",")
}

// confirmGate holds MPay's confirmations to the SP while it is on: a
// test then knows that a delivery is under way and when it ends.
type confirmGate struct {
	mu   sync.Mutex
	on   chan struct{} // closed by release; nil: let through
	held chan struct{}
}

func newConfirmGate() *confirmGate { return &confirmGate{held: make(chan struct{}, 1)} }

func (g *confirmGate) client() *http.Client { return &http.Client{Transport: g} }

func (g *confirmGate) hold() { g.mu.Lock(); g.on = make(chan struct{}); g.mu.Unlock() }

func (g *confirmGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.on)
	g.on = nil
}

func (g *confirmGate) waitHeld(t *testing.T) {
	t.Helper()
	select {
	case <-g.held:
	case <-time.After(20 * time.Second):
		t.Fatal("no confirmation reached the SP within 20 s")
	}
}

func (g *confirmGate) RoundTrip(r *http.Request) (*http.Response, error) {
	g.mu.Lock()
	on := g.on
	g.mu.Unlock()
	if on != nil && strings.HasSuffix(r.URL.Path, "/ConfirmOrderPayment") {
		select {
		case g.held <- struct{}{}:
		default:
		}
		select {
		case <-on:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}
