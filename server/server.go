// Package server is semnat's HTTP service (Echo): the verification and seal
// API over the signing core, and the PKI and mobile-signature services
// mounted beside them, so that `semnat serve` is one process. It holds no
// signing logic of its own: it calls pades, and mounts the handlers of
// pkiserve and mobileid.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/store"
)

// Config wires the server.
type Config struct {
	Store *store.Store // required: readiness and the audit log
	// Roots are the trust anchors of verification; VerifyOnline lets it
	// fetch OCSP responses and CRLs the document does not embed.
	Roots        *x509.CertPool
	VerifyOnline bool
	// Seal signs POST /api/v1/seal at SealLevel (B-T needs Timestamper).
	Seal        pades.Signer
	SealLevel   pades.Level
	Timestamper pades.Timestamper
	// APIKeys maps an API key to the name of the system using it (seal);
	// APIKeyDigests does the same by the key's SHA-256, so that a config
	// file need not hold the keys themselves. A TLS client certificate that
	// the listener verified (tls.Config.ClientCAs) also identifies a
	// system, by its subject common name.
	APIKeys       map[string]string
	APIKeyDigests map[[32]byte]string
	// MaxUpload bounds a request body (default 32 MiB).
	MaxUpload int64
	// MaxConcurrent bounds signing and verification work (default 4).
	MaxConcurrent int
	// RateLimit is the API requests per second allowed to one client IP
	// (default 50), with bursts of RateBurst (default 2×RateLimit).
	RateLimit float64
	RateBurst int
	// RequestTimeout bounds the work of one API request (default 60s).
	RequestTimeout time.Duration
	// PKIServices and MobileSim, when set, are mounted: /ocsp, /crl/, /ca/,
	// /tsa and /mid-api/, /rest/service, /sim/.
	PKIServices http.Handler
	MobileSim   http.Handler
	Log         *slog.Logger

	// Mobile, when set, offers the mobile signature in sign requests
	// (method "mobile"): the server asks the MSSP and waits in the
	// background.
	Mobile *mobileid.Client
	// Revocation and ExtraCerts serve sign requests at B-LT and B-LTA.
	Revocation pades.RevocationSource
	ExtraCerts [][]byte
	// PublicOrigin is the server's origin as browsers see it
	// ("https://msign.example.md"): token signatures must be bound by the
	// agent to it. Empty: the origin of the request (development only).
	PublicOrigin string
	// AgentURL is where the sign page finds the local token agent
	// (default "http://" + wire.DefaultAddr); it is allowed in that page's CSP.
	AgentURL string
	// SignTTL is how long a sign request and its files live (default 15 min).
	SignTTL time.Duration
	// SweepEvery is how often expired items are removed (default 1 min).
	SweepEvery time.Duration
}

// Server is the HTTP service.
type Server struct {
	e     *echo.Echo
	cfg   Config
	keys  map[[32]byte]string // API key digest → system
	cache *pades.VerifyCache
	work  chan struct{}
	m     *metrics

	instance string // this process: who runs its pending mobile requests
	bg       context.Context
	stop     context.CancelFunc
	bgWG     sync.WaitGroup
	web      *web
}

