package msign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/testcerts"
)

// TestSealedReport: the verify page, POST /api/v1/verifications (Accept:
// application/pdf) and VerifySignatures (ReportPdf) give the report as a
// PDF sealed by the service at B-LT: it names the signer, the times in
// Europe/Chisinau, the verdict and the document's SHA-256 in the language
// asked, and our verifier (offline, from what the report embeds) and
// pdfsig accept its seal.
func TestSealedReport(t *testing.T) {
	e := newSignEnv(t, "", func(c *Config) {
		pki, _ := signFixtures(t)
		seal := pki.MustGet("seal")
		c.Seal = pades.NewKeySigner(seal.Key, seal.Cert, seal.Chain)
		c.Revocation = pades.OnlineRevocation{HTTP: pkiClient(t)}
	})
	person := e.pki.ByRole(testcerts.RolePerson)[0]
	doc := samplepdf.Document("Contract", []string{"Contract de vânzare"}, 0)
	var signed bytes.Buffer
	if _, err := pades.Sign(context.Background(), bytes.NewReader(doc), int64(len(doc)), &signed,
		pades.NewKeySigner(person.Key, person.Cert, person.Chain), nil); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(signed.Bytes())
	name := person.Cert.Subject.CommonName
	nss := testtool.NSSTrustDB(t, e.pki.Root.Cert)

	// The API, in Russian.
	resp, b := post(t, e.url+"/api/v1/verifications?lang=ru", "application/pdf", signed.Bytes(), map[string]string{"Accept": "application/pdf"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("API: %d %s", resp.StatusCode, b)
	}
	checkSealedReport(t, e, nss, b, sum[:], "Отчёт о проверке электронных подписей", "Подписант: "+name)
	resp, b = post(t, e.url+"/api/v1/verifications?format=pdf&lang=de", "application/pdf", signed.Bytes(), nil)
	wantProblem(t, resp, b, 400, "invalid-parameter")

	// The page, in Romanian: the report shown links to its sealed PDF.
	c := browserClient()
	_, page := fetch(t, c, "GET", e.url+"/verify", "", nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF field on /verify")
	}
	ct, body := form(map[string]string{"_csrf": m[1]}, "contract.pdf", signed.Bytes())
	resp, page = fetch(t, c, "POST", e.url+"/verify", ct, body)
	link := regexp.MustCompile(`id="report-pdf" href="([^"]+)"`).FindStringSubmatch(page)
	if resp.StatusCode != 200 || link == nil {
		t.Fatalf("verify page: %d, no sealed report link:\n%s", resp.StatusCode, page)
	}
	resp, pdfPage := fetch(t, c, "GET", e.url+strings.ReplaceAll(link[1], "&amp;", "&"), "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("GET %s: %d %s", link[1], resp.StatusCode, pdfPage)
	}
	checkSealedReport(t, e, nss, []byte(pdfPage), sum[:], "Raport de verificare a semnăturilor electronice", "Semnatar: "+name, "contract.pdf")
	if resp, _ := fetch(t, c, "GET", e.url+"/verify/0123456789abcdef0123456789abcdef/report.pdf", "", nil); resp.StatusCode != 404 {
		t.Errorf("unknown report: %d, want 404", resp.StatusCode)
	}

	// VerifySignatures, in English.
	if err := AddSystem(context.Background(), e.store, "test", NewSystem{Name: "registru", APIKey: []byte(apiKey), ReturnURLs: []string{"https://registru.example/back/"}}); err != nil {
		t.Fatal(err)
	}
	mc, err := client.New(e.url, client.Options{APIKey: apiKey})
	if err != nil {
		t.Fatal(err)
	}
	vr, err := mc.VerifySignatures(context.Background(), client.VerificationRequest{SignedContentType: client.ContentPdf, Language: "en", ReportPdf: true,
		Contents: []client.VerificationContent{{CorrelationID: "c1", Signature: signed.Bytes()}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(vr.Results) != 1 || len(vr.Results[0].ReportPdf) == 0 {
		t.Fatalf("VerifySignatures with ReportPdf: %+v", vr)
	}
	checkSealedReport(t, e, nss, vr.Results[0].ReportPdf, sum[:], "Electronic signature verification report", "Signer: "+name)
	// Without ReportPdf, no PDF (sealing costs a timestamp and OCSP requests).
	vr, err = mc.VerifySignatures(context.Background(), client.VerificationRequest{SignedContentType: client.ContentPdf,
		Contents: []client.VerificationContent{{CorrelationID: "c1", Signature: signed.Bytes()}}})
	if err != nil || len(vr.Results[0].ReportPdf) != 0 {
		t.Fatalf("VerifySignatures without ReportPdf: %v, %d bytes of PDF", err, len(vr.Results[0].ReportPdf))
	}
}

// TestSealedReportNoKey: without a seal key the PDF report is refused
// with a plain problem and the page offers no link.
func TestSealedReportNoKey(t *testing.T) {
	e := newSignEnv(t, "", nil)
	resp, b := post(t, e.url+"/api/v1/verifications", "application/pdf", samplepdf.Document("x", nil, 0), map[string]string{"Accept": "application/pdf"})
	wantProblem(t, resp, b, 503, "no-seal-key")
}

// checkSealedReport checks a sealed report: sealed at B-LT by the
// service's seal, TOTAL-PASSED offline (the report embeds its revocation
// data), trusted by pdfsig, and its text holds want and the SHA-256.
func checkSealedReport(t *testing.T, e *signEnv, nss string, report, sum []byte, want ...string) {
	t.Helper()
	rep, err := pades.Verify(context.Background(), bytes.NewReader(report), int64(len(report)), &pades.VerifyOptions{Roots: e.pki.RootPool()})
	if err != nil {
		t.Fatal(err)
	}
	seal := e.pki.MustGet("seal").Cert
	if len(rep.Signatures) != 1 || rep.Indication != pades.TotalPassed || rep.Signatures[0].Level != "B-LT" || rep.Signatures[0].Signer.Subject != seal.Subject.String() {
		t.Fatalf("the report's seal: %s %s, %d signatures: %+v", rep.Indication, rep.SubIndication, len(rep.Signatures), rep.Signatures)
	}
	file := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(file, report, 0o600); err != nil {
		t.Fatal(err)
	}
	testtool.PdfsigTrusted(t, nss, file)
	out, err := exec.Command(testtool.Require(t, "pdftotext"), "-raw", file, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, w := range append(want, "Europe/Chisinau", seal.Subject.CommonName) {
		if !strings.Contains(text, w) {
			t.Errorf("%q not in the report:\n%s", w, text)
		}
	}
	if !strings.Contains(strings.ReplaceAll(text, "\n", ""), hex.EncodeToString(sum)) {
		t.Errorf("the document's SHA-256 is not in the report:\n%s", text)
	}
}

// pkiClient sends the requests for the test PKI's URLs (OCSP, CRLs, AIA
// at testcerts.DefaultBaseURL) to the shared PKI server.
func pkiClient(t *testing.T) *http.Client {
	base, err := url.Parse(testcerts.DefaultBaseURL)
	if err != nil {
		t.Fatal(err)
	}
	to, err := url.Parse(signShared.pkiURL)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host == base.Host {
			r = r.Clone(r.Context())
			r.URL.Host, r.Host = to.Host, to.Host
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
