// Package server composes semnat's HTTP services into one server, as Caddy
// composes its modules: MSign (msign), MPass (mpass), MPower (mpower), MPay (mpay), the PKI services (pkiserve: TSA,
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
	// API (its Store and Log default to the ones above).
	MPower *mpower.Config
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
	MSign  *msign.Service  // nil when not mounted
	MPass  *mpass.Service  // nil when not mounted
	MPower *mpower.Service // nil when not mounted
	Portal *portal.Service // nil when not mounted
	MPay   *mpay.Service   // nil when not mounted
}

// New builds the server and its services.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: a store is required")
	}
	s := &Server{Host: service.NewHost(service.HostOptions{Ready: cfg.Store, Log: cfg.Log, TrustedProxies: cfg.TrustedProxies, TLS: cfg.TLS})}
	if cfg.MSign != nil {
		mc := *cfg.MSign
		if cfg.Portal != nil && mc.HomePath == "" {
			mc.HomePath = "/msign"
		}
		if mc.Store == nil {
			mc.Store = cfg.Store
		}
		if mc.Log == nil {
			mc.Log = cfg.Log
		}
		m, err := msign.New(mc)
		if err != nil {
			return nil, err
		}
		s.MSign = m
		s.Mount(m)
	}
	if cfg.MPass != nil {
		mc := *cfg.MPass
		if mc.Store == nil {
			mc.Store = cfg.Store
		}
		if mc.Log == nil {
			mc.Log = cfg.Log
		}
		m, err := mpass.New(mc)
		if err != nil {
			return nil, err
		}
		s.MPass = m
		s.Mount(m)
	}
	if cfg.MPower != nil {
		mc := *cfg.MPower
		if mc.Store == nil {
			mc.Store = cfg.Store
		}
		if mc.Log == nil {
			mc.Log = cfg.Log
		}
		m, err := mpower.New(mc)
		if err != nil {
			return nil, err
		}
		s.MPower = m
		s.Mount(m)
	}
	if cfg.Portal != nil {
		pc := *cfg.Portal
		if pc.Store == nil {
			pc.Store = cfg.Store
		}
		if pc.Log == nil {
			pc.Log = cfg.Log
		}
		if len(pc.IdPMetadata) == 0 && s.MPass != nil {
			md, err := s.MPass.Metadata()
			if err != nil {
				return nil, err
			}
			pc.IdPMetadata = md
		}
		p, err := portal.New(context.Background(), pc)
		if err != nil {
			return nil, err
		}
		s.Portal = p
		s.Mount(p)
	}
	if cfg.MPay != nil {
		mc := *cfg.MPay
		if mc.Store == nil {
			mc.Store = cfg.Store
		}
		if mc.Log == nil {
			mc.Log = cfg.Log
		}
		m, err := mpay.New(mc)
		if err != nil {
			return nil, err
		}
		s.MPay = m
		s.Mount(m)
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
