package msign

import (
	"context"
	"crypto/sha256"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/agent"
	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pkcs11/softhsmtest"
	"github.com/semnat/semnat/testcerts"
)

// TestIntegratorToken: the person signs a system's request with a USB
// token (SoftHSM) through the local agent: two PDFs with one consent and
// PIN (the prompt lists both), then a hash; the browser goes back to the
// app and the results verify (pdfsig, openssl cms -verify).
func TestIntegratorToken(t *testing.T) {
	ctx, _ := newBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	tok := softhsmtest.New(t)
	pki, _ := signFixtures(t)
	ent := pki.MustGet("person-rsa2048")
	tok.Import(t, ent)
	aln, agentURL := listenAgent(t)
	e := newMSignTLS(t, func(c *Config) { c.AgentURL = agentURL })
	app := newRelyingApp(t, e.url, e.cert)
	e.register(t, app)
	var mu sync.Mutex
	var prompts []agent.Prompt
	serveAgent(t, aln, tok, e.url, func(_ context.Context, p agent.Prompt) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		prompts = append(prompts, p)
		return []byte(tok.PIN), nil
	})
	bg := context.Background()
	signer := mobileid.IdentityOf(ent.Cert).IDNP

	pdfID, err := app.msign.PostSignRequest(bg, client.SignRequest{ShortContentDescription: "Contract", ContentType: client.ContentPdf,
		Contents: []client.SignContent{{CorrelationID: "a", Name: "contract.pdf", Content: samplepdf.Document("Contract", nil, 0)},
			{CorrelationID: "b", Name: "anexa.pdf", Content: samplepdf.Document("Anexa", nil, 0)}},
		ExpectedSigner: &client.ExpectedSigner{ID: signer}})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(id, back string) url.Values {
		t.Helper()
		link := app.msign.RedirectURL(id) + "?" + url.Values{client.ParamReturnURL: {app.url + back}, client.ParamRelayState: {back},
			client.ParamInstrument: {"token"}}.Encode()
		do(t, ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("msign-token")))
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#msign-cert option") !== null || document.querySelector("#msign-status.error") !== null`)); err != nil {
			t.Fatal(err)
		}
		do(t, ctx, chromedp.Click(chromedp.ID("msign-sign")))
		v := app.waitBack(t)
		if v.Get("RequestID") != id || v.Get("RelayState") != back {
			t.Fatalf("posted back: %v", v)
		}
		return v
	}
	sign(pdfID, "/back/token-pdf")
	res := waitDone(t, app, pdfID)
	if res.Status != client.StatusSuccess || len(res.Results) != 2 {
		t.Fatalf("token PDFs: %+v", res.Status)
	}
	for _, r := range res.Results {
		checkSigned(t, e.pki, r.Signature, "SERIALNUMBER="+signer, "B-T")
	}
	// One consent and PIN for the request, the prompt listing both.
	mu.Lock()
	if len(prompts) != 1 || len(prompts[0].Batch) != 2 || prompts[0].Batch[0].Document != "contract.pdf" || prompts[0].Batch[1].Document != "anexa.pdf" {
		t.Errorf("agent prompts: %+v", prompts)
	}
	mu.Unlock()

	content := []byte("Cerere depusa prin portal\n")
	sum := sha256.Sum256(content)
	hashID, err := app.msign.PostSignRequest(bg, client.SignRequest{ShortContentDescription: "Cerere", ContentType: client.ContentHash,
		Contents: []client.SignContent{{CorrelationID: "h", Name: "cerere.txt", Content: sum[:]}}})
	if err != nil {
		t.Fatal(err)
	}
	sign(hashID, "/back/token-hash")
	res = waitDone(t, app, hashID)
	if res.Status != client.StatusSuccess || len(res.Results) != 1 {
		t.Fatalf("token hash: %+v", res.Status)
	}
	dir := t.TempDir()
	for n, b := range map[string][]byte{"sig.der": res.Results[0].Signature, "content.txt": content, "root.pem": testcerts.PEM(e.pki.Root.Cert)} {
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	out, err := exec.Command(testtool.Require(t, "openssl"), "cms", "-verify", "-binary", "-inform", "DER", "-in", filepath.Join(dir, "sig.der"),
		"-content", filepath.Join(dir, "content.txt"), "-CAfile", filepath.Join(dir, "root.pem"), "-purpose", "any", "-out", os.DevNull).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verification successful") {
		t.Fatalf("openssl cms -verify: %v\n%s", err, out)
	}

	// Another person's token: Failure, no signature.
	otherID, err := app.msign.PostSignRequest(bg, client.SignRequest{ShortContentDescription: "Contract", ContentType: client.ContentPdf,
		Contents:       []client.SignContent{{CorrelationID: "a", Content: samplepdf.Document("Contract 2", nil, 0)}},
		ExpectedSigner: &client.ExpectedSigner{ID: mobileid.GeneratedUser(4).IDNP}})
	if err != nil {
		t.Fatal(err)
	}
	sign(otherID, "/back/token-other")
	if res := waitDone(t, app, otherID); res.Status != client.StatusFailure || len(res.Results) != 0 || res.Message != testWords(t, "en", "result.signer-mismatch") {
		t.Fatalf("another person's token: %+v", res)
	}
}
