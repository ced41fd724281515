package ocsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/testcerts"
)

// Authority is one CA a Responder answers for, with the key that signs its
// responses: the CA's own (Cert == Issuer) or a delegated responder's (Cert
// issued by Issuer with the OCSPSigning extended key usage).
type Authority struct {
	Issuer *x509.Certificate
	Cert   *x509.Certificate
	Key    crypto.Signer
}

// ResponderOptions tune a Responder.
type ResponderOptions struct {
	// Validity is nextUpdate - thisUpdate of each status (default 1 hour).
	Validity time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// ByName identifies the responder by name instead of key hash.
	ByName bool
	// MaxRequestBytes bounds a request body (default 16 KiB).
	MaxRequestBytes int
	// MaxCertIDs bounds the certificates in one request (default 32).
	MaxCertIDs int
	// NoCache disables the cache of signed answers to nonce-less requests.
	// The cache is used only with a source that reports changes
	// (crl.Versioned, as crl.Registry does): a revocation empties it, so
	// answers are never staler than the source. A cached answer is reused
	// for at most a quarter of Validity.
	NoCache bool
	// CacheEntries bounds the cache (default 4096 requests).
	CacheEntries int
}

// Responder answers OCSP requests for a set of CAs from a status source.
// It is an http.Handler and safe for concurrent use.
type Responder struct {
	src  crl.StatusSource
	opts ResponderOptions
	auth []*authority

	versioned crl.Versioned // nil: no cache
	cacheMu   sync.Mutex
	cacheVer  uint64
	cache     map[string]cachedAnswer
}

type cachedAnswer struct {
	der      []byte
	produced time.Time
	next     time.Time
}

type authority struct {
	Authority
	rid      asn1.RawValue
	algo     pkix.AlgorithmIdentifier
	sopts    crypto.SignerOpts
	certs    []*x509.Certificate
	hashes   map[crypto.Hash][2][]byte // name hash, key hash
	delegate bool
}

