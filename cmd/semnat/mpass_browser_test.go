package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/mpass/demorp"
)

// TestBrowserDemoOIDCByPhone: in chromium, on `semnat serve --demo`, a
// person logs in to the demo OpenID Connect client by phone: the client
// sends the browser to MPass's authorize endpoint, the login page takes a
// local phone number and shows the code, the person approves in the
// virtual phone's tab with the PIN, and the page by itself returns to the
// client, which greets them from the ID token's claims.
func TestBrowserDemoOIDCByPhone(t *testing.T) {
	base, _ := startCommand(t, strings.NewReader(""), "serve", "--demo", "--data", t.TempDir(), "--addr", "127.0.0.1:0")
	ctx := browsertest.New(t, 180*time.Second) // once the demo is up
	user := mobileid.GeneratedUser(1)
	browsertest.Do(t, ctx, chromedp.Navigate(base+demorp.OIDCPath+"/login"), chromedp.WaitVisible(chromedp.ID("login-form")))
	browsertest.PhoneLogin(t, ctx, base, "0"+strings.TrimPrefix(user.MSISDN, "+373"), user.MSISDN, mobileid.DefaultPIN1)
	browsertest.Do(t, ctx, chromedp.WaitVisible(chromedp.ID("claims")))
	if h := browsertest.Text(t, ctx, "h1"); h != "Bun venit, "+user.GivenName+" "+user.Surname {
		t.Fatalf("the client greets: %q", h)
	}
	if claims := browsertest.Text(t, ctx, "#claims"); !strings.Contains(claims, "MD"+user.IDNP) || !strings.Contains(claims, "mca") {
		t.Fatalf("the client shows the claims:\n%s", claims)
	}
}
