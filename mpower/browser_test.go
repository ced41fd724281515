package mpower

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/pkcs11/softhsmtest"
	"github.com/semnat/semnat/testcerts"
)

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Cleanup()
	os.Exit(code)
}

// TestBrowserPowers is the issue's browser journey in headless Chromium:
// a person logs in to MPower's pages with MPass by phone, grants a power
// to a second person and signs it on the virtual phone through MSign; the
// representative logs in and accepts it with their USB token through the
// real `semnat agent --yes` process (SoftHSM); a service's Code-True-One
// says true; the grantor revokes it (phone) and the check says false at
// once. A company's administrator grants on its behalf; a person who does
// not administer it is refused in plain words.
func TestBrowserPowers(t *testing.T) {
	ctx := browsertest.New(t, 9*time.Minute)
	bob := mobileid.GeneratedUser(1)
	tok := softhsmtest.New(t)
	var token *testcerts.Entity
	bin := buildSemnat(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e := newWebEnv(t, webOpts{agentURL: "http://" + ln.Addr().String(), pki: func(p *testcerts.PKI) {
		// Bob's token: a signing certificate for his IDNP from the token CA.
		ca := p.MustGet("person-p256").Issuer
		var err error
		if token, err = p.Issue(testcerts.IssueRequest{Name: "bob-token", Role: testcerts.RolePerson, Issuer: ca, KeyType: testcerts.P256,
			Subject: testcerts.Subject{CommonName: "Bob Token", GivenName: "Bob", Surname: "Token", IDNP: bob.IDNP}}); err != nil {
			t.Fatal(err)
		}
	}})
	tok.Import(t, token)
	startAgent(t, bin, ln, tok, e.msignURL)

	// fail: what went wrong, and the page the browser is on.
	fail := func(what string, err error) {
		t.Helper()
		var loc, body string
		loc, _ = chromedp.Run(ctx, chromedp.Location())
		body, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
	}
	wait := func(sel string) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
			fail("waiting for "+sel, err)
		}
	}
	// phone: the person answers on their phone.
	phone := func(u mobileid.User, pin string) {
		t.Helper()
		if err := (&person{e: e, user: u}).answerPhone(pin, ""); err != nil {
			fail("on the phone", err)
		}
	}
	// login: MPass by phone, from the MPower page path.
	login := func(i int, path string) {
		t.Helper()
		u := mobileid.GeneratedUser(i)
		if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		browsertest.Do(t, ctx, chromedp.Navigate(e.mpowerURL+path), chromedp.WaitVisible(chromedp.ID("phone")),
			chromedp.SendKeys(chromedp.ID("phone"), u.MSISDN), chromedp.Click(chromedp.ID("login-button")))
		phone(u, mobileid.DefaultPIN1)
		wait("#user")
	}
	// phoneSign: at MSign's page, the phone; back on the power's page.
	phoneSign := func(i int) {
		t.Helper()
		u := mobileid.GeneratedUser(i)
		browsertest.Do(t, ctx, chromedp.WaitVisible(chromedp.ID("msisdn")), chromedp.SendKeys(chromedp.ID("msisdn"), u.MSISDN),
			chromedp.Click(chromedp.ID("msign-sign")))
		phone(u, mobileid.DefaultPIN2)
		wait("#notice")
	}
	state := func(want State) {
		t.Helper()
		wait(`#status[data-state="` + string(want) + `"]`)
	}
	grant := func(behalf string) string {
		t.Helper()
		steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(e.mpowerURL + PathPages + "/nou"), chromedp.WaitVisible(chromedp.ID("wizard")),
			chromedp.SendKeys(chromedp.ID("representative"), bob.IDNP)}
		if behalf != "" {
			steps = append(steps, chromedp.SetValue(chromedp.ID("behalf"), behalf))
		}
		browsertest.Do(t, ctx, append(steps, chromedp.Click(chromedp.ID("grant")))...)
		phoneSign(0)
		state(PendingAcceptance)
		return browsertest.Text(t, ctx, "#code")
	}

	login(0, PathPages+"/nou")
	code := grant("")
	if e.checkTrue(code) {
		t.Fatal("a power awaiting acceptance checks true")
	}

	// Bob accepts with his token through the agent.
	login(1, pathPower+code)
	browsertest.Do(t, ctx, chromedp.Click(chromedp.ID("act-accept")))
	wait(`input[name=Instrument][value=token]`)
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS(`input[name=Instrument][value=token]`)))
	wait("#msign-token")
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#msign-cert option") !== null || document.querySelector("#msign-status.error") !== null`)); err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, ctx, chromedp.Click(chromedp.ID("msign-sign")))
	wait("#notice")
	state(Valid)
	if got := browsertest.Text(t, ctx, "#representative"); !strings.Contains(got, "Bob Token") {
		t.Errorf("the representative's name from his signature: %q", got)
	}
	if !e.checkTrue(code) {
		t.Fatal("the accepted power checks false")
	}

	// The grantor revokes: false at once.
	login(0, pathPower+code)
	browsertest.Do(t, ctx, chromedp.Click(chromedp.ID("act-revoke")))
	phoneSign(0)
	state(Canceled)
	if e.checkTrue(code) {
		t.Fatal("the revoked power still checks true")
	}

	// On behalf of the company alice administers.
	company := grant(webCompany)
	if got := browsertest.Text(t, ctx, "#grantor"); !strings.Contains(got, "Exemplu SRL") || !strings.Contains(got, webCompany) {
		t.Errorf("the company's grant names %q", got)
	}
	if p, err := e.svc.Registry().Power(context.Background(), company); err != nil || p.AuthorizingID != webCompany || p.SignedBy != e.idnp(0) {
		t.Fatalf("the company's power: %+v %v", p, err)
	}

	// Carol administers nothing.
	login(2, PathPages+"/")
	browsertest.Do(t, ctx, chromedp.Navigate(e.mpowerURL+PathPages+"/nou?lang=ro&for="+webCompany))
	wait("#error")
	if got := browsertest.Text(t, ctx, "#error"); !strings.Contains(got, "Nu sunteți administrator în funcție al acestei companii") {
		t.Fatalf("carol is told %q", got)
	}
}

// buildSemnat builds the semnat command (the agent the person runs).
func buildSemnat(t *testing.T) string {
	t.Helper()
	return browsertest.BuildSemnat(t)
}

// startAgent runs `semnat agent --yes` on ln (handed over as a file
// descriptor) for pages of origin, with the token's PIN in $SEMNAT_PIN.
func startAgent(t *testing.T, bin string, ln net.Listener, tok *softhsmtest.Token, origin string) {
	t.Helper()
	browsertest.StartAgent(t, bin, ln, tok, origin)
}
