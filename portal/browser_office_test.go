package portal

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/aiosmtpdtest"
	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/internal/testtool"
	mnotifyclient "github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/mnotify/mnotifytest"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/pkcs11/softhsmtest"
	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/testcerts"
)

// waitFor waits, at most timeout, until sel is visible (steps that take
// long on a loaded machine: a seal at B-LTA, a login's round trip).
func waitFor(t *testing.T, ctx context.Context, sel string, timeout time.Duration) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
		t.Fatalf("waiting for %s: %v\nat %s:\n%s", sel, err, loc, body)
	}
}

// waitTokenCerts waits until the page's script has asked the agent for
// the token's certificates: an option in sel, or an error in status.
func waitTokenCerts(t *testing.T, ctx context.Context, sel, status string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	js := `document.querySelector("` + sel + ` option") !== null || document.querySelector("` + status + `.error") !== null`
	if _, err := chromedp.Run(wctx, chromedp.Poll[bool](js)); err != nil {
		t.Fatalf("the page did not list the token's certificates: %v", err)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("`+sel+` option").length`)); n == 0 {
		st, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("`+status+`").textContent`))
		t.Fatalf("no certificate offered: %q", st)
	}
}

// TestBrowserOffice is the clerk's half of the journey in Chromium, with
// axe-core on every back-office page the clerk sees: a citizen's two
// applications (made over HTTP, signed on the phone) reach the State Tax
// Service; its clerk logs in to MPass with the USB token through the real
// `semnat agent --yes` (SoftHSM), opens the back office, takes the first
// application, approves it and signs the result with the token through
// MSign's page; the institution seals it at B-LTA. The clerk rejects the
// second with a reason and words. The citizen, logged in by phone in
// Chromium, downloads the issued document: `semnat verify` says
// TOTAL-PASSED with the seal at B-LTA, poppler's pdfsig two valid
// signatures, and the QR code printed on it (zbarimg from pdftoppm's
// render) is the page's verification link, which Chromium opens: the
// public page says issued and TOTAL-PASSED. The citizen sees the
// rejection's reason and words. The e-mails MNotify sends reach an
// independent SMTP server (Debian's python3-aiosmtpd), in Romanian, naming
// the application.
func TestBrowserOffice(t *testing.T) {
	bin := browsertest.BuildSemnat(t) // before Chromium's time-out starts
	relay := aiosmtpdtest.Start(t, aiosmtpdtest.FreeAddr(t), t.TempDir())
	mn := mnotifytest.Start(t, mnotifytest.Relay(relay.Addr))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	notify := withMNotify(mn)
	e := newEnv(t, func(c *Config) { withOffice(c); notify(c) }, realTimePhones, withAgent("http://"+ln.Addr().String()))
	tok := softhsmtest.New(t)
	tok.Import(t, shared.pki.MustGet("clerk-sfs"))
	tok.Import(t, shared.pki.MustGet("clerk-sfs"+testcerts.AuthSuffix))
	agentLog := browsertest.StartAgent(t, bin, ln, tok, e.mpassURL, e.msignURL)

	// The citizen's e-mail address is in MNotify's contact registry (as
	// they set it in MCabinet; no language: Romanian, the default); two
	// applications to the State Tax Service.
	user := mobileid.GeneratedUser(3)
	const mailbox = "cetatean@example.md"
	if _, err := mn.Cabinet().SetContact(context.Background(), mnotifyclient.Contact{IDNP: user.IDNP, Email: mailbox}); err != nil {
		t.Fatal(err)
	}
	approved, rejected := e.submitted(newBrowser(t), user), e.submitted(newBrowser(t), user)

	ctx := browsertest.New(t, 15*time.Minute)
	dl := browsertest.Downloads(t, ctx)
	axe := func(name string) { t.Helper(); browsertest.Axe(t, ctx, name, "ro") }

	// The clerk: the back office sends to MPass; the token's login. (The
	// portal's language, Romanian, is chosen first: Chromium asks for
	// English; MPass and MSign follow the portal's.)
	do(t, ctx, chromedp.Navigate(e.url+"/?lang=ro"), chromedp.WaitVisible(chromedp.ID("q")), chromedp.Navigate(e.url+PathOffice))
	waitFor(t, ctx, "#token", 2*time.Minute)
	waitTokenCerts(t, ctx, "#cert", "#token-status")
	axe("MPass login (token)")
	do(t, ctx, chromedp.Click(chromedp.ID("token-button")))
	waitFor(t, ctx, "#queue", 2*time.Minute)
	axe("back office: queue")
	for _, id := range []string{approved, rejected} {
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#queue tr[data-id="`+id+`"]').length`)); n != 1 {
			t.Fatalf("the queue does not list %s:\n%s", id, text(t, ctx, "#queue"))
		}
	}
	if !strings.Contains(agentLog.String(), e.mpassURL) {
		t.Errorf("the agent did not say it logged in to MPass:\n%s", agentLog.String())
	}

	// The first application: taken, approved, the result signed with the
	// token at MSign, sealed.
	do(t, ctx, chromedp.Click(chromedp.CSS(`#queue tr[data-id="`+approved+`"] a`)), chromedp.WaitVisible(chromedp.ID("start")))
	if cards := text(t, ctx, "#report"); !strings.Contains(cards, "Test User") {
		t.Fatalf("the applicant's signature card: %q", cards)
	}
	axe("back office: application (submitted)")
	do(t, ctx, chromedp.Click(chromedp.ID("start")), chromedp.WaitVisible(chromedp.CSS(`#state[data-state="in-progress"]`)),
		chromedp.WaitVisible(chromedp.ID("approve")))
	axe("back office: application (in progress)")
	do(t, ctx, chromedp.Click(chromedp.ID("approve")))
	waitFor(t, ctx, "#msign-token", 2*time.Minute)
	waitTokenCerts(t, ctx, "#msign-cert", "#msign-status")
	axe("MSign's signing page (token)")
	do(t, ctx, chromedp.Click(chromedp.ID("msign-sign")))
	waitFor(t, ctx, `#state[data-state="completed"]`, 4*time.Minute) // the seal: TSA, revocation
	waitFor(t, ctx, "#result-pdf", time.Minute)
	axe("back office: application (completed)")

	// The second: rejected with a reason and words.
	const why = "Certificatul de la bancă lipsește din dosar."
	do(t, ctx, chromedp.Navigate(e.url+officePath(rejected)), chromedp.WaitVisible(chromedp.ID("reject-form")),
		chromedp.Click(chromedp.CSS(`#reject-form input[name="reason"][value="`+application.ReasonIncomplete+`"]`)),
		chromedp.SendKeys(chromedp.ID("note-input"), why), chromedp.Click(chromedp.ID("reject")))
	waitFor(t, ctx, `#state[data-state="rejected"]`, 2*time.Minute)
	axe("back office: application (rejected)")
	do(t, ctx, chromedp.Navigate(e.url+PathOffice+"?stare=completed"), chromedp.WaitVisible(chromedp.CSS(`#queue tr[data-id="`+approved+`"]`)))
	axe("back office: queue (completed)")

	// The citizen, in the same browser after the clerk's cookies are gone:
	// the issued document's page asks for a login (phone).
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Navigate(e.url+"/?lang=ro"), chromedp.WaitVisible(chromedp.ID("q")), chromedp.Navigate(e.url+appPath(approved, "rezultat")))
	browserLogin(t, ctx, e, user)
	waitFor(t, ctx, "#doc-code", 2*time.Minute)
	axe("MCabinet: issued document")
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("verify-link"), "href"))
	if err != nil || !link.Exists || !strings.HasPrefix(link.Value, e.url+PathVerify+"/") {
		t.Fatalf("the verification link: %+v %v", link, err)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("result-pdf")))
	doc := browsertest.WaitDownload(t, dl, "document-"+approved+".pdf", 2*time.Minute)
	file, roots := filepath.Join(t.TempDir(), "document.pdf"), filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(roots, testcerts.PEM(shared.pki.Root.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	verifyIssued(t, bin, file, roots)
	qr := readQR(t, file)
	if qr != link.Value {
		t.Fatalf("the document's QR code says %q, the page's link is %q", qr, link.Value)
	}
	// The QR code's link, opened: the public verification page.
	do(t, ctx, chromedp.Navigate(qr), chromedp.WaitVisible(chromedp.ID("doc-status")))
	st, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("doc-status"), "data-state"))
	ind, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("report"), "data-indication"))
	if st.Value != string(application.Completed) || ind.Value != "TOTAL-PASSED" || !strings.Contains(text(t, ctx, "#issuer"), "Serviciul Fiscal de Stat") {
		t.Fatalf("the public verification page: state %q, indication %q, issuer %q", st.Value, ind.Value, text(t, ctx, "#issuer"))
	}
	axe("public verification page (QR link)")

	// The rejected application, as the citizen sees it.
	do(t, ctx, chromedp.Navigate(e.url+appPath(rejected, "")), chromedp.WaitVisible(chromedp.CSS(`#state[data-state="rejected"]`)))
	if note, state := text(t, ctx, "#note"), text(t, ctx, "#state"); !strings.Contains(note, why) || !strings.Contains(state, wording("ro")[application.ReasonIncomplete]) {
		t.Fatalf("the citizen's rejected application: state %q, note %q", state, note)
	}
	axe("status (rejected)")

	// The e-mails, as the independent SMTP server received them.
	ro := wording("ro")
	for _, m := range []struct {
		id    string
		state application.State
	}{{approved, application.Completed}, {rejected, application.Rejected}} {
		msg := relay.Wait(t, mailbox, "Cererea "+m.id+": "+ro[string(m.state)], 2*time.Minute)
		if !strings.Contains(msg.Body, m.id) || !strings.Contains(msg.Body, e.url+PathPrefix+"/cereri/"+m.id) || !strings.Contains(msg.Body, ro[string(m.state)]) {
			t.Fatalf("the e-mail of %s (%s):\n%s", m.id, m.state, msg.Body)
		}
	}
}

// verifyIssued checks an issued document with the tools a person has:
// `semnat verify` (TOTAL-PASSED, the institution's seal at B-LTA) and
// poppler's pdfsig (two valid signatures: the clerk's and the seal).
func verifyIssued(t *testing.T, bin, file, roots string) {
	t.Helper()
	out, err := exec.Command(bin, "verify", "--trust", roots, file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "TOTAL-PASSED") || strings.Contains(string(out), "TOTAL-FAILED") ||
		strings.Contains(string(out), "INDETERMINATE") || !strings.Contains(string(out), "level:     B-LTA") {
		t.Fatalf("semnat verify: %v\n%s", err, out)
	}
	if out, err := exec.Command(testtool.Require(t, "pdfsig"), "-nocert", file).CombinedOutput(); err != nil || strings.Count(string(out), "Signature is Valid") < 2 {
		t.Fatalf("pdfsig: %v\n%s", err, out)
	}
}
