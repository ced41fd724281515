package msign

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/sysauth"
)

// storeService names MSign's systems in the store.
const storeService = "msign"

// System is an information system registered with MSign.
type System struct {
	Name string
	// Cert is its TLS client certificate (nil when it uses an API key).
	Cert *x509.Certificate
	// HasKey: it authenticates with an API key.
	HasKey bool
	// ReturnURLs are the prefixes its ReturnUrls must start with.
	ReturnURLs []string
	// RateLimit and RateBurst are its API requests per second and burst
	// (0: the server's SystemRateLimit and SystemRateBurst).
	RateLimit float64
	RateBurst int
	Created   time.Time
}

type systemSettings struct {
	ReturnURLs []string `json:"returnUrls"`
	RateLimit  float64  `json:"rateLimit,omitempty"`
	RateBurst  int      `json:"rateBurst,omitempty"`
}

// ErrBadSystem is a registration refused for its name, credential or
// return URLs.
var ErrBadSystem = sysauth.ErrBadSystem

// NewSystem describes a registration: a name, one credential (a TLS client
// certificate or an API key, of which only the SHA-256 is kept) and the
// return URL prefixes.
type NewSystem struct {
	Name       string
	Cert       *x509.Certificate
	APIKey     []byte
	ReturnURLs []string
	// RateLimit, when over 0, is the system's own API requests per second,
	// in bursts of RateBurst (default 2×RateLimit), instead of the
	// server's SystemRateLimit.
	RateLimit float64
	RateBurst int
}

// AddSystem registers a system in st and records it in the audit log
// (actor: who ran it).
func AddSystem(ctx context.Context, st *store.Store, actor string, n NewSystem) error {
	reg := sysauth.Registration{Service: storeService, Name: n.Name, Cert: n.Cert, APIKey: n.APIKey}
	if err := reg.Check(); err != nil {
		return err
	}
	if len(n.ReturnURLs) == 0 {
		return fmt.Errorf("%w: %s: give at least one return URL prefix (where the browser is sent back)", ErrBadSystem, n.Name)
	}
	if n.RateLimit < 0 || n.RateBurst < 0 || n.RateBurst > 0 && n.RateLimit == 0 || math.IsNaN(n.RateLimit) || math.IsInf(n.RateLimit, 0) {
		return fmt.Errorf("%w: %s: rate limit %v, burst %d: give a rate over 0 requests per second (and a burst only with it), or none for the server's default", ErrBadSystem, n.Name, n.RateLimit, n.RateBurst)
	}
	var prefixes []string
	for _, p := range n.ReturnURLs {
		u, err := parseReturnURL(p)
		if err != nil {
			return fmt.Errorf("%w: %s: return URL prefix %q: %v", ErrBadSystem, n.Name, p, err)
		}
		prefixes = append(prefixes, u.String())
	}
	settings, err := json.Marshal(systemSettings{ReturnURLs: prefixes, RateLimit: n.RateLimit, RateBurst: n.RateBurst})
	if err != nil {
		return err
	}
	reg.Settings, reg.Details = settings, map[string]string{"returnUrls": strings.Join(prefixes, " ")}
	if n.RateLimit > 0 {
		reg.Details["rateLimit"] = strconv.FormatFloat(n.RateLimit, 'g', -1, 64)
		if n.RateBurst > 0 {
			reg.Details["rateBurst"] = strconv.Itoa(n.RateBurst)
		}
	}
	return sysauth.Register(ctx, st, actor, reg)
}

// Systems lists the registered systems by name.
func Systems(ctx context.Context, st *store.Store) ([]System, error) {
	list, err := st.Systems(ctx, storeService)
	if err != nil {
		return nil, err
	}
	out := make([]System, 0, len(list))
	for _, s := range list {
		sys, err := systemOf(&s)
		if err != nil {
			return nil, err
		}
		out = append(out, *sys)
	}
	return out, nil
}

// RemoveSystem removes a system (store.ErrNotFound when there is none) and
// records it in the audit log. Its requests stay readable by no one.
func RemoveSystem(ctx context.Context, st *store.Store, actor, name string) error {
	return sysauth.Remove(ctx, st, actor, storeService, name)
}

func systemOf(s *store.System) (*System, error) {
	var set systemSettings
	if err := json.Unmarshal(s.Settings, &set); err != nil {
		return nil, fmt.Errorf("msign: system %s: settings: %w", s.Name, err)
	}
	sys := &System{Name: s.Name, HasKey: s.KeyDigest != nil, ReturnURLs: set.ReturnURLs, RateLimit: set.RateLimit, RateBurst: set.RateBurst, Created: s.Created}
	if s.Cert != nil {
		c, err := x509.ParseCertificate(s.Cert)
		if err != nil {
			return nil, fmt.Errorf("msign: system %s: certificate: %w", s.Name, err)
		}
		sys.Cert = c
	}
	return sys, nil
}

// parseReturnURL checks a return URL (or prefix): absolute, https (http
// only on a loopback host, for development), no user name or fragment.
func parseReturnURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "", u.Opaque != "":
		return nil, errors.New("want an absolute https:// URL")
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return nil, errors.New("http:// only for a loopback host; use https://")
	case u.User != nil:
		return nil, errors.New("no user name or password in it")
	case u.Fragment != "":
		return nil, errors.New("no #fragment in it")
	}
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

func loopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// allowsReturn tells whether ReturnUrl u starts with one of the system's
// prefixes: the same scheme and host, and a path under the prefix's (at a
// segment boundary: "https://a.md/back" does not allow "/backdoor").
func (sys *System) allowsReturn(raw string) bool {
	u, err := parseReturnURL(raw)
	if err != nil {
		return false
	}
	p := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && p != "/" {
		p += "/"
	}
	for _, pre := range sys.ReturnURLs {
		pu, err := url.Parse(pre)
		if err != nil || pu.Scheme != u.Scheme || pu.Host != u.Host {
			continue
		}
		pp := pu.Path
		if p == pp || strings.HasPrefix(p, pp) && (strings.HasSuffix(pp, "/") || p[len(pp)] == '/') {
			return true
		}
	}
	return false
}

// ctxSystem is the echo context key under which the rate limiter leaves
// the registration it authenticated, so that a request is looked up once.
const ctxSystem = "msign.system"

// authenticate finds the registered system making an API request
// (sysauth.Authenticate), or takes the one the rate limiter found for
// this same request.
func (s *Service) authenticate(c echo.Context) (*System, error) {
	rec, ok := c.Get(ctxSystem).(*store.System)
	if !ok {
		var err error
		if rec, err = sysauth.Authenticate(c, s.cfg.Store, storeService, &s.systems); err != nil {
			return nil, err
		}
	}
	return systemOf(rec)
}
