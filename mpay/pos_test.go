package mpay_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/semnat/semnat/mpay/client"
	"github.com/semnat/semnat/mpay/demosp"
	"github.com/semnat/semnat/problem"
)

// TestPosTerminalPay: the counter POS endpoint (POST
// /PosTerminal/Pay/{ServiceId}/{OrderKey}) records a card payment taken at
// the SP's counter: the order is pulled, the payment confirmed to the SP
// like any other (counted once), its receipt issued; the same terminal
// transaction reported again (also concurrently) is the same payment;
// wrong fields, amounts, orders, services and signatures are refused.
func TestPosTerminalPay(t *testing.T) { posTerminalPay(t, newEnv(t, nil)) }

// TestPosTerminalPayPostgres is TestPosTerminalPay on PostgreSQL.
func TestPosTerminalPayPostgres(t *testing.T) { posTerminalPay(t, newPostgresEnv(t, nil)) }

func posTerminalPay(t *testing.T, e *env) {
	e.sp.Put(demosp.Order{Key: "POS-1", Reason: "Taxă de stat", Amount: amount(15000)})
	e.sp.Put(demosp.Order{Key: "POS-2", Reason: "Amendă", Amount: amount(20000), Partial: true})
	c, err := client.New(e.url, serviceID, e.spSigner, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pay := client.PosPayment{TerminalID: "POS-CHISINAU-01", TransactionID: "RRN000123", Amount: 15000, Currency: "MDL", AuthCode: "A1B2C3", CardLast4: "4242"}
	// Reported three times at once (a terminal retrying): one payment.
	var wg sync.WaitGroup
	got := make([]*client.PosReceipt, 3)
	errs := make([]error, 3)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], errs[i] = c.PosPay(ctx, "POS-1", pay) }()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatalf("report %d: %v", i, errs[i])
		}
		if got[i].PaymentID != got[0].PaymentID {
			t.Fatalf("one POS transaction made payments %s and %s", got[0].PaymentID, got[i].PaymentID)
		}
	}
	r := got[0]
	if r.Amount != 15000 || r.Currency != "MDL" || r.PaidAt.IsZero() {
		t.Fatalf("receipt %+v", r)
	}
	if _, err := client.Verify(r.Signature, r.Body, "pos.response", e.cfg.Cert, time.Now()); err != nil {
		t.Fatalf("the answer is not signed by MPay: %v", err)
	}
	waitFor(t, "the confirmation of the POS payment", func() bool {
		p, err := e.svc.Ledger().Payment(ctx, r.PaymentID)
		return err == nil && !p.ConfirmedAt.IsZero()
	})
	calls, payments := e.sp.Confirmed()
	if payments[r.PaymentID].TotalAmount != 15000 || payments[r.PaymentID].Properties["Bank"] == "" || calls[r.PaymentID] < 1 {
		t.Fatalf("the SP got %+v", payments[r.PaymentID])
	}
	if o, _ := e.sp.Get("POS-1"); o.Paid != 15000 {
		t.Fatalf("the SP counted %d", o.Paid)
	}
	if pdf, err := c.Receipt(ctx, r.PaymentID); err != nil || len(pdf) < 1000 {
		t.Fatalf("receipt: %d %v", len(pdf), err)
	}
	// Reported again after the fact: the same payment, not another.
	again, err := c.PosPay(ctx, "POS-1", pay)
	if err != nil || again.PaymentID != r.PaymentID {
		t.Fatalf("again: %v %v", again, err)
	}
	status := func(err error) int {
		var pe *problem.Error
		if errors.As(err, &pe) {
			return pe.Status
		}
		return 0
	}
	// A partial payment where the order allows it.
	if _, err := c.PosPay(ctx, "POS-2", client.PosPayment{TerminalID: "POS-CHISINAU-01", TransactionID: "RRN000124", Amount: 5000, Currency: "MDL"}); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		key  string
		pay  client.PosPayment
		want int
	}{
		"paid already":       {"POS-1", client.PosPayment{TerminalID: "T", TransactionID: "R1", Amount: 15000, Currency: "MDL"}, http.StatusConflict},
		"more than due":      {"POS-2", client.PosPayment{TerminalID: "T", TransactionID: "R2", Amount: 99999, Currency: "MDL"}, http.StatusConflict},
		"other currency":     {"POS-2", client.PosPayment{TerminalID: "T", TransactionID: "R3", Amount: 100, Currency: "EUR"}, http.StatusConflict},
		"unknown order":      {"NOPE", client.PosPayment{TerminalID: "T", TransactionID: "R4", Amount: 100, Currency: "MDL"}, http.StatusNotFound},
		"no transaction":     {"POS-2", client.PosPayment{TerminalID: "T", Amount: 100, Currency: "MDL"}, http.StatusBadRequest},
		"zero":               {"POS-2", client.PosPayment{TerminalID: "T", TransactionID: "R5", Currency: "MDL"}, http.StatusBadRequest},
		"bad last4":          {"POS-2", client.PosPayment{TerminalID: "T", TransactionID: "R6", Amount: 100, Currency: "MDL", CardLast4: "12345"}, http.StatusBadRequest},
		"transaction reused": {"POS-1", client.PosPayment{TerminalID: "POS-CHISINAU-01", TransactionID: "RRN000123", Amount: 100, Currency: "MDL"}, http.StatusBadRequest},
	} {
		if _, err := c.PosPay(ctx, tc.key, tc.pay); status(err) != tc.want {
			t.Errorf("%s: %v, want %d", name, err, tc.want)
		}
	}
	// Another service's orders, another key: refused.
	other, _, _ := demosp.NewKey(serviceID)
	oc, _ := client.New(e.url, serviceID, other, nil)
	if _, err := oc.PosPay(ctx, "POS-2", client.PosPayment{TerminalID: "T", TransactionID: "R7", Amount: 100, Currency: "MDL"}); status(err) != http.StatusUnauthorized {
		t.Fatalf("another key: %v", err)
	}
	xc, _ := client.New(e.url, "OTHER", e.spSigner, nil)
	if _, err := xc.PosPay(ctx, "POS-2", client.PosPayment{TerminalID: "T", TransactionID: "R8", Amount: 100, Currency: "MDL"}); status(err) != http.StatusUnauthorized {
		t.Fatalf("unregistered service: %v", err)
	}
}
