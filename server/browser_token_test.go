package server

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

	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	agentURL := "http://" + aln.Addr().String()
	e := newSignEnv(t, "", func(c *Config) { c.AgentURL = agentURL })
	var mu sync.Mutex
	var prompts []agent.Prompt
	refuse := true
	ag, err := agent.New(agent.Options{Module: tok.Module, Token: tok.Selector(), Origins: []string{e.url}, Version: "test",
		Consent: func(_ context.Context, p agent.Prompt) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			if refuse {
				return nil, agent.ErrRefused
			}
			prompts = append(prompts, p)
			return []byte(tok.PIN), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	as := &http.Server{Handler: ag.Handler()}
	go as.Serve(aln)
	t.Cleanup(func() { as.Close() })

	dir := t.TempDir()
	in1, in2 := filepath.Join(dir, "decizie.pdf"), filepath.Join(dir, "anexa.pdf")
	os.WriteFile(in1, samplepdf.Document("Decizie nr. 5", nil, 0), 0o644)
	os.WriteFile(in2, samplepdf.Document("Anexa la decizie", nil, 0), 0o644)
	do(t, ctx, chromedp.Navigate(e.url+"/sign"),
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
