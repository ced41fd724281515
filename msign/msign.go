// Package msign is semnat's MSign: signing for people and for other
// systems, and verification. People sign PDFs with a mobile signature or a
// USB token on its web pages (/sign, /verify) or through the citizen API
// (/api/v1/sign-requests); registered systems seal documents
// (/api/v1/seal). It is a service.Service: `semnat msign serve` runs it
// alone, `semnat serve --demo` beside the other services. It calls pades
// for everything about PDFs and keeps its state in the store.
package msign

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/mobileid"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/sysauth"
)

// Config wires the service.
type Config struct {
	Store *store.Store // required: sign requests, reports and the audit log
	// Roots are the trust anchors of verification; VerifyOnline lets it
	// fetch OCSP responses and CRLs the document does not embed.
	Roots        *x509.CertPool
	VerifyOnline bool
	// RootCerts are the same anchors as certificates: GET /verify/trust.pem
	// serves them to the in-browser verifier (Roots is built from them
	// when it is nil).
	RootCerts []*x509.Certificate
	// RevocationIssuers are the CAs the in-browser verifier's revocation
	// proxy (POST /verify/revocation) may ask about (default RootCerts;
	// give the intermediates too); their responders are found in these
	// certificates. The proxy is on when VerifyOnline is. RevocationHTTP
	// sends its requests (default: a client with a 10 s timeout).
	RevocationIssuers []*x509.Certificate
	RevocationHTTP    *http.Client
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
	// RateLimit is the API requests (and page form posts) per second
	// allowed to one client IP address (default 50), with bursts of
	// RateBurst (default 2×RateLimit). Registered systems are not counted
	// there: see SystemRateLimit.
	RateLimit float64
	RateBurst int
	// SystemRateLimit is the API requests per second allowed to one
	// system, known by the TLS client certificate or API key that
	// authenticates it, whatever its address (default 500), with bursts of
	// SystemRateBurst (default 2×SystemRateLimit). A system registered with
	// a rate of its own (NewSystem.RateLimit) has that one.
	SystemRateLimit float64
	SystemRateBurst int
	// RequestTimeout bounds the work of one API request (default 60s).
	RequestTimeout time.Duration
	Log            *slog.Logger

	// Mobile, when set, offers the mobile signature in sign requests
	// (method "mobile"): the service asks the MSSP and waits in the
	// background.
	Mobile *mobileid.Client
	// Revocation and ExtraCerts serve sign requests at B-LT and B-LTA.
	Revocation pades.RevocationSource
	ExtraCerts [][]byte
	// PublicOrigin is the service's origin as browsers see it
	// ("https://msign.example.md"): token signatures must be bound by the
	// agent to it. Empty: the origin of the request (development only).
	PublicOrigin string
	// AgentURL is where the sign page finds the local token agent
	// (default "http://" + wire.DefaultAddr); it is allowed in that page's CSP.
	AgentURL string
	// SignTTL is how long a sign request and its files live (default 15 min):
	// the time to sign.
	SignTTL time.Duration
	// ResultTTL is how long a registered system's request and its results
	// are kept for GetSignResponse (default 24 h; at least SignTTL).
	ResultTTL time.Duration
	// PromptRate is how many phone prompts one client (IP address) may
	// start per minute without being a registered system (default 10), in
	// bursts of PromptBurst (default PromptRate).
	PromptRate  float64
	PromptBurst int
	// SweepEvery is how often expired items are removed (default 1 min).
	SweepEvery time.Duration
	// SpoolDir holds uploads while they are read and worked on; it is made
	// (0700) if missing and emptied at start (what a killed process left).
	// Empty: a directory of the service's own under the system's temporary
	// directory, removed by Close. `semnat serve` puts it beside the
	// database.
	SpoolDir string
	// MinUploadRate is the slowest a request body may come, in bytes a
	// second, once UploadGrace has passed (defaults 16 KiB/s and 10 s): a
	// body trickled slower is cut with a 408 problem.
	MinUploadRate int64
	UploadGrace   time.Duration
	// Powers is MPower's check API: with it, a system's request may ask
	// the signer to sign on behalf of another party (ExpectedSigner
	// DelegatorType Person or Organization), which MPower confirms when
	// the signer is known; without it such requests are refused.
	Powers *mpowerclient.Client
	// DocDir is where the documents of sign requests (uploaded and signed)
	// are kept as files (0600) while their requests live. Default: with a
	// SQLite store, a directory beside the database file (NAME-documents
	// for NAME.db), so that the database and its WAL do not grow by the
	// documents' size; with PostgreSQL, none: the documents stay in the
	// database, which every instance sharing it reads (files on one
	// machine's disk would break a request another instance finishes).
	// "-" keeps them in the store with SQLite too.
	DocDir string
	// PendingQuota bounds the bytes of documents one client (IP address)
	// may have waiting in anonymous sign requests (default 2×MaxUpload).
	PendingQuota int64
	// HomePath is where the home page is served (default "/"; the demo
	// moves it when the portal is the home page).
	HomePath string
}

