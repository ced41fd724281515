package msign

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

type env struct {
	spool string // the service's spool directory
	srv   *httptest.Server
	pki   *testcerts.PKI
	store *store.Store
}

const apiKey = "test-key-0123456789"

func newEnv(t *testing.T, level pades.Level, maxUpload int64) *env {
	t.Helper()
	pki := testcerts.New(t)
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "semnat.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := pkiserve.New(pki, pkiserve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pkiSrv := httptest.NewServer(svc)
	t.Cleanup(pkiSrv.Close)
	seal := pki.MustGet("seal")
	cfg := Config{Store: st, Roots: pki.RootPool(), Seal: pades.NewKeySigner(seal.Key, seal.Cert, seal.Chain), SealLevel: level,
		APIKeys: map[string]string{apiKey: "registru-test"}, MaxUpload: maxUpload, SpoolDir: filepath.Join(t.TempDir(), "spool"),
		Timestamper: pades.TSA{Client: &tsa.Client{URL: pkiSrv.URL + testcerts.TSAPath, HTTPClient: &http.Client{Timeout: 10 * time.Second}}}}
	_, host := serve(t, cfg)
	ts := httptest.NewServer(host)
	t.Cleanup(ts.Close)
	return &env{srv: ts, pki: pki, store: st, spool: cfg.SpoolDir}
}

// serve mounts a new MSign on a host of its own, as `semnat msign serve`
// does; the service is closed when the test ends.
func serve(t testing.TB, cfg Config) (*Service, *service.Host) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	host := service.NewHost(service.HostOptions{Ready: cfg.Store, Log: cfg.Log})
	host.Mount(s)
	t.Cleanup(func() { host.Close() })
	return s, host
}

func post(t *testing.T, url, ctype string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	h := map[string]string{"Content-Type": ctype}
	for k, v := range hdr {
		h[k] = v
	}
	return send(t, http.MethodPost, url, body, h)
}

