package mpower

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/sysauth"
)

// storeService names MPower's systems in the store.
const storeService = "mpower"

// System is a service registered to use the check API, with its access
// list (egov-flows §5: {"AllowedEndpoints": [...], "ViewAllAuthorizations": false}).
type System struct {
	Name string
	Cert *x509.Certificate // nil when it uses an API key
	// ViewAll lets it see powers of every type; otherwise only those of
	// the types whose System it is (403 for the others).
	ViewAll bool
	// AllowedEndpoints are the paths it may call; empty: all.
	AllowedEndpoints []string
	Created          time.Time
}

type systemSettings struct {
	ViewAll          bool     `json:"viewAllAuthorizations"`
	AllowedEndpoints []string `json:"allowedEndpoints,omitempty"`
}

// NewSystem is a registration: a name, a TLS client certificate or an API
// key, and its access list.
type NewSystem struct {
	Name             string
	Cert             *x509.Certificate
	APIKey           []byte
	ViewAll          bool
	AllowedEndpoints []string
}

// AddSystem registers a system (sysauth.ErrBadSystem, store.ErrExists) and
// records it in the audit log.
func AddSystem(ctx context.Context, st *store.Store, actor string, n NewSystem) error {
	settings, err := json.Marshal(systemSettings{ViewAll: n.ViewAll, AllowedEndpoints: n.AllowedEndpoints})
	if err != nil {
		return err
	}
	return sysauth.Register(ctx, st, actor, sysauth.Registration{Service: storeService, Name: n.Name, Cert: n.Cert, APIKey: n.APIKey,
		Settings: settings, Details: map[string]string{"viewAll": fmt.Sprint(n.ViewAll)}})
}

// Systems lists the registered systems by name.
func Systems(ctx context.Context, st *store.Store) ([]System, error) {
	list, err := st.Systems(ctx, storeService)
	if err != nil {
		return nil, err
	}
	out := make([]System, 0, len(list))
	for i := range list {
		sys, err := systemOf(&list[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *sys)
	}
	return out, nil
}

func systemOf(s *store.System) (*System, error) {
	var set systemSettings
	if err := json.Unmarshal(s.Settings, &set); err != nil {
		return nil, fmt.Errorf("mpower: system %s: settings: %w", s.Name, err)
	}
	sys := &System{Name: s.Name, ViewAll: set.ViewAll, AllowedEndpoints: set.AllowedEndpoints, Created: s.Created}
	if s.Cert != nil {
		c, err := x509.ParseCertificate(s.Cert)
		if err != nil {
			return nil, fmt.Errorf("mpower: system %s: certificate: %w", s.Name, err)
		}
		sys.Cert = c
	}
	return sys, nil
}

// sysContext is a request's context with the system that asked (set by
// authenticated, read by system): one small value where echo's c.Set
// makes a map for every request.
type sysContext struct {
	echo.Context
	sys *System
}

// parsedSystems keeps the System of each registration record that
// sysauth's cache hands out (the same record until it is read again), so
// that a check does not parse the settings and certificate again.
type parsedSystems struct {
	m sync.Map // *store.System → *System
	n atomic.Int64
}

// maxParsedSystems bounds parsedSystems.
const maxParsedSystems = 1000

func (p *parsedSystems) of(rec *store.System) (*System, error) {
	if sys, ok := p.m.Load(rec); ok {
		return sys.(*System), nil
	}
	sys, err := systemOf(rec)
	if err != nil {
		return nil, err
	}
	if n := p.n.Add(1); n > maxParsedSystems { // records read again after sysauth's TTL
		p.m.Clear()
		p.n.Store(0)
	}
	p.m.Store(rec, sys)
	return sys, nil
}

// authenticated lets registered systems through to the endpoints their
// access list allows.
func (s *Service) authenticated(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rec, err := sysauth.Authenticate(c, s.cfg.Store, storeService, &s.systems)
		if err != nil {
			return err
		}
		sys, err := s.parsed.of(rec)
		if err != nil {
			return err
		}
		if len(sys.AllowedEndpoints) > 0 && !contains(sys.AllowedEndpoints, c.Path()) {
			return forbidden("system %s may not call %s", sys.Name, c.Path())
		}
		return next(&sysContext{Context: c, sys: sys})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func forbidden(format string, args ...any) error {
	return problem.Newf(http.StatusForbidden, "authorization-failed", "Not allowed", format, args...)
}
