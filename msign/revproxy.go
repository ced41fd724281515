package msign

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/problem"
)

// The revocation proxy of the in-browser verifier (issue #20): for a
// certificate whose status the document does not carry, the page posts an
// OCSP request holding its CertID only (issuer name and key hashes, serial
// number) to POST /verify/revocation; the server carries it to the
// responder it knows for that issuer (never a URL from the request) and
// hands back the responder's signed answer, which the module checks
// itself. The document never comes here.

// revocationPath is where the proxy answers.
const revocationPath = "/verify/revocation"

// Rate of the proxy per client: each question may cost a request to a
// responder. A verification asks about the signer, its CA and the TSA's.
const (
	revocationRate  = 10 // per second
	revocationBurst = 40
)

// newCourier is the proxy's courier over cfg's issuers, or nil when the
// server does not fetch revocation data (VerifyOnline off) or knows no CA.
func newCourier(cfg Config) *ocsp.Courier {
	issuers := cfg.RevocationIssuers
	if issuers == nil {
		issuers = cfg.RootCerts
	}
	if !cfg.VerifyOnline || len(issuers) == 0 {
		return nil
	}
	return &ocsp.Courier{Issuers: issuers, HTTPClient: cfg.RevocationHTTP}
}

// revocationLimiter bounds the proxy's questions per client IP.
func revocationLimiter() echo.MiddlewareFunc {
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store: middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Limit(revocationRate), Burst: revocationBurst, ExpiresIn: 3 * time.Minute}),
		IdentifierExtractor: func(c echo.Context) (string, error) { return c.RealIP(), nil },
		DenyHandler: func(c echo.Context, _ string, _ error) error {
			c.Response().Header().Set("Retry-After", "1")
			return errRateLimited
		},
	})
}

// revocationProxy answers POST /verify/revocation (application/ocsp-request,
// one CertID) with the responder's DER answer (application/ocsp-response).
func (s *Service) revocationProxy(c echo.Context) error {
	if s.courier == nil {
		return problem.New(http.StatusNotFound, "no-revocation-proxy", "No revocation proxy",
			"this server does not fetch revocation data (it runs with --online=false)")
	}
	r := c.Request()
	if mt, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType)); mt != "application/ocsp-request" {
		return problem.New(http.StatusUnsupportedMediaType, "bad-revocation-request", "Not an OCSP request",
			"send an OCSP request (Content-Type: application/ocsp-request) holding one CertID")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, ocsp.MaxCourierRequest+1))
	if err != nil {
		return problem.Newf(http.StatusBadRequest, "bad-revocation-request", "Unreadable request", "reading the body: %v", err)
	}
	if len(body) > ocsp.MaxCourierRequest {
		return problem.Newf(http.StatusRequestEntityTooLarge, "revocation-request-too-large", "Request too large",
			"an OCSP request with one CertID is under %d bytes; send the certificate's identifiers only", ocsp.MaxCourierRequest)
	}
	der, err := s.courier.Fetch(r.Context(), body)
	switch {
	case errors.Is(err, ocsp.ErrUnknownIssuer):
		return problem.New(http.StatusNotFound, "unknown-issuer", "Unknown issuer",
			"the certificate's issuer is not a CA this server trusts, so it knows no responder to ask")
	case errors.Is(err, ocsp.ErrResponder):
		s.cfg.Log.Warn("revocation proxy: responder", "err", err)
		return problem.New(http.StatusBadGateway, "responder-unavailable", "Responder unavailable",
			"the issuer's OCSP responder gave no usable answer; try again later")
	case err != nil:
		return problem.Newf(http.StatusBadRequest, "bad-revocation-request", "Not a CertID-only OCSP request", "%v", err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "application/ocsp-response", der)
}
