package mpay_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mpay"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"github.com/semnat/semnat/store"
)

// TestConcurrentDoubleApproval: two instances sharing a store settle the
// same payment at once (the processor's answer twice, as a retry or the
// settle sweep may give it): one approves it, the other finds it approved
// (ErrTransition); the invoice is paid once, with one audit event. The
// payment and its invoice are locked by one statement (lockSettling):
// without the lock both would approve it.
func TestConcurrentDoubleApproval(t *testing.T) {
	onBothBackends(t, doubleApproval)
}

// onBothBackends runs f on SQLite (a file) and on PostgreSQL (a schema of
// $SEMNAT_TEST_POSTGRES), with open opening one more store on that one
// database at each call.
func onBothBackends(t *testing.T, f func(t *testing.T, open func() (*store.Store, error))) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "mpay.db")
		f(t, func() (*store.Store, error) { return store.OpenSQLite(path, store.Options{}) })
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := testtool.PostgresSchema(t)
		f(t, func() (*store.Store, error) { return store.OpenPostgres(dsn, store.Options{}) })
	})
}

// twoInstances opens two stores with open, each with its ledger: two MPay
// instances sharing one database.
func twoInstances(t *testing.T, open func() (*store.Store, error)) (ledgers [2]*mpay.Ledger, stores [2]*store.Store) {
	for i := range ledgers {
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if ledgers[i], err = mpay.NewLedger(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		stores[i] = st
	}
	return ledgers, stores
}

func doubleApproval(t *testing.T, open func() (*store.Store, error)) {
	ctx := context.Background()
	ledgers, stores := twoInstances(t, open)
	const orders = 30
	due := int64(5000)
	var tokens, payments [orders]string
	for i := range orders {
		key := fmt.Sprint("D-", i)
		in, err := ledgers[0].Pulled(ctx, &mpayclient.OrderDetails{ServiceID: serviceID, OrderKey: key, Reason: "Taxă", Status: mpayclient.StatusActive,
			Currency: "MDL", TotalAmountDue: &due, Lines: []mpayclient.OrderLine{{LineID: "1", Reason: "Taxă", AmountDue: due}}}, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ledgers[1].Start(ctx, in.Token, due, mpay.InstrumentCard, "1111")
		if err != nil {
			t.Fatal(err)
		}
		tokens[i], payments[i] = in.Token, p.ID
	}
	for i := range orders {
		var wg sync.WaitGroup
		var errs [2]error
		for j := range ledgers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[j] = ledgers[j].Settle(ctx, payments[i], mpay.Outcome{State: mpay.PayApproved, AuthCode: fmt.Sprint("A", j)})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, mpay.ErrTransition):
				t.Fatalf("payment %d: %v", i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("payment %d approved %d times (%v)", i, ok, errs)
		}
		in, err := ledgers[i%2].Invoice(ctx, tokens[i])
		if err != nil || in.State != mpay.Paid || in.InFlight != due {
			t.Fatalf("invoice %d: %+v %v", i, in, err)
		}
	}
	approvals := map[string]int{}
	if err := stores[0].WalkAudit(ctx, func(e *store.Entry) error {
		if e.Action == "mpay-payment-approved" {
			approvals[e.Subject]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range payments {
		if approvals[id] != 1 {
			t.Fatalf("payment %s: %d approvals in the audit log", id, approvals[id])
		}
	}
	if _, err := stores[1].VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestEvidenceInOrder: an exchange's two messages are kept by one INSERT,
// numbered after the invoice's last, the request before the answer,
// exchange after exchange.
func TestEvidenceInOrder(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		evidenceInOrder(t, func() (*store.Store, error) {
			return store.OpenSQLite(filepath.Join(t.TempDir(), "mpay.db"), store.Options{})
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := testtool.PostgresSchema(t)
		evidenceInOrder(t, func() (*store.Store, error) { return store.OpenPostgres(dsn, store.Options{}) })
	})
}

func evidenceInOrder(t *testing.T, open func() (*store.Store, error)) {
	ctx := context.Background()
	st, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := mpay.NewLedger(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	due := int64(700)
	var id string
	for i := range 3 {
		ex := &mpayclient.Exchange{
			Request:  mpayclient.Message{Op: mpayclient.OpOrderQuery, Body: []byte(fmt.Sprint("query ", i)), Signature: "q"},
			Response: mpayclient.Message{Op: mpayclient.OpOrderAnswer, Body: []byte(fmt.Sprint("answer ", i)), Signature: "a"}}
		if i == 2 {
			ex.Request = mpayclient.Message{} // an answer alone
		}
		in, err := l.Pulled(ctx, &mpayclient.OrderDetails{ServiceID: serviceID, OrderKey: "E-1", Reason: "Taxă", Status: mpayclient.StatusActive,
			Currency: "MDL", TotalAmountDue: &due, Lines: []mpayclient.OrderLine{{LineID: "1", Reason: "Taxă", AmountDue: due}}}, "", ex)
		if err != nil {
			t.Fatal(err)
		}
		id = in.ID
	}
	// The acknowledgement of a confirmation, twice (two workers): kept
	// once, with its exchange, after the order's.
	in, err := l.InvoiceByOrder(ctx, serviceID, "E-1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Start(ctx, in.Token, due, mpay.InstrumentCard, "1111")
	if err != nil {
		t.Fatal(err)
	}
	if p, err = l.Settle(ctx, p.ID, mpay.Outcome{State: mpay.PayApproved, AuthCode: "A"}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		ex := &mpayclient.Exchange{
			Request:  mpayclient.Message{Op: mpayclient.OpConfirm, Body: []byte(fmt.Sprint("confirm ", i)), Signature: "c"},
			Response: mpayclient.Message{Op: mpayclient.OpConfirmAck, Body: []byte(fmt.Sprint("ack ", i)), Signature: "k"}}
		if err := l.Delivered(ctx, p, ex); err != nil {
			t.Fatal(err)
		}
	}
	if p, err = l.Payment(ctx, p.ID); err != nil || p.ConfirmedAt.IsZero() || p.Attempts != 1 || p.NextAttempt != (time.Time{}) {
		t.Fatalf("payment after the acknowledgement: %+v %v", p, err)
	}
	ev, err := l.Evidence(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ev {
		got = append(got, string(m.Body))
	}
	if fmt.Sprint(got) != "[query 0 answer 0 query 1 answer 1 answer 2 confirm 0 ack 0]" {
		t.Fatalf("evidence in order of seq: %q", got)
	}
	confirmed := 0
	if err := st.WalkAudit(ctx, func(e *store.Entry) error {
		if e.Action == "mpay-payment-confirmed" {
			confirmed++
		}
		return nil
	}); err != nil || confirmed != 1 {
		t.Fatalf("%d confirmations in the audit log (%v), want 1", confirmed, err)
	}
}
