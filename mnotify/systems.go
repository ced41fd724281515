package mnotify

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/sysauth"
)

// storeService names MNotify's systems in the store.
const storeService = "mnotify"

// System is a service registered to send notifications.
type System struct {
	Name string
	Cert *x509.Certificate // nil when it uses an API key
	// Cabinet lets it read people's inboxes, mark messages read and keep
	// the contact registry: MCabinet (the portal). Others only send and
	// follow their own notifications.
	Cabinet bool
	Created time.Time
}

type systemSettings struct {
	Cabinet bool `json:"cabinet,omitempty"`
}

// NewSystem is a registration: a name, a TLS client certificate or an API
// key, and whether it is a cabinet.
type NewSystem struct {
	Name    string
	Cert    *x509.Certificate
	APIKey  []byte
	Cabinet bool
}

// AddSystem registers a system (sysauth.ErrBadSystem, store.ErrExists) and
// records it in the audit log.
func AddSystem(ctx context.Context, st *store.Store, actor string, n NewSystem) error {
	settings, err := json.Marshal(systemSettings{Cabinet: n.Cabinet})
	if err != nil {
		return err
	}
	return sysauth.Register(ctx, st, actor, sysauth.Registration{Service: storeService, Name: n.Name, Cert: n.Cert, APIKey: n.APIKey,
		Settings: settings, Details: map[string]string{"cabinet": fmt.Sprint(n.Cabinet)}})
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
		return nil, fmt.Errorf("mnotify: system %s: settings: %w", s.Name, err)
	}
	sys := &System{Name: s.Name, Cabinet: set.Cabinet, Created: s.Created}
	if s.Cert != nil {
		c, err := x509.ParseCertificate(s.Cert)
		if err != nil {
			return nil, fmt.Errorf("mnotify: system %s: certificate: %w", s.Name, err)
		}
		sys.Cert = c
	}
	return sys, nil
}

const systemKey = "mnotify.system"

func system(c echo.Context) *System { return c.Get(systemKey).(*System) }

// authenticated lets registered systems through.
func (s *Service) authenticated(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rec, err := sysauth.Authenticate(c, s.st, storeService, &s.systems)
		if err != nil {
			return err
		}
		sys, err := systemOf(rec)
		if err != nil {
			return err
		}
		c.Set(systemKey, sys)
		return next(c)
	}
}

// cabinetOnly lets only cabinet systems through (after authenticated).
func cabinetOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if sys := system(c); !sys.Cabinet {
			return forbidden("system %s is not registered as a cabinet (semnat mnotify systems add --cabinet): it may not read inboxes or contacts", sys.Name)
		}
		return next(c)
	}
}

func forbidden(format string, args ...any) error {
	return problem.Newf(http.StatusForbidden, "authorization-failed", "Not allowed", format, args...)
}
