package mpass

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/browsertest"
)

// TestBrowserTokenCLIAgent: in chromium, a person logs in to a relying
// service with a SoftHSM token through the real `semnat agent --yes`
// process (not the in-process agent of TestBrowserTokenLogin): the login
// page lists the token's certificate, the agent signs the login challenge
// for MPass's origin, and the page by itself returns to the application,
// which shows the person. The agent said which site it logged in to.
func TestBrowserTokenCLIAgent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e, tok := tokenEnv(t, "http://"+ln.Addr().String(), "person-rsa2048")
	stderr := startCLIAgent(t, tok, ln, e.url)
	rp := e.newRP("shop.test", true)
	ctx := browsertest.New(t, 180*time.Second) // after the agent's build
	browsertest.Do(t, ctx, chromedp.Navigate(rp.url+"/app"), chromedp.WaitVisible(chromedp.ID("token")))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!document.getElementById("token-button").disabled || document.getElementById("token-status").textContent !== ""`)); err != nil {
		t.Fatal(err)
	}
	if opt, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#cert option") ? document.querySelector("#cert option").textContent : ""`)); !strings.Contains(opt, "Ion Popescu") {
		t.Fatalf("certificate offered: %q (status %q)", opt, browsertest.Text(t, ctx, "#token-status"))
	}
	browsertest.Do(t, ctx, chromedp.Click(chromedp.ID("token-button")), chromedp.WaitVisible(chromedp.CSS("pre")))
	ion := shared.pki.MustGet("person-rsa2048")
	if body := browsertest.Text(t, ctx, "pre"); !strings.Contains(body, "NameIdentifier="+ion.Cert.Subject.SerialNumber) || !strings.Contains(body, "LastName=Popescu") {
		t.Fatalf("the application shows:\n%s", body)
	}
	if log := stderr.String(); !strings.Contains(log, "logging in to "+e.url) {
		t.Fatalf("the agent did not say where it logged in:\n%s", log)
	}
	checkAudit(t, e, "mpass.login")
}
