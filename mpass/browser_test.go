package mpass

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/mobileid"
)

// TestBrowserLoginByPhone: a person opens a samlsp-protected application,
// is sent to MPass, types a local phone number on the Romanian page, sees
// the verification code, approves on the virtual phone (a second tab) with
// the PIN, and the page by itself (under the host's Content-Security-Policy)
// returns to the application, which shows the person's IDNP and names. A
// second application then logs in from the SSO session, with no phone.
func TestBrowserLoginByPhone(t *testing.T) {
	ctx := browsertest.New(t, 90*time.Second)
	e := newEnv(t, nil)
	rp := e.newRP("shop.test", true)
	user := mobileid.GeneratedUser(3)
	browsertest.Do(t, ctx, chromedp.Navigate(rp.url+"/app"),
		chromedp.WaitVisible(chromedp.ID("login-form")))
	if sp := browsertest.Text(t, ctx, "#sp"); !strings.HasPrefix(rp.url, "http://"+sp) {
		t.Fatalf("the page names %q as the service", sp)
	}
	browsertest.Do(t, ctx, chromedp.SendKeys(chromedp.ID("phone"), "0"+strings.TrimPrefix(user.MSISDN, "+373")),
		chromedp.Click(chromedp.ID("login-button")),
		chromedp.WaitVisible(chromedp.ID("code")))
	code := browsertest.Text(t, ctx, "#code")
	phone, cancelPhone := chromedp.NewContext(ctx)
	defer cancelPhone()
	browsertest.Do(t, phone, chromedp.Navigate(shared.simURL+"/sim/"+user.MSISDN), chromedp.WaitVisible(chromedp.ID("req")))
	if onPhone := browsertest.Text(t, phone, "#code"); onPhone != code {
		t.Fatalf("page shows %q, phone %q", code, onPhone)
	}
	browsertest.Do(t, phone, chromedp.SendKeys(chromedp.ID("pin"), mobileid.DefaultPIN1), chromedp.Click(chromedp.ID("ok")))
	// The wait page follows the phone, then posts the Response to the application.
	// (A text/plain page is shown in a <pre>: only the application's is.)
	browsertest.Do(t, ctx, chromedp.WaitVisible(chromedp.CSS("pre")))
	body := browsertest.Text(t, ctx, "pre")
	if !strings.Contains(body, "NameIdentifier="+user.IDNP) || !strings.Contains(body, "LastName="+user.Surname) {
		t.Fatalf("the application shows:\n%s", body)
	}
	rp2 := e.newRP("library.test", true)
	browsertest.Do(t, ctx, chromedp.Navigate(rp2.url+"/app"), chromedp.WaitVisible(chromedp.CSS("pre")))
	if body = browsertest.Text(t, ctx, "pre"); !strings.Contains(body, "NameIdentifier="+user.IDNP) {
		t.Fatalf("the second application shows:\n%s", body)
	}
}
