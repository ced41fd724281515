package mpay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpay/client"
	"github.com/semnat/semnat/mpay/demosp"
	"github.com/semnat/semnat/pades"
)

// TestPayFlowOverHTTP pays an order from the SP's page to the receipt:
// the order is pulled, the card approved, the confirmation acknowledged
// by the SP, the receipt a valid B-LT seal, every message signed and kept.
func TestPayFlowOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	e.sp.Put(demosp.Order{Key: "MDS02250710092629689", Reason: "Taxa de stat pentru pașaport", Amount: amount(15000), CustomerName: "Ion Popescu"})
	inv := e.checkout(t, "MDS02250710092629689")
	state, body := pageState(t, inv, invoiceState)
	if state != "created" || !strings.Contains(body, "150.00 MDL") || !strings.Contains(body, "pașaport") {
		t.Fatalf("invoice page: state %s\n%s", state, body)
	}
	code, payURL, body := e.payCard(t, inv, "4111 1111 1111 1111", "150.00")
	if code != http.StatusSeeOther {
		t.Fatalf("pay: %d %s", code, body)
	}
	if st, _ := pageState(t, payURL, stateAttr); st != "approved" {
		t.Fatalf("payment state %s", st)
	}
	pid := paymentIDOf(payURL)
	waitFor(t, "the SP's acknowledgement", func() bool {
		p, err := e.svc.Ledger().Payment(context.Background(), pid)
		return err == nil && !p.ConfirmedAt.IsZero()
	})
	resp, metrics := do(t, "GET", e.url+"/metrics", nil)
	if resp.StatusCode != 200 || !strings.Contains(metrics, `semnat_mpay_payments_total{instrument="card",outcome="approved"} 1`) ||
		!strings.Contains(metrics, `semnat_mpay_confirmations_total{result="acknowledged"} 1`) {
		t.Fatalf("metrics:\n%s", metrics)
	}
	calls, pays := e.sp.Confirmed()
	if len(pays) != 1 || pays[pid].TotalAmount != 15000 || calls[pid] != 1 {
		t.Fatalf("the SP counted %v (calls %v)", pays, calls)
	}
	if o, _ := e.sp.Get("MDS02250710092629689"); o.Paid != 15000 {
		t.Fatalf("the SP has %d paid", o.Paid)
	}
	_, body = do(t, "GET", payURL, nil)
	if !strings.Contains(body, "Furnizorul a confirmat") || !strings.Contains(body, `id="back" href="`+e.spURL+`/"`) {
		t.Fatalf("payment page after the acknowledgement:\n%s", body)
	}
	if st, _ := pageState(t, inv, invoiceState); st != "paid" {
		t.Fatalf("invoice state %s after payment", st)
	}

	// Evidence: the pull and the confirmation, each way, signed and verifiable.
	in, err := e.svc.Ledger().InvoiceByOrder(context.Background(), serviceID, "MDS02250710092629689")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := e.svc.Ledger().Evidence(context.Background(), in.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, m := range ev {
		ops[m.Op]++
		cert := e.pki.MustGet("seal").Cert
		if strings.HasSuffix(m.Op, ".response") {
			cert = e.spSigner.Certificate()
		}
		if _, err := client.Verify(m.Signature, m.Body, m.Op, cert, m.At); err != nil {
			t.Errorf("evidence %s: %v", m.Op, err)
		}
	}
	if ops[client.OpConfirm] != 1 || ops[client.OpConfirmAck] != 1 || ops[client.OpOrderQuery] < 2 || ops[client.OpOrderAnswer] < 2 {
		t.Fatalf("evidence kept: %v", ops)
	}
	if len(e.sp.Evidence()) < 6 {
		t.Fatalf("the SP kept %d signed messages", len(e.sp.Evidence()))
	}

	// The receipt, for the payer and for the SP: the same sealed file.
	resp, pdf := do(t, "GET", payURL+"/receipt.pdf", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("receipt: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rep, err := pades.Verify(context.Background(), strings.NewReader(pdf), int64(len(pdf)), &pades.VerifyOptions{Roots: e.pki.RootPool()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != 1 || rep.Signatures[0].Indication != pades.TotalPassed {
		t.Fatalf("receipt verification: %+v", rep.Signatures)
	}
	if l := rep.Signatures[0].Level; l != pades.LevelBLT.String() {
		t.Errorf("receipt sealed at %v, want B-LT", l)
	}
	c, err := client.New(e.url, serviceID, e.spSigner, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Invoice(context.Background(), "MDS02250710092629689")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "paid" || len(got.Payments) != 1 || got.Payments[0].PaymentID != pid || got.Payments[0].ConfirmedAt == nil {
		t.Fatalf("client invoice: %+v", got)
	}
	spPDF, err := c.Receipt(context.Background(), pid)
	if err != nil || !bytes.Equal(spPDF, []byte(pdf)) {
		t.Fatalf("the SP's receipt: %v (same file: %v)", err, bytes.Equal(spPDF, []byte(pdf)))
	}
	// Refunds: in parts, idempotent by RefundID, never more than was paid;
	// each answer signed by MPay's key.
	ctx := context.Background()
	r1, err := c.Refund(ctx, client.RefundRequest{PaymentID: pid, RefundID: "R1", Amount: 5000, Reason: "taxă redusă"})
	if err != nil || r1.Amount != 5000 {
		t.Fatalf("refund: %+v %v", r1, err)
	}
	if _, err := client.Verify(r1.Signature, r1.Body, client.OpRefundAck, e.pki.MustGet("seal").Cert, time.Now()); err != nil {
		t.Fatalf("the refund's confirmation: %v", err)
	}
	if again, err := c.Refund(ctx, client.RefundRequest{PaymentID: pid, RefundID: "R1", Amount: 5000}); err != nil || !again.RefundedAt.Equal(r1.RefundedAt) {
		t.Fatalf("the same refund again: %+v %v", again, err)
	}
	if _, err := c.Refund(ctx, client.RefundRequest{PaymentID: pid, RefundID: "R1", Amount: 6000}); !errors.Is(err, client.ErrRefundRefused) {
		t.Fatalf("RefundID reused for another amount: %v", err)
	}
	if _, err := c.Refund(ctx, client.RefundRequest{PaymentID: pid, RefundID: "R2", Amount: 10001}); !errors.Is(err, client.ErrRefundRefused) {
		t.Fatalf("refunding more than is left: %v", err)
	}
	if _, err := c.Refund(ctx, client.RefundRequest{PaymentID: pid, RefundID: "R2", Amount: 10000}); err != nil {
		t.Fatalf("refunding the rest: %v", err)
	}
	if got, _ := c.Invoice(ctx, "MDS02250710092629689"); got.Payments[0].Refunded != 15000 {
		t.Fatalf("refunded: %+v", got.Payments[0])
	}
	// Another SP's key is refused.
	other, _, _ := demosp.NewKey("OTHER")
	oc, _ := client.New(e.url, serviceID, other, nil)
	if _, err := oc.Invoice(context.Background(), "MDS02250710092629689"); !errors.Is(err, client.ErrAuthenticationFailed) {
		t.Fatalf("a call signed by another key: %v", err)
	}
	if _, err := oc.Refund(ctx, client.RefundRequest{PaymentID: pid, RefundID: "X", Amount: 1}); !errors.Is(err, client.ErrAuthenticationFailed) {
		t.Fatalf("a refund signed by another key: %v", err)
	}
}

// TestCardOutcomes tries each test card.
func TestCardOutcomes(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name, card, want string
		code             string // 3-D Secure code typed; "" none
		invoice          string // invoice state after
	}{
		{"approve", cardsim.CardApprove, "approved", "", "paid"},
		{"decline", cardsim.CardDecline, "declined", "", "failed"},
		{"insufficient", cardsim.CardInsufficient, "declined", "", "failed"},
		{"3ds-approve", cardsim.Card3DS, "approved", cardsim.ChallengeCode, "paid"},
		{"3ds-fail", cardsim.Card3DS, "declined", "0000", "failed"},
		{"timeout", cardsim.CardTimeout, "declined", "", "failed"},
		{"delayed", cardsim.CardDelayed, "approved", "", "paid"},
		{"unknown", "4000000000000010", "declined", "", "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.sp.Put(demosp.Order{Key: "O-" + tc.name, Reason: "Amendă", Amount: amount(5050)})
			inv := e.checkout(t, "O-"+tc.name)
			code, payURL, body := e.payCard(t, inv, tc.card, "50.50")
			if code != http.StatusSeeOther {
				t.Fatalf("pay: %d %s", code, body)
			}
			st, _ := pageState(t, payURL, stateAttr)
			switch {
			case tc.code != "":
				if st != "challenge" {
					t.Fatalf("state %s, want the 3-D Secure page", st)
				}
				resp, body := do(t, "POST", payURL+"/3ds", map[string][]string{"code": {tc.code}, "action": {"confirm"}})
				if resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("3ds: %d %s", resp.StatusCode, body)
				}
			case tc.name == "delayed":
				if st != "authorizing" {
					t.Fatalf("state %s, want authorizing first", st)
				}
				waitFor(t, "the delayed approval", func() bool { s, _ := pageState(t, payURL, stateAttr); return s != "authorizing" })
			}
			st, body = pageState(t, payURL, stateAttr)
			if st != tc.want {
				t.Fatalf("state %s, want %s\n%s", st, tc.want, body)
			}
			if s, _ := pageState(t, inv, invoiceState); s != tc.invoice {
				t.Fatalf("invoice %s, want %s", s, tc.invoice)
			}
			if tc.want == "declined" { // the payer may try again, and pay
				if !strings.Contains(body, `id="retry"`) {
					t.Fatalf("no retry link:\n%s", body)
				}
				_, payURL, _ = e.payCard(t, inv, cardsim.CardApprove, "50.50")
				if st, _ := pageState(t, payURL, stateAttr); st != "approved" {
					t.Fatalf("retry: %s", st)
				}
			}
			pid := paymentIDOf(payURL)
			waitFor(t, "the acknowledgement", func() bool { _, p := e.sp.Confirmed(); _, ok := p[pid]; return ok })
			if o, _ := e.sp.Get("O-" + tc.name); o.Paid != 5050 {
				t.Fatalf("the SP counted %d", o.Paid)
			}
		})
	}
	// A malformed card never reaches the processor.
	e.sp.Put(demosp.Order{Key: "O-bad", Reason: "x", Amount: amount(100)})
	inv := e.checkout(t, "O-bad")
	if code, _, body := e.payCard(t, inv, "4111111111111112", "1.00"); code != http.StatusBadRequest || !strings.Contains(body, "nu sunt valide") {
		t.Fatalf("bad card number: %d %s", code, body)
	}
}