// Service is MSign.
type Service struct {
	cfg     Config
	keys    map[[32]byte]string // API key digest → system
	cache   *pades.VerifyCache
	work    chan struct{}
	limits  *rateLimits
	courier *ocsp.Courier                      // the revocation proxy's, nil when it is off
	prompts *middleware.RateLimiterMemoryStore // phone prompts per client
	systems sysauth.Cache                      // registered systems by credential

	instance string // this process: who runs its pending mobile requests
	bg       context.Context
	stop     context.CancelFunc
	bgWG     sync.WaitGroup
	web      *web
	metrics  *metrics
	quota    *uploadQuota // pending uploads of anonymous sign requests, per client
	csrfKey  []byte       // HMAC key of the pages' sessions and form tokens

	docs     *docStore
	spoolDir string // uploads being read and worked on
	ownSpool bool   // made by New, removed by Close
}

var _ service.Service = (*Service)(nil)

// New builds the service and starts its sweeper; Close stops it.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("msign: a store is required")
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
	if cfg.SystemRateLimit <= 0 {
		cfg.SystemRateLimit = 500
	}
	if cfg.SystemRateBurst <= 0 {
		cfg.SystemRateBurst = int(2 * cfg.SystemRateLimit)
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
	if cfg.ResultTTL < cfg.SignTTL {
		cfg.ResultTTL = max(24*time.Hour, cfg.SignTTL)
	}
	if cfg.PromptRate <= 0 {
		cfg.PromptRate = 10
	}
	if cfg.PromptBurst <= 0 {
		cfg.PromptBurst = max(1, int(cfg.PromptRate))
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = time.Minute
	}
	if cfg.AgentURL == "" {
		cfg.AgentURL = wire.DefaultURL
	}
	if cfg.PendingQuota <= 0 {
		cfg.PendingQuota = 2 * cfg.MaxUpload
	}
	if cfg.MinUploadRate <= 0 {
		cfg.MinUploadRate = 16 << 10
	}
	if cfg.UploadGrace <= 0 {
		cfg.UploadGrace = 10 * time.Second
	}
	if cfg.Roots == nil && len(cfg.RootCerts) > 0 {
		cfg.Roots = x509.NewCertPool()
		for _, c := range cfg.RootCerts {
			cfg.Roots.AddCert(c)
		}
	}
	spoolDir, ownSpool, err := openSpool(cfg.SpoolDir)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, cache: pades.NewVerifyCache(0), work: make(chan struct{}, cfg.MaxConcurrent), instance: newID(), metrics: newMetrics(), quota: newUploadQuota(cfg.PendingQuota),
		spoolDir: spoolDir, ownSpool: ownSpool}
	s.keys = make(map[[32]byte]string, len(cfg.APIKeys)+len(cfg.APIKeyDigests))
	for k, name := range cfg.APIKeys {
		s.keys[sha256.Sum256([]byte(k))] = name
	}
	for d, name := range cfg.APIKeyDigests {
		s.keys[d] = name
	}
	s.limits = newRateLimits(cfg)
	s.courier = newCourier(cfg)
	s.prompts = middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
		Rate: rate.Limit(cfg.PromptRate / 60), Burst: cfg.PromptBurst, ExpiresIn: 10 * time.Minute})
	if s.docs, err = openDocStore(context.Background(), cfg.Store, docDir(cfg)); err != nil {
		return nil, err
	}
	s.csrfKey, err = csrfKey(context.Background(), cfg.Store)
	if err != nil {
		return nil, err
	}
	w, err := newWeb()
	if err != nil {
		return nil, err
	}
	s.web = w
	s.bg, s.stop = context.WithCancel(context.Background())
	s.bgWG.Add(1)
	go s.sweep()
	return s, nil
}

// docDir is the directory of the documents cfg asks for ("": in the store).
func docDir(cfg Config) string {
	switch {
	case cfg.DocDir == "-":
		return ""
	case cfg.DocDir != "":
		return cfg.DocDir
	case cfg.Store.Backend() == "sqlite" && cfg.Store.Path() != "":
		p := cfg.Store.Path()
		return strings.TrimSuffix(p, filepath.Ext(p)) + "-documents"
	}
	return ""
}

