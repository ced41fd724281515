package mpay_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpay/demosp"
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
// more after the failure (a quarter of jitter off a minute).
func slowRetries(c *mpay.Config) { c.RetryBase, c.RetryMax = time.Minute, 5*time.Minute }

func backlogDrainsWhenSPBack(t *testing.T, e *env) {
	ctx := context.Background()
	e.sp.FailFirst.Store(1 << 30) // down
	pay := func(key string, sum int64) string {
		e.sp.Put(demosp.Order{Key: key, Reason: "Taxă", Amount: amount(sum)})
		_, payURL, body := e.payCard(t, e.checkout(t, key), cardsim.CardApprove, mpay.FormatAmount(sum))
		if payURL == "" {
			t.Fatalf("pay %s: %s", key, body)
		}
		return paymentIDOf(payURL)
	}
	const n = 30
	var pids []string
	for i := range n {
		pids = append(pids, pay(fmt.Sprintf("B-%02d", i), int64(100+i)))
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

	e.sp.FailFirst.Store(0) // back
	pids = append(pids, pay("B-new", 999))
	deadline := failedBy.Add(30 * time.Second) // the retries were due 45 s after their failure at the earliest
	for _, pid := range pids {
		for {
			p, err := e.svc.Ledger().Payment(ctx, pid)
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
