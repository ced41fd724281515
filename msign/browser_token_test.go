package msign

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/agent"
	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pkcs11/softhsmtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Cleanup()
	os.Exit(code)
}

// TestBrowserToken: the sign page lists the certificates of the local agent
// (in-process, SoftHSM token, consent given automatically), the page has
// two documents signed through it, the server checks the bindings to its
// own origin, and the downloads verify (pades.Verify, pdfsig).
func TestBrowserToken(t *testing.T) {
	ctx, dl := newBrowser(t)
	tok := softhsmtest.New(t)
	pki, _ := signFixtures(t)
	ent := pki.MustGet("person-rsa2048")
	tok.Import(t, ent)

	aln, agentURL := listenAgent(t)
	e := newSignEnv(t, "", func(c *Config) { c.AgentURL = agentURL })
	var mu sync.Mutex
	var prompts []agent.Prompt
	refuse := true
	serveAgent(t, aln, tok, e.url, func(_ context.Context, p agent.Prompt) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			return nil, agent.ErrRefused
		}
		prompts = append(prompts, p)
		return []byte(tok.PIN), nil
	})

	dir := t.TempDir()
	in1, in2 := filepath.Join(dir, "decizie.pdf"), filepath.Join(dir, "anexa.pdf")
	os.WriteFile(in1, samplepdf.Document("Decizie nr. 5", nil, 0), 0o644)
	os.WriteFile(in2, samplepdf.Document("Anexa la decizie", nil, 0), 0o644)
	do(t, ctx, chromedp.Navigate(e.url+"/sign?lang=en"),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{in1, in2}),
		chromedp.SendKeys(chromedp.ID("reason"), "Semnat cu token"),
		chromedp.Click(chromedp.CSS("input[name=method][value=token]")),
	)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#cert option") !== null || document.querySelector("#sign-status.error") !== null`)); err != nil {
		t.Fatal(err)
	}
	if st := text(t, ctx, "#sign-status"); strings.Contains(st, "agent") && !strings.Contains(st, "Choose") {
		t.Fatalf("agent: %q", st)
	}
	if opt, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#cert option").textContent`)); !strings.Contains(opt, "Popescu") {
		t.Fatalf("certificate offered: %q", opt)
	}
	// First the person refuses in the agent: the page says so.
	do(t, ctx, chromedp.Click(chromedp.ID("sign-button")), chromedp.WaitVisible(chromedp.CSS("#sign-status.error")))
	if st := text(t, ctx, "#sign-status"); !strings.Contains(st, "refused") {
		t.Fatalf("refusal: %q", st)
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	do(t, ctx, chromedp.Click(chromedp.ID("sign-button")),
		chromedp.WaitVisible(chromedp.CSS("section.request.signed")),
		chromedp.Click(chromedp.CSS("li:nth-child(1) a.download")),
		chromedp.Click(chromedp.CSS("li:nth-child(2) a.download")),
	)
	for _, name := range []string{"decizie-signed.pdf", "anexa-signed.pdf"} {
		checkSigned(t, pki, waitFile(t, dl, name), ent.Cert.Subject.SerialNumber, "B-T")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(prompts) != 2 || prompts[0].Origin != e.url || prompts[0].Document != "decizie.pdf" {
		t.Fatalf("agent prompts: %+v", prompts)
	}
	if n := auditCount(t, e.store); n != 2 {
		t.Fatalf("audit entries: %d", n)
	}
}

// buildSemnat builds the semnat command into the test's temporary
// directory (the go command's cache makes it quick after the first time).
func buildSemnat(t *testing.T) string {
	t.Helper()
	return browsertest.BuildSemnat(t)
}

// listenAgent reserves the local agent's address (the page must know it
// before the agent knows the page's origin).
func listenAgent(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, "http://" + ln.Addr().String()
}

// serveAgent runs the token agent in-process on ln for pages of origin,
// asking consent for each signature.
func serveAgent(t *testing.T, ln net.Listener, tok *softhsmtest.Token, origin string, consent func(context.Context, agent.Prompt) ([]byte, error)) {
	t.Helper()
	ag, err := agent.New(agent.Options{Module: tok.Module, Token: tok.Selector(), Origins: []string{origin}, Version: "test", Consent: consent})
	if err != nil {
		t.Fatal(err)
	}
	as := &http.Server{Handler: ag.Handler()}
	go as.Serve(ln)
	t.Cleanup(func() { as.Close() })
}

// TestBrowserTokenCLIAgent: the token path through the real `semnat agent
// --yes` process (SoftHSM token with an ECDSA key, PIN from $SEMNAT_PIN),
// as a citizen would run it beside the browser.
func TestBrowserTokenCLIAgent(t *testing.T) {
	ctx, dl := newBrowser(t)
	tok := softhsmtest.New(t)
	pki, _ := signFixtures(t)
	ent := pki.MustGet("person-p256")
	tok.Import(t, ent)
	bin := buildSemnat(t)

	// The page must know the agent's address and the agent the page's origin:
	// the socket bound here is handed to the agent (--listen-fd), never
	// closed and bound again.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	agentAddr := ln.Addr().String()
	e := newSignEnv(t, "", func(c *Config) { c.AgentURL = "http://" + agentAddr })
	stderr := browsertest.StartAgent(t, bin, ln, tok, e.url)

	dir := t.TempDir()
	in := filepath.Join(dir, "procura.pdf")
	os.WriteFile(in, samplepdf.Document("Procură", nil, 0), 0o644)
	do(t, ctx, chromedp.Navigate(e.url+"/sign?lang=en"),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{in}),
		chromedp.Click(chromedp.CSS("input[name=method][value=token]")),
	)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#cert option") !== null || document.querySelector("#sign-status.error") !== null`)); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("sign-button")),
		chromedp.WaitVisible(chromedp.CSS("section.request.signed")),
		chromedp.Click(chromedp.CSS("li:nth-child(1) a.download")),
	)
	checkSigned(t, pki, waitFile(t, dl, "procura-signed.pdf"), ent.Cert.Subject.SerialNumber, "B-T")
	if !strings.Contains(stderr.String(), e.url) {
		t.Errorf("the agent did not say which site it signed for:\n%s", stderr.String())
	}
}
