package mpay_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/semnat/semnat/mpay"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"github.com/semnat/semnat/store"
)

// TestInFlightKept: an invoice's in-flight amount, kept in its row, is the
// sum of its approved payments the SP has not acknowledged, through
// partial payments, a declined one, and acknowledgements made by another
// instance at the same time as the payer's next payment (twice at once:
// taken off once). It fails when Settle does not add, when the
// acknowledgement does not take off, or takes off twice.
func TestInFlightKept(t *testing.T) {
	onBothBackends(t, inFlightKept)
}

func inFlightKept(t *testing.T, open func() (*store.Store, error)) {
	ctx := context.Background()
	l, st := twoInstances(t, open)
	// check compares the column with the sum it replaces, and with want.
	check := func(token string, want int64) {
		t.Helper()
		in, err := l[1].Invoice(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		if err := st[0].QueryRow(ctx, `SELECT COALESCE(SUM(amount), 0) FROM mpay_payments WHERE invoice_id = ? AND state = ? AND confirmed_at = 0`,
			in.ID, mpay.PayApproved).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		if in.InFlight != sum || sum != want {
			t.Errorf("invoice %s: in flight %d, the payments' sum %d, want %d", in.OrderKey, in.InFlight, sum, want)
		}
	}
	pay := func(lg *mpay.Ledger, token string, amount int64, state mpay.PayState) *mpay.Payment {
		t.Helper()
		p, err := lg.Start(ctx, token, amount, mpay.InstrumentCard, "1111")
		if err != nil {
			t.Fatal(err)
		}
		if p, err = lg.Settle(ctx, p.ID, mpay.Outcome{State: state, AuthCode: "A", Reason: "declined"}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ack := func(lg *mpay.Ledger, p *mpay.Payment, i int) {
		ex := &mpayclient.Exchange{Request: mpayclient.Message{Op: mpayclient.OpConfirm, Body: []byte(fmt.Sprint("confirm ", i)), Signature: "c"},
			Response: mpayclient.Message{Op: mpayclient.OpConfirmAck, Body: []byte("ack"), Signature: "k"}}
		if err := lg.Delivered(ctx, p, ex); err != nil {
			t.Error(err)
		}
	}
	const orders = 12
	due := int64(1000)
	var wg sync.WaitGroup
	for i := range orders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in, err := l[i%2].Pulled(ctx, &mpayclient.OrderDetails{ServiceID: serviceID, OrderKey: fmt.Sprint("F-", i), Reason: "Taxă",
				Status: mpayclient.StatusActive, Currency: "MDL", TotalAmountDue: &due, AllowPartialPayments: true,
				Lines: []mpayclient.OrderLine{{LineID: "1", Reason: "Taxă", AmountDue: due}}}, "", nil)
			if err != nil {
				t.Error(err)
				return
			}
			p1 := pay(l[0], in.Token, 300, mpay.PayApproved)
			check(in.Token, 300)
			if in, err = l[0].Invoice(ctx, in.Token); err != nil || *in.Remaining() != 700 {
				t.Errorf("remaining after 300 of 1000 in flight: %v %v", in.Remaining(), err)
				return
			}
			// The other instance acknowledges p1 while the payer pays on.
			var acks sync.WaitGroup
			acks.Add(1)
			go func() { defer acks.Done(); ack(l[1], p1, 1) }()
			pay(l[0], in.Token, 200, mpay.PayDeclined)
			p3 := pay(l[0], in.Token, 500, mpay.PayApproved)
			acks.Wait()
			check(in.Token, 500)
			// p3 acknowledged twice at once (two workers): taken off once.
			acks.Add(2)
			for j := range 2 {
				go func() { defer acks.Done(); ack(l[j], p3, 2) }()
			}
			acks.Wait()
			check(in.Token, 0)
		}()
	}
	wg.Wait()
}
