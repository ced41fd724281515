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

// officeCast is what the clerk's half of a journey adds to the cast: the
// semnat command (the agent, `semnat verify`), Debian's aiosmtpd as the
// relay of a real MNotify, and a clerk's token behind a real `semnat agent
// --yes` process whose address MPass's and MSign's pages know.
type officeCast struct {
	bin      string
	relay    *aiosmtpdtest.Server
	mn       *mnotifytest.Server
	agentLog *testtool.SyncBuffer
}

// officeEnv is newEnv (real-time phones) with the back office, MNotify
// through aiosmtpd, mut, and the token of clerk (a testcerts entity with
// its authentication certificate) behind the agent.
func officeEnv(t *testing.T, clerk string, mut func(*Config)) (*env, *officeCast) {
	t.Helper()
	o := &officeCast{bin: browsertest.BuildSemnat(t)} // before Chromium's time-out starts
	o.relay = aiosmtpdtest.Start(t, aiosmtpdtest.FreeAddr(t), t.TempDir())
	o.mn = mnotifytest.Start(t, mnotifytest.Relay(o.relay.Addr))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	notify := withMNotify(o.mn)
	e := newEnv(t, func(c *Config) {
		withOffice(c)
		notify(c)
		if mut != nil {
			mut(c)
		}
	}, realTimePhones, withAgent("http://"+ln.Addr().String()))
	tok := softhsmtest.New(t)
	tok.Import(t, shared.pki.MustGet(clerk))
	tok.Import(t, shared.pki.MustGet(clerk+testcerts.AuthSuffix))
	o.agentLog = browsertest.StartAgent(t, o.bin, ln, tok, e.mpassURL, e.msignURL)
	return e, o
}

// mailbox is the citizens' e-mail address in MNotify's contact registry.
const mailbox = "cetatean@example.md"

// hasMailbox puts u's e-mail address in MNotify's contact registry (as
// they set it in MCabinet; no language: Romanian, the default).
func (o *officeCast) hasMailbox(t *testing.T, u mobileid.User) {
	t.Helper()
	if _, err := o.mn.Cabinet().SetContact(context.Background(), mnotifyclient.Contact{IDNP: u.IDNP, Email: mailbox}); err != nil {
		t.Fatal(err)
	}
}

// mailed waits for aiosmtpd to hold the e-mail telling that application
// id reached state (in Romanian: subject, and the body with the
// application's number and link).
func (o *officeCast) mailed(t *testing.T, e *env, id string, state application.State) {
	t.Helper()
	ro := wording("ro")
	msg := o.relay.Wait(t, mailbox, "Cererea "+id+": "+ro[string(state)], 2*time.Minute)
	if !strings.Contains(msg.Body, id) || !strings.Contains(msg.Body, e.url+PathPrefix+"/cereri/"+id) || !strings.Contains(msg.Body, ro[string(state)]) {
		t.Fatalf("the e-mail of %s (%s):\n%s", id, state, msg.Body)
	}
}

// clerkLogin: the clerk opens the back office (Romanian chosen first on the
// portal: Chromium asks for English; MPass and MSign follow the portal's),
// is sent to MPass, logs in with the token through the agent and lands on
// the queue. axe-core on each page.
func clerkLogin(t *testing.T, ctx context.Context, e *env, o *officeCast) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(e.url+"/?lang=ro"), chromedp.WaitVisible(chromedp.ID("q")), chromedp.Navigate(e.url+PathOffice))
	waitFor(t, ctx, "#token", 2*time.Minute)
	waitTokenCerts(t, ctx, "#cert", "#token-status")
	browsertest.Axe(t, ctx, "MPass login (token)", "ro")
	do(t, ctx, chromedp.Click(chromedp.ID("token-button")))
	waitFor(t, ctx, "#queue", 2*time.Minute)
	browsertest.Axe(t, ctx, "back office: queue", "ro")
	if !strings.Contains(o.agentLog.String(), e.mpassURL) {
		t.Errorf("the agent did not say it logged in to MPass:\n%s", o.agentLog.String())
	}
}

