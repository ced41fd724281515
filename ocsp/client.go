package ocsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/semnat/semnat/crl"
)

// Client asks OCSP responders about certificates and verifies the answers.
// The zero value is ready to use.
type Client struct {
	// HTTPClient sends the requests (default: http.DefaultClient). Set a
	// timeout on it or on the context.
	HTTPClient *http.Client
	// Hash for the CertID (default SHA-1, which every responder supports;
	// RFC 5019 requires it).
	Hash crypto.Hash
	// NoNonce leaves the nonce out (responses become cacheable);
	// RequireNonce refuses responses that do not echo it.
	NoNonce, RequireNonce bool
	// UseGET sends short requests with GET (RFC 5019 §5) instead of POST.
	UseGET bool
	// MaxResponseBytes bounds the response size (default 1 MiB).
	MaxResponseBytes int64
	// Skew, TrustedResponders, Now: see VerifyOptions.
	Skew              time.Duration
	TrustedResponders []*x509.Certificate
	Now               func() time.Time
	// Cache, if set, keeps verified answers by (issuer, serial) until their
	// nextUpdate: a certificate checked again before then costs no request.
	// Share one cache between clients; the zero ResponseCache is ready.
	Cache *ResponseCache
}

// ResponseCache holds verified OCSP results by (issuer, serial number)
// until their nextUpdate. Safe for concurrent use; the zero value is ready.
type ResponseCache struct {
	// MaxEntries bounds the cache (default 4096; emptied when full).
	MaxEntries int

	mu sync.Mutex
	m  map[cacheKey]*Result
}

type cacheKey struct{ issuer, serial string }

func newCacheKey(issuer *x509.Certificate, serial *big.Int) cacheKey {
	return cacheKey{string(issuer.Raw), string(serial.Bytes())}
}

// Get returns the cached result about serial of issuer if it is still
// current at now (before its nextUpdate).
func (c *ResponseCache) Get(issuer *x509.Certificate, serial *big.Int, now time.Time) (*Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[newCacheKey(issuer, serial)]
	if !ok {
		return nil, false
	}
	if !now.Before(r.NextUpdate) {
		delete(c.m, newCacheKey(issuer, serial))
		return nil, false
	}
	cp := *r
	return &cp, true
}

// Put stores a verified result; results without nextUpdate are not kept.
func (c *ResponseCache) Put(issuer *x509.Certificate, serial *big.Int, r *Result) {
	if r == nil || r.NextUpdate.IsZero() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := c.MaxEntries
	if limit <= 0 {
		limit = 4096
	}
	if c.m == nil || len(c.m) >= limit {
		c.m = map[cacheKey]*Result{}
	}
	cp := *r
	c.m[newCacheKey(issuer, serial)] = &cp
}

// Result is a verified OCSP answer about one certificate.
type Result struct {
	Status     crl.Status
	ProducedAt time.Time
	ThisUpdate time.Time
	NextUpdate time.Time
	// Responder signed the response.
	Responder *x509.Certificate
	URL       string
	// Raw is the DER response, for embedding (PAdES DSS, CAdES revocation values).
	Raw []byte
	// Cached: the result came from Client.Cache, not from a request.
	Cached bool
}

// Check asks the OCSP responders named in cert's AIA extension, in order,
// moving to the next one only when a responder cannot be reached
// (ErrTransport); any other answer, good or bad, is final.
func (c *Client) Check(ctx context.Context, cert, issuer *x509.Certificate) (*Result, error) {
	var lastErr error
	for _, u := range cert.OCSPServer {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			continue
		}
		res, err := c.CheckURL(ctx, u, cert, issuer)
		if err == nil || !errors.Is(err, ErrTransport) || ctx.Err() != nil {
			return res, err
		}
		lastErr = err
	}
	if lastErr != nil {
		return nil, lastErr
	}
	return nil, fmt.Errorf("%w: %q", ErrNoResponderURL, cert.Subject)
}

// CheckURL asks the responder at responderURL about cert, issued by issuer,
// and verifies the answer. With a Cache, a current cached answer about
// cert is returned without asking (Result.Cached).
func (c *Client) CheckURL(ctx context.Context, responderURL string, cert, issuer *x509.Certificate) (*Result, error) {
	if cert == nil || issuer == nil {
		return nil, fmt.Errorf("ocsp: Check needs the certificate and its issuer")
	}
	if c.Cache != nil {
		now := time.Now()
		if c.Now != nil {
			now = c.Now()
		}
		if r, ok := c.Cache.Get(issuer, cert.SerialNumber, now); ok {
			r.Cached = true
			return r, nil
		}
	}
	h := c.Hash
	if h == 0 {
		h = crypto.SHA1
	}
	id, err := NewCertID(h, issuer, cert.SerialNumber)
	if err != nil {
		return nil, err
	}
	req := &Request{CertIDs: []CertID{id}}
	if !c.NoNonce {
		req.Nonce = make([]byte, 16)
		if _, err := rand.Read(req.Nonce); err != nil {
			return nil, err
		}
	}
	der, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	raw, err := c.exchange(ctx, responderURL, der)
	if err != nil {
		return nil, err
	}
	resp, err := ParseResponse(raw)
	if err != nil {
		return nil, err
	}
	opts := VerifyOptions{Skew: c.Skew, Nonce: req.Nonce, RequireNonce: c.RequireNonce, TrustedResponders: c.TrustedResponders}
	if c.Now != nil {
		opts.Now = c.Now()
	}
	single, signer, err := resp.CertStatus(cert, issuer, opts)
	if err != nil {
		return nil, err
	}
	res := &Result{Status: single.Status, ProducedAt: resp.ProducedAt, ThisUpdate: single.ThisUpdate,
		NextUpdate: single.NextUpdate, Responder: signer, URL: responderURL, Raw: raw}
	if c.Cache != nil {
		c.Cache.Put(issuer, cert.SerialNumber, res)
	}
	return res, nil
}

func (c *Client) exchange(ctx context.Context, responderURL string, der []byte) ([]byte, error) {
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	var hreq *http.Request
	var err error
	enc := base64.StdEncoding.EncodeToString(der)
	if c.UseGET && len(enc) <= 255 {
		u := strings.TrimRight(responderURL, "/") + "/" + url.PathEscape(enc)
		hreq, err = http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	} else {
		hreq, err = http.NewRequestWithContext(ctx, http.MethodPost, responderURL, bytes.NewReader(der))
		if hreq != nil {
			hreq.Header.Set("Content-Type", "application/ocsp-request")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	hreq.Header.Set("Accept", "application/ocsp-response")
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered HTTP %s", ErrTransport, responderURL, resp.Status)
	}
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading response: %w", ErrTransport, err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("%w: response larger than %d bytes", ErrTransport, limit)
	}
	return raw, nil
}
