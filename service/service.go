// Package service is the contract between semnat's HTTP services (msign,
// the PKI services, the mobile-signature simulator, ...) and the host that
// serves them in one process, as Caddy's modules and its HTTP app: a
// Service mounts its own routes and stops its own background work; the Host
// gives every service the same Echo instance, middleware (request ids,
// panics, security headers, one log line per request), RFC 9457 problem
// documents for errors, health, readiness and metrics.
//
// The host knows no service's paths or settings; `semnat NAME serve` runs
// one service, `semnat serve --demo` all of them, on the same Host.
package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/semnat/semnat/problem"
)

// Service is one HTTP service.
type Service interface {
	// Name is the service's name: "msign", "pki", ...
	Name() string
	// Mount adds every route of the service.
	Mount(g *echo.Group)
	// Close stops the service's background work and waits for it.
	Close() error
}

// Handler makes a Service of a plain http.Handler that serves the given
// path patterns (Echo syntax: "/ocsp", "/crl/*"); wrap, if not nil, wraps
// its routes (a Content-Security-Policy of its own, ...).
func Handler(name string, h http.Handler, wrap echo.MiddlewareFunc, patterns ...string) Service {
	return &handlerService{name: name, h: echo.WrapHandler(h), wrap: wrap, patterns: patterns}
}

type handlerService struct {
	name     string
	h        echo.HandlerFunc
	wrap     echo.MiddlewareFunc
	patterns []string
}

func (s *handlerService) Name() string { return s.name }
func (s *handlerService) Close() error { return nil }
func (s *handlerService) Mount(g *echo.Group) {
	var mw []echo.MiddlewareFunc
	if s.wrap != nil {
		mw = append(mw, s.wrap)
	}
	for _, p := range s.patterns {
		g.Any(p, s.h, mw...)
	}
}

// Pinger is what readiness asks: the store.
type Pinger interface {
	Ping(ctx context.Context) error
}

// HostOptions configure a Host.
type HostOptions struct {
	// Ready answers GET /readyz (nil: always ready).
	Ready Pinger
	Log   *slog.Logger
	// TrustedProxies are the reverse proxies whose X-Forwarded-For header
	// names the client (rate limits and logs use that address). Without
	// them the peer address of the connection is the client, whatever the
	// headers say.
	TrustedProxies []*net.IPNet
	// TLS: the host is served over HTTPS, so browsers are told to keep to
	// it (Strict-Transport-Security).
	TLS bool
}

// MaxHeaderBytes bounds the request line and headers the host accepts; a
// larger request gets a 431 problem document. The http.Server in front
// should allow a little more (ServerMaxHeaderBytes) so that the host, not
// net/http's plain-text answer, refuses it.
const MaxHeaderBytes = 32 << 10

// ServerMaxHeaderBytes is what the http.Server in front of a Host reads at
// most: past it net/http answers 431 itself.
const ServerMaxHeaderBytes = 1 << 20

// Host serves services on one Echo instance.
type Host struct {
	e        *echo.Echo
	log      *slog.Logger
	m        *metrics
	services []Service
}

// NewHost builds a host with its own routes (/healthz, /readyz, /metrics)
// and no service yet.
func NewHost(opts HostOptions) *Host {
	h := &Host{e: echo.New(), log: opts.Log, m: newMetrics()}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := h.e
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = h.problemHandler
	e.IPExtractor = ipExtractor(opts.TrustedProxies)
	e.Use(requestID)
	e.Use(middleware.Recover())
	secure := middleware.SecureConfig{XSSProtection: "0", ContentTypeNosniff: "nosniff",
		XFrameOptions: "DENY", ContentSecurityPolicy: "default-src 'self'", ReferrerPolicy: "no-referrer"}
	if opts.TLS {
		secure.HSTSMaxAge = 365 * 24 * 3600 // a year; no includeSubdomains: the host does not own its siblings
		secure.HSTSExcludeSubdomains = true
	}
	e.Use(secureHeaders(secure))
	e.Use(h.logRequests)
	e.Use(limitHeaders)
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", func(c echo.Context) error {
		if opts.Ready != nil {
			ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
			defer cancel()
			if err := opts.Ready.Ping(ctx); err != nil {
				return problem.New(http.StatusServiceUnavailable, "not-ready", "Not ready", "the store does not answer")
			}
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
	e.GET("/metrics", h.m.handler())
	return h
}

// Metrics is where a service registers its own Prometheus metrics; they
// are served with the host's at GET /metrics.
func (h *Host) Metrics() prometheus.Registerer { return h.m.reg }

// ipExtractor finds the client's address: the connection's peer, or with
// trusted proxies the first untrusted address of X-Forwarded-For (walking
// from the proxy nearest to us). A client cannot choose its address by
// sending the header itself: a random X-Forwarded-For per request does not
// get around a rate limit.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// ParseCIDRs reads --trusted-proxies values: CIDRs, or single addresses.
func ParseCIDRs(values []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, v := range values {
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			if !strings.Contains(f, "/") {
				ip := net.ParseIP(f)
				if ip == nil {
					return nil, fmt.Errorf("trusted proxy %q: not an IP address or CIDR", f)
				}
				bits := 128
				if ip.To4() != nil {
					ip, bits = ip.To4(), 32
				}
				out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
				continue
			}
			_, n, err := net.ParseCIDR(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", f, err)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// requestID gives every request an id of the server's own making, answered
// in X-Request-Id and used in logs and problem documents. A client's own
// X-Request-Id is kept beside it (ClientRequestID) only when it is short
// and well-formed; it never replaces the server's id, so what a client
// sends never reaches the audit log or another request's records.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := newID()
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		if cid := c.Request().Header.Get(echo.HeaderXRequestID); cid != "" && validClientID(cid) {
			c.Set(clientIDKey, cid)
		}
		return next(c)
	}
}

const clientIDKey = "semnat.client-request-id"

// ClientRequestID is the well-formed X-Request-Id the client sent, if any.
func ClientRequestID(c echo.Context) string {
	s, _ := c.Get(clientIDKey).(string)
	return s
}

// validClientID: 1-64 characters of [A-Za-z0-9._:-].
func validClientID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == ':' || b == '-') {
			return false
		}
	}
	return true
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// limitHeaders refuses a request whose line and headers are over
// MaxHeaderBytes with a 431 problem document.
func limitHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
		for k, vs := range r.Header {
			for _, v := range vs {
				n += len(k) + len(v) + 4
			}
		}
		if n > MaxHeaderBytes {
			return problem.New(http.StatusRequestHeaderFieldsTooLarge, "headers-too-large", "Request headers too large",
				fmt.Sprintf("the request line and headers are %d bytes; this service accepts at most %d", n, MaxHeaderBytes))
		}
		return next(c)
	}
}

