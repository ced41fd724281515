package msign

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
)

// A registered system has a request bucket of its own, whatever its
// address: a system over its quota is refused while a browser posting
// from the same address is not, and a browser over the per-address limit
// does not make the system refused. An unknown key counts on the address.
func TestSystemRateLimit(t *testing.T) {
	pki := testcerts.New(t)
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "semnat.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	const smallKey, bigKey = "small-system-key-0123456789", "big-system-key-0123456789"
	if err := AddSystem(ctx, st, "test", NewSystem{Name: "small", APIKey: []byte(smallKey), ReturnURLs: []string{"https://small.example/"},
		RateLimit: 0.01, RateBurst: 2}); err != nil {
		t.Fatal(err)
	}
	if err := AddSystem(ctx, st, "test", NewSystem{Name: "big", APIKey: []byte(bigKey), ReturnURLs: []string{"https://big.example/"}}); err != nil {
		t.Fatal(err)
	}
	if err := AddSystem(ctx, st, "test", NewSystem{Name: "bad", APIKey: []byte("bad-system-key-0123456789"), ReturnURLs: []string{"https://bad.example/"},
		RateLimit: -1}); err == nil {
		t.Fatal("a negative rate limit was registered")
	}
	_, host := serve(t, Config{Store: st, Roots: pki.RootPool(), RateLimit: 0.01, RateBurst: 2,
		APIKeys: map[string]string{"configured-seal-key-0123456789": "sealer"}})
	ts := httptest.NewServer(host)
	defer ts.Close()

	system := func(key string) (*http.Response, []byte) {
		return send(t, http.MethodGet, ts.URL+"/api/v1/signature-requests/no-such-request", nil, map[string]string{"X-API-Key": key})
	}
	browser := func() (*http.Response, []byte) {
		return post(t, ts.URL+"/api/v1/verifications", "application/pdf", []byte("x"), nil)
	}
	refused := func(what string, resp *http.Response, body []byte) {
		t.Helper()
		wantProblem(t, resp, body, http.StatusTooManyRequests, "rate-limited")
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: a 429 without Retry-After", what)
		}
	}
	allowed := func(what string, resp *http.Response, body []byte) {
		t.Helper()
		if resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("%s refused: %s", what, body)
		}
	}

	for i := 0; i < 2; i++ {
		resp, body := system(smallKey)
		wantProblem(t, resp, body, http.StatusNotFound, "request-not-found")
	}
	resp, body := system(smallKey)
	refused("the small system's third request", resp, body)
	for i := 0; i < 2; i++ {
		resp, body := browser()
		allowed("a browser, while the system from its address is over its quota,", resp, body)
	}
	resp, body = browser()
	refused("the browser's third request", resp, body)
	for i := 0; i < 10; i++ {
		resp, body := system(bigKey)
		allowed("a system at the default rate, while browsers from its address are over theirs,", resp, body)
		resp, body = send(t, http.MethodGet, ts.URL+"/api/v1/signature-requests/x", nil, map[string]string{"X-API-Key": "configured-seal-key-0123456789"})
		allowed("a system of the configuration (APIKeys)", resp, body)
	}
	resp, body = system("unknown-key-0123456789abcdef")
	refused("an unknown key from a refused address", resp, body)
	resp, body = system(smallKey)
	refused("the small system, still", resp, body)
}

// A system known by its TLS client certificate has its own bucket too:
// over its quota it is refused, while requests without the certificate
// from the same address are not.
func TestSystemRateLimitCert(t *testing.T) {
	pki := testcerts.New(t)
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "semnat.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	seal := pki.MustGet("seal")
	if err := AddSystem(context.Background(), st, "test", NewSystem{Name: "portal", Cert: seal.Cert, ReturnURLs: []string{"https://portal.example/"},
		RateLimit: 0.01, RateBurst: 1}); err != nil {
		t.Fatal(err)
	}
	_, host := serve(t, Config{Store: st, Roots: pki.RootPool(), RateLimit: 0.01, RateBurst: 3})
	ts := httptest.NewUnstartedServer(host)
	ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	ts.StartTLS()
	defer ts.Close()
	withCert := ts.Client()
	tr := withCert.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{seal.Cert.Raw}, PrivateKey: seal.Key}}
	withCert = &http.Client{Transport: tr}
	get := func(c *http.Client) int {
		resp, err := c.Get(ts.URL + "/api/v1/signature-requests/no-such-request")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(withCert); code != http.StatusNotFound {
		t.Fatalf("the system's first request: %d, want 404", code)
	}
	if code := get(withCert); code != http.StatusTooManyRequests {
		t.Fatalf("the system's second request: %d, want 429 (its burst is 1)", code)
	}
	for i := 0; i < 3; i++ {
		if code := get(ts.Client()); code == http.StatusTooManyRequests {
			t.Fatalf("request %d without the certificate, from the address of a refused system: 429", i+1)
		}
	}
	if code := get(ts.Client()); code != http.StatusTooManyRequests {
		t.Fatalf("the address's fourth request: %d, want 429 (its burst is 3)", code)
	}
}

// The handler takes the registration the rate limiter authenticated for
// the same request instead of looking the caller up a second time.
func TestAuthenticateOnce(t *testing.T) {
	s := &Service{}
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/msign/api/v1/requests", nil), httptest.NewRecorder())
	c.Set(ctxSystem, &store.System{Name: "portal", Settings: []byte(`{"returnUrls":["https://portal.example/"]}`)})
	sys, err := s.authenticate(c) // no credential, no store: only the limiter's registration can answer
	if err != nil {
		t.Fatal(err)
	}
	if sys.Name != "portal" || len(sys.ReturnURLs) != 1 {
		t.Fatalf("system %+v, want the limiter's registration", sys)
	}
}
