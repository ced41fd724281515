package msign

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/pades"
)

// TestBrowserRevocationProxy: a signed file without revocation data,
// verified in the page, gets its signer's and CA's status through the
// server's revocation proxy: the report and the card say so, the verdict
// is the one the server gets online, and the network log holds only
// requests of CertID size that parse as CertID-only OCSP requests, never
// the document's bytes.
func TestBrowserRevocationProxy(t *testing.T) {
	useWasm(t)
	pki, hits := proxyPKI(t)
	ctx := browsertest.New(t, 5*time.Minute) // generous on a loaded machine (not a timing)
	e := newSignEnv(t, "", withProxy(t))
	var log requestLog
	log.listen(t, ctx)

	person := pki.MustGet("person-p256")
	doc := samplepdf.Document("Contract de vanzare", []string{"nr. 42"}, 0)
	var signed bytes.Buffer
	if _, err := pades.Sign(context.Background(), bytes.NewReader(doc), int64(len(doc)), &signed,
		pades.NewKeySigner(person.Key, person.Cert, person.Chain), nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "b-b.pdf")
	os.WriteFile(path, signed.Bytes(), 0o644)
	want, err := pades.Verify(context.Background(), bytes.NewReader(signed.Bytes()), int64(signed.Len()),
		&pades.VerifyOptions{Roots: pki.RootPool(), Online: true, HTTPClient: &http.Client{}})
	if err != nil || want.Indication != pades.TotalPassed {
		t.Fatalf("online here: %v %+v", err, want)
	}

	do(t, ctx, chromedp.Navigate(e.url+"/verify?lang=en"), chromedp.WaitVisible(chromedp.ID("local-note")))
	log.reset()
	before := hits.Load()
	do(t, ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{path}),
		chromedp.Click(chromedp.ID("verify-button")),
		chromedp.WaitVisible(chromedp.CSS(`#verify-local[data-state="done"], #verify-local[data-state="failed"]`)))
	report, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("verify-local").dataset.report || document.getElementById("verify-local").textContent`))
	var got pades.Report
	if err := json.Unmarshal([]byte(report), &got); err != nil {
		t.Fatalf("local verification: %v: %s", err, report)
	}
	if got.Indication != want.Indication || len(got.Signatures) != 1 || got.Signatures[0].Indication != want.Signatures[0].Indication {
		t.Fatalf("in the browser %s, online here %s: %s", got.Indication, want.Indication, report)
	}
	if ri := got.Signatures[0].Revocation; ri == nil || ri.Origin != pades.OriginProxy || ri.Status != "good" {
		t.Fatalf("revocation %+v, want good through the proxy", ri)
	}
	if hits.Load() == before {
		t.Error("the responder was not asked")
	}
	card := text(t, ctx, "#verify-local dd.revocation-origin")
	if !strings.Contains(card, "only the certificate's number was sent") {
		t.Errorf("card says %q", card)
	}
	if done := text(t, ctx, "#local-done"); done != "Your file was not uploaded: it was checked on this computer." {
		t.Errorf("%q", done)
	}

	// The network log: bodies only to the proxy, each a CertID-only OCSP
	// request of CertID size, none holding the document's bytes.
	log.mu.Lock()
	defer log.mu.Unlock()
	probe := signed.Bytes()[signed.Len()/2 : signed.Len()/2+64]
	proxied := 0
	for _, r := range log.reqs {
		var body []byte
		for _, p := range r.PostDataEntries {
			body = append(body, p.Bytes...)
		}
		if !r.HasPostData && len(body) == 0 && r.Method == http.MethodGet {
			if strings.Contains(r.URL, string(probe)) {
				t.Errorf("GET %s holds document bytes", r.URL)
			}
			continue
		}
		if r.Method != http.MethodPost || r.URL != e.url+revocationPath {
			t.Errorf("%s %s sends a body", r.Method, r.URL)
			continue
		}
		if len(body) == 0 {
			t.Errorf("the proxy request's body is not in the log: its size cannot be checked")
			continue
		}
		if _, err := ocsp.ParseCourierRequest(body); err != nil || len(body) > ocsp.MaxCourierRequest || bytes.Contains(body, probe) {
			t.Errorf("proxy request of %d bytes: %v", len(body), err)
		}
		proxied++
	}
	if proxied == 0 {
		t.Fatal("no request to the revocation proxy in the log")
	}
	t.Logf("%d CertID-only requests to the proxy, none larger than %d bytes", proxied, ocsp.MaxCourierRequest)
}