// New builds the server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: a store is required")
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 32 << 20
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 4
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = 50
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = int(2 * cfg.RateLimit)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 60 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.SealLevel == 0 {
		cfg.SealLevel = pades.LevelBB
	}
	if cfg.SignTTL <= 0 {
		cfg.SignTTL = 15 * time.Minute
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = time.Minute
	}
	if cfg.AgentURL == "" {
		cfg.AgentURL = wire.DefaultURL
	}
	s := &Server{e: echo.New(), cfg: cfg, cache: pades.NewVerifyCache(0), work: make(chan struct{}, cfg.MaxConcurrent), m: newMetrics(), instance: newID()}
	s.bg, s.stop = context.WithCancel(context.Background())
	s.keys = make(map[[32]byte]string, len(cfg.APIKeys)+len(cfg.APIKeyDigests))
	for k, name := range cfg.APIKeys {
		s.keys[sha256.Sum256([]byte(k))] = name
	}
	for d, name := range cfg.APIKeyDigests {
		s.keys[d] = name
	}
	e := s.e
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.problemHandler
	e.Use(middleware.RequestID())
	e.Use(middleware.Recover())
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{XSSProtection: "0", ContentTypeNosniff: "nosniff",
		XFrameOptions: "DENY", ContentSecurityPolicy: "default-src 'self'", ReferrerPolicy: "no-referrer"}))
	e.Use(s.logRequests)

	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", s.ready)
	e.GET("/metrics", s.m.serve)
	e.GET("/api/openapi.json", serveOpenAPI)
	limiter := middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store: middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Limit(cfg.RateLimit), Burst: cfg.RateBurst, ExpiresIn: 3 * time.Minute}),
		IdentifierExtractor: func(c echo.Context) (string, error) { return c.RealIP(), nil },
		DenyHandler: func(c echo.Context, _ string, _ error) error {
			return newProblem(http.StatusTooManyRequests, "rate-limited", "Too many requests", "slow down and try again")
		},
	})
	api := e.Group("/api/v1", limiter, middleware.BodyLimit(fmt.Sprintf("%dB", cfg.MaxUpload)), middleware.ContextTimeout(cfg.RequestTimeout))
	api.POST("/verifications", s.verify)
	api.POST("/seal", s.seal)
	api.POST("/sign-requests", s.createSignRequest)
	api.GET("/sign-requests/:id", s.getSignRequest)
	api.DELETE("/sign-requests/:id", s.cancelSignRequest)
	api.POST("/sign-requests/:id/complete", s.completeSignRequest)
	api.GET("/sign-requests/:id/documents/:n", s.downloadDocument)
	if err := s.mountWeb(limiter); err != nil {
		return nil, err
	}
	s.bgWG.Add(1)
	go s.sweep()
	if h := cfg.PKIServices; h != nil {
		wrapped := echo.WrapHandler(h)
		for _, p := range []string{"/ocsp", "/ocsp/*", "/crl/*", "/ca/*", "/tsa"} {
			e.Any(p, wrapped)
		}
	}
	if h := cfg.MobileSim; h != nil {
		wrapped := echo.WrapHandler(h)
		for _, p := range []string{"/mid-api/*", "/rest/service", "/rest/service/*"} {
			e.Any(p, wrapped)
		}
		// The simulator's virtual phone is a test page with its script and
		// style inline: only it gets them.
		e.Any("/sim/*", wrapped, func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				c.Response().Header().Set(echo.HeaderContentSecurityPolicy, "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'")
				return next(c)
			}
		})
	}
	return s, nil
}

// Close stops the background work (pending mobile requests end as failed,
// the sweeper stops) and waits for it. The store stays open.
func (s *Server) Close() error {
	s.stop()
	s.bgWG.Wait()
	return nil
}

// sweep removes expired store items periodically.
func (s *Server) sweep() {
	defer s.bgWG.Done()
	t := time.NewTicker(s.cfg.SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.bg.Done():
			return
		case <-t.C:
			if n, err := s.cfg.Store.Sweep(s.bg); err != nil && s.bg.Err() == nil {
				s.cfg.Log.Warn("sweep failed", "err", err)
			} else if n > 0 {
				s.cfg.Log.Info("swept expired items", "n", n)
			}
		}
	}
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// Problem is an RFC 9457 problem document; Type is stable for clients.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// problem is an error that becomes a Problem.
type problem struct {
	status int
	slug   string
	title  string
	detail string
}

func (p *problem) Error() string { return p.title + ": " + p.detail }

func newProblem(status int, slug, title, detail string) error {
	return &problem{status: status, slug: slug, title: title, detail: detail}
}

