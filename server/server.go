// Package server composes semnat's HTTP services into one server, as Caddy
// composes its modules: MSign (msign), MPass (mpass), MPower (mpower), MNotify (mnotify), MPay (mpay), the PKI services (pkiserve: TSA,
// OCSP, CRLs, CA certificates), the public-services portal (portal) and
// the mobile-signature simulator
// (mobileid), each mounting its own routes on one service.Host. It holds
// no service logic: `semnat msign serve` composes MSign alone, `semnat
// mpower serve` MPower alone, `semnat serve --demo` everything.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/mnotify"
	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpower"
	"github.com/semnat/semnat/msign"
	"github.com/semnat/semnat/portal"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
)

// Config names the services to compose; a nil one is not mounted.
type Config struct {
	Store *store.Store // required: readiness
	Log   *slog.Logger
	// MSign is the sign and verify service (its Store and Log default to
	// the ones above).
	MSign *msign.Config
	// MPass is the identity provider (its Store and Log default to the
	// ones above).
	MPass *mpass.Config
	// MPower is the registry of powers of representation and its check
	// API (its Store and Log default to the ones above); its pages, when
	// Web has no IdPMetadata, log people in with the MPass composed here.
	MPower *mpower.Config
	// MNotify is the notification service and its REST API (its Store and
	// Log default to the ones above).
	MNotify *mnotify.Config
	// Portal is the public-services portal, mounted as the home page
	// (MSign's home page then moves to /msign unless its HomePath says
	// otherwise). Its Store and Log default to the ones above; without
	// IdPMetadata it logs people in with the MPass composed here.
	Portal *portal.Config
	// MPay is the payment gateway (its Store and Log default to the
	// ones above).
	MPay *mpay.Config
	// PKIServices and MobileSim, when set, are mounted: /ocsp, /crl/, /ca/,
	// /tsa and /mid-api/, /rest/service, /sim/.
	PKIServices http.Handler
	MobileSim   http.Handler
	// TrustedProxies and TLS configure the host (service.HostOptions).
	TrustedProxies []*net.IPNet
	TLS            bool
}

// Server is the composed HTTP server.
type Server struct {
	*service.Host
	MSign   *msign.Service   // nil when not mounted
	MPass   *mpass.Service   // nil when not mounted
	MPower  *mpower.Service  // nil when not mounted
	MNotify *mnotify.Service // nil when not mounted
	MPay    *mpay.Service    // nil when not mounted
	Portal  *portal.Service  // nil when not mounted
}

// New builds the server and its services.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: a store is required")
	}
	s := &Server{Host: service.NewHost(service.HostOptions{Ready: cfg.Store, Log: cfg.Log, TrustedProxies: cfg.TrustedProxies, TLS: cfg.TLS})}
	var err error
	if cfg.MSign != nil {
		mc := *cfg.MSign
		if cfg.Portal != nil && mc.HomePath == "" {
			mc.HomePath = "/msign"
		}
		if s.MSign, err = mount(s, cfg, mc, func(c *msign.Config) (**store.Store, **slog.Logger) { return &c.Store, &c.Log }, msign.New); err != nil {
			return nil, err
		}
	}
	if cfg.MPass != nil {
		if s.MPass, err = mount(s, cfg, *cfg.MPass, func(c *mpass.Config) (**store.Store, **slog.Logger) { return &c.Store, &c.Log }, mpass.New); err != nil {
			return nil, err
		}
	}
	if cfg.MPower != nil {
		mc := *cfg.MPower
		if w := mc.Web; w != nil && len(w.IdPMetadata) == 0 && s.MPass != nil { // its pages log people in with the MPass composed here
			wc := *w
			if wc.IdPMetadata, err = s.MPass.Metadata(); err != nil {
				return nil, err
			}
			mc.Web = &wc
		}
		if s.MPower, err = mount(s, cfg, mc, func(c *mpower.Config) (**store.Store, **slog.Logger) { return &c.Store, &c.Log }, mpower.New); err != nil {
			return nil, err
		}
	}
	if cfg.MNotify != nil {
		if s.MNotify, err = mount(s, cfg, *cfg.MNotify, func(c *mnotify.Config) (**store.Store, **slog.Logger) { return &c.Store, &c.Log }, mnotify.New); err != nil {
			return nil, err
		}
	}
	if cfg.Portal != nil {
		pc := *cfg.Portal
		if len(pc.IdPMetadata) == 0 && s.MPass != nil {
			if pc.IdPMetadata, err = s.MPass.Metadata(); err != nil {
				return nil, err
			}
		}
		newPortal := func(c portal.Config) (*portal.Service, error) { return portal.New(context.Background(), c) }
		if s.Portal, err = mount(s, cfg, pc, func(c *portal.Config) (**store.Store, **slog.Logger) { return &c.Store, &c.Log }, newPortal); err != nil {
			return nil, err
		}
	}
	if cfg.MPay != nil {
		mc := *cfg.MPay
		if w := mc.Web; w != nil && len(w.IdPMetadata) == 0 && s.MPass != nil { // its pages log people in with the MPass composed here
			wc := *w
			if wc.IdPMetadata, err = s.MPass.Metadata(); err != nil {
				return nil, err
			}
			mc.Web = &wc
		}
		if s.MPay, err = mount(s, cfg, mc, func(c *mpay.Config) (**store.Store, **slog.Logger) { return &c.Store, &c.Log }, mpay.New); err != nil {
			return nil, err
		}
	}
	if h := cfg.PKIServices; h != nil {
		s.Mount(service.Handler("pki", h, nil, "/ocsp", "/ocsp/*", "/crl/*", "/ca/*", "/tsa"))
	}
	if h := cfg.MobileSim; h != nil {
		s.Mount(service.Handler("mssp", h, nil, "/mid-api/*", "/rest/service", "/rest/service/*"))
		// The simulator's virtual phone is a test page with its script and
		// style inline: only it gets them.
		s.Mount(service.Handler("phone", h, func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				c.Response().Header().Set(echo.HeaderContentSecurityPolicy, "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'")
				return next(c)
			}
		}, "/sim/*"))
	}
	return s, nil
}

// mount builds one service from its configuration c, whose Store and Log
// (reached through fields) default to the server's, and mounts it.
func mount[C any, S service.Service](s *Server, cfg Config, c C, fields func(*C) (**store.Store, **slog.Logger), build func(C) (S, error)) (S, error) {
	st, lg := fields(&c)
	if *st == nil {
		*st = cfg.Store
	}
	if *lg == nil {
		*lg = cfg.Log
	}
	m, err := build(c)
	if err != nil {
		var none S
		return none, err
	}
	s.Mount(m)
	return m, nil
}