// Name is "msign".
func (s *Service) Name() string { return "msign" }

// Mount adds the API (/api/v1/..., /api/openapi.json) and the pages.
func (s *Service) Mount(g *echo.Group) {
	g.GET("/api/openapi.json", serveOpenAPI)
	// A browser that follows a link into the API (a signed file's
	// download) gets an HTML page for an error, not a problem document.
	api := g.Group("/api/v1", s.errorPages, s.limiter, middleware.BodyLimit(fmt.Sprintf("%dB", s.cfg.MaxUpload)), middleware.ContextTimeout(s.cfg.RequestTimeout))
	api.POST("/verifications", s.verify)
	api.POST("/seal", s.seal)
	api.POST("/sign-requests", s.createSignRequest)
	api.GET("/sign-requests/:id", s.getSignRequest)
	api.DELETE("/sign-requests/:id", s.cancelSignRequest)
	api.POST("/sign-requests/:id/complete", s.completeSignRequest)
	api.GET("/sign-requests/:id/documents/:n", s.downloadDocument)
	api.POST("/signature-requests", s.postSignRequest)
	api.GET("/signature-requests/:id", s.getSignResponse)
	api.POST("/signature-verifications", s.verifySignaturesAPI)
	g.GET(soapPath, s.serveWSDL)
	g.POST(soapPath, s.soap, s.limiter, middleware.BodyLimit(fmt.Sprintf("%dB", s.cfg.MaxUpload)), middleware.ContextTimeout(s.cfg.RequestTimeout))
	s.mountWeb(g)
}

// Close stops the background work (pending mobile requests are handed
// over, the sweeper stops) and waits for it. The store stays open.
func (s *Service) Close() error {
	s.stop()
	s.bgWG.Wait()
	if s.ownSpool {
		return os.RemoveAll(s.spoolDir)
	}
	return nil
}

// sweep removes expired store items periodically.
func (s *Service) sweep() {
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
			if n, err := s.docs.sweep(); err != nil {
				s.cfg.Log.Warn("sweeping the documents directory failed", "err", err)
			} else if n > 0 {
				s.cfg.Log.Info("swept expired documents", "n", n)
			}
		}
	}
}

// slotKey marks a context whose request already holds a worker place.
type slotKey struct{}

// acquire bounds concurrent signing and verification work. A request
// that already holds a place (acquireCtx) is not given a second one.
func (s *Service) acquire(ctx context.Context) (func(), error) {
	if ctx.Value(slotKey{}) != nil {
		return func() {}, nil
	}
	select {
	case s.work <- struct{}{}:
		return func() { <-s.work }, nil
	case <-ctx.Done():
		return nil, problem.New(http.StatusServiceUnavailable, "busy", "Busy", "too much signing work at once; try again")
	}
}

// acquireCtx takes a worker place for the rest of a request: the work
// done with the returned context does not ask for another.
func (s *Service) acquireCtx(ctx context.Context) (context.Context, func(), error) {
	release, err := s.acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	return context.WithValue(ctx, slotKey{}, true), release, nil
}

// errTooLarge is the type of the problem of a body over MaxUpload.
var errTooLarge = problem.New(http.StatusRequestEntityTooLarge, "too-large", "Request Entity Too Large", "the body is too large")

// tooLarge is the problem of a body over MaxUpload.
func (s *Service) tooLarge() error {
	return problem.Newf(errTooLarge.Status, "too-large", errTooLarge.Title, "the body exceeds %d bytes", s.cfg.MaxUpload)
}

// acquireUpload spools the upload, then takes a place among the workers
// (a slow upload holds no place); done removes the file and frees the
// place.
func (s *Service) acquireUpload(c echo.Context) (*spooled, func(), error) {
	u, err := s.spool(c)
	if err != nil {
		return nil, nil, err
	}
	release, err := s.acquire(c.Request().Context())
	if err != nil {
		u.remove()
		return nil, nil, err
	}
	return u, func() { u.remove(); release() }, nil
}

// isTooLarge tells whether reading a body failed on the size limit: Echo's
// BodyLimit error, or http.MaxBytesReader's.
func isTooLarge(err error) bool {
	var he *echo.HTTPError
	var mb *http.MaxBytesError
	return errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge || errors.As(err, &mb) ||
		errors.Is(err, multipart.ErrMessageTooLarge)
}

