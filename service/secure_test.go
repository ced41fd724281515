package service

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// TestSecureHeadersAsEcho: secureHeaders writes the headers echo's Secure
// middleware writes, for the host's configs and every option, over plain
// HTTP, TLS and behind a proxy saying https; and a response that adds to
// a shared value leaves the next response's alone.
func TestSecureHeadersAsEcho(t *testing.T) {
	host := middleware.SecureConfig{XSSProtection: "0", ContentTypeNosniff: "nosniff",
		XFrameOptions: "DENY", ContentSecurityPolicy: "default-src 'self'", ReferrerPolicy: "no-referrer"}
	hostTLS := host
	hostTLS.HSTSMaxAge = 365 * 24 * 3600
	all := hostTLS
	all.HSTSExcludeSubdomains, all.HSTSPreloadEnabled, all.CSPReportOnly = true, true, true
	preload := hostTLS
	preload.HSTSPreloadEnabled = true
	requests := map[string]func() *http.Request{
		"plain": func() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) },
		"tls": func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.TLS = &tls.ConnectionState{}
			return r
		},
		"proxy https": func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set(echo.HeaderXForwardedProto, "https")
			return r
		},
	}
	serve := func(mw echo.MiddlewareFunc, r *http.Request, then func(echo.Context)) http.Header {
		e := echo.New()
		rec := httptest.NewRecorder()
		c := e.NewContext(r, rec)
		if err := mw(func(c echo.Context) error { then(c); return nil })(c); err != nil {
			t.Fatal(err)
		}
		return rec.Header()
	}
	nothing := func(echo.Context) {}
	for cname, cfg := range map[string]middleware.SecureConfig{"host": host, "host TLS": hostTLS, "every option": all, "preload": preload, "none": {}} {
		ours := secureHeaders(cfg)
		for rname, req := range requests {
			want := serve(middleware.SecureWithConfig(cfg), req(), nothing)
			if got := serve(ours, req(), nothing); !reflect.DeepEqual(got, want) {
				t.Errorf("%s, %s: %v, echo's %v", cname, rname, got, want)
			}
			serve(ours, req(), func(c echo.Context) {
				for name := range c.Response().Header() {
					c.Response().Header().Add(name, "more")
				}
			})
			if got := serve(ours, req(), nothing); !reflect.DeepEqual(got, want) {
				t.Errorf("%s, %s, after a response added to its headers: %v, want %v", cname, rname, got, want)
			}
		}
	}
}
