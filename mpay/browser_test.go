package mpay_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpay/demosp"
)

// TestBrowserPay pays as a person would, in headless Chromium: from the
// SP's page to MPay, the approve card, back to the SP which shows the
// order paid; then a 3-D Secure card, approved on the challenge page with
// the code, and one whose challenge is cancelled; then every other test
// card: declined, insufficient funds, processor time-out (each refused,
// saying why) and the delayed approval (its page reloads until approved);
// then e-banking (the bank's page) and cash (the code paid at the
// terminal). Every MPay page came with the strict policy, and Chromium
// reported no violation of it.
func TestBrowserPay(t *testing.T) {
	ctx := browsertest.New(t, 240*time.Second)
	e := newEnv(t, func(c *mpay.Config) { c.ChallengeTimeout = 10 * time.Minute })
	e.sp.Put(demosp.Order{Key: "W-1", Reason: "Taxa de stat pentru pașaport", Amount: amount(15000)})
	e.sp.Put(demosp.Order{Key: "W-2", Reason: "Amendă", Amount: amount(5000)})
	e.sp.Put(demosp.Order{Key: "W-3", Reason: "Taxă", Amount: amount(2000)})
	for _, k := range []string{"W-4", "W-5", "W-6", "W-7", "W-8", "W-9"} {
		e.sp.Put(demosp.Order{Key: k, Reason: "Taxă", Amount: amount(3000)})
	}

	type step = chromedp.Action[chromedp.Void]
	fillCard := func(number string) []step {
		return []step{
			chromedp.WaitVisible(chromedp.ID("card-form")),
			chromedp.SendKeys(chromedp.CSS(`input[name="number"]`), number),
			chromedp.SendKeys(chromedp.CSS(`input[name="holder"]`), "Ion Popescu"),
			chromedp.SendKeys(chromedp.CSS(`input[name="expiry"]`), "12/35"),
			chromedp.SendKeys(chromedp.CSS(`input[name="cvc"]`), "123"),
			chromedp.Click(chromedp.ID("pay")),
		}
	}
	pay := func(order, card string, then ...step) {
		t.Helper()
		steps := append([]step{chromedp.Navigate(e.spURL + "/"), chromedp.Click(chromedp.ID("pay-" + order))}, fillCard(card)...)
		browsertest.Do(t, ctx, append(steps, then...)...)
	}
	csp := browsertest.WatchCSP(t, ctx, e.url)
	// The payer chose Romanian once (kept in a cookie).
	browsertest.Do(t, ctx, chromedp.Navigate(e.url+"/mpay?lang=ro"))
	pay("W-1", cardsim.CardApprove, chromedp.WaitVisible(chromedp.CSS(`#status[data-state="approved"]`)))
	waitFor(t, "the acknowledgement", func() bool { o, _ := e.sp.Get("W-1"); return o.Paid == 15000 })
	browsertest.Do(t, ctx, chromedp.Click(chromedp.ID("back")), chromedp.WaitVisible(chromedp.ID("paid-W-1")))
	if paid := browsertest.Text(t, ctx, "#paid-W-1"); paid != "150.00 MDL" {
		t.Fatalf("the SP's page shows %q paid", paid)
	}

	// 3-D Secure, approved with the code.
	pay("W-2", cardsim.Card3DS,
		chromedp.WaitVisible(chromedp.ID("challenge")),
		chromedp.SendKeys(chromedp.CSS(`input[name="code"]`), cardsim.ChallengeCode),
		chromedp.Click(chromedp.ID("confirm")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="approved"]`)))
	// 3-D Secure, cancelled: declined, the payer may try again.
	pay("W-3", cardsim.Card3DS,
		chromedp.WaitVisible(chromedp.ID("challenge")),
		chromedp.Click(chromedp.ID("cancel")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="declined"]`)),
		chromedp.WaitVisible(chromedp.ID("retry")))
	if s := browsertest.Text(t, ctx, "#status"); !strings.Contains(s, "Plata a fost refuzată") || !strings.Contains(s, "3-D Secure authentication failed") {
		t.Fatalf("declined page says %q", s)
	}
	waitFor(t, "the 3-D Secure payment's acknowledgement", func() bool { o, _ := e.sp.Get("W-2"); return o.Paid == 5000 })
	if o, _ := e.sp.Get("W-3"); o.Paid != 0 {
		t.Fatalf("the cancelled payment was counted: %d", o.Paid)
	}

	// The other test cards: each refusal says why; the delayed approval's
	// page reloads itself until it is approved.
	for _, c := range []struct{ order, card, says string }{
		{"W-4", cardsim.CardDecline, "do not honour"},
		{"W-5", cardsim.CardInsufficient, "insufficient funds"},
		{"W-6", cardsim.CardTimeout, "the processor did not answer"},
	} {
		pay(c.order, c.card, chromedp.WaitVisible(chromedp.CSS(`#status[data-state="declined"]`)), chromedp.WaitVisible(chromedp.ID("retry")))
		if s := browsertest.Text(t, ctx, "#status"); !strings.Contains(s, "Plata a fost refuzată") || !strings.Contains(s, c.says) {
			t.Errorf("card %s: the page says %q", c.card, s)
		}
	}
	pay("W-7", cardsim.CardDelayed, chromedp.WaitVisible(chromedp.CSS(`#status[data-state="approved"]`)))
	waitFor(t, "the delayed approval's acknowledgement", func() bool { o, _ := e.sp.Get("W-7"); return o.Paid == 3000 })
	for _, k := range []string{"W-4", "W-5", "W-6"} {
		if o, _ := e.sp.Get(k); o.Paid != 0 {
			t.Errorf("refused payment of %s counted: %d", k, o.Paid)
		}
	}

	// E-banking: the bank's page, the transfer confirmed.
	browsertest.Do(t, ctx, chromedp.Navigate(e.spURL+"/"), chromedp.Click(chromedp.ID("pay-W-8")),
		chromedp.WaitVisible(chromedp.ID("card-form")), chromedp.Click(chromedp.ID("ebanking")),
		chromedp.WaitVisible(chromedp.ID("bank-form")), chromedp.Click(chromedp.ID("bank-confirm")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="approved"]`)))
	// Cash: the code, paid at the terminal with more than due.
	browsertest.Do(t, ctx, chromedp.Navigate(e.spURL+"/"), chromedp.Click(chromedp.ID("pay-W-9")),
		chromedp.WaitVisible(chromedp.ID("card-form")), chromedp.Click(chromedp.ID("cash")),
		chromedp.WaitVisible(chromedp.ID("cash-code")))
	code := browsertest.Text(t, ctx, "#cash-code")
	browsertest.Do(t, ctx, chromedp.Navigate(e.url+mpay.PathTerminal), chromedp.WaitVisible(chromedp.ID("terminal-form")),
		chromedp.SendKeys(chromedp.CSS(`input[name="code"]`), code),
		chromedp.SendKeys(chromedp.CSS(`input[name="cash"]`), "50.00"),
		chromedp.Click(chromedp.ID("terminal-pay")),
		chromedp.WaitVisible(chromedp.ID("terminal-paid")))
	if s := browsertest.Text(t, ctx, "#terminal-paid"); !strings.Contains(s, "30.00") || !strings.Contains(s, "20.00") {
		t.Errorf("the terminal says %q", s)
	}
	for _, k := range []string{"W-8", "W-9"} {
		waitFor(t, k+"'s acknowledgement", func() bool { o, _ := e.sp.Get(k); return o.Paid == 3000 })
	}
	pages := csp.Check(t, mpayCSP)
	for _, want := range []string{"/mpay/invoice/", "/payment/", "/mpay/bank/", mpay.PathTerminal} {
		if !slices.ContainsFunc(pages, func(u string) bool { return strings.Contains(u, want) }) {
			t.Errorf("no page %s among those checked for the policy: %v", want, pages)
		}
	}
}