// verify answers POST /api/v1/verifications with the report of
// `semnat verify --json`.
func (s *Service) verify(c echo.Context) error {
	pdfReport := wantsPDF(c)
	if pdfReport && s.cfg.Seal == nil {
		return errNoSealKey
	}
	u, done, err := s.acquireUpload(c)
	if err != nil {
		return err
	}
	defer done()
	rep, err := s.verifyDoc(c.Request().Context(), u.f, u.n)
	if err != nil {
		if errors.Is(err, pades.ErrNotPDF) {
			return problem.New(http.StatusUnprocessableEntity, "not-a-pdf", "Not a PDF", err.Error())
		}
		if errors.Is(err, pades.ErrPasswordRequired) {
			return problem.New(http.StatusUnprocessableEntity, "encrypted-pdf", "Encrypted PDF", "the PDF is protected by a password, which this service does not take; verify it with semnat verify --password-file")
		}
		return problem.New(http.StatusUnprocessableEntity, "unreadable-pdf", "Unreadable PDF", err.Error())
	}
	if !pdfReport {
		return c.JSON(http.StatusOK, rep)
	}
	if u.name != "" {
		rep.File = safeName(u.name)
	}
	sum, err := fileSHA256(u.f, u.n)
	if err != nil {
		return err
	}
	doc, err := s.sealedReport(c.Request().Context(), rep, sum, c.QueryParam("lang"))
	if err != nil {
		return err
	}
	return sizedBlob(c, "application/pdf", doc)
}

// apiClient returns the name of the registered system making the request:
// by a TLS client certificate the listener verified, else by its API key.
func (s *Service) apiClient(c echo.Context) (string, error) {
	if st := c.Request().TLS; st != nil && len(st.VerifiedChains) > 0 && len(st.VerifiedChains[0]) > 0 {
		return "cert:" + st.VerifiedChains[0][0].Subject.CommonName, nil
	}
	key, err := sysauth.RequestKey(c)
	if err != nil {
		return "", err
	}
	if name, ok := s.keys[sha256.Sum256([]byte(key))]; ok && key != "" {
		return name, nil
	}
	if sys, err := s.authenticate(c); err == nil { // registered with `semnat msign systems add`
		return sys.Name, nil
	}
	return "", problem.New(http.StatusUnauthorized, "unauthorized", "Unauthorized", "a registered system's API key (X-API-Key) or TLS client certificate is required")
}

// seal answers POST /api/v1/seal: the organisation's key signs the PDF at
// once, and the seal is recorded in the audit log.
func (s *Service) seal(c echo.Context) error {
	system, err := s.apiClient(c)
	if err != nil {
		return err
	}
	if s.cfg.Seal == nil {
		return problem.New(http.StatusServiceUnavailable, "no-seal-key", "No seal key", "this server has no seal key configured")
	}
	u, done, err := s.acquireUpload(c)
	if err != nil {
		return err
	}
	defer done()
	out, err := os.CreateTemp(s.spoolDir, "sealed-*.pdf")
	if err != nil {
		return err
	}
	defer func() { out.Close(); os.Remove(out.Name()) }()
	h := sha256.New()
	opts := &pades.Options{Level: s.cfg.SealLevel, Timestamper: s.cfg.Timestamper, Reason: c.QueryParam("reason"), Name: system}
	start := time.Now()
	res, err := pades.Sign(c.Request().Context(), u.f, u.n, io.MultiWriter(out, h), s.cfg.Seal, opts)
	s.observeSigning("seal", start)
	if err != nil {
		switch {
		case errors.Is(err, pades.ErrNotPDF):
			return problem.New(http.StatusUnprocessableEntity, "not-a-pdf", "Not a PDF", err.Error())
		case errors.Is(err, pades.ErrEncrypted), errors.Is(err, pades.ErrDamaged), errors.Is(err, pades.ErrCertifiedNoChanges):
			return problem.New(http.StatusUnprocessableEntity, "cannot-sign", "This PDF cannot be signed", err.Error())
		}
		return problem.New(http.StatusUnprocessableEntity, "signing-failed", "Signing failed", err.Error())
	}
	digest := hex.EncodeToString(h.Sum(nil))
	cert := s.cfg.Seal.Certificate()
	if _, err := s.cfg.Store.Append(c.Request().Context(), store.Event{Actor: system, Action: "seal",
		Subject: c.Response().Header().Get(echo.HeaderXRequestID), Digest: digest,
		Details: map[string]string{"level": res.Level.String(), "key": cert.SerialNumber.Text(16), "signer": cert.Subject.CommonName}}); err != nil {
		return err // nothing is handed out unless it is in the audit log
	}
	size, err := out.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return err
	}
	c.Response().Header().Set("X-Document-SHA256", digest)
	// The size is known: a body cut short is visible to any client.
	c.Response().Header().Set(echo.HeaderContentLength, strconv.FormatInt(size, 10))
	return c.Stream(http.StatusOK, "application/pdf", out)
}
