package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/msign"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
)

// demo composes what `semnat serve --demo` does: MSign, the PKI services
// and the MSSP simulator.
func demo(t *testing.T) (string, *Server) {
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
	sim, err := mobileid.New(mobileid.Options{PKI: pki, Phone: true, GeneratedUsers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	s, err := New(Config{Store: st, MSign: &msign.Config{Roots: pki.RootPool()}, PKIServices: svc, MobileSim: sim.Handler()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL, s
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestComposeDemo: every service answers on its own paths through the one
// host, with the host's health, problem documents and security headers.
func TestComposeDemo(t *testing.T) {
	url, s := demo(t)
	if s.MSign == nil {
		t.Fatal("MSign not mounted")
	}
	for _, p := range []string{"/healthz", "/readyz", "/verify", "/api/openapi.json", "/ca/root.crt"} {
		if resp, b := get(t, url+p); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, b)
		}
	}
	// The virtual phone alone may run inline script.
	resp, _ := get(t, url+"/sim/"+mobileid.GeneratedUser(0).MSISDN)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "'unsafe-inline'") {
		t.Errorf("virtual phone CSP %q", csp)
	}
	// The verify page may also run the in-browser verifier (WebAssembly),
	// when the binary embeds it: nothing else.
	resp, _ = get(t, url+"/verify")
	if csp := resp.Header.Get("Content-Security-Policy"); csp != "default-src 'self'" && csp != "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'" {
		t.Errorf("page CSP %q", csp)
	}
	resp, b := get(t, url+"/nowhere")
	var p problem.Problem
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != problem.MediaType || json.Unmarshal(b, &p) != nil ||
		p.Type != problem.Prefix+"not-found" || p.RequestID == "" {
		t.Fatalf("unknown path: %d %s", resp.StatusCode, b)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Error("security headers missing")
	}
}

// TestMSignAlone: `semnat msign serve` mounts MSign without the PKI
// services or the simulator.
func TestMSignAlone(t *testing.T) {
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "semnat.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := New(Config{Store: st, MSign: &msign.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s)
	defer ts.Close()
	if resp, _ := get(t, ts.URL+"/verify"); resp.StatusCode != 200 {
		t.Fatalf("/verify: %d", resp.StatusCode)
	}
	for _, p := range []string{"/tsa", "/sim/+37369000000", "/rest/service"} {
		if resp, _ := get(t, ts.URL+p); resp.StatusCode != 404 {
			t.Errorf("%s is served by MSign alone: %d", p, resp.StatusCode)
		}
	}
}

func TestMetrics(t *testing.T) {
	url, _ := demo(t)
	get(t, url+"/healthz")
	resp, err := http.Post(url+"/api/v1/verifications", "application/pdf", bytes.NewReader([]byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, b := get(t, url+"/metrics")
	for _, want := range []string{
		`semnat_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 1`,
		`semnat_http_request_duration_seconds_count{method="POST",route="/api/v1/verifications",status="422"} 1`,
		`semnat_http_request_duration_seconds_bucket{method="GET",route="/healthz",status="200",le="+Inf"} 1`,
		"# TYPE semnat_http_requests_in_flight gauge", "semnat_http_requests_in_flight 1", // the scrape itself
		"# TYPE go_goroutines gauge", "# TYPE process_resident_memory_bytes gauge",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q:\n%s", want, b)
		}
	}
}