// TestDeliveriesRetriedCountedOnce: the SP fails its first confirmations,
// hangs on every third after counting it (the answer is lost), so MPay
// confirms again; every payment is acknowledged and counted once.
func TestDeliveriesRetriedCountedOnce(t *testing.T) {
	deliveriesRetriedCountedOnce(t, newEnv(t, nil))
}

// TestDeliveriesRetriedCountedOncePostgres is the same on PostgreSQL.
func TestDeliveriesRetriedCountedOncePostgres(t *testing.T) {
	deliveriesRetriedCountedOnce(t, newPostgresEnv(t, nil))
}

func deliveriesRetriedCountedOnce(t *testing.T, e *env) {
	e.sp.FailFirst.Store(5)
	e.sp.HangEvery.Store(3)
	const n = 12
	var pids []string
	for i := 0; i < n; i++ {
		key := "R-" + string(rune('A'+i))
		e.sp.Put(demosp.Order{Key: key, Reason: "Taxă", Amount: amount(int64(1000 + i))})
		inv := e.checkout(t, key)
		_, payURL, body := e.payCard(t, inv, cardsim.CardApprove, mpay.FormatAmount(int64(1000+i)))
		if payURL == "" {
			t.Fatalf("pay %s: %s", key, body)
		}
		pids = append(pids, paymentIDOf(payURL))
	}
	waitFor(t, "every acknowledgement", func() bool {
		for _, pid := range pids {
			p, err := e.svc.Ledger().Payment(context.Background(), pid)
			if err != nil || p.ConfirmedAt.IsZero() {
				return false
			}
		}
		return true
	})
	calls, pays := e.sp.Confirmed()
	dup := 0
	for _, pid := range pids {
		if _, ok := pays[pid]; !ok {
			t.Errorf("payment %s not counted by the SP", pid)
		}
		if calls[pid] > 1 {
			dup++
		}
	}
	if len(pays) != n {
		t.Fatalf("the SP counted %d payments, want %d", len(pays), n)
	}
	for i := 0; i < n; i++ {
		if o, _ := e.sp.Get("R-" + string(rune('A'+i))); o.Paid != int64(1000+i) {
			t.Errorf("order %s: paid %d, want %d", o.Key, o.Paid, 1000+i)
		}
	}
	if dup == 0 {
		t.Fatal("no confirmation was sent twice: the failures were not exercised")
	}
	// Which payments meet the failures depends on when each delivery runs;
	// every one the SP saw more than once must have its attempts recorded.
	for _, pid := range pids {
		if calls[pid] < 2 {
			continue
		}
		if p, err := e.svc.Ledger().Payment(context.Background(), pid); err != nil || p.Attempts < 2 {
			t.Errorf("payment %s: the SP saw it %d times, %d attempts recorded (%v)", pid, calls[pid], p.Attempts, err)
		}
	}
	list, err := e.svc.Ledger().ServicePayments(context.Background(), serviceID, 100)
	if err != nil || len(list) != n {
		t.Fatalf("the SP's payments: %d, %v", len(list), err)
	}
	attempts := 0
	for _, sp := range list {
		if sp.ConfirmedAt.IsZero() || !strings.HasPrefix(sp.OrderKey, "R-") {
			t.Errorf("listed %+v", sp)
		}
		attempts += sp.Attempts
	}
	if attempts <= n {
		t.Errorf("%d attempts listed for %d payments with failures", attempts, n)
	}
}

