// Package sysauth registers the information systems that call a service's
// API and finds the one making a request: by its TLS client certificate
// (issuer and serial number, as AGE's services do) or by an API key, of
// which only the SHA-256 is kept (store.System). MSign and MPower share
// it; each keeps its own settings for a system (return URLs, the
// authorization types it may see, ...) as JSON beside the credential.
package sysauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/store"
)

// ProblemAuthenticationFailed is the problem type (401) of a request
// without a registered certificate or API key.
const ProblemAuthenticationFailed = problem.Prefix + "authentication-failed"

// ErrBadSystem is a registration refused for its name or credential.
var ErrBadSystem = errors.New("bad system registration")

var systemName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Registration is a system to register with Service: a name, one
// credential (a TLS client certificate or an API key of at least 16
// characters) and the service's settings for it (JSON).
type Registration struct {
	Service  string
	Name     string
	Cert     *x509.Certificate
	APIKey   []byte
	Settings []byte
	// Details are recorded in the audit event beside the credential's id.
	Details map[string]string
}

// Check tells what is wrong with r's name and credential (ErrBadSystem).
func (r *Registration) Check() error {
	if !systemName.MatchString(r.Name) {
		return fmt.Errorf("%w: name %q: use 1 to 64 letters, digits, '.', '_' or '-'", ErrBadSystem, r.Name)
	}
	if (r.Cert == nil) == (r.APIKey == nil) {
		return fmt.Errorf("%w: %s: give either a TLS client certificate or an API key", ErrBadSystem, r.Name)
	}
	if r.APIKey != nil && len(r.APIKey) < 16 {
		return fmt.Errorf("%w: %s: the API key is shorter than 16 characters", ErrBadSystem, r.Name)
	}
	return nil
}

// Register checks r, registers the system in st (store.ErrExists when its
// name or credential is taken) and records it in the audit log as
// SERVICE-system-add by actor.
func Register(ctx context.Context, st *store.Store, actor string, r Registration) error {
	if err := r.Check(); err != nil {
		return err
	}
	sys := store.System{Service: r.Service, Name: r.Name, Settings: r.Settings}
	details := map[string]string{}
	for k, v := range r.Details {
		details[k] = v
	}
	if r.Cert != nil {
		sys.CertIssuer, sys.CertSerial, sys.Cert = r.Cert.RawIssuer, r.Cert.SerialNumber, r.Cert.Raw
		details["certIssuer"], details["certSerial"] = r.Cert.Issuer.String(), r.Cert.SerialNumber.Text(16)
	} else {
		d := sha256.Sum256(r.APIKey)
		sys.KeyDigest = d[:]
		details["apiKey"] = "sha256:" + fmt.Sprintf("%x", d[:4]) + "…"
	}
	if err := st.AddSystem(ctx, sys); err != nil {
		return err
	}
	_, err := st.Append(ctx, store.Event{Actor: actor, Action: r.Service + "-system-add", Subject: r.Name, Details: details})
	return err
}

// Remove removes a system of service (store.ErrNotFound when there is
// none) and records it in the audit log.
func Remove(ctx context.Context, st *store.Store, actor, service, name string) error {
	if err := st.RemoveSystem(ctx, service, name); err != nil {
		return err
	}
	_, err := st.Append(ctx, store.Event{Actor: actor, Action: service + "-system-remove", Subject: name})
	return err
}

// List lists the systems of service by name, each made into the
// service's own type by of.
func List[T any](ctx context.Context, st *store.Store, service string, of func(*store.System) (*T, error)) ([]T, error) {
	list, err := st.Systems(ctx, service)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(list))
	for i := range list {
		sys, err := of(&list[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *sys)
	}
	return out, nil
}

// Cert parses the TLS client certificate of a registered system (nil for
// one with an API key).
func Cert(s *store.System) (*x509.Certificate, error) {
	if s.Cert == nil {
		return nil, nil
	}
	c, err := x509.ParseCertificate(s.Cert)
	if err != nil {
		return nil, fmt.Errorf("system %s: certificate: %w", s.Name, err)
	}
	return c, nil
}

