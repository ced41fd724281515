package msign

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"html"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/cms"
	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

// relyingApp is an e-service that uses MSign as an integrator would: its
// own HTTP server on loopback (where the browser comes back), its own TLS
// client certificate, and only msign/client and HTTP to talk to MSign.
type relyingApp struct {
	url    string
	cert   *x509.Certificate
	msign  *client.Client
	back   chan url.Values // the POSTs back from MSign
	msURL  string
	tlsCfg *tls.Config
}

// newRelyingApp starts the app; msignTLS is the certificate MSign's HTTPS
// listener presents.
func newRelyingApp(t *testing.T, msignURL string, msignTLS *x509.Certificate) *relyingApp {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "relying-app.test", Organization: []string{"Relying app"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(msignTLS)
	tlsCfg := &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	mc, err := client.New(msignURL, client.Options{HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}})
	if err != nil {
		t.Fatal(err)
	}
	app := &relyingApp{cert: cert, msign: mc, back: make(chan url.Values, 4), msURL: msignURL, tlsCfg: tlsCfg}
	mux := http.NewServeMux()
	// /start?id=: the app sends the browser to MSign with a POSTed form.
	mux.HandleFunc("GET /start", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		fmt.Fprintf(w, `<!doctype html><form id="go" method="post" action="%s">`, html.EscapeString(app.msign.RedirectURL(q.Get("id"))))
		for _, k := range []string{client.ParamReturnURL, client.ParamRelayState, client.ParamLang, client.ParamInstrument, client.ParamMSISDN} {
			fmt.Fprintf(w, `<input type="hidden" name="%s" value="%s">`, k, html.EscapeString(q.Get(k)))
		}
		fmt.Fprint(w, `</form><script>document.getElementById("go").submit()</script>`)
	})
	mux.HandleFunc("POST /back/", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		app.back <- r.PostForm
		fmt.Fprint(w, `<!doctype html><p id="app-done">Back at the app.</p>`)
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	app.url = hs.URL
	return app
}

// msignTLSEnv is MSign on HTTPS (client certificates requested, not
// required: a registered certificate is recognised by itself).
type msignTLSEnv struct {
	url   string
	cert  *x509.Certificate // the listener's
	svc   *Service
	store *store.Store
	pki   *testcerts.PKI
}

func newMSignTLS(t *testing.T, mut func(*Config)) *msignTLSEnv {
	t.Helper()
	pki, _ := signFixtures(t)
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "semnat.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mc := newMobileClient(t, pki)
	cfg := Config{Store: st, Roots: pki.RootPool(), Mobile: mc, MaxUpload: 4 << 20,
		Timestamper: pades.TSA{Client: &tsa.Client{URL: signShared.pkiURL + testcerts.TSAPath, HTTPClient: &http.Client{Timeout: 10 * time.Second}}}}
	if mut != nil {
		mut(&cfg)
	}
	svc, host := serve(t, cfg)
	hs := httptest.NewUnstartedServer(host)
	hs.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	return &msignTLSEnv{url: hs.URL, cert: hs.Certificate(), svc: svc, store: st, pki: pki}
}

// register registers app with MSign, as `semnat msign systems add` does.
func (e *msignTLSEnv) register(t *testing.T, app *relyingApp) {
	t.Helper()
	if err := AddSystem(context.Background(), e.store, "test", NewSystem{Name: "relying-app", Cert: app.cert, ReturnURLs: []string{app.url + "/back/"}}); err != nil {
		t.Fatal(err)
	}
}

// signOnPhone approves the prompt on a virtual phone (a second tab) after
// comparing its code with the page's.
func signOnPhone(t *testing.T, ctx context.Context, msisdn string) {
	t.Helper()
	do(t, ctx, chromedp.WaitVisible(chromedp.ID("code")))
	code := text(t, ctx, "#code")
	phone, cancel := chromedp.NewContext(ctx)
	defer cancel()
	do(t, phone, chromedp.Navigate(signShared.simURL+"/sim/"+msisdn), chromedp.WaitVisible(chromedp.ID("req")))
	if onPhone := text(t, phone, "#code"); onPhone != code {
		t.Fatalf("page shows %q, phone %q", code, onPhone)
	}
	do(t, phone, chromedp.SendKeys(chromedp.ID("pin"), mobileid.DefaultPIN2), chromedp.Click(chromedp.ID("ok")))
}

func (app *relyingApp) waitBack(t *testing.T) url.Values {
	t.Helper()
	select {
	case v := <-app.back:
		return v
	case <-time.After(60 * time.Second):
		t.Fatal("the browser was not POSTed back to the app")
		return nil
	}
}

