// Package mpass is semnat's MPass: the identity provider relying services
// log their users in through. A person proves who they are with their
// mobile signature (the mobileid client authenticates them over a fresh
// server challenge) or their USB token through the local agent (agent/wire:
// a login challenge for MPass's origin and a one-time nonce); the
// certificate's chain and revocation are checked;
// the service answers the relying service with a signed SAML 2.0 Response
// in the official MPass profile (NameID = IDNP, FirstName, LastName, ...).
//
// The SAML protocol and its XML security (parsing, signature checks with
// the relying service's registered certificate, exclusive canonicalisation,
// signing) are github.com/crewjam/saml and its goxmldsig; this package
// keeps the state in the store (registered relying services, login
// transactions, SSO sessions, single-use message ids), draws the login
// pages and records every login, failure and logout in the audit log.
//
// It is a service.Service: `semnat mpass serve` runs it alone, `semnat
// serve --demo` beside the other services.
package mpass

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/internal/osslrsa"
	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/mobileid"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
)

// Config wires the service.
type Config struct {
	// Store is required: registrations, logins, sessions, the audit log.
	Store *store.Store
	// PublicURL is the service's URL as browsers and relying services see
	// it ("https://mpass.example.md"); the entity id is PublicURL+"/meta/saml".
	PublicURL string
	// Key signs Responses and metadata; Certificate is its certificate,
	// published in the metadata (Chain: intermediates, if any).
	Key         crypto.Signer
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
	// ECDSAKey (P-256) and ECDSACertificate, if set, sign the Responses
	// of relying services registered for ecdsa-sha256 (ecdsa.go); the
	// metadata publishes the certificate beside Certificate.
	ECDSAKey         crypto.Signer
	ECDSACertificate *x509.Certificate
	// Mobile asks phones to authenticate their owners (nil: no mobile
	// login is offered). Its Roots decide which certificates are trusted.
	Mobile *mobileid.Client
	// TokenRoots are the CA certificates a USB token's login certificate
	// must chain to (nil: no token login is offered), TokenIntermediates
	// intermediate CAs (the agent also sends those it finds on the token).
	// AgentURL is where the login page finds the person's local agent
	// (default wire.DefaultURL).
	TokenRoots, TokenIntermediates *x509.CertPool
	AgentURL                       string
	// Admins are the IDNPs of the people who may use the admin page.
	Admins []string
	// MPower is MPower's API (its register of legal entities), for the
	// AdministeredLegalEntity attribute; nil: the attribute is not sent.
	MPower *mpowerclient.Client
	// OCSP and CRL check the login certificate's revocation: OCSP first,
	// the CRL when no responder answers. nil: defaults over HTTPClient.
	OCSP *ocsp.Client
	CRL  *crl.Fetcher
	// HTTPClient reaches OCSP responders and CRLs (default: 15 s timeout).
	HTTPClient *http.Client
	// LoginTTL bounds a login, from the relying service's request to the
	// answer (default 10 min); PhoneTimeout the wait for the phone (default
	// 3 min). SessionTTL is how long an SSO session lasts at most (default
	// 8 h); SessionIdle ends it sooner when no relying service was logged
	// in through it for that long (default 1 h).
	LoginTTL, PhoneTimeout, SessionTTL, SessionIdle time.Duration
	// Heartbeat is how often an instance waiting for a phone says so in the
	// store (default 5 s); three missed beats let another instance take
	// the wait over.
	Heartbeat time.Duration
	// SweepEvery is how often expired store items are removed (default 1 min;
	// negative: never, when another service sweeps the same store).
	SweepEvery time.Duration
	Log        *slog.Logger
	// OIDC configures the OpenID Connect face (oidc.go).
	OIDC OIDCOptions
	// JobPoll is how often the job queue (back-channel logouts) looks for
	// work (default 1 s); JobBackoff the delay before retry n (default
	// river's n⁴ s).
	JobPoll    time.Duration
	JobBackoff func(attempt int) time.Duration
	// SLOTimeout bounds the wait for a session's SAML services' single
	// logout endpoints before a logout sends the browser to them (default
	// 3 s): one that does not answer is counted as not logged out
	// (PartialLogout, logout_fanout.go).
	SLOTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxSAMLRequests is how many SAML SSO requests are worked on at once
	// (default 4 per core; negative: no limit); the others wait their
	// turn in arrival order (admit.go).
	MaxSAMLRequests int
}

// Errors callers test with errors.Is.
var (
	ErrUnknownSP = errors.New("mpass: no relying service is registered under that entity id")
	ErrBadSP     = errors.New("mpass: the relying service's metadata is not usable")
)

// Service is MPass.
type Service struct {
	cfg       Config
	samlGate  gate   // SAML SSO requests worked on at once (admit.go)
	instance  string // this process: the owner of its phone waits
	idp       *saml.IdentityProvider
	sps       *Registry
	web       *web
	oidc      *oidcFace
	queue     *jobs.Queue     // back-channel logouts (oidc_logout.go)
	checked   checkedRequests // AuthnRequests just checked (perf.go)
	phoneDone phoneDone       // the wait pages' held reloads (waithold.go)
	base      *url.URL
	bg        context.Context
	stop      context.CancelFunc
	bgWG      sync.WaitGroup
	beatOnce  sync.Once // the instance's heartbeat, started by its first phone wait (pending.go)
	audit     func(ctx context.Context, e store.Event)

	wrongOnce   sync.Once // the key of FaultWrongCertificate, made when first needed
	wrongSigner crypto.Signer
	wrongCert   *x509.Certificate
	wrongErr    error
}