// MetricsRegistrar is a service with Prometheus metrics of its own; Mount
// registers them on the host's registry (served at GET /metrics).
type MetricsRegistrar interface {
	RegisterMetrics(prometheus.Registerer) error
}

// Mount adds a service's routes at the root, and its metrics; Close
// closes it.
func (h *Host) Mount(s Service) {
	if m, ok := s.(MetricsRegistrar); ok {
		if err := m.RegisterMetrics(h.m.reg); err != nil {
			// Two services' metrics of one name, told apart only here.
			h.log.Error("a service's metrics are not served", "service", s.Name(), "err", err)
		}
	}
	s.Mount(h.e.Group(""))
	h.services = append(h.services, s)
}

// ServeHTTP serves a request.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.e.ServeHTTP(w, r) }

// Routes lists the routes of the host and its services.
func (h *Host) Routes() []*echo.Route { return h.e.Routes() }

// Close closes the services, last mounted first.
func (h *Host) Close() error {
	var errs []error
	for i := len(h.services) - 1; i >= 0; i-- {
		if err := h.services[i].Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", h.services[i].Name(), err))
		}
	}
	return errors.Join(errs...)
}

// ProblemOf is err as the problem document the host answers with: a
// problem.Error as it is, Echo's own errors (no route, body too large,
// wrong method) by their status, anything else an internal error (internal
// is then true: the caller logs it; its text is not shown).
func ProblemOf(err error) (p problem.Problem, internal bool) {
	var he *echo.HTTPError
	var pe *problem.Error
	if errors.As(err, &he) && !errors.As(err, &pe) {
		p = problem.Problem{Status: he.Code, Title: http.StatusText(he.Code)}
		switch he.Code {
		case http.StatusNotFound:
			p.Type = problem.Prefix + "not-found"
		case http.StatusRequestEntityTooLarge:
			p.Type = problem.Prefix + "too-large"
			p.Detail = "the body is larger than this service accepts"
		case http.StatusMethodNotAllowed:
			p.Type = problem.Prefix + "method-not-allowed"
		default:
			p.Type = problem.Prefix + "http"
		}
		return p, false
	}
	return problem.Of(err)
}

var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "OPTIONS": true, "CONNECT": true, "TRACE": true}

func (h *Host) problemHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p, internal := ProblemOf(err)
	if internal {
		h.log.Error("request failed", "err", err, "path", c.Path())
	}
	p.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	_ = problem.Write(c.Response(), p)
}

// logRequests writes one line per request with its id, never a body.
func (h *Host) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		h.m.begin()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		method := c.Request().Method
		if !knownMethods[method] {
			method = "other" // bounded label values
		}
		h.m.end(c.Path(), method, c.Response().Status, time.Since(start))
		if !h.log.Enabled(c.Request().Context(), slog.LevelInfo) {
			return nil // the line would be dropped: build none (a tenth of a check's allocations)
		}
		attrs := []any{"id", c.Response().Header().Get(echo.HeaderXRequestID), "method", method,
			"path", c.Request().URL.Path, "status", c.Response().Status, "bytes", c.Response().Size,
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000, "client", c.RealIP()}
		if cid := ClientRequestID(c); cid != "" {
			attrs = append(attrs, "client_id", cid)
		}
		h.log.Info("request", attrs...)
		return nil
	}
}
