package service

import (
	"fmt"
	"net/textproto"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// secureHeaders is echo's middleware.SecureWithConfig(cfg) with each
// header's value made once: echo's canonicalised each name (a new string
// for X-XSS-Protection) and made a value slice per header on every
// response, a dozen allocations of every request of every service. The
// shared slices have no room to grow (an Add on a response copies them)
// and net/http copies the header map before writing it. A config with a
// Skipper is echo's.
func secureHeaders(cfg middleware.SecureConfig) echo.MiddlewareFunc {
	if cfg.Skipper != nil {
		return middleware.SecureWithConfig(cfg)
	}
	type header struct {
		name  string
		value []string
	}
	var fixed []header
	set := func(name, value string) {
		if value != "" {
			fixed = append(fixed, header{textproto.CanonicalMIMEHeaderKey(name), []string{value}[:1:1]})
		}
	}
	set(echo.HeaderXXSSProtection, cfg.XSSProtection)
	set(echo.HeaderXContentTypeOptions, cfg.ContentTypeNosniff)
	set(echo.HeaderXFrameOptions, cfg.XFrameOptions)
	if cfg.CSPReportOnly {
		set(echo.HeaderContentSecurityPolicyReportOnly, cfg.ContentSecurityPolicy)
	} else {
		set(echo.HeaderContentSecurityPolicy, cfg.ContentSecurityPolicy)
	}
	set(echo.HeaderReferrerPolicy, cfg.ReferrerPolicy)
	var hsts []string // on https only, as echo's
	if cfg.HSTSMaxAge != 0 {
		subdomains := ""
		if !cfg.HSTSExcludeSubdomains {
			subdomains = "; includeSubdomains"
		}
		if cfg.HSTSPreloadEnabled {
			subdomains += "; preload"
		}
		hsts = []string{fmt.Sprintf("max-age=%d%s", cfg.HSTSMaxAge, subdomains)}[:1:1]
	}
	hstsName := textproto.CanonicalMIMEHeaderKey(echo.HeaderStrictTransportSecurity)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			for _, f := range fixed {
				h[f.name] = f.value
			}
			if hsts != nil && c.Scheme() == "https" {
				h[hstsName] = hsts
			}
			return next(c)
		}
	}
}