// TestAmountChangedBetweenVisits: the latest answer of the SP wins.
func TestAmountChangedBetweenVisits(t *testing.T) {
	e := newEnv(t, nil)
	e.sp.Put(demosp.Order{Key: "A-1", Reason: "Taxă", Amount: amount(10000)})
	inv := e.checkout(t, "A-1")
	if _, body := pageState(t, inv, invoiceState); !strings.Contains(body, "100.00 MDL") {
		t.Fatal("first visit: not 100.00")
	}
	e.sp.Put(demosp.Order{Key: "A-1", Reason: "Taxă", Amount: amount(12000)})
	if _, body := pageState(t, inv, invoiceState); !strings.Contains(body, "120.00 MDL") {
		t.Fatalf("second visit: the new amount is not shown:\n%s", body)
	}
	if code, _, body := e.payCard(t, inv, cardsim.CardApprove, "100.00"); code != http.StatusBadRequest || !strings.Contains(body, "Suma nu este permisă") {
		t.Fatalf("paying the old amount: %d %s", code, body)
	}
	if _, payURL, body := e.payCard(t, inv, cardsim.CardApprove, "120.00"); payURL == "" {
		t.Fatalf("paying the new amount: %s", body)
	}
}

// TestPartialPayments: an order that allows parts is paid in two; what is
// paid but not yet acknowledged is not due again.
func TestPartialPayments(t *testing.T) {
	e := newEnv(t, nil)
	e.sp.FailFirst.Store(1 << 30) // the SP does not acknowledge yet
	e.sp.Put(demosp.Order{Key: "P-1", Reason: "Amendă", Amount: amount(10000), Partial: true})
	inv := e.checkout(t, "P-1")
	if _, u, body := e.payCard(t, inv, cardsim.CardApprove, "40"); u == "" {
		t.Fatalf("first part: %s", body)
	}
	st, body := pageState(t, inv, invoiceState)
	if st != "partial" || !strings.Contains(body, `value="60.00"`) {
		t.Fatalf("after 40 of 100: %s\n%s", st, body)
	}
	if code, _, _ := e.payCard(t, inv, cardsim.CardApprove, "70"); code != http.StatusBadRequest {
		t.Fatalf("paying 70 of the 60 left: %d", code)
	}
	e.sp.FailFirst.Store(0)
	_, u, body := e.payCard(t, inv, cardsim.CardApprove, "60")
	if u == "" {
		t.Fatalf("second part: %s", body)
	}
	waitFor(t, "both acknowledged", func() bool { o, _ := e.sp.Get("P-1"); return o.Paid == 10000 })
	if st, _ := pageState(t, inv, invoiceState); st != "paid" {
		t.Fatalf("invoice %s", st)
	}
}

