package mpay_test

import (
	"context"
	"strings"
	"testing"

	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpay/demosp"
)

// TestUnansweredPaymentSettled: a payment started but never answered (the
// process stopped between the start and the processor's answer: here the
// ledger's Start alone) is failed by the settle sweep once its answer is
// overdue, and its invoice is payable again; a card payment settled by
// the payer's request leaves no settle job behind, and one sweep job
// waits for its slot.
func TestUnansweredPaymentSettled(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.sp.Put(demosp.Order{Key: "N-1", Reason: "Taxă", Amount: amount(900)})
	e.sp.Put(demosp.Order{Key: "N-2", Reason: "Taxă", Amount: amount(900)})
	in, err := e.svc.Pull(ctx, serviceID, "N-1", "", "ro")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Ledger().Start(ctx, in.Token, 900, mpay.InstrumentCard, "0000")
	if err != nil {
		t.Fatal(err)
	}
	in2, err := e.svc.Pull(ctx, serviceID, "N-2", "", "ro")
	if err != nil {
		t.Fatal(err)
	}
	card := cardsim.Card{Number: cardsim.CardApprove, ExpMonth: 12, ExpYear: 2035, CVC: "123"}
	if q, err := e.svc.PayCard(ctx, in2.Token, 900, card); err != nil || q.State != mpay.PayApproved {
		t.Fatalf("card payment: %+v %v", q, err)
	}
	waitFor(t, "the unanswered payment to fail", func() bool {
		q, err := e.svc.Ledger().Payment(ctx, p.ID)
		return err == nil && q.State == mpay.PayDeclined
	})
	if q, _ := e.svc.Ledger().Payment(ctx, p.ID); !strings.Contains(q.Reason, "no answer") {
		t.Errorf("reason %q", q.Reason)
	}
	if got, _ := e.svc.Ledger().InvoiceByOrder(ctx, serviceID, "N-1"); got.State != mpay.Failed {
		t.Fatalf("invoice %s after the unanswered payment failed, want failed (payable again)", got.State)
	}
	var settleJobs, sweeps int
	if err := e.st.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'mpay.settle'`).Scan(&settleJobs); err != nil {
		t.Fatal(err)
	}
	if err := e.st.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'mpay.settle-sweep' AND state <> 'completed'`).Scan(&sweeps); err != nil {
		t.Fatal(err)
	}
	if settleJobs != 0 || sweeps < 1 || sweeps > 2 {
		t.Fatalf("%d settle jobs (want none), %d sweeps waiting (want the next)", settleJobs, sweeps)
	}
}
