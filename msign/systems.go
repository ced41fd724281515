package msign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/store"
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
	Created    time.Time
}

type systemSettings struct {
	ReturnURLs []string `json:"returnUrls"`
}

// ErrBadSystem is a registration refused for its name or return URLs.
var ErrBadSystem = errors.New("msign: bad system registration")

var systemName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// NewSystem describes a registration: a name, one credential (a TLS client
// certificate or an API key, of which only the SHA-256 is kept) and the
// return URL prefixes.
type NewSystem struct {
	Name       string
	Cert       *x509.Certificate
	APIKey     []byte
	ReturnURLs []string
}

// AddSystem registers a system in st and records it in the audit log
// (actor: who ran it).
func AddSystem(ctx context.Context, st *store.Store, actor string, n NewSystem) error {
	if !systemName.MatchString(n.Name) {
		return fmt.Errorf("%w: name %q: use 1 to 64 letters, digits, '.', '_' or '-'", ErrBadSystem, n.Name)
	}
	if (n.Cert == nil) == (n.APIKey == nil) {
		return fmt.Errorf("%w: %s: give either a TLS client certificate or an API key", ErrBadSystem, n.Name)
	}
	if n.APIKey != nil && len(n.APIKey) < 16 {
		return fmt.Errorf("%w: %s: the API key is shorter than 16 characters", ErrBadSystem, n.Name)
	}
	if len(n.ReturnURLs) == 0 {
		return fmt.Errorf("%w: %s: give at least one return URL prefix (where the browser is sent back)", ErrBadSystem, n.Name)
	}
	var prefixes []string
	for _, p := range n.ReturnURLs {
		u, err := parseReturnURL(p)
		if err != nil {
			return fmt.Errorf("%w: %s: return URL prefix %q: %v", ErrBadSystem, n.Name, p, err)
		}
		prefixes = append(prefixes, u.String())
	}
	settings, err := json.Marshal(systemSettings{ReturnURLs: prefixes})
	if err != nil {
		return err
	}
	sys := store.System{Service: storeService, Name: n.Name, Settings: settings}
	details := map[string]string{"returnUrls": strings.Join(prefixes, " ")}
	if n.Cert != nil {
		sys.CertIssuer, sys.CertSerial, sys.Cert = n.Cert.RawIssuer, n.Cert.SerialNumber, n.Cert.Raw
		details["certIssuer"], details["certSerial"] = n.Cert.Issuer.String(), n.Cert.SerialNumber.Text(16)
	} else {
		d := sha256.Sum256(n.APIKey)
		sys.KeyDigest = d[:]
		details["apiKey"] = "sha256:" + fmt.Sprintf("%x", d[:4]) + "…"
	}
	if err := st.AddSystem(ctx, sys); err != nil {
		return err
	}
	_, err = st.Append(ctx, store.Event{Actor: actor, Action: "msign-system-add", Subject: n.Name, Details: details})
	return err
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
	if err := st.RemoveSystem(ctx, storeService, name); err != nil {
		return err
	}
	_, err := st.Append(ctx, store.Event{Actor: actor, Action: "msign-system-remove", Subject: name})
	return err
}

func systemOf(s *store.System) (*System, error) {
	var set systemSettings
	if err := json.Unmarshal(s.Settings, &set); err != nil {
		return nil, fmt.Errorf("msign: system %s: settings: %w", s.Name, err)
	}
	sys := &System{Name: s.Name, HasKey: s.KeyDigest != nil, ReturnURLs: set.ReturnURLs, Created: s.Created}
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

// authenticate finds the registered system making an API request: by its
// TLS client certificate (issuer and serial number; verified by the
// listener under --client-ca, or the very certificate registered), else by
// its API key.
func (s *Service) authenticate(c echo.Context) (*System, error) {
	ctx := c.Request().Context()
	key, err := requestKey(c)
	if err != nil {
		return nil, err
	}
	if st := c.Request().TLS; st != nil && len(st.PeerCertificates) > 0 {
		leaf := st.PeerCertificates[0]
		rec, err := s.systems.get("cert:"+string(leaf.RawIssuer)+"/"+leaf.SerialNumber.Text(16), func() (*store.System, error) {
			return s.cfg.Store.SystemByCert(ctx, storeService, leaf.RawIssuer, leaf.SerialNumber)
		})
		switch {
		case errors.Is(err, store.ErrNotFound) && key != "":
			// not this certificate's system: perhaps the key's
		case errors.Is(err, store.ErrNotFound):
			return nil, errAuthentication("Unknown service consumer: certificate serial number " + leaf.SerialNumber.Text(16))
		case err != nil:
			return nil, err
		case len(st.VerifiedChains) == 0 && !bytes.Equal(rec.Cert, leaf.Raw):
			return nil, errAuthentication("the client certificate has the serial number of a registered system but is not its certificate")
		default:
			return systemOf(rec)
		}
	}
	if key == "" {
		return nil, errAuthentication("present a registered TLS client certificate or API key (X-API-Key)")
	}
	d := sha256.Sum256([]byte(key))
	rec, err := s.systems.get("key:"+string(d[:]), func() (*store.System, error) {
		return s.cfg.Store.SystemByKey(ctx, storeService, d[:])
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errAuthentication("Unknown service consumer: the API key is not registered")
	}
	if err != nil {
		return nil, err
	}
	return systemOf(rec)
}

// requestKey is the request's API key: X-API-Key, or Authorization with the
// scheme Bearer. An Authorization header with another scheme or none (a
// bare key) is refused, not taken as a key.
func requestKey(c echo.Context) (string, error) {
	if key := c.Request().Header.Get("X-API-Key"); key != "" {
		return key, nil
	}
	auth := c.Request().Header.Get(echo.HeaderAuthorization)
	if auth == "" {
		return "", nil
	}
	scheme, key, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return "", errAuthentication("the Authorization header takes the API key as \"Bearer KEY\" (or send it in X-API-Key)")
	}
	return strings.TrimSpace(key), nil
}

func errAuthentication(detail string) error {
	return problem.New(http.StatusUnauthorized, "authentication-failed", "Authentication failed", detail)
}

var _ = client.ProblemAuthenticationFailed // the problem types above are client's

// systemCacheTTL is how long a registered system found in the store is
// remembered: `semnat msign systems remove` takes effect on running
// servers within this time.
const systemCacheTTL = 3 * time.Second

// systemCache remembers the systems found by credential for a short
// while: every API call authenticates, and the store lookup was a third
// of GetSignResponse's time. Misses are not remembered.
type systemCache struct {
	mu sync.Mutex
	m  map[string]cachedSystem
}

type cachedSystem struct {
	sys     *store.System
	expires time.Time
}

func (c *systemCache) get(key string, load func() (*store.System, error)) (*store.System, error) {
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
	c.m[key] = cachedSystem{sys: sys, expires: now.Add(systemCacheTTL)}
	c.mu.Unlock()
	return sys, nil
}