// TestExpiry: an order past its due date cannot be paid; an invoice whose
// due date passes is expired by the worker.
func TestExpiry(t *testing.T) {
	e := newEnv(t, nil)
	past := time.Now().Add(-time.Hour)
	e.sp.Put(demosp.Order{Key: "E-1", Reason: "Taxă", Amount: amount(100), DueDate: &past})
	inv := e.checkout(t, "E-1")
	if st, body := pageState(t, inv, invoiceState); st != "expired" || strings.Contains(body, `id="card-form"`) {
		t.Fatalf("past due: %s", st)
	}
	soon := time.Now().Add(700 * time.Millisecond)
	e.sp.Put(demosp.Order{Key: "E-2", Reason: "Taxă", Amount: amount(100), DueDate: &soon})
	inv = e.checkout(t, "E-2")
	if st, _ := pageState(t, inv, invoiceState); st != "created" {
		t.Fatalf("before the due date: %s", st)
	}
	in, err := e.svc.Ledger().InvoiceByOrder(context.Background(), serviceID, "E-2")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the expiry", func() bool {
		in, err := e.svc.Ledger().InvoiceByOrder(context.Background(), serviceID, "E-2")
		return err == nil && in.State == mpay.Expired
	})
	if _, err := e.svc.PayCard(context.Background(), in.Token, 100, cardsim.Card{Number: cardsim.CardApprove, ExpMonth: 12, ExpYear: 2035}); !errors.Is(err, mpay.ErrNotPayable) {
		t.Fatalf("paying an expired invoice: %v", err)
	}
	// An order the SP withdrew.
	e.sp.Put(demosp.Order{Key: "E-3", Reason: "Taxă", Amount: amount(100)})
	inv = e.checkout(t, "E-3")
	e.sp.Put(demosp.Order{Key: "E-3", Reason: "Taxă", Amount: amount(100), Cancelled: true})
	if st, _ := pageState(t, inv, invoiceState); st != "expired" {
		t.Fatalf("withdrawn: %s", st)
	}
}

