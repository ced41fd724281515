package ocsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/semnat/semnat/crl"
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
	// Refresh is the age at which a pre-signed answer is re-signed (default
	// a quarter of Validity), so that relying parties and HTTP caches
	// always get answers with most of their validity left.
	Refresh time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// ByName identifies the responder by name instead of key hash.
	ByName bool
	// MaxRequestBytes bounds a request body (default 16 KiB).
	MaxRequestBytes int
	// MaxCertIDs bounds the certificates in one request (default 32).
	MaxCertIDs int
	// NoCache disables pre-signed answers: every request is signed. Answers
	// are pre-signed only with a source that reports changes (crl.Versioned,
	// as crl.Registry does), so that a revocation re-signs the certificate's
	// answer before the next request is served.
	NoCache bool
	// CacheEntries bounds the map from exact request bytes (POST body or GET
	// path) to pre-signed answers (default 4096; it is emptied when full).
	CacheEntries int
	// MaxPresigned bounds the pre-signed answers (one per certificate and
	// CertID hash; default 100000). Past it, answers are signed per request.
	MaxPresigned int
}

// Responder answers OCSP requests for a set of CAs from a status source.
// It is an http.Handler and safe for concurrent use.
//
// Throughput comes from pre-signed answers, the way large CAs serve OCSP
// (RFC 5019): for each certificate (and CertID hash algorithm) the responder
// keeps one signed answer without nonce, re-signs it when it reaches
// Refresh age or when the source changes (a revocation), and serves every
// nonce-less single-certificate request from it. A request whose exact bytes
// were seen before costs one map lookup and one write. Answers are
// pre-signed lazily on the first request for a certificate; Run also signs
// them eagerly for every serial the source lists (crl.IssuedLister) and
// refreshes them on a schedule. Requests with a nonce, or naming several
// certificates, are signed on demand.
type Responder struct {
	src  crl.StatusSource
	opts ResponderOptions
	auth []*authority

	versioned crl.Versioned // nil: nothing pre-signed
	lister    crl.IssuedLister

	storeMu sync.RWMutex
	store   map[string]*entry // key: entryKey (hash, authority, serial)

	frontMu   sync.RWMutex
	frontPOST map[string]*entry // key: request DER
	frontGET  map[string]*entry // key: GET path payload as received

	hdrType, hdrNoStore []string
}

// entry is the pre-signed answer about one certificate for one CertID form.
type entry struct {
	auth *authority
	id   CertID
	ver  atomic.Uint64 // source version at which cur's status was last confirmed
	cur  atomic.Pointer[signedAnswer]
	mu   sync.Mutex // serialises re-signing
}

// signedAnswer is an immutable signed response with its HTTP headers ready
// to assign (net/http only reads header slices).
type signedAnswer struct {
	der                            []byte
	status                         crl.Status
	this, next, refreshAt          time.Time
	length, etag, lastMod, expires []string
	cacheControl                   atomic.Pointer[cacheControlValue]
}

type cacheControlValue struct {
	sec int64
	v   []string
}