// TestIntegratorPdfAndHash is an e-service's view: it posts a PDF request
// and a hash request, sends the browser to MSign (a POSTed form, then a
// plain link), the person signs on the phone, the browser is POSTed back
// with RequestID and RelayState, and the app fetches the results: the PDF
// passes pdfsig, the CAdES signature passes `openssl cms -verify` against
// the content whose SHA-256 was posted.
func TestIntegratorPdfAndHash(t *testing.T) {
	ctx, _ := newBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	e := newMSignTLS(t, nil)
	app := newRelyingApp(t, e.url, e.cert)
	e.register(t, app)
	bg := context.Background()
	user := mobileid.GeneratedUser(7)

	doc := samplepdf.Document("Cerere de eliberare a certificatului", []string{"nr. 7"}, 0)
	pdfID, err := app.msign.PostSignRequest(bg, client.SignRequest{ContentDescription: "Cerere de eliberare a certificatului de urbanism",
		ShortContentDescription: "Cerere certificat", SignatureReason: "Depunere cerere", ContentType: client.ContentPdf,
		Contents:       []client.SignContent{{CorrelationID: "cerere-1", Name: "cerere.pdf", Content: doc}},
		ExpectedSigner: &client.ExpectedSigner{ID: user.IDNP, DelegatorType: client.DelegatorNone}})
	if err != nil || len(pdfID) != 32 {
		t.Fatalf("PostSignRequest: %q %v", pdfID, err)
	}
	if resp, err := app.msign.GetSignResponse(bg, pdfID, "en"); err != nil || resp.Status != client.StatusPending || len(resp.Results) != 0 {
		t.Fatalf("before signing: %+v %v", resp, err)
	}
	// The app POSTs the browser to MSign; the phone number in its local
	// form is normalised.
	start := app.url + "/start?" + url.Values{"id": {pdfID}, client.ParamReturnURL: {app.url + "/back/pdf"}, client.ParamRelayState: {"state-pdf-42"},
		client.ParamLang: {"ro"}, client.ParamInstrument: {"mobile"}, client.ParamMSISDN: {"0 69 000 007"}}.Encode()
	do(t, ctx, chromedp.Navigate(start), chromedp.WaitVisible(chromedp.ID("msign-form")))
	if d := text(t, ctx, "#description"); !strings.Contains(d, "certificatului de urbanism") {
		t.Fatalf("the page does not say what is signed: %q", d)
	}
	if n := text(t, ctx, "ol.docs"); !strings.Contains(n, "cerere.pdf") || text(t, ctx, "#expected-signer") != user.IDNP {
		t.Fatalf("documents / expected signer: %q", n)
	}
	// pdf.js draws the page to be signed, under the page's strict CSP.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("[data-rendered]") !== null`)); err != nil {
		t.Fatalf("no preview: %v", err)
	}
	if r, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("[data-rendered]").dataset.rendered + "/" + document.querySelectorAll("canvas.preview-page").length`)); r != "1/1" {
		t.Fatalf("preview: %q", r)
	}
	if blank, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const c = document.querySelector("canvas.preview-page"); const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data; for (let i = 0; i < d.length; i += 4) { if (d[i] < 128) return false; } return true; })()`)); blank {
		t.Fatal("the preview is blank: no dark pixel (the text) on the page")
	}
	if msisdn, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("msisdn"))); err != nil || msisdn != user.MSISDN {
		t.Fatalf("MSISDN %q, want %s (%v)", msisdn, user.MSISDN, err)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("msign-sign")))
	signOnPhone(t, ctx, user.MSISDN)
	back := app.waitBack(t)
	if back.Get("RequestID") != pdfID || back.Get("RelayState") != "state-pdf-42" {
		t.Fatalf("posted back: %v", back)
	}
	do(t, ctx, chromedp.WaitVisible(chromedp.ID("app-done")))
	resp, err := app.msign.GetSignResponse(bg, pdfID, "ro")
	if err != nil || resp.Status != client.StatusSuccess || resp.Message != testWords(t, "ro", "result.Success") || len(resp.Results) != 1 || resp.Results[0].CorrelationID != "cerere-1" {
		t.Fatalf("GetSignResponse: %+v %v", resp, err)
	}
	if cert, err := x509.ParseCertificate(resp.Results[0].Certificate); err != nil || mobileid.IdentityOf(cert).IDNP != user.IDNP {
		t.Fatalf("result certificate: %v", err)
	}
	checkSigned(t, e.pki, resp.Results[0].Signature, "SERIALNUMBER="+user.IDNP, "B-T")
	signedPDF := resp.Results[0].Signature

	// A hash, through a plain link; a scripted phone that approves.
	content := []byte("Declarație pe propria răspundere, 5 decembrie 2026\n")
	sum := sha256.Sum256(content)
	hashID, err := app.msign.PostSignRequest(bg, client.SignRequest{ShortContentDescription: "Declarație", ContentType: client.ContentHash,
		Contents: []client.SignContent{{CorrelationID: "decl", Name: "declaratie.txt", Content: sum[:]}}})
	if err != nil {
		t.Fatal(err)
	}
	link := app.msign.RedirectURL(hashID) + "?" + url.Values{client.ParamReturnURL: {app.url + "/back/hash"}, client.ParamRelayState: {"h"}}.Encode()
	do(t, ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("msign-form")),
		chromedp.SendKeys(chromedp.ID("msisdn"), "000000001"), chromedp.Click(chromedp.ID("msign-sign")))
	if back := app.waitBack(t); back.Get("RequestID") != hashID || back.Get("RelayState") != "h" {
		t.Fatalf("posted back: %v", back)
	}
	resp, err = app.msign.GetSignResponse(bg, hashID, "")
	if err != nil || resp.Status != client.StatusSuccess || len(resp.Results) != 1 {
		t.Fatalf("GetSignResponse (hash): %+v %v", resp, err)
	}
	sig := resp.Results[0].Signature
	p, err := cms.Parse(sig)
	if err != nil {
		t.Fatalf("the hash signature is not CMS: %v", err)
	}
	if md, err := p.Signer.MessageDigest(); err != nil || string(md) != string(sum[:]) || p.EContent != nil {
		t.Fatalf("message-digest %x, want the posted hash %x (detached: %v)", md, sum, p.EContent == nil)
	}
	dir := t.TempDir()
	files := map[string][]byte{"sig.der": sig, "content.txt": content, "root.pem": testcerts.PEM(e.pki.Root.Cert)}
	for n, b := range files {
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	out, err := exec.Command(testtool.Require(t, "openssl"), "cms", "-verify", "-binary", "-inform", "DER", "-in", filepath.Join(dir, "sig.der"),
		"-content", filepath.Join(dir, "content.txt"), "-CAfile", filepath.Join(dir, "root.pem"), "-purpose", "any", "-out", os.DevNull).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verification successful") {
		t.Fatalf("openssl cms -verify: %v\n%s", err, out)
	}
	// Against other content it fails: the message-digest is the hash.
	os.WriteFile(filepath.Join(dir, "content.txt"), append(content, '!'), 0o644)
	if out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", filepath.Join(dir, "sig.der"),
		"-content", filepath.Join(dir, "content.txt"), "-CAfile", filepath.Join(dir, "root.pem"), "-purpose", "any", "-out", os.DevNull).CombinedOutput(); err == nil {
		t.Fatalf("openssl verified other content:\n%s", out)
	}
	if len(p.Signer.UnsignedValues(cms.OIDAttrTimeStampToken)) != 1 {
		t.Error("the hash signature has no signature timestamp (B-T)")
	}

	// VerifySignatures: both results are valid, with their signing time;
	// a changed PDF, another hash and another signature's bytes are not.
	pdfSigned := signedPDF
	vr, err := app.msign.VerifySignatures(bg, client.VerificationRequest{SignedContentType: client.ContentPdf, Language: "en",
		Contents: []client.VerificationContent{{CorrelationID: "good", Signature: pdfSigned},
			{CorrelationID: "changed", Signature: bytes.Replace(pdfSigned, []byte("nr. 7"), []byte("nr. 8"), 1)}}})
	if err != nil || len(vr.Results) != 2 {
		t.Fatalf("VerifySignatures (Pdf): %+v %v", vr, err)
	}
	if g := vr.Results[0]; !g.SignaturesValid || len(g.Certificates) != 1 || g.Certificates[0].SignedAt == nil ||
		!strings.Contains(g.Certificates[0].Subject, user.IDNP) || g.Message != "All signatures are valid." || len(g.Report) == 0 {
		t.Errorf("the signed PDF: %+v", g)
	}
	if b := vr.Results[1]; b.SignaturesValid || len(b.Certificates) != 1 || b.Certificates[0].SignatureValid {
		t.Errorf("the changed PDF: %+v", b)
	}
	other := sha256.Sum256([]byte("other"))
	vr, err = app.msign.VerifySignatures(bg, client.VerificationRequest{SignedContentType: client.ContentHash,
		Contents: []client.VerificationContent{{CorrelationID: "good", Content: sum[:], Signature: sig},
			{CorrelationID: "other hash", Content: other[:], Signature: sig}, {CorrelationID: "junk", Content: sum[:], Signature: []byte("junk")}}})
	if err != nil || len(vr.Results) != 3 {
		t.Fatalf("VerifySignatures (Hash): %+v %v", vr, err)
	}
	if g := vr.Results[0]; !g.SignaturesValid || g.Certificates[0].SignedAt == nil || g.Message != testWords(t, "ro", "verify_result.valid") {
		t.Errorf("the hash signature: %+v %s", g, g.Report)
	}
	if vr.Results[1].SignaturesValid || vr.Results[2].SignaturesValid || vr.Results[2].Message == "" {
		t.Errorf("another hash / junk: %+v", vr.Results[1:])
	}
}