// TestSPAnswerMustBeSignedByItsKey: an answer signed by another key is
// not taken; no invoice is made.
func TestSPAnswerMustBeSignedByItsKey(t *testing.T) {
	e := newEnv(t, nil)
	e.sp.Put(demosp.Order{Key: "S-1", Reason: "Taxă", Amount: amount(100)})
	other, _, _ := demosp.NewKey("X")
	_ = other
	// Re-register the service with a certificate that is not the SP's.
	_, cert, _ := demosp.NewKey("X")
	ctx := context.Background()
	sp, err := mpay.LookupService(ctx, e.st, serviceID)
	if err != nil {
		t.Fatal(err)
	}
	if err := mpay.RemoveService(ctx, e.st, "test", serviceID); err != nil {
		t.Fatal(err)
	}
	sp.Cert = cert
	if err := mpay.AddService(ctx, e.st, "test", *sp); err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, "POST", e.url+mpay.PathPay, map[string][]string{"ServiceID": {serviceID}, "OrderKey": {"S-1"}})
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "nu răspunde") {
		t.Fatalf("answer by another key: %d %s", resp.StatusCode, body)
	}
	if _, err := e.svc.Ledger().InvoiceByOrder(ctx, serviceID, "S-1"); !errors.Is(err, mpay.ErrNotFound) {
		t.Fatalf("an invoice was made: %v", err)
	}
	// A return URL off the SP's host is refused (no open redirect).
	resp, _ = do(t, "POST", e.url+mpay.PathPay, map[string][]string{"ServiceID": {serviceID}, "OrderKey": {"S-1"}, "ReturnUrl": {"https://evil.example/"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("foreign return URL: %d", resp.StatusCode)
	}
}

// TestDeliverySurvivesRestart: a confirmation the SP did not acknowledge
// before MPay stopped is delivered by the next MPay on the same store.
func TestDeliverySurvivesRestart(t *testing.T) {
	e := newEnv(t, nil)
	e.sp.FailFirst.Store(1 << 30)
	e.sp.Put(demosp.Order{Key: "D-1", Reason: "Taxă", Amount: amount(2500)})
	inv := e.checkout(t, "D-1")
	_, payURL, body := e.payCard(t, inv, cardsim.CardApprove, "25")
	if payURL == "" {
		t.Fatal(body)
	}
	pid := paymentIDOf(payURL)
	waitFor(t, "a failed attempt", func() bool { c, _ := e.sp.Confirmed(); return c[pid] > 0 })
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	e.sp.FailFirst.Store(0)
	svc2, err := mpay.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc2.Close()
	waitFor(t, "the delivery after the restart", func() bool {
		p, err := svc2.Ledger().Payment(context.Background(), pid)
		return err == nil && !p.ConfirmedAt.IsZero()
	})
	if _, pays := e.sp.Confirmed(); pays[pid].TotalAmount != 2500 {
		t.Fatalf("the SP has %+v", pays[pid])
	}
}

// TestUnfinishedPaymentsSettled: a payer who leaves the 3-D Secure page or
// a delayed approval does not leave the invoice pending: jobs settle them.
func TestUnfinishedPaymentsSettled(t *testing.T) {
	e := newEnv(t, nil)
	e.sp.Put(demosp.Order{Key: "U-3DS", Reason: "Taxă", Amount: amount(700)})
	e.sp.Put(demosp.Order{Key: "U-DELAY", Reason: "Taxă", Amount: amount(800)})
	_, abandoned, _ := e.payCard(t, e.checkout(t, "U-3DS"), cardsim.Card3DS, "7")
	_, delayed, _ := e.payCard(t, e.checkout(t, "U-DELAY"), cardsim.CardDelayed, "8")
	ctx := context.Background()
	waitFor(t, "the abandoned 3-D Secure payment to fail", func() bool {
		p, err := e.svc.Ledger().Payment(ctx, paymentIDOf(abandoned))
		return err == nil && p.State == mpay.PayDeclined
	})
	if in, _ := e.svc.Ledger().InvoiceByOrder(ctx, serviceID, "U-3DS"); in.State != mpay.Failed {
		t.Fatalf("invoice %s after an abandoned 3-D Secure page", in.State)
	}
	waitFor(t, "the delayed approval, the payer gone", func() bool { _, p := e.sp.Confirmed(); _, ok := p[paymentIDOf(delayed)]; return ok })
	if in, _ := e.svc.Ledger().InvoiceByOrder(ctx, serviceID, "U-DELAY"); in.State != mpay.Paid {
		t.Fatalf("invoice %s after a delayed approval", in.State)
	}
}

// TestEBanking: the payer is sent to the simulated bank, which confirms
// (paid, confirmed to the SP) or refuses (failed, payable again).
func TestEBanking(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		action, want, invoice string
	}{{"confirm", "approved", "paid"}, {"refuse", "declined", "failed"}} {
		key := "EB-" + tc.action
		e.sp.Put(demosp.Order{Key: key, Reason: "Taxă", Amount: amount(4200)})
		inv := e.checkout(t, key)
		u, _ := url.Parse(inv)
		resp, body := do(t, "POST", e.url+u.Path+"/ebanking", url.Values{"amount": {"42.00"}})
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/mpay/bank/") {
			t.Fatalf("e-banking: %d %s", resp.StatusCode, body)
		}
		bank := e.url + resp.Header.Get("Location")
		if _, body := do(t, "GET", bank, nil); !strings.Contains(body, "42.00 MDL") || !strings.Contains(body, `id="bank-confirm"`) {
			t.Fatalf("bank page:\n%s", body)
		}
		resp, _ = do(t, "POST", bank, url.Values{"action": {tc.action}})
		payURL := e.url + resp.Header.Get("Location")
		if st, _ := pageState(t, payURL, stateAttr); st != tc.want {
			t.Fatalf("%s: payment %s", tc.action, st)
		}
		if st, _ := pageState(t, inv, invoiceState); st != tc.invoice {
			t.Fatalf("%s: invoice %s", tc.action, st)
		}
		if tc.action == "confirm" {
			pid := paymentIDOf(payURL)
			waitFor(t, "the acknowledgement", func() bool { _, p := e.sp.Confirmed(); return p[pid].Properties["Bank"] != "" })
			if _, p := e.sp.Confirmed(); !strings.Contains(p[pid].Properties["Bank"], "e-banking") || p[pid].TotalAmount != 4200 {
				t.Fatalf("confirmation: %+v", p[pid])
			}
		}
	}
}