// send makes a request with the headers and returns the answer, read.
func send(t *testing.T, method, url string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func wantProblem(t *testing.T, resp *http.Response, body []byte, status int, typ string) {
	t.Helper()
	var p problem.Problem
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(body, &p) != nil ||
		p.Type != "urn:semnat:problem:"+typ || p.Status != status || p.RequestID == "" {
		t.Fatalf("want problem %d %s, got %d %s: %s", status, typ, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

// uploads counts the server's files in its spool directory and in
// os.TempDir (where none should be).
func uploads(t *testing.T, spool string) int {
	m, _ := filepath.Glob(filepath.Join(os.TempDir(), "*"))
	n, _ := filepath.Glob(filepath.Join(spool, "*"))
	return len(m) + len(n)
}

func TestSealAndVerify(t *testing.T) {
	// A private temporary directory: other packages' tests, run at the
	// same time, create files of the same names in the shared one.
	t.Setenv("TMPDIR", t.TempDir())
	e := newEnv(t, pades.LevelBT, 1<<20)
	before := uploads(t, e.spool)
	doc := samplepdf.Document("Decizie", []string{"nr. 1"}, 0)
	// No key, wrong key.
	resp, b := post(t, e.srv.URL+"/api/v1/seal", "application/pdf", doc, nil)
	wantProblem(t, resp, b, 401, "unauthorized")
	resp, b = post(t, e.srv.URL+"/api/v1/seal", "application/pdf", doc, map[string]string{"X-API-Key": "wrong"})
	wantProblem(t, resp, b, 401, "unauthorized")
	// A system registered in the store may seal too.
	if err := AddSystem(context.Background(), e.store, "test", NewSystem{Name: "registered", APIKey: []byte("registered-key-0123456789"),
		ReturnURLs: []string{"https://registered.example/"}}); err != nil {
		t.Fatal(err)
	}
	if resp, b := post(t, e.srv.URL+"/api/v1/seal", "application/pdf", doc, map[string]string{"X-API-Key": "registered-key-0123456789"}); resp.StatusCode != 200 {
		t.Fatalf("seal by a registered system: %d %s", resp.StatusCode, b)
	}
	// Not a PDF.
	resp, b = post(t, e.srv.URL+"/api/v1/seal", "application/pdf", []byte("hello"), map[string]string{"X-API-Key": apiKey})
	wantProblem(t, resp, b, 422, "not-a-pdf")
	// Sealed at B-T with the mounted TSA; pdfsig and our verifier agree.
	resp, sealed := post(t, e.srv.URL+"/api/v1/seal?reason=Aprobat", "application/pdf", doc, map[string]string{"X-API-Key": apiKey})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("seal: %d %s", resp.StatusCode, sealed)
	}
	// Its length is sent (not chunked): a body cut short is visible.
	if resp.ContentLength != int64(len(sealed)) || len(resp.TransferEncoding) > 0 {
		t.Errorf("seal: Content-Length %d, transfer encoding %v, for %d bytes", resp.ContentLength, resp.TransferEncoding, len(sealed))
	}
	f := filepath.Join(t.TempDir(), "sealed.pdf")
	os.WriteFile(f, sealed, 0o644)
	testtool.PdfsigTrusted(t, testtool.NSSTrustDB(t, e.pki.Root.Cert), f)
	// Verification over the API, raw body and multipart. Offline, a B-T
	// seal without embedded revocation data is INDETERMINATE/TRY_LATER;
	// everything else passes.
	resp, b = post(t, e.srv.URL+"/api/v1/verifications", "application/pdf", sealed, nil)
	var rep pades.Report
	if resp.StatusCode != 200 || json.Unmarshal(b, &rep) != nil || rep.Signatures[0].Level != "B-T" ||
		rep.Signatures[0].SubIndication != pades.TryLater || rep.Signatures[0].Checks.Signature != pades.CheckPassed ||
		rep.Signatures[0].Checks.Chain != pades.CheckPassed || !rep.Signatures[0].Timestamp.Valid {
		t.Fatalf("verification: %d %s", resp.StatusCode, b)
	}
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	fw, _ := w.CreateFormFile("file", "sealed.pdf")
	fw.Write(sealed)
	w.Close()
	resp, b = post(t, e.srv.URL+"/api/v1/verifications", w.FormDataContentType(), mp.Bytes(), nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"TRY_LATER"`) {
		t.Fatalf("multipart verification: %d %s", resp.StatusCode, b)
	}
	// A tampered document is refused by the verifier.
	tampered := bytes.Replace(sealed, []byte("Decizie"), []byte("Decizif"), 1)
	resp, b = post(t, e.srv.URL+"/api/v1/verifications", "application/pdf", tampered, nil)
	if resp.StatusCode != 200 || json.Unmarshal(b, &rep) != nil || rep.Indication != pades.TotalFailed {
		t.Fatalf("tampered: %d %s", resp.StatusCode, b)
	}
	// Bad inputs: not a PDF, empty, too large.
	resp, b = post(t, e.srv.URL+"/api/v1/verifications", "application/pdf", []byte("%PDF-junk"), nil)
	wantProblem(t, resp, b, 422, "not-a-pdf")
	resp, b = post(t, e.srv.URL+"/api/v1/verifications", "application/pdf", nil, nil)
	wantProblem(t, resp, b, 400, "empty")
	resp, b = post(t, e.srv.URL+"/api/v1/verifications", "application/pdf", make([]byte, 2<<20), nil)
	wantProblem(t, resp, b, 413, "too-large")
	// The seals (and the registration) are in the audit log, and the log
	// verifies.
	if n, err := e.store.VerifyAudit(context.Background()); err != nil || n != 3 {
		t.Fatalf("audit: %d entries, %v", n, err)
	}
	if after := uploads(t, e.spool); after != before {
		t.Errorf("temporary files left behind: %d before, %d after", before, after)
	}
}

// openAPIParam is an OpenAPI path parameter ({id}), an Echo :id.
var openAPIParam = regexp.MustCompile(`\{([a-zA-Z]+)\}`)

// TestOpenAPIMatchesRoutes: every /api route is documented and every
// documented path and method is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, pades.LevelBB, 0)
	resp, err := http.Get(e.srv.URL + "/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: %v %q", err, doc.OpenAPI)
	}
	resp.Body.Close()
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+openAPIParam.ReplaceAllString(path, ":$1")] = true
		}
	}
	_, host := serve(t, Config{Store: e.store})
	served := map[string]bool{}
	for _, r := range host.Routes() {
		if strings.HasPrefix(r.Path, "/api/") && !strings.HasPrefix(r.Method, "echo_") { // echo_route_not_found: the group's own 404 route
			served[r.Method+" "+r.Path] = true
		}
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("route %s is not in openapi.json", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("openapi.json documents %s, which is not served", k)
		}
	}
}

func TestRateLimit(t *testing.T) {
	pki := testcerts.New(t)
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "semnat.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, host := serve(t, Config{Store: st, Roots: pki.RootPool(), RateLimit: 0.01, RateBurst: 2})
	ts := httptest.NewServer(host)
	defer ts.Close()
	var last *http.Response
	var body []byte
	// A client naming itself differently in each request's X-Forwarded-For
	// is still one client: no proxy is trusted, the peer address counts.
	for i := 0; i < 3; i++ {
		last, body = post(t, ts.URL+"/api/v1/verifications", "application/pdf", []byte("x"),
			map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i+1), "X-Real-Ip": fmt.Sprintf("203.0.113.%d", i+1)})
	}
	wantProblem(t, last, body, 429, "rate-limited")
	// Health checks are not limited.
	if resp, err := http.Get(ts.URL + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz under rate limit: %v", err)
	}
}
