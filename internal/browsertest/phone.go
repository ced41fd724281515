package browsertest

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
)

// PhoneLogin completes MPass's login page that ctx shows by phone: it
// types phone, reads the verification code the page shows, opens the
// virtual phone of msisdn (simBase + "/sim/" + msisdn) in a second tab,
// checks that it shows the same code and enters pin there. The tab stays
// open until the test ends.
func PhoneLogin(t *testing.T, ctx context.Context, simBase, phone, msisdn, pin string) {
	t.Helper()
	Do(t, ctx, chromedp.SendKeys(chromedp.ID("phone"), phone),
		chromedp.Click(chromedp.ID("login-button")),
		chromedp.WaitVisible(chromedp.ID("code")))
	code := Text(t, ctx, "#code")
	tab, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel) // open until the test ends: closing it at once could cut the PIN's submission short
	Do(t, tab, chromedp.Navigate(simBase+"/sim/"+msisdn), chromedp.WaitVisible(chromedp.ID("req")))
	if onPhone := Text(t, tab, "#code"); onPhone != code {
		t.Fatalf("the page shows %q, the phone %q", code, onPhone)
	}
	Do(t, tab, chromedp.SendKeys(chromedp.ID("pin"), pin), chromedp.Click(chromedp.ID("ok")))
}
