package msign

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/internal/samplepdf"
)

// newBrowser starts headless Chromium (skipped locally without it, a
// failure in CI) with a fresh profile and the extra options; downloads go
// to the returned folder.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) (context.Context, string) {
	t.Helper()
	ctx := browsertest.New(t, 90*time.Second, extra...)
	dl := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl}); err != nil {
		t.Fatalf("download folder: %v", err)
	}
	return ctx, dl
}

// waitFile waits for a completed download in dir.
func waitFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	for i := 0; i < 300; i++ {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil && len(b) > 0 {
			return b
		}
		time.Sleep(50 * time.Millisecond)
	}
	ents, _ := os.ReadDir(dir)
	t.Fatalf("no download %s in %v", name, ents)
	return nil
}

// do and text are browsertest's, under short names for these tests.
var do, text = browsertest.Do, browsertest.Text

// TestBrowserMobileSignAndVerify: upload on /sign, sign with the mobile
// signature (the code on the page is the code on the phone; approved on the
// simulator), download, check with pdfsig; then /verify shows an amber card
// (INDETERMINATE / TRY_LATER: no revocation data offline) for the signed
// file and a red one for a tampered copy.
func TestBrowserMobileSignAndVerify(t *testing.T) {
	ctx, dl := newBrowser(t)
	e := newSignEnv(t, "", nil)
	dir := t.TempDir()
	in := filepath.Join(dir, "contract.pdf")
	os.WriteFile(in, samplepdf.Document("Contract de vanzare", []string{"nr. 42"}, 0), 0o644)
	msisdn := "+37369000005"

	// English, chosen once: the cookie keeps it for the next pages.
	do(t, ctx, chromedp.Navigate(e.url+"/sign?lang=en"),
		chromedp.WaitVisible(chromedp.ID("sign-form")),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{in}),
		chromedp.SendKeys(chromedp.ID("reason"), "Aprobat"),
		chromedp.Click(chromedp.ID("visible")),
		chromedp.SendKeys(chromedp.ID("phone"), msisdn),
		chromedp.Click(chromedp.ID("sign-button")),
	)
	// The user compares the code on the virtual phone (a second tab) and
	// enters the PIN there.
	signOnPhone(t, ctx, msisdn)
	// The page follows the request by itself and offers the download.
	do(t, ctx, chromedp.WaitVisible(chromedp.CSS("a.download")), chromedp.Click(chromedp.CSS("a.download")))
	if st := text(t, ctx, "#state"); !strings.Contains(st, "Signed") {
		t.Fatalf("state: %q", st)
	}
	signed := waitFile(t, dl, "contract-signed.pdf")
	checkSigned(t, e.pki, signed, "SERIALNUMBER=", "B-T")

	// Verify: the signed file passes the signature checks (amber offline:
	// no revocation data; never red), a tampered copy is red.
	good := filepath.Join(dir, "good.pdf")
	os.WriteFile(good, signed, 0o644)
	do(t, ctx, chromedp.Navigate(e.url+"/verify"),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{good}),
		chromedp.Submit(chromedp.ID("file")),
		chromedp.WaitVisible(chromedp.ID("verdict")),
	)
	// The shown verdict: amber for the document and for the card, whose
	// heading names the indication and why (no revocation data offline).
	verdict, h3 := text(t, ctx, "section.verdict.indeterminate h2"), text(t, ctx, "article.sig.indeterminate h3")
	if verdict != "The signatures cannot all be confirmed" || !strings.Contains(h3, "INDETERMINATE / TRY_LATER") {
		t.Fatalf("the signed file is shown as %q, card %q; want amber, INDETERMINATE / TRY_LATER", verdict, h3)
	}
	if signer := text(t, ctx, "article.sig dd.signer"); signer == "" {
		t.Fatal("no signer name on the card")
	}
	tampered := filepath.Join(dir, "tampered.pdf")
	os.WriteFile(tampered, bytes.Replace(signed, []byte("nr. 42"), []byte("nr. 43"), 1), 0o644)
	do(t, ctx, chromedp.Navigate(e.url+"/verify"),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{tampered}),
		chromedp.Submit(chromedp.ID("file")),
		chromedp.WaitVisible(chromedp.CSS("section.verdict.failed")),
		chromedp.WaitVisible(chromedp.CSS("article.sig.failed")),
		chromedp.Click(chromedp.ID("report-json")),
	)
	rep := waitFile(t, dl, "verification-report.json")
	if !bytes.Contains(rep, []byte(`"TOTAL-FAILED"`)) {
		t.Fatalf("JSON report: %s", rep)
	}
}

// TestBrowserRefusalAndNoAgent: a refusal on the phone is shown in plain
// words; choosing the USB token without an agent says so (the script runs
// under the page's CSP).
func TestBrowserRefusalAndNoAgent(t *testing.T) {
	ctx, _ := newBrowser(t)
	e := newSignEnv(t, "", func(c *Config) { c.AgentURL = "http://127.0.0.1:9" })
	in := filepath.Join(t.TempDir(), "cerere.pdf")
	os.WriteFile(in, samplepdf.Document("Cerere", nil, 0), 0o644)
	do(t, ctx, chromedp.Navigate(e.url+"/sign?lang=ro"), // Romanian (Chromium asks for English)
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{in}),
		chromedp.SendKeys(chromedp.ID("phone"), "+37300000010"), // the user cancels
		chromedp.Click(chromedp.ID("sign-button")),
		chromedp.WaitVisible(chromedp.CSS("section.request.refused")),
	)
	if st := text(t, ctx, "#state"); !strings.Contains(st, "Semnătura a fost refuzată pe telefon") {
		t.Fatalf("state: %q", st)
	}
	do(t, ctx, chromedp.Navigate(e.url+"/sign"),
		chromedp.Click(chromedp.CSS("input[name=method][value=token]")),
		chromedp.WaitVisible(chromedp.ID("token-fields")),
		chromedp.WaitVisible(chromedp.CSS("#sign-status.error")),
	)
	if st := text(t, ctx, "#sign-status"); !strings.Contains(st, "Agentul semnat nu rulează") || !strings.Contains(st, "Cum instalez agentul") {
		t.Fatalf("no-agent message: %q", st)
	}
}