// Authenticate finds the system of service making an API request: by its
// TLS client certificate (issuer and serial number; verified by the
// listener under --client-ca, or the very certificate registered), else by
// its API key (X-API-Key, or Authorization: Bearer KEY). A certificate no
// system of the service has does not hide a valid key sent with it. A
// request with neither, with an unknown one, or with an Authorization
// header of another scheme (or a bare key) gets a 401 problem. cache, if
// not nil, remembers what the store answered for CacheTTL.
func Authenticate(c echo.Context, st *store.Store, service string, cache *Cache) (*store.System, error) {
	ctx := c.Request().Context()
	key, err := RequestKey(c)
	if err != nil {
		return nil, err
	}
	if ts := c.Request().TLS; ts != nil && len(ts.PeerCertificates) > 0 {
		leaf := ts.PeerCertificates[0]
		rec, err := cache.get(service+"/cert:"+string(leaf.RawIssuer)+"/"+leaf.SerialNumber.Text(16), func() (*store.System, error) {
			return st.SystemByCert(ctx, service, leaf.RawIssuer, leaf.SerialNumber)
		})
		switch {
		case errors.Is(err, store.ErrNotFound) && key != "":
			// not this certificate's system: perhaps the key's
		case errors.Is(err, store.ErrNotFound):
			return nil, Unauthenticated("Unknown service consumer: certificate serial number " + leaf.SerialNumber.Text(16))
		case err != nil:
			return nil, err
		case len(ts.VerifiedChains) == 0 && !bytes.Equal(rec.Cert, leaf.Raw):
			return nil, Unauthenticated("the client certificate has the serial number of a registered system but is not its certificate")
		default:
			return rec, nil
		}
	}
	if key == "" {
		return nil, Unauthenticated("present a registered TLS client certificate or API key (X-API-Key)")
	}
	d := sha256.Sum256([]byte(key))
	rec, err := cache.get(service+"/key:"+string(d[:]), func() (*store.System, error) {
		return st.SystemByKey(ctx, service, d[:])
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, Unauthenticated("Unknown service consumer: the API key is not registered")
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// RequestKey is the request's API key: X-API-Key, or Authorization with the
// scheme Bearer. An Authorization header with another scheme or none (a
// bare key) is refused, not taken as a key.
func RequestKey(c echo.Context) (string, error) {
	// X-API-Key in its canonical form, which Get would otherwise make anew
	// for every request.
	if key := c.Request().Header.Get("X-Api-Key"); key != "" {
		return key, nil
	}
	auth := c.Request().Header.Get(echo.HeaderAuthorization)
	if auth == "" {
		return "", nil
	}
	scheme, key, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return "", Unauthenticated("the Authorization header takes the API key as \"Bearer KEY\" (or send it in X-API-Key)")
	}
	return strings.TrimSpace(key), nil
}

// CacheTTL is how long a registered system found in the store is
// remembered: `semnat msign systems remove` takes effect on running
// servers within this time.
const CacheTTL = 3 * time.Second

// Cache remembers the systems found by credential for a short while:
// every API call authenticates, and the store lookup was a third of
// GetSignResponse's time. Misses are not remembered. The zero value is
// ready; a nil *Cache remembers nothing.
type Cache struct {
	mu sync.Mutex
	m  map[string]cachedSystem
}

type cachedSystem struct {
	sys     *store.System
	expires time.Time
}

func (c *Cache) get(key string, load func() (*store.System, error)) (*store.System, error) {
	if c == nil {
		return load()
	}
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.sys, nil
	}
	sys, err := load()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = map[string]cachedSystem{} // bounded: start again
	}
	c.m[key] = cachedSystem{sys: sys, expires: now.Add(CacheTTL)}
	c.mu.Unlock()
	return sys, nil
}

// Unauthenticated is the 401 problem with its detail.
func Unauthenticated(detail string) error {
	return problem.New(http.StatusUnauthorized, "authentication-failed", "Authentication failed", detail)
}