func (s *Server) problemHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := Problem{Type: "urn:semnat:problem:internal", Title: "Internal error", Status: http.StatusInternalServerError}
	var pe *problem
	var he *echo.HTTPError
	switch {
	case errors.As(err, &pe):
		p = Problem{Type: "urn:semnat:problem:" + pe.slug, Title: pe.title, Status: pe.status, Detail: pe.detail}
	case errors.As(err, &he):
		p.Status = he.Code
		p.Title = http.StatusText(he.Code)
		switch he.Code {
		case http.StatusNotFound:
			p.Type = "urn:semnat:problem:not-found"
		case http.StatusRequestEntityTooLarge:
			p.Type = "urn:semnat:problem:too-large"
			p.Detail = fmt.Sprintf("the body exceeds %d bytes", s.cfg.MaxUpload)
		case http.StatusMethodNotAllowed:
			p.Type = "urn:semnat:problem:method-not-allowed"
		default:
			p.Type = "urn:semnat:problem:http"
		}
	default:
		s.cfg.Log.Error("request failed", "err", err, "path", c.Path())
	}
	p.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	if s.wantsPage(c) {
		_ = s.render(c, p.Status, "error", pageData{Title: p.Title, Problem: &p})
		return
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	_ = c.JSON(p.Status, p)
}

// logRequests writes one line per request with its id, never a body.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		s.m.begin()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.m.end(c.Path(), c.Response().Status, time.Since(start))
		s.cfg.Log.Info("request", "id", c.Response().Header().Get(echo.HeaderXRequestID), "method", c.Request().Method,
			"path", c.Request().URL.Path, "status", c.Response().Status, "bytes", c.Response().Size,
			"duration_ms", float64(time.Since(start).Microseconds())/1000)
		return nil
	}
}

