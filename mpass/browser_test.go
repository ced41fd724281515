package mpass

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mobileid"
)

// newBrowser starts headless Chromium (skipped locally without it, a
// failure in CI) with a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := testtool.Require(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return ctx
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// TestBrowserLoginByPhone: a person opens a samlsp-protected application,
// is sent to MPass, types a local phone number on the Romanian page, sees
// the verification code, approves on the virtual phone (a second tab) with
// the PIN, and the page by itself (under the host's Content-Security-Policy)
// returns to the application, which shows the person's IDNP and names. A
// second application then logs in from the SSO session, with no phone.
func TestBrowserLoginByPhone(t *testing.T) {
	ctx := newBrowser(t)
	e := newEnv(t, nil)
	rp := e.newRP("shop.test", true)
	user := mobileid.GeneratedUser(3)
	do(t, ctx, chromedp.Navigate(rp.url+"/app"),
		chromedp.WaitVisible(chromedp.ID("login-form")))
	if sp := text(t, ctx, "#sp"); !strings.HasPrefix(rp.url, "http://"+sp) {
		t.Fatalf("the page names %q as the service", sp)
	}
	do(t, ctx, chromedp.SendKeys(chromedp.ID("phone"), "0"+strings.TrimPrefix(user.MSISDN, "+373")),
		chromedp.Click(chromedp.ID("login-button")),
		chromedp.WaitVisible(chromedp.ID("code")))
	code := text(t, ctx, "#code")
	phone, cancelPhone := chromedp.NewContext(ctx)
	defer cancelPhone()
	do(t, phone, chromedp.Navigate(shared.simURL+"/sim/"+user.MSISDN), chromedp.WaitVisible(chromedp.ID("req")))
	if onPhone := text(t, phone, "#code"); onPhone != code {
		t.Fatalf("page shows %q, phone %q", code, onPhone)
	}
	do(t, phone, chromedp.SendKeys(chromedp.ID("pin"), mobileid.DefaultPIN1), chromedp.Click(chromedp.ID("ok")))
	// The wait page follows the phone, then posts the Response to the application.
	// (A text/plain page is shown in a <pre>: only the application's is.)
	do(t, ctx, chromedp.WaitVisible(chromedp.CSS("pre")))
	body := text(t, ctx, "pre")
	if !strings.Contains(body, "NameIdentifier="+user.IDNP) || !strings.Contains(body, "LastName="+user.Surname) {
		t.Fatalf("the application shows:\n%s", body)
	}
	rp2 := e.newRP("library.test", true)
	do(t, ctx, chromedp.Navigate(rp2.url+"/app"), chromedp.WaitVisible(chromedp.CSS("pre")))
	if body = text(t, ctx, "pre"); !strings.Contains(body, "NameIdentifier="+user.IDNP) {
		t.Fatalf("the second application shows:\n%s", body)
	}
}