// wrongKey is a key and certificate other than the published ones
// (FaultWrongCertificate).
func (s *Service) wrongKey() (crypto.Signer, *x509.Certificate, error) {
	s.wrongOnce.Do(func() {
		s.wrongSigner, s.wrongCert, s.wrongErr = SelfSigned("wrong-key.mpass.invalid", s.cfg.Now(), 1)
	})
	return s.wrongSigner, s.wrongCert, s.wrongErr
}

var _ service.Service = (*Service)(nil)

// New builds the service; Close stops its background work.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("mpass: a store is required")
	}
	if cfg.Key == nil || cfg.Certificate == nil {
		return nil, errors.New("mpass: a signing key and its certificate are required (they sign every Response)")
	}
	if err := checkECDSAKey(&cfg); err != nil {
		return nil, err
	}
	// A software RSA key signs through libcrypto: every Response carries
	// its signature, and libcrypto makes the same bytes four times faster.
	cfg.Key = osslrsa.Wrap(cfg.Key)
	base, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("mpass: public URL %q: want http(s)://host[:port]", cfg.PublicURL)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.OCSP == nil {
		cfg.OCSP = &ocsp.Client{HTTPClient: cfg.HTTPClient, Cache: &ocsp.ResponseCache{}}
	}
	if cfg.CRL == nil {
		cfg.CRL = &crl.Fetcher{HTTPClient: cfg.HTTPClient}
	}
	if cfg.AgentURL == "" {
		cfg.AgentURL = wire.DefaultURL
	}
	if cfg.LoginTTL <= 0 {
		cfg.LoginTTL = 10 * time.Minute
	}
	if cfg.PhoneTimeout <= 0 {
		cfg.PhoneTimeout = 3 * time.Minute
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.SessionIdle <= 0 || cfg.SessionIdle > cfg.SessionTTL {
		cfg.SessionIdle = min(time.Hour, cfg.SessionTTL)
	}
	if cfg.SLOTimeout <= 0 {
		cfg.SLOTimeout = defaultSLOTimeout
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.SweepEvery == 0 {
		cfg.SweepEvery = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	w, err := newWeb()
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, instance: newID(), base: base, web: w, sps: &Registry{Store: cfg.Store}, samlGate: newGate(cfg.MaxSAMLRequests)}
	s.audit = func(ctx context.Context, e store.Event) {
		if _, err := cfg.Store.Append(ctx, e); err != nil {
			cfg.Log.Error("mpass: audit log append failed", "action", e.Action, "err", err)
		}
	}
	s.idp = s.newIdP()
	if s.oidc, err = s.newOIDC(); err != nil {
		return nil, err
	}
	if err := s.startJobs(); err != nil {
		return nil, err
	}
	s.bg, s.stop = context.WithCancel(context.Background())
	if cfg.SweepEvery > 0 {
		s.bgWG.Add(1)
		go func() { defer s.bgWG.Done(); cfg.Store.SweepEvery(s.bg, cfg.SweepEvery, cfg.Log) }()
	}
	return s, nil
}

// Metadata is the identity provider's signed SAML metadata, as served at
// /meta/saml.
func (s *Service) Metadata() ([]byte, error) {
	el, err := s.signedMetadata()
	if err != nil {
		return nil, fmt.Errorf("mpass: signing the metadata: %w", err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	return doc.WriteToBytes()
}

// Name is "mpass".
func (s *Service) Name() string { return "mpass" }

// Registry is the service's register of relying services.
func (s *Service) Registry() *Registry { return s.sps }

// Paths of the service (below PublicURL).
const (
	PathMetadata = "/meta/saml"
	PathSSO      = "/login/saml"
	PathLogout   = "/logout/saml"
	pathLogin    = "/login"
	pathMobile   = "/login/mobile"
	pathWait     = "/login/wait"
	pathCancel   = "/login/cancel"
	pathStatic   = "/mpass/static/"
)

// Mount adds the SAML endpoints and the login pages.
func (s *Service) Mount(g *echo.Group) {
	meta := echo.WrapHandler(http.HandlerFunc(s.serveMetadata))
	g.GET(PathMetadata, meta)
	g.GET("/meta", meta)
	g.GET(PathLogout, s.slo)
	g.POST(PathLogout, s.slo, middleware.BodyLimit(fmt.Sprint(maxSAMLBody)))
	g.GET(PathSSO, s.ssoRequest)
	g.POST(PathSSO, s.ssoRequest)
	g.GET(pathLogin, s.loginPage)
	g.POST(pathMobile, s.mobileStart)
	g.GET(pathWait, s.waitPage)
	g.POST(pathCancel, s.cancel)
	g.POST(pathTokenNonce, s.tokenNonce)
	g.POST(pathToken, s.tokenFinish)
	g.GET(pathStatic+"*", s.web.static)
	g.GET(pathSession, s.sessionPage)
	g.POST(pathLogoutAll, s.logoutAll)
	g.POST(pathSessionEnd, s.endOtherSession)
	g.GET(pathLogoutSAML, s.runLogoutPlan)
	s.oidc.mount(g)
	g.GET(pathAdmin, s.adminPage)
	g.POST(pathAdminLogin, s.adminLogin)
	g.POST(pathAdminFaults, s.adminFaults)
}

// Close stops the background work (phone waits, the sweeper) and waits
// for it. The store stays open.
func (s *Service) Close() error {
	s.stop()
	s.bgWG.Wait()
	s.stopJobs()
	return nil
}

// url is the public URL of a path of the service.
func (s *Service) url(path string) url.URL {
	u := *s.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	return u
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}
