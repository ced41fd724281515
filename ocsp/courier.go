package ocsp

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Errors of the Courier.
var (
	// ErrNotCertIDOnly: a courier request must ask about one certificate by
	// its CertID and carry nothing else (no extension other than a nonce,
	// which is dropped; no signature).
	ErrNotCertIDOnly = errors.New("ocsp: the request must hold one CertID and nothing else")
	// ErrUnknownIssuer: the CertID names an issuer the courier does not
	// know, so it knows no responder to ask.
	ErrUnknownIssuer = errors.New("ocsp: the certificate's issuer is not a known CA")
	// ErrResponder: the responder could not be reached or did not answer
	// with a successful response about the certificate.
	ErrResponder = errors.New("ocsp: the responder gave no usable answer")
)

// MaxCourierRequest is the largest courier request accepted: a CertID with
// SHA-512 hashes and a 20-byte serial is well under it.
const MaxCourierRequest = 512

// ParseCourierRequest reads a request for a Courier: a DER OCSP request
// holding exactly one CertID with a known hash algorithm, unsigned, with
// no extension but a nonce (which is dropped). Anything else, a service
// locator extension with a URL in it included, is ErrNotCertIDOnly.
func ParseCourierRequest(der []byte) (CertID, error) {
	if len(der) > MaxCourierRequest {
		return CertID{}, fmt.Errorf("%w: %d bytes (at most %d)", ErrNotCertIDOnly, len(der), MaxCourierRequest)
	}
	req, err := ParseRequest(der)
	if err != nil {
		return CertID{}, err
	}
	switch {
	case len(req.CertIDs) != 1:
		return CertID{}, fmt.Errorf("%w: it asks about %d certificates", ErrNotCertIDOnly, len(req.CertIDs))
	case req.Signed:
		return CertID{}, fmt.Errorf("%w: it is signed", ErrNotCertIDOnly)
	case req.CertIDs[0].HashAlgorithm == 0:
		return CertID{}, fmt.Errorf("%w: unknown CertID hash algorithm", ErrUnsupportedHash)
	}
	for _, ext := range req.Extensions {
		if !ext.Id.Equal(OIDNonce) {
			return CertID{}, fmt.Errorf("%w: extension %v", ErrNotCertIDOnly, ext.Id)
		}
	}
	return req.CertIDs[0], nil
}

// Courier carries OCSP requests about certificates of known CAs to their
// responders and brings back the responders' signed answers unchanged: the
// revocation proxy of the in-browser verifier, which checks the answer
// itself (the courier is not trusted for the verdict). It never takes a URL
// from its caller: an issuer's responders are found in its own
// certificates (see Responders), so it cannot be pointed at other hosts.
// Answers are kept until their nextUpdate (at most CacheFor), so that many
// callers asking about one certificate cost the responder one request.
// Safe for concurrent use.
type Courier struct {
	// Issuers are the CA certificates (anchors and intermediates) whose
	// certificates the courier may ask about.
	Issuers []*x509.Certificate
	// HTTPClient sends the requests (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// MaxResponseBytes bounds an answer (default 256 KiB).
	MaxResponseBytes int64
	// CacheFor bounds how long an answer is kept (default 5 minutes; <0: never).
	CacheFor time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]courierAnswer
}

type courierAnswer struct {
	der   []byte
	until time.Time
}

// maxCourierCache bounds the answers kept (they are dropped all at once
// when it is reached).
const maxCourierCache = 10000

// Issuer is the known CA that id names, or nil.
func (c *Courier) Issuer(id CertID) *x509.Certificate {
	for _, ca := range c.Issuers {
		if id.IssuedBy(ca) {
			return ca
		}
	}
	return nil
}

// Responders are the OCSP URLs (http and https only) that answer about
// certificates of issuer: those named by the known certificates issuer
// issued (their AIA names their issuer's responder), then those of
// issuer's own AIA (a PKI usually runs one responder for all its CAs).
func (c *Courier) Responders(issuer *x509.Certificate) []string {
	var out []string
	add := func(urls []string) {
		for _, u := range urls {
			if (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) && !containsString(out, u) {
				out = append(out, u)
			}
		}
	}
	for _, child := range c.Issuers {
		if child != issuer && bytes.Equal(child.RawIssuer, issuer.RawSubject) && child.CheckSignatureFrom(issuer) == nil {
			add(child.OCSPServer)
		}
	}
	add(issuer.OCSPServer)
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Fetch answers a courier request (see ParseCourierRequest): it asks the
// issuer's responders, in order, with a request holding that CertID only,
// and returns the first successful response about it, unchanged (DER).
func (c *Courier) Fetch(ctx context.Context, der []byte) ([]byte, error) {
	id, err := ParseCourierRequest(der)
	if err != nil {
		return nil, err
	}
	issuer := c.Issuer(id)
	if issuer == nil {
		return nil, ErrUnknownIssuer
	}
	key := fmt.Sprintf("%d %x %x %x", id.HashAlgorithm, id.IssuerNameHash, id.IssuerKeyHash, id.SerialNumber)
	if out, ok := c.cached(key); ok {
		return out, nil
	}
	urls := c.Responders(issuer)
	if len(urls) == 0 {
		return nil, fmt.Errorf("%w: no OCSP responder is known for %q", ErrResponder, issuer.Subject.CommonName)
	}
	clean, err := (&Request{CertIDs: []CertID{id}}).Marshal()
	if err != nil {
		return nil, err
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = 256 << 10
	}
	oc := &Client{HTTPClient: hc, MaxResponseBytes: limit}
	var errs []error
	for _, u := range urls {
		raw, err := oc.exchange(ctx, u, clean)
		if err == nil {
			var next time.Time
			if next, err = covers(raw, id); err == nil {
				c.keep(key, raw, next)
				return raw, nil
			}
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("%w: %w", ErrResponder, errors.Join(errs...))
}

// covers checks that raw is a successful response with a status for id
// (its signature is the caller's to check) and returns its nextUpdate.
func covers(raw []byte, id CertID) (time.Time, error) {
	r, err := ParseResponse(raw)
	if err != nil {
		return time.Time{}, err
	}
	for _, s := range r.Responses {
		if s.CertID.Equal(id) {
			return s.NextUpdate, nil
		}
	}
	return time.Time{}, ErrNoMatchingResponse
}

func (c *Courier) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Courier) cached(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.cache[key]
	if !ok || !c.now().Before(a.until) {
		return nil, false
	}
	return a.der, true
}

// keep remembers an answer until next (zero: not kept), at most CacheFor.
func (c *Courier) keep(key string, der []byte, next time.Time) {
	d := c.CacheFor
	if d == 0 {
		d = 5 * time.Minute
	}
	until := c.now().Add(d)
	if next.Before(until) {
		until = next
	}
	if d < 0 || !c.now().Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache == nil || len(c.cache) >= maxCourierCache {
		c.cache = map[string]courierAnswer{}
	}
	c.cache[key] = courierAnswer{der, until}
}