// clerkApproves: from the queue, the clerk opens application id (the
// applicant's signature card shown), takes it, approves it and signs the
// result with the token on MSign's page; back in the back office, sealed,
// it is Completed. axe-core on each page.
func clerkApproves(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	axe := func(name string) { t.Helper(); browsertest.Axe(t, ctx, name, "ro") }
	do(t, ctx, chromedp.Click(chromedp.CSS(`#queue tr[data-id="`+id+`"] a`)), chromedp.WaitVisible(chromedp.ID("start")))
	if cards := text(t, ctx, "#report"); !strings.Contains(cards, "Test User") {
		t.Fatalf("the applicant's signature card: %q", cards)
	}
	axe("back office: application (to take)")
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
}

// citizenGetsDocument: on the issued document's page of application id
// (ctx shows it, the citizen logged in), the citizen downloads the PDF
// (into dl): `semnat verify` and pdfsig pass it, its QR code (zbarimg) is
// the page's verification link, which opens the public page: completed,
// TOTAL-PASSED, issued by issuer. axe-core on both pages.
func citizenGetsDocument(t *testing.T, ctx context.Context, e *env, o *officeCast, dl, id, issuer string) {
	t.Helper()
	waitFor(t, ctx, "#doc-code", 2*time.Minute)
	browsertest.Axe(t, ctx, "MCabinet: issued document", "ro")
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("verify-link"), "href"))
	if err != nil || !link.Exists || !strings.HasPrefix(link.Value, e.url+PathVerify+"/") {
		t.Fatalf("the verification link: %+v %v", link, err)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("result-pdf")))
	doc := browsertest.WaitDownload(t, dl, "document-"+id+".pdf", 2*time.Minute)
	file, roots := filepath.Join(t.TempDir(), "document.pdf"), filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(roots, testcerts.PEM(shared.pki.Root.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	verifyIssued(t, o.bin, file, roots)
	qr := readQR(t, file)
	if qr != link.Value {
		t.Fatalf("the document's QR code says %q, the page's link is %q", qr, link.Value)
	}
	// The QR code's link, opened: the public verification page.
	do(t, ctx, chromedp.Navigate(qr), chromedp.WaitVisible(chromedp.ID("doc-status")))
	st, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("doc-status"), "data-state"))
	ind, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("report"), "data-indication"))
	if st.Value != string(application.Completed) || ind.Value != "TOTAL-PASSED" || !strings.Contains(text(t, ctx, "#issuer"), issuer) {
		t.Fatalf("the public verification page: state %q, indication %q, issuer %q", st.Value, ind.Value, text(t, ctx, "#issuer"))
	}
	browsertest.Axe(t, ctx, "public verification page (QR link)", "ro")
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
// the application. (TestBrowserCitizenJourney goes on from a paid
// application to the same approval, in one journey.)
func TestBrowserOffice(t *testing.T) {
	e, o := officeEnv(t, "clerk-sfs", nil)
	user := mobileid.GeneratedUser(3)
	o.hasMailbox(t, user)
	approved, rejected := e.submitted(newBrowser(t), user), e.submitted(newBrowser(t), user)

	ctx := browsertest.New(t, 15*time.Minute)
	dl := browsertest.Downloads(t, ctx)
	axe := func(name string) { t.Helper(); browsertest.Axe(t, ctx, name, "ro") }

	clerkLogin(t, ctx, e, o)
	for _, id := range []string{approved, rejected} {
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#queue tr[data-id="`+id+`"]').length`)); n != 1 {
			t.Fatalf("the queue does not list %s:\n%s", id, text(t, ctx, "#queue"))
		}
	}
	clerkApproves(t, ctx, approved)

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
	citizenGetsDocument(t, ctx, e, o, dl, approved, "Serviciul Fiscal de Stat")

	// The rejected application, as the citizen sees it.
	do(t, ctx, chromedp.Navigate(e.url+appPath(rejected, "")), chromedp.WaitVisible(chromedp.CSS(`#state[data-state="rejected"]`)))
	if note, state := text(t, ctx, "#note"), text(t, ctx, "#state"); !strings.Contains(note, why) || !strings.Contains(state, wording("ro")[application.ReasonIncomplete]) {
		t.Fatalf("the citizen's rejected application: state %q, note %q", state, note)
	}
	axe("status (rejected)")

	// The e-mails, as the independent SMTP server received them.
	o.mailed(t, e, approved, application.Completed)
	o.mailed(t, e, rejected, application.Rejected)
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