// TestCashTerminal: the payer gets a code, the terminal takes it with
// enough cash (change given), a code is paid once, a cancelled code makes
// the invoice payable again.
func TestCashTerminal(t *testing.T) {
	e := newEnv(t, nil)
	e.sp.Put(demosp.Order{Key: "C-1", Reason: "Taxă", Amount: amount(3750)})
	inv := e.checkout(t, "C-1")
	u, _ := url.Parse(inv)
	resp, body := do(t, "POST", e.url+u.Path+"/cash", url.Values{"amount": {"37.50"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cash: %d %s", resp.StatusCode, body)
	}
	payURL := e.url + resp.Header.Get("Location")
	code := paymentIDOf(payURL)
	if _, body := do(t, "GET", payURL, nil); !strings.Contains(body, `id="cash-code">`+code+`<`) {
		t.Fatalf("no payment code on the page:\n%s", body)
	}
	if st, _ := pageState(t, inv, invoiceState); st != "pending" {
		t.Fatalf("invoice %s while the code waits", st)
	}
	if resp, body := do(t, "POST", e.url+mpay.PathTerminal, url.Values{"code": {code}, "cash": {"20"}}); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "refuzată") {
		t.Fatalf("too little cash: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "POST", e.url+mpay.PathTerminal, url.Values{"code": {code}, "cash": {"50"}})
	if resp.StatusCode != 200 || !strings.Contains(body, `data-payment="`+code+`"`) || !strings.Contains(body, "12.50 MDL") {
		t.Fatalf("paying the code: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, "POST", e.url+mpay.PathTerminal, url.Values{"code": {code}, "cash": {"50"}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("a code paid twice: %d", resp.StatusCode)
	}
	waitFor(t, "the acknowledgement", func() bool { o, _ := e.sp.Get("C-1"); return o.Paid == 3750 })

	// A cancelled code: declined, the invoice payable again.
	e.sp.Put(demosp.Order{Key: "C-2", Reason: "Taxă", Amount: amount(100)})
	inv = e.checkout(t, "C-2")
	u, _ = url.Parse(inv)
	resp, _ = do(t, "POST", e.url+u.Path+"/cash", url.Values{"amount": {"1"}})
	payURL = e.url + resp.Header.Get("Location")
	do(t, "POST", payURL+"/cancel", url.Values{})
	if st, _ := pageState(t, payURL, stateAttr); st != "declined" {
		t.Fatalf("cancelled code: %s", st)
	}
	if resp, _ := do(t, "POST", e.url+mpay.PathTerminal, url.Values{"code": {paymentIDOf(payURL)}, "cash": {"1"}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("a cancelled code paid: %d", resp.StatusCode)
	}
	if st, _ := pageState(t, inv, invoiceState); st != "failed" {
		t.Fatalf("invoice %s after the cancelled code", st)
	}
}

// TestServiceRemoved: a paid invoice of an SP removed since is still
// shown; a new payment of it is refused with a page, not an error.
func TestServiceRemoved(t *testing.T) {
	e := newEnv(t, nil)
	e.sp.Put(demosp.Order{Key: "X-1", Reason: "Taxă", Amount: amount(100)})
	inv := e.checkout(t, "X-1")
	_, payURL, _ := e.payCard(t, inv, cardsim.CardApprove, "1")
	waitFor(t, "the acknowledgement", func() bool { o, _ := e.sp.Get("X-1"); return o.Paid == 100 })
	if err := mpay.RemoveService(context.Background(), e.st, "test", serviceID); err != nil {
		t.Fatal(err)
	}
	if st, _ := pageState(t, inv, invoiceState); st != "paid" {
		t.Fatalf("invoice %s", st)
	}
	if st, _ := pageState(t, payURL, stateAttr); st != "approved" {
		t.Fatalf("payment %s", st)
	}
	resp, body := do(t, "POST", e.url+mpay.PathPay, url.Values{"ServiceID": {serviceID}, "OrderKey": {"X-1"}})
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "nu este înregistrat") {
		t.Fatalf("paying for a removed service: %d %s", resp.StatusCode, body)
	}
	for _, u := range []string{"/mpay/invoice/nosuch", "/mpay/invoice/nosuch/payment/1", inv + "/payment/999999999999/receipt.pdf"} {
		if !strings.HasPrefix(u, "http") {
			u = e.url + u
		}
		if resp, _ := do(t, "GET", u, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d", u, resp.StatusCode)
		}
	}
}

// TestUnknownOrderAndStart: the SP's signed UnknownOrder fault is shown to
// the payer; the payer may also start at MPay with the order key; the
// client's PayForm is the form MPay takes.
func TestUnknownOrderAndStart(t *testing.T) {
	e := newEnv(t, nil)
	c, _ := client.New(e.url, serviceID, e.spSigner, nil)
	action, fields := c.PayForm("NO-SUCH-ORDER", e.spURL+"/")
	resp, body := do(t, "POST", action, fields)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "nu cunoaște această comandă") {
		t.Fatalf("unknown order: %d %s", resp.StatusCode, body)
	}
	if _, body := do(t, "GET", e.url+mpay.PathStart, nil); !strings.Contains(body, `<option value="`+serviceID+`">`) {
		t.Fatalf("start page:\n%s", body)
	}
	e.sp.Put(demosp.Order{Key: "S-9", Reason: "Taxă", Amount: amount(990)})
	resp, body = do(t, "POST", e.url+mpay.PathStart+"/start", url.Values{"ServiceID": {serviceID}, "OrderKey": {" S-9 "}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d %s", resp.StatusCode, body)
	}
	if st, body := pageState(t, e.url+resp.Header.Get("Location"), invoiceState); st != "created" || !strings.Contains(body, "9.90 MDL") {
		t.Fatalf("started at MPay: %s", st)
	}
}

// TestWebhooks: an SP with a webhook URL gets signed events (payment
// succeeded, failed, refund), retried until it answers 2xx, each attempt
// in the delivery log.
func TestWebhooks(t *testing.T) {
	e := newEnv(t, nil)
	const secret = "webhook-secret-0123456789"
	var mu sync.Mutex
	var events []mpay.WebhookEvent
	var calls atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if calls.Add(1) == 1 {
			http.Error(w, "down", http.StatusServiceUnavailable) // the first delivery fails
			return
		}
		if r.Header.Get(mpay.HeaderWebhookSignature) != mpay.WebhookSignature(secret, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev mpay.WebhookEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}))
	defer hook.Close()
	ctx := context.Background()
	sp, _ := mpay.LookupService(ctx, e.st, serviceID)
	if err := mpay.RemoveService(ctx, e.st, "test", serviceID); err != nil {
		t.Fatal(err)
	}
	sp.WebhookURL, sp.WebhookSecret = hook.URL, secret
	if err := mpay.AddService(ctx, e.st, "test", *sp); err != nil {
		t.Fatal(err)
	}
	e.sp.Put(demosp.Order{Key: "H-1", Reason: "Taxă", Amount: amount(1000)})
	inv := e.checkout(t, "H-1")
	e.payCard(t, inv, cardsim.CardDecline, "10")
	_, payURL, _ := e.payCard(t, inv, cardsim.CardApprove, "10")
	c, _ := client.New(e.url, serviceID, e.spSigner, nil)
	if _, err := c.Refund(ctx, client.RefundRequest{PaymentID: paymentIDOf(payURL), RefundID: "H-R", Amount: 400}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three events", func() bool { mu.Lock(); defer mu.Unlock(); return len(events) == 3 })
	types := map[string]bool{}
	for _, ev := range events {
		types[ev.EventType] = true
		if ev.ServiceID != serviceID || ev.EventID == "" {
			t.Errorf("event %+v", ev)
		}
	}
	if !types[mpay.EventPaymentFailed] || !types[mpay.EventPaymentSucceeded] || !types[mpay.EventRefundSucceeded] {
		t.Fatalf("events: %v", types)
	}
	var log []mpay.WebhookAttempt
	waitFor(t, "four attempts logged", func() bool {
		log, _ = e.svc.Ledger().WebhookAttempts(ctx, serviceID)
		return len(log) >= 4
	})
	if len(log) != 4 {
		t.Fatalf("delivery log (want 4 attempts, one refused): %+v", log)
	}
	var refused *mpay.WebhookAttempt
	for i, a := range log {
		if a.Status == http.StatusServiceUnavailable && a.Error != "" && a.Attempt == 1 {
			refused = &log[i]
		}
	}
	retried := false
	for _, a := range log {
		retried = retried || refused != nil && a.EventID == refused.EventID && a.Attempt == 2 && a.Status == 200
	}
	if refused == nil || !retried {
		t.Fatalf("delivery log: the refused event and its retry not found: %+v", log)
	}
}