type authority struct {
	Authority
	rid      asn1.RawValue
	algo     pkix.AlgorithmIdentifier
	sopts    crypto.SignerOpts
	certs    []*x509.Certificate
	hashes   map[crypto.Hash][2][]byte // name hash, key hash
	delegate bool
	index    int // position in Responder.auth
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
	if opts.MaxPresigned <= 0 {
		opts.MaxPresigned = 100000
	}
	if opts.Refresh <= 0 || opts.Refresh > opts.Validity {
		opts.Refresh = opts.Validity / 4
	}
	r := &Responder{src: src, opts: opts, hdrType: []string{"application/ocsp-response"}, hdrNoStore: []string{"no-store"}}
	if v, ok := src.(crl.Versioned); ok && !opts.NoCache {
		r.versioned = v
		r.store = map[string]*entry{}
		r.frontPOST = map[string]*entry{}
		r.frontGET = map[string]*entry{}
		r.lister, _ = src.(crl.IssuedLister)
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
			if err := authorizedDelegate(a.Cert, a.Issuer, opts.Now(), nil); err != nil {
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
		for _, h := range certIDHashes {
			nh, kh, err := issuerHashes(h, a.Issuer)
			if err != nil {
				return nil, err
			}
			ia.hashes[h] = [2][]byte{nh, kh}
		}
		ia.index = len(r.auth)
		r.auth = append(r.auth, ia)
	}
	return r, nil
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
	if len(der) > r.opts.MaxRequestBytes {
		return ErrorResponse(MalformedRequest), fmt.Errorf("%w: request of %d bytes (at most %d)", ErrMalformed, len(der), r.opts.MaxRequestBytes)
	}
	req, err := ParseRequest(der)
	if err != nil {
		return ErrorResponse(MalformedRequest), err
	}
	e, out, err := r.answer(ctx, req)
	if e == nil {
		return out, err
	}
	a, err := r.current(ctx, e)
	if err != nil {
		return ErrorResponse(TryLater), err
	}
	return a.der, nil
}

// answer routes a parsed request: a nonce-less request about one
// certificate gets its pre-signed entry (e != nil); any other is signed now
// (out, err).
func (r *Responder) answer(ctx context.Context, req *Request) (e *entry, out []byte, err error) {
	if r.versioned == nil || req.Nonce != nil || len(req.CertIDs) != 1 {
		out, err = r.sign(ctx, req)
		return nil, out, err
	}
	id := req.CertIDs[0]
	a := r.authorityFor(id)
	if a == nil {
		return nil, ErrorResponse(Unauthorized), fmt.Errorf("ocsp: no authority for serial %x (unknown issuer or hash)", id.SerialNumber)
	}
	if e = r.entryFor(a, id); e == nil { // store full
		out, err = r.sign(ctx, req)
		return nil, out, err
	}
	return e, nil, nil
}

func entryKey(a *authority, id CertID) string {
	b := []byte{byte(id.HashAlgorithm), byte(a.index >> 8), byte(a.index), byte(id.SerialNumber.Sign() + 1)}
	return string(append(b, id.SerialNumber.Bytes()...))
}

// entryFor returns the pre-signed entry for id (creating an empty one), or
// nil when the store is full.
func (r *Responder) entryFor(a *authority, id CertID) *entry {
	k := entryKey(a, id)
	r.storeMu.RLock()
	e := r.store[k]
	r.storeMu.RUnlock()
	if e != nil {
		return e
	}
	r.storeMu.Lock()
	defer r.storeMu.Unlock()
	if e = r.store[k]; e != nil {
		return e
	}
	if len(r.store) >= r.opts.MaxPresigned {
		return nil
	}
	e = &entry{auth: a, id: id}
	r.store[k] = e
	return e
}

func (a *signedAnswer) fresh(now time.Time) bool {
	return now.Before(a.refreshAt) && !now.Before(a.this)
}

func statusEqual(a, b crl.Status) bool {
	return a.State == b.State && a.Reason == b.Reason && a.RevokedAt.Equal(b.RevokedAt)
}

// current returns e's signed answer, re-signing it first when the source
// changed the certificate's status or the answer reached Refresh age. While
// one request re-signs an answer that is only due for refresh, the others
// keep serving the previous one (still valid).
func (r *Responder) current(ctx context.Context, e *entry) (*signedAnswer, error) {
	ver := r.versioned.Version()
	a := e.cur.Load()
	now := r.opts.Now()
	if a != nil && e.ver.Load() == ver {
		if a.fresh(now) {
			return a, nil
		}
		if now.Before(a.next) && !now.Before(a.this) {
			if !e.mu.TryLock() {
				return a, nil
			}
		} else {
			e.mu.Lock()
		}
	} else {
		e.mu.Lock()
	}
	defer e.mu.Unlock()
	ver = r.versioned.Version()
	a = e.cur.Load()
	now = r.opts.Now()
	if a != nil && e.ver.Load() == ver && a.fresh(now) {
		return a, nil
	}
	st, err := r.status(ctx, e.auth, e.id.SerialNumber)
	if err != nil {
		return nil, err
	}
	if a != nil && statusEqual(st, a.status) && a.fresh(now) {
		e.ver.Store(ver)
		return a, nil
	}
	now = now.UTC().Truncate(time.Second)
	next := now.Add(r.opts.Validity)
	der, err := createResponse(ResponseTemplate{ProducedAt: now, Certificates: e.auth.certs,
		Responses: []SingleResponse{{CertID: e.id, Status: st, ThisUpdate: now, NextUpdate: next}}},
		e.auth.rid, e.auth.algo, e.auth.sopts, e.auth.Key)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(der)
	a = &signedAnswer{der: der, status: st, this: now, next: next, refreshAt: now.Add(r.opts.Refresh),
		length:  []string{strconv.Itoa(len(der))},
		etag:    []string{`"` + hex.EncodeToString(sum[:]) + `"`},
		lastMod: []string{now.Format(http.TimeFormat)},
		expires: []string{next.Format(http.TimeFormat)}}
	e.cur.Store(a)
	e.ver.Store(ver)
	return a, nil
}

// status asks the source; a CA the source does not know is Unknown.
func (r *Responder) status(ctx context.Context, a *authority, serial *big.Int) (crl.Status, error) {
	st, err := r.src.Status(ctx, a.Issuer, serial)
	if err != nil {
		if errors.Is(err, crl.ErrUnknownIssuer) {
			return crl.Status{State: crl.Unknown}, nil
		}
		return crl.Status{}, fmt.Errorf("ocsp: status of serial %x: %w", serial, err)
	}
	return st, nil
}

// Run pre-signs an answer for every serial the source lists as issued
// (crl.IssuedLister; SHA-1 CertIDs, the RFC 5019 form) and keeps every
// pre-signed answer fresh: each is re-signed when it reaches Refresh age
// or when the source changes, without waiting for a request. It returns
// when ctx ends. Without Run the responder still works: answers are then
// signed on the first request for a certificate and re-signed by the
// request that finds them due.
func (r *Responder) Run(ctx context.Context) error {
	if r.versioned == nil {
		<-ctx.Done()
		return nil
	}
	tick := min(max(r.opts.Refresh/8, time.Second), time.Minute)
	t := time.NewTicker(tick)
	defer t.Stop()
	var seen uint64
	first := true
	for {
		if v := r.versioned.Version(); first || v != seen {
			seen, first = v, false
			r.presignIssued(ctx)
		}
		r.refreshDue(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Presign signs now the answers for every serial the source lists as
// issued and returns how many answers are pre-signed in all.
func (r *Responder) Presign(ctx context.Context) int {
	if r.versioned == nil {
		return 0
	}
	r.presignIssued(ctx)
	r.refreshDue(ctx)
	r.storeMu.RLock()
	defer r.storeMu.RUnlock()
	return len(r.store)
}

func (r *Responder) presignIssued(ctx context.Context) {
	if r.lister == nil {
		return
	}
	for _, a := range r.auth {
		serials, ok := r.lister.Issued(a.Issuer)
		if !ok {
			continue
		}
		for _, s := range serials {
			if ctx.Err() != nil {
				return
			}
			h := a.hashes[crypto.SHA1]
			e := r.entryFor(a, CertID{HashAlgorithm: crypto.SHA1, IssuerNameHash: h[0], IssuerKeyHash: h[1], SerialNumber: s})
			if e == nil {
				return
			}
			if e.cur.Load() == nil {
				_, _ = r.current(ctx, e)
			}
		}
	}
}

func (r *Responder) refreshDue(ctx context.Context) {
	r.storeMu.RLock()
	entries := make([]*entry, 0, len(r.store))
	for _, e := range r.store {
		entries = append(entries, e)
	}
	r.storeMu.RUnlock()
	for _, e := range entries {
		if ctx.Err() != nil {
			return
		}
		_, _ = r.current(ctx, e)
	}
}

// sign looks the statuses up and signs a fresh response (requests with a
// nonce or several certificates).
func (r *Responder) sign(ctx context.Context, req *Request) ([]byte, error) {
	if len(req.CertIDs) > r.opts.MaxCertIDs {
		return ErrorResponse(MalformedRequest), fmt.Errorf("%w: %d certificates in one request (at most %d)", ErrMalformed, len(req.CertIDs), r.opts.MaxCertIDs)
	}
	var auth *authority
	for _, id := range req.CertIDs {
		a := r.authorityFor(id)
		if a == nil {
			return ErrorResponse(Unauthorized), fmt.Errorf("ocsp: no authority for serial %x (unknown issuer or hash)", id.SerialNumber)
		}
		if auth != nil && a != auth {
			return ErrorResponse(Unauthorized), errors.New("ocsp: one request names certificates of several CAs")
		}
		auth = a
	}
	now := r.opts.Now().UTC().Truncate(time.Second)
	next := now.Add(r.opts.Validity)
	t := ResponseTemplate{ProducedAt: now, Nonce: req.Nonce, Certificates: auth.certs}
	for _, id := range req.CertIDs {
		st, err := r.status(ctx, auth, id.SerialNumber)
		if err != nil {
			return ErrorResponse(TryLater), err
		}
		t.Responses = append(t.Responses, SingleResponse{CertID: id, Status: st, ThisUpdate: now, NextUpdate: next})
	}
	out, err := createResponse(t, auth.rid, auth.algo, auth.sopts, auth.Key)
	if err != nil {
		return ErrorResponse(InternalError), err
	}
	return out, nil
}

// ServeHTTP answers POST (body: DER request, Content-Type
// application/ocsp-request) and GET (path: URL-encoded base64 of the DER
// request, RFC 6960 Appendix A) at any path; mount it with http.StripPrefix
// so that the GET payload is the remaining path, or call ServeOCSP.
func (r *Responder) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	r.ServeOCSP(w, hr, hr.URL.Path)
}

// ServeOCSP is ServeHTTP with the GET payload given (the request path after
// the responder's prefix; a leading "/" is ignored), for routers that do
// not want http.StripPrefix's copy of the request.
//
// Pre-signed answers to GET carry the RFC 5019 §6 caching headers
// (Cache-Control max-age until nextUpdate, ETag, Last-Modified = thisUpdate,
// Expires = nextUpdate) and If-None-Match is honoured; answers with a nonce
// and error answers are not cacheable.
func (r *Responder) ServeOCSP(w http.ResponseWriter, hr *http.Request, payload string) {
	switch hr.Method {
	case http.MethodPost:
		r.servePOST(w, hr)
	case http.MethodGet:
		r.serveGET(w, hr, strings.TrimPrefix(payload, "/"))
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (r *Responder) servePOST(w http.ResponseWriter, hr *http.Request) {
	if hr.ContentLength > int64(r.opts.MaxRequestBytes) {
		r.writeError(w, MalformedRequest)
		return
	}
	buf := make([]byte, 0, min(max(hr.ContentLength, 512), int64(r.opts.MaxRequestBytes))+1)
	body := bytes.NewBuffer(buf)
	if _, err := body.ReadFrom(io.LimitReader(hr.Body, int64(r.opts.MaxRequestBytes)+1)); err != nil {
		http.Error(w, "reading request", http.StatusBadRequest)
		return
	}
	der := body.Bytes()
	if len(der) > r.opts.MaxRequestBytes {
		r.writeError(w, MalformedRequest)
		return
	}
	if e := r.front(r.frontPOST, string(der)); e != nil {
		r.writeEntry(w, hr, e, false)
		return
	}
	r.serveDER(w, hr, der, r.frontPOST, string(der), false)
}

func (r *Responder) serveGET(w http.ResponseWriter, hr *http.Request, payload string) {
	if payload == "" {
		http.Error(w, "OCSP responder: POST a DER request, or GET /<base64 request>", http.StatusBadRequest)
		return
	}
	if e := r.front(r.frontGET, payload); e != nil {
		r.writeEntry(w, hr, e, true)
		return
	}
	if len(payload) > 2*r.opts.MaxRequestBytes {
		r.writeError(w, MalformedRequest)
		return
	}
	der, err := decodeGETPath(payload)
	if err != nil || len(der) > r.opts.MaxRequestBytes {
		r.writeError(w, MalformedRequest)
		return
	}
	r.serveDER(w, hr, der, r.frontGET, payload, true)
}

// front is the pre-signed answer remembered under key (the request as it
// arrived), if any.
func (r *Responder) front(m map[string]*entry, key string) *entry {
	if r.versioned == nil {
		return nil
	}
	r.frontMu.RLock()
	defer r.frontMu.RUnlock()
	return m[key]
}

// serveDER answers a request that missed the front cache: a pre-signed
// answer is remembered under key for the next identical request; an answer
// signed for this request alone (a nonce) is written once.
func (r *Responder) serveDER(w http.ResponseWriter, hr *http.Request, der []byte, m map[string]*entry, key string, get bool) {
	req, err := ParseRequest(der)
	if err != nil {
		r.writeError(w, MalformedRequest)
		return
	}
	e, out, _ := r.answer(hr.Context(), req)
	if e == nil {
		r.writeOnce(w, out)
		return
	}
	r.remember(m, key, e)
	r.writeEntry(w, hr, e, get)
}

// remember maps exact request bytes to an entry (emptying the map when full).
func (r *Responder) remember(m map[string]*entry, key string, e *entry) {
	r.frontMu.Lock()
	defer r.frontMu.Unlock()
	if len(m) >= r.opts.CacheEntries {
		clear(m)
	}
	m[strings.Clone(key)] = e
}

func (r *Responder) writeEntry(w http.ResponseWriter, hr *http.Request, e *entry, get bool) {
	a, err := r.current(hr.Context(), e)
	if err != nil {
		r.writeError(w, TryLater)
		return
	}
	h := w.Header()
	h["Content-Type"] = r.hdrType
	if get {
		h["Cache-Control"] = a.cacheControlAt(r.opts.Now())
		h["Etag"] = a.etag
		h["Last-Modified"] = a.lastMod
		h["Expires"] = a.expires
		if inm := hr.Header["If-None-Match"]; len(inm) == 1 && inm[0] == a.etag[0] {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	} else {
		h["Cache-Control"] = r.hdrNoStore
	}
	h["Content-Length"] = a.length
	_, _ = w.Write(a.der)
}

// cacheControlAt is the Cache-Control value at now: max-age until nextUpdate
// (RFC 5019 §6.2), recomputed once a second.
func (a *signedAnswer) cacheControlAt(now time.Time) []string {
	sec := now.Unix()
	if c := a.cacheControl.Load(); c != nil && c.sec == sec {
		return c.v
	}
	maxAge := max(int64(a.next.Sub(now)/time.Second), 0)
	v := []string{"max-age=" + strconv.FormatInt(maxAge, 10) + ", public, no-transform, must-revalidate"}
	a.cacheControl.Store(&cacheControlValue{sec: sec, v: v})
	return v
}

func (r *Responder) writeError(w http.ResponseWriter, s ResponseStatus) {
	r.writeOnce(w, ErrorResponse(s))
}

// writeOnce writes an answer that must not be cached (signed for one
// request, or an error status).
func (r *Responder) writeOnce(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h["Content-Type"] = r.hdrType
	h["Cache-Control"] = r.hdrNoStore
	h.Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
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
