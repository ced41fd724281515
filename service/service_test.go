package service

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// probe is a service answering what the host made of the request.
type probe struct{}

func (probe) Name() string { return "probe" }
func (probe) Close() error { return nil }
func (probe) Mount(g *echo.Group) {
	g.GET("/probe", func(c echo.Context) error {
		return c.JSON(200, map[string]string{"ip": c.RealIP(), "id": c.Response().Header().Get(echo.HeaderXRequestID), "client_id": ClientRequestID(c)})
	})
	g.POST("/probe", func(c echo.Context) error { return c.NoContent(204) })
}

func do(t *testing.T, h http.Handler, method, target string, hdr map[string]string) (*httptest.ResponseRecorder, map[string]string) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.RemoteAddr = "192.0.2.7:40000"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]string
	json.Unmarshal(rec.Body.Bytes(), &out)
	return rec, out
}

func TestClientAddress(t *testing.T) {
	h := NewHost(HostOptions{})
	h.Mount(probe{})
	xff := map[string]string{"X-Forwarded-For": "198.51.100.9", "X-Real-Ip": "198.51.100.10"}
	if _, out := do(t, h, "GET", "/probe", xff); out["ip"] != "192.0.2.7" {
		t.Errorf("without trusted proxies the headers chose the address: %q", out["ip"])
	}
	proxies, err := ParseCIDRs([]string{"192.0.2.0/24, 10.1.2.3"})
	if err != nil || len(proxies) != 2 {
		t.Fatal(proxies, err)
	}
	h = NewHost(HostOptions{TrustedProxies: proxies})
	h.Mount(probe{})
	if _, out := do(t, h, "GET", "/probe", xff); out["ip"] != "198.51.100.9" {
		t.Errorf("behind a trusted proxy: %q", out["ip"])
	}
	// The client's own hops before an untrusted one are not believed.
	if _, out := do(t, h, "GET", "/probe", map[string]string{"X-Forwarded-For": "203.0.113.1, 198.51.100.9"}); out["ip"] != "198.51.100.9" {
		t.Errorf("spoofed first hop: %q", out["ip"])
	}
	if _, err := ParseCIDRs([]string{"not-an-ip"}); err == nil {
		t.Error("a bad proxy address was accepted")
	}
}

func TestRequestIDs(t *testing.T) {
	h := NewHost(HostOptions{})
	h.Mount(probe{})
	rec, out := do(t, h, "GET", "/probe", map[string]string{"X-Request-Id": "client-abc.1"})
	if id := rec.Header().Get("X-Request-Id"); len(id) != 32 || id == "client-abc.1" || out["id"] != id || out["client_id"] != "client-abc.1" {
		t.Errorf("well-formed client id: header %q, seen %v", id, out)
	}
	for _, bad := range []string{strings.Repeat("a", 30000), "a b", "x\u00e9", "<script>"} {
		rec, out := do(t, h, "GET", "/probe", map[string]string{"X-Request-Id": bad})
		if id := rec.Header().Get("X-Request-Id"); len(id) != 32 || out["client_id"] != "" {
			t.Errorf("client id %.20q kept: header %q, %v", bad, id, out)
		}
	}
}

func TestHostErrors(t *testing.T) {
	h := NewHost(HostOptions{TLS: true})
	h.Mount(probe{})
	req := httptest.NewRequest("GET", "https://semnat.example/probe", nil)
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	// A year, and not for the host's siblings: it does not own them.
	if v := rec.Header().Get("Strict-Transport-Security"); v != "max-age=31536000" {
		t.Errorf("HSTS over TLS: %q", v)
	}
	if rec, _ := do(t, NewHost(HostOptions{}), "GET", "/healthz", nil); rec.Header().Get("Strict-Transport-Security") != "" {
		t.Error("HSTS without TLS")
	}
	// Wrong method: 405, Allow, a problem document.
	rec, _ = do(t, h, "DELETE", "/probe", nil)
	if rec.Code != 405 || !strings.Contains(rec.Header().Get("Allow"), "GET") || !strings.Contains(rec.Header().Get("Allow"), "POST") ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
		t.Errorf("wrong method: %d Allow=%q %s %s", rec.Code, rec.Header().Get("Allow"), rec.Header().Get("Content-Type"), rec.Body)
	}
	// Oversized headers: 431 and a problem document.
	rec, _ = do(t, h, "GET", "/probe", map[string]string{"X-Big": strings.Repeat("b", MaxHeaderBytes)})
	if rec.Code != 431 || !strings.Contains(rec.Body.String(), "headers-too-large") {
		t.Errorf("oversized headers: %d %s", rec.Code, rec.Body)
	}
}
