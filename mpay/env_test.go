package mpay_test

import (
	"context"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/examplepki"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpay/demosp"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

const serviceID = "MDS02"

// env is MPay on a loopback server with a real SP (demosp) on another.
type env struct {
	st       *store.Store
	svc      *mpay.Service
	cfg      mpay.Config
	url      string // MPay
	sp       *demosp.SP
	spURL    string // the SP's page; its endpoint is spURL+"/sp"
	spSigner *mpayclient.Signer
	pki      *testcerts.PKI
	pkiURL   string
}

func newEnv(t testing.TB, mod func(*mpay.Config)) *env {
	t.Helper()
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "mpay.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, st, mod)
}

// newPostgresEnv is newEnv on PostgreSQL ($SEMNAT_TEST_POSTGRES).
func newPostgresEnv(t testing.TB, mod func(*mpay.Config)) *env {
	t.Helper()
	st, err := store.OpenPostgres(testtool.PostgresSchema(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, st, mod)
}

func newEnvOn(t testing.TB, st *store.Store, mod func(*mpay.Config)) *env {
	t.Helper()
	pki, pkiURL := examplepki.Start()
	t.Cleanup(func() { st.Close() })
	seal := pki.MustGet("seal")
	cfg := mpay.Config{Store: st, Key: seal.Key, Cert: seal.Cert, Chain: seal.Chain,
		Timestamper: pades.TSA{Client: &tsa.Client{URL: pkiURL + testcerts.TSAPath}},
		Revocation:  pades.OnlineRevocation{}, ExtraCerts: [][]byte{pki.Root.Cert.Raw},
		RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, Poll: 20 * time.Millisecond, CallTimeout: 500 * time.Millisecond,
		Card: cardsim.Options{Delay: 300 * time.Millisecond, Timeout: 50 * time.Millisecond}, AnswerGrace: 100 * time.Millisecond, ChallengeTimeout: time.Second}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := mpay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	host := service.NewHost(service.HostOptions{Ready: st})
	host.Mount(svc)
	srv := httptest.NewServer(host)
	t.Cleanup(func() { srv.Close(); host.Close() })

	signer, cert, err := demosp.NewKey(serviceID)
	if err != nil {
		t.Fatal(err)
	}
	sp := demosp.New(serviceID, svc.MessageCert(), signer) // MPay's message certificate (the seal's unless mod set a message key)
	mux := http.NewServeMux()
	spSrv := httptest.NewServer(mux)
	t.Cleanup(spSrv.Close)
	mux.Handle("/sp/", http.StripPrefix("/sp", sp.Handler()))
	mux.Handle("/", sp.Page(srv.URL+mpay.PathPay, spSrv.URL+"/"))
	if err := mpay.AddService(context.Background(), st, "test", mpay.SP{ServiceID: serviceID, Name: "Serviciu de test",
		Endpoint: spSrv.URL + "/sp", Face: mpay.FaceREST, Cert: cert, WebhookSecret: "0123456789abcdef0123"}); err != nil {
		t.Fatal(err)
	}
	return &env{st: st, svc: svc, cfg: cfg, url: srv.URL, sp: sp, spURL: spSrv.URL, spSigner: signer, pki: pki, pkiURL: pkiURL}
}

func amount(a int64) *int64 { return &a }

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}

// do sends a request as a browser would (no redirects followed).
func do(t *testing.T, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// checkout comes from the SP's page to MPay: the invoice page's URL.
func (e *env) checkout(t *testing.T, orderKey string) string {
	t.Helper()
	resp, body := do(t, "POST", e.url+mpay.PathPay, url.Values{"ServiceID": {serviceID}, "OrderKey": {orderKey}, "ReturnUrl": {e.spURL + "/"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /service/pay: %d %s", resp.StatusCode, body)
	}
	return e.url + resp.Header.Get("Location")
}

// payCard posts the card form of the invoice page: the status code and the
// payment page's URL (empty when refused).
func (e *env) payCard(t *testing.T, invoiceURL, number, sum string) (int, string, string) {
	t.Helper()
	u, _ := url.Parse(invoiceURL)
	resp, body := do(t, "POST", e.url+u.Path+"/card", url.Values{"amount": {sum}, "number": {number}, "holder": {"Ion Popescu"}, "expiry": {"12/35"}, "cvc": {"123"}})
	if resp.StatusCode != http.StatusSeeOther {
		return resp.StatusCode, "", body
	}
	return resp.StatusCode, e.url + resp.Header.Get("Location"), body
}

var stateAttr = regexp.MustCompile(`id="status" data-state="([a-z]+)"`)
var invoiceState = regexp.MustCompile(`id="state" data-state="([a-z]+)"`)

func pageState(t *testing.T, u string, re *regexp.Regexp) (string, string) {
	t.Helper()
	resp, body := do(t, "GET", u, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("GET %s: no state in the page:\n%s", u, body)
	}
	return m[1], body
}

func paymentIDOf(u string) string { return u[strings.LastIndex(u, "/")+1 : strings.Index(u+"?", "?")] }

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
