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
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

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
}

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
	e.Use(middleware.RequestID())
	e.Use(middleware.Recover())
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{XSSProtection: "0", ContentTypeNosniff: "nosniff",
		XFrameOptions: "DENY", ContentSecurityPolicy: "default-src 'self'", ReferrerPolicy: "no-referrer"}))
	e.Use(h.logRequests)
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
	e.GET("/metrics", h.m.serve)
	return h
}

// Mount adds a service's routes at the root; Close closes it.
func (h *Host) Mount(s Service) {
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
		h.m.end(c.Path(), c.Response().Status, time.Since(start))
		h.log.Info("request", "id", c.Response().Header().Get(echo.HeaderXRequestID), "method", c.Request().Method,
			"path", c.Request().URL.Path, "status", c.Response().Status, "bytes", c.Response().Size,
			"duration_ms", float64(time.Since(start).Microseconds())/1000)
		return nil
	}
}