// NewResponder returns a responder for the given authorities.
func NewResponder(src crl.StatusSource, auths []Authority, opts ResponderOptions) (*Responder, error) {
	if src == nil {
		return nil, errors.New("ocsp: NewResponder needs a status source")
	}
	if len(auths) == 0 {
		return nil, errors.New("ocsp: NewResponder needs at least one authority")
	}
	if opts.Validity <= 0 {
		opts.Validity = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = 16 << 10
	}
	if opts.MaxCertIDs <= 0 {
		opts.MaxCertIDs = 32
	}
	if opts.CacheEntries <= 0 {
		opts.CacheEntries = 4096
	}
	r := &Responder{src: src, opts: opts}
	if v, ok := src.(crl.Versioned); ok && !opts.NoCache {
		r.versioned = v
		r.cache = map[string]cachedAnswer{}
	}
	for _, a := range auths {
		if a.Issuer == nil || a.Cert == nil || a.Key == nil {
			return nil, errors.New("ocsp: an authority needs Issuer, Cert and Key")
		}
		pub, ok := a.Key.Public().(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(a.Cert.PublicKey) {
			return nil, fmt.Errorf("ocsp: responder key does not match certificate %q", a.Cert.Subject)
		}
		ia := &authority{Authority: a, hashes: map[crypto.Hash][2][]byte{}}
		if !bytes.Equal(a.Cert.Raw, a.Issuer.Raw) {
			if err := authorizedDelegate(a.Cert, a.Issuer, opts.Now()); err != nil {
				return nil, err
			}
			ia.delegate = true
			ia.certs = []*x509.Certificate{a.Cert}
		}
		var err error
		if ia.rid, err = responderID(a.Cert, opts.ByName); err != nil {
			return nil, err
		}
		if ia.algo, ia.sopts, err = signerParams(a.Key.Public()); err != nil {
			return nil, err
		}
		for _, h := range hashOIDs {
			nh, kh, err := issuerHashes(h.h, a.Issuer)
			if err != nil {
				return nil, err
			}
			ia.hashes[h.h] = [2][]byte{nh, kh}
		}
		r.auth = append(r.auth, ia)
	}
	return r, nil
}

// ResponderFromPKI answers for every CA of a test PKI, signing with the
// delegated responder the PKI has for the CA (role ocsp, issued by it) or
// with the CA key itself.
func ResponderFromPKI(p *testcerts.PKI, src crl.StatusSource, opts ResponderOptions) (*Responder, error) {
	var auths []Authority
	for _, ca := range p.CAs() {
		a := Authority{Issuer: ca.Cert, Cert: ca.Cert, Key: ca.Key}
		for _, e := range p.ByRole(testcerts.RoleOCSP) {
			if e.Issuer == ca {
				a.Cert, a.Key = e.Cert, e.Key
				break
			}
		}
		auths = append(auths, a)
	}
	return NewResponder(src, auths, opts)
}

func (r *Responder) authorityFor(id CertID) *authority {
	for _, a := range r.auth {
		h, ok := a.hashes[id.HashAlgorithm]
		if ok && bytes.Equal(h[0], id.IssuerNameHash) && bytes.Equal(h[1], id.IssuerKeyHash) {
			return a
		}
	}
	return nil
}

// Respond answers a DER request. It always returns a DER response: problems
// with the request become error statuses (malformedRequest, unauthorized,
// internalError), and the returned error, if any, says why, for logging.
func (r *Responder) Respond(ctx context.Context, der []byte) ([]byte, error) {
	req, err := ParseRequest(der)
	if err != nil {
		return ErrorResponse(MalformedRequest), err
	}
	resp, _, err := r.respond(ctx, req, der)
	return resp, err
}

// respond answers req; der is the request's DER, the cache key for
// nonce-less requests.
func (r *Responder) respond(ctx context.Context, req *Request, der []byte) ([]byte, time.Time, error) {
	if r.versioned == nil || req.Nonce != nil {
		return r.sign(ctx, req)
	}
	ver := r.versioned.Version()
	now := r.opts.Now()
	key := string(der)
	r.cacheMu.Lock()
	if ver != r.cacheVer {
		clear(r.cache)
		r.cacheVer = ver
	}
	c, ok := r.cache[key]
	r.cacheMu.Unlock()
	if ok && now.Sub(c.produced) < r.opts.Validity/4 && !now.Before(c.produced) {
		return c.der, c.next, nil
	}
	out, next, err := r.sign(ctx, req)
	if err != nil || next.IsZero() {
		return out, next, err
	}
	r.cacheMu.Lock()
	if r.cacheVer == ver {
		if len(r.cache) >= r.opts.CacheEntries {
			clear(r.cache)
		}
		r.cache[key] = cachedAnswer{der: out, produced: now.UTC().Truncate(time.Second), next: next}
	}
	r.cacheMu.Unlock()
	return out, next, nil
}

// sign looks the statuses up and signs a fresh response.
func (r *Responder) sign(ctx context.Context, req *Request) ([]byte, time.Time, error) {
	if len(req.CertIDs) > r.opts.MaxCertIDs {
		return ErrorResponse(MalformedRequest), time.Time{}, fmt.Errorf("%w: %d certificates in one request (at most %d)", ErrMalformed, len(req.CertIDs), r.opts.MaxCertIDs)
	}
	var auth *authority
	for _, id := range req.CertIDs {
		a := r.authorityFor(id)
		if a == nil {
			return ErrorResponse(Unauthorized), time.Time{}, fmt.Errorf("ocsp: no authority for serial %x (unknown issuer or hash)", id.SerialNumber)
		}
		if auth != nil && a != auth {
			return ErrorResponse(Unauthorized), time.Time{}, errors.New("ocsp: one request names certificates of several CAs")
		}
		auth = a
	}
	now := r.opts.Now().UTC().Truncate(time.Second)
	next := now.Add(r.opts.Validity)
	t := ResponseTemplate{ProducedAt: now, Nonce: req.Nonce, Certificates: auth.certs}
	for _, id := range req.CertIDs {
		st, err := r.src.Status(ctx, auth.Issuer, id.SerialNumber)
		if err != nil {
			if errors.Is(err, crl.ErrUnknownIssuer) {
				st = crl.Status{State: crl.Unknown}
			} else {
				return ErrorResponse(TryLater), time.Time{}, fmt.Errorf("ocsp: status of serial %x: %w", id.SerialNumber, err)
			}
		}
		t.Responses = append(t.Responses, SingleResponse{CertID: id, Status: st, ThisUpdate: now, NextUpdate: next})
	}
	out, err := createResponse(t, auth.rid, auth.algo, auth.sopts, auth.Key)
	if err != nil {
		return ErrorResponse(InternalError), time.Time{}, err
	}
	return out, next, nil
}

// ServeHTTP answers POST (body: DER request, Content-Type
// application/ocsp-request) and GET (path: URL-encoded base64 of the DER
// request, RFC 6960 Appendix A) at any path; mount it with http.StripPrefix
// so that the GET payload is the remaining path. GET answers without a
// nonce are cacheable until nextUpdate.
func (r *Responder) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	var der []byte
	switch hr.Method {
	case http.MethodPost:
		b, err := io.ReadAll(io.LimitReader(hr.Body, int64(r.opts.MaxRequestBytes)+1))
		if err != nil {
			http.Error(w, "reading request", http.StatusBadRequest)
			return
		}
		if len(b) > r.opts.MaxRequestBytes {
			writeOCSP(w, ErrorResponse(MalformedRequest), time.Time{})
			return
		}
		der = b
	case http.MethodGet:
		p := strings.TrimPrefix(hr.URL.Path, "/")
		if p == "" {
			http.Error(w, "OCSP responder: POST a DER request, or GET /<base64 request>", http.StatusBadRequest)
			return
		}
		b, err := decodeGETPath(p)
		if err != nil || len(b) > r.opts.MaxRequestBytes {
			writeOCSP(w, ErrorResponse(MalformedRequest), time.Time{})
			return
		}
		der = b
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	req, err := ParseRequest(der)
	if err != nil {
		writeOCSP(w, ErrorResponse(MalformedRequest), time.Time{})
		return
	}
	resp, next, _ := r.respond(hr.Context(), req, der)
	if hr.Method != http.MethodGet || req.Nonce != nil {
		next = time.Time{}
	}
	writeOCSP(w, resp, next)
}

func decodeGETPath(p string) ([]byte, error) {
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(p); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: GET path is not base64", ErrMalformed)
}

func writeOCSP(w http.ResponseWriter, b []byte, cacheUntil time.Time) {
	h := w.Header()
	h.Set("Content-Type", "application/ocsp-response")
	h.Set("Content-Length", fmt.Sprint(len(b)))
	if !cacheUntil.IsZero() {
		maxAge := max(int(time.Until(cacheUntil)/time.Second), 0)
		h.Set("Cache-Control", fmt.Sprintf("max-age=%d, public, no-transform, must-revalidate", maxAge))
		h.Set("Expires", cacheUntil.UTC().Format(http.TimeFormat))
	} else {
		h.Set("Cache-Control", "no-store")
	}
	_, _ = w.Write(b)
}