func (s *Server) ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Store.Ping(ctx); err != nil {
		return newProblem(http.StatusServiceUnavailable, "not-ready", "Not ready", "the store does not answer")
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// acquire bounds concurrent signing and verification work.
func (s *Server) acquire(ctx context.Context) (func(), error) {
	select {
	case s.work <- struct{}{}:
		return func() { <-s.work }, nil
	case <-ctx.Done():
		return nil, newProblem(http.StatusServiceUnavailable, "busy", "Busy", "too much signing work at once; try again")
	}
}

// upload spools the request's PDF (a raw application/pdf body, or the
// multipart field "file") to a temporary file, removed by the cleanup.
func upload(c echo.Context) (*os.File, int64, func(), error) {
	var src io.Reader = c.Request().Body
	if strings.HasPrefix(c.Request().Header.Get(echo.HeaderContentType), echo.MIMEMultipartForm) {
		fh, err := c.FormFile("file")
		if err != nil {
			return nil, 0, nil, newProblem(http.StatusBadRequest, "no-file", "No file", "send the PDF as the multipart field \"file\" or as an application/pdf body")
		}
		f, err := fh.Open()
		if err != nil {
			return nil, 0, nil, err
		}
		defer f.Close()
		src = f
	}
	tmp, err := os.CreateTemp("", "semnat-upload-*.pdf")
	if err != nil {
		return nil, 0, nil, err
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	n, err := io.Copy(tmp, src)
	if err != nil {
		cleanup()
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, 0, nil, he
		}
		if strings.Contains(err.Error(), "request body too large") {
			return nil, 0, nil, echo.ErrStatusRequestEntityTooLarge
		}
		return nil, 0, nil, err
	}
	if n == 0 {
		cleanup()
		return nil, 0, nil, newProblem(http.StatusBadRequest, "empty", "Empty upload", "the request carries no document")
	}
	return tmp, n, cleanup, nil
}

// verify answers POST /api/v1/verifications with the report of
// `semnat verify --json`.
func (s *Server) verify(c echo.Context) error {
	release, err := s.acquire(c.Request().Context())
	if err != nil {
		return err
	}
	defer release()
	f, n, cleanup, err := upload(c)
	if err != nil {
		return err
	}
	defer cleanup()
	rep, err := pades.Verify(c.Request().Context(), f, n, &pades.VerifyOptions{Roots: s.cfg.Roots, Cache: s.cache, Online: s.cfg.VerifyOnline})
	if err != nil {
		if errors.Is(err, pades.ErrNotPDF) {
			return newProblem(http.StatusUnprocessableEntity, "not-a-pdf", "Not a PDF", err.Error())
		}
		if errors.Is(err, pades.ErrPasswordRequired) {
			return newProblem(http.StatusUnprocessableEntity, "encrypted-pdf", "Encrypted PDF", "the PDF is protected by a password, which this service does not take; verify it with semnat verify --password-file")
		}
		return newProblem(http.StatusUnprocessableEntity, "unreadable-pdf", "Unreadable PDF", err.Error())
	}
	return c.JSON(http.StatusOK, rep)
}

// apiClient returns the name of the registered system making the request:
// by a TLS client certificate the listener verified, else by its API key.
func (s *Server) apiClient(c echo.Context) (string, error) {
	if st := c.Request().TLS; st != nil && len(st.VerifiedChains) > 0 && len(st.VerifiedChains[0]) > 0 {
		return "cert:" + st.VerifiedChains[0][0].Subject.CommonName, nil
	}
	key := c.Request().Header.Get("X-API-Key")
	if key == "" {
		key = strings.TrimPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	}
	if name, ok := s.keys[sha256.Sum256([]byte(key))]; ok && key != "" {
		return name, nil
	}
	return "", newProblem(http.StatusUnauthorized, "unauthorized", "Unauthorized", "a registered system's API key (X-API-Key) or TLS client certificate is required")
}

// seal answers POST /api/v1/seal: the organisation's key signs the PDF at
// once, and the seal is recorded in the audit log.
func (s *Server) seal(c echo.Context) error {
	system, err := s.apiClient(c)
	if err != nil {
		return err
	}
	if s.cfg.Seal == nil {
		return newProblem(http.StatusServiceUnavailable, "no-seal-key", "No seal key", "this server has no seal key configured")
	}
	release, err := s.acquire(c.Request().Context())
	if err != nil {
		return err
	}
	defer release()
	f, n, cleanup, err := upload(c)
	if err != nil {
		return err
	}
	defer cleanup()
	out, err := os.CreateTemp("", "semnat-sealed-*.pdf")
	if err != nil {
		return err
	}
	defer func() { out.Close(); os.Remove(out.Name()) }()
	h := sha256.New()
	opts := &pades.Options{Level: s.cfg.SealLevel, Timestamper: s.cfg.Timestamper, Reason: c.QueryParam("reason"), Name: system}
	res, err := pades.Sign(c.Request().Context(), f, n, io.MultiWriter(out, h), s.cfg.Seal, opts)
	if err != nil {
		switch {
		case errors.Is(err, pades.ErrNotPDF):
			return newProblem(http.StatusUnprocessableEntity, "not-a-pdf", "Not a PDF", err.Error())
		case errors.Is(err, pades.ErrEncrypted), errors.Is(err, pades.ErrDamaged), errors.Is(err, pades.ErrCertifiedNoChanges):
			return newProblem(http.StatusUnprocessableEntity, "cannot-sign", "This PDF cannot be signed", err.Error())
		}
		return newProblem(http.StatusUnprocessableEntity, "signing-failed", "Signing failed", err.Error())
	}
	digest := hex.EncodeToString(h.Sum(nil))
	cert := s.cfg.Seal.Certificate()
	if _, err := s.cfg.Store.Append(c.Request().Context(), store.Event{Actor: system, Action: "seal",
		Subject: c.Response().Header().Get(echo.HeaderXRequestID), Digest: digest,
		Details: map[string]string{"level": res.Level.String(), "key": cert.SerialNumber.Text(16), "signer": cert.Subject.CommonName}}); err != nil {
		return err // nothing is handed out unless it is in the audit log
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return err
	}
	c.Response().Header().Set("X-Document-SHA256", digest)
	return c.Stream(http.StatusOK, "application/pdf", out)
}
