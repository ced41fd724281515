package pades

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"hash"
	"sync"
	"time"
)

// VerifyCache remembers work across Verify calls, so that a service
// verifying many documents from the same PKI pays for each check once.
//
// What it remembers is always a pure function of exact bytes, keyed by the
// SHA-256 of those bytes (and of everything else the result depends on):
//   - which certificate issued which (a CA signature check);
//   - the chains found for a certificate (reused only when every
//     certificate of the chain is valid at the new validation time, with the
//     same trust anchor pool and key usages; failures are not remembered);
//   - parsed CMS signatures, timestamp tokens, certificates, OCSP responses
//     and CRLs, and decoded DSS streams (by their raw bytes and filter);
//   - the result of checking an OCSP response for a certificate and its
//     issuer (signature, responder, CertID);
//   - CMS signature values checked against a certificate (the signed
//     attributes, signature, algorithm and certificate bytes);
//   - verified timestamp tokens (the token, the imprint, the candidate
//     certificates and the trust anchor pool; only successes).
//
// Each document's own bytes are still read, parsed as a PDF and hashed on
// every call, so the digest check is never skipped. Safe for concurrent use;
// nil means no cache. A cached trust anchor pool is identified by its
// pointer: do not add certificates to a pool that a cache has seen.
type VerifyCache struct {
	mu     sync.Mutex
	issued map[[64]byte]error
	chains map[chainKey][][]*x509.Certificate
	memo   map[memoKey]any
	max    int
}

type chainKey struct {
	leaf  [32]byte
	roots *x509.CertPool
	ekus  string
}

// memoKind separates the kinds of remembered results.
type memoKind uint8

const (
	memoCerts     memoKind = iota + 1 // DER/PEM blob -> []*x509.Certificate
	memoOCSP                          // DER -> *ocsp.Response (nil: unusable)
	memoCRL                           // DER -> *x509.RevocationList (nil: unusable)
	memoStream                        // filter + raw stream bytes -> decoded bytes
	memoOCSPCheck                     // response, cert, issuer -> ocspCheck
	memoSig                           // signed attrs, signature, alg, cert -> error
	memoTSA                           // token, imprint, candidates, roots -> *tsa.Info
	memoCMS                           // DER -> parsed CMS (or its error)
	memoToken                         // DER -> parsed timestamp token and TSTInfo (or the error)
)

type memoKey struct {
	kind  memoKind
	sum   [32]byte
	roots *x509.CertPool
}

// NewVerifyCache returns a cache holding at most max entries of each kind
// (0: 4096); when full it starts over.
func NewVerifyCache(max int) *VerifyCache {
	if max <= 0 {
		max = 4096
	}
	return &VerifyCache{issued: map[[64]byte]error{}, chains: map[chainKey][][]*x509.Certificate{}, memo: map[memoKey]any{}, max: max}
}

var memoHashers = sync.Pool{New: func() any { return sha256.New() }}

// key returns the memo key of kind over parts (each length-prefixed, so that
// the parts' boundaries are part of the key).
func memoKeyOf(kind memoKind, roots *x509.CertPool, parts ...[]byte) memoKey {
	h := memoHashers.Get().(hash.Hash)
	h.Reset()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	k := memoKey{kind: kind, roots: roots}
	h.Sum(k.sum[:0])
	memoHashers.Put(h)
	return k
}

// remember returns the remembered result for k, or computes it with f and
// remembers it when f says it may be kept. Without a cache it calls f.
func (c *VerifyCache) remember(k func() memoKey, f func() (any, bool)) any {
	if c == nil {
		v, _ := f()
		return v
	}
	key := k()
	c.mu.Lock()
	v, ok := c.memo[key]
	c.mu.Unlock()
	if ok {
		return v
	}
	v, keep := f()
	if !keep {
		return v
	}
	c.mu.Lock()
	if len(c.memo) >= c.max*4 {
		clear(c.memo)
	}
	c.memo[key] = v
	c.mu.Unlock()
	return v
}

// checkIssued is child.CheckSignatureFrom(parent), remembered.
func (c *VerifyCache) checkIssued(child, parent *x509.Certificate) error {
	if c == nil {
		return child.CheckSignatureFrom(parent)
	}
	var k [64]byte
	h1, h2 := sha256.Sum256(child.Raw), sha256.Sum256(parent.Raw)
	copy(k[:32], h1[:])
	copy(k[32:], h2[:])
	c.mu.Lock()
	err, ok := c.issued[k]
	c.mu.Unlock()
	if ok {
		return err
	}
	err = child.CheckSignatureFrom(parent)
	c.mu.Lock()
	if len(c.issued) >= c.max {
		clear(c.issued)
	}
	c.issued[k] = err
	c.mu.Unlock()
	return err
}

// verifyChain is cert.Verify(o), remembered: a chain found once for cert
// with the same trust anchors and key usages is reused when all its
// certificates are valid at o.CurrentTime (signatures do not depend on
// time; validity periods do).
func (c *VerifyCache) verifyChain(cert *x509.Certificate, o x509.VerifyOptions) ([][]*x509.Certificate, error) {
	if c == nil {
		return cert.Verify(o)
	}
	k := chainKey{leaf: sha256.Sum256(cert.Raw), roots: o.Roots, ekus: fmt.Sprint(o.KeyUsages)}
	at := o.CurrentTime
	if at.IsZero() {
		at = time.Now()
	}
	c.mu.Lock()
	cached := c.chains[k]
	c.mu.Unlock()
	for _, ch := range cached {
		if validAt(ch, at) {
			return [][]*x509.Certificate{ch}, nil
		}
	}
	chains, err := cert.Verify(o)
	if err != nil {
		return nil, err // failures are not remembered: time or pools may differ next time
	}
	c.mu.Lock()
	if len(c.chains) >= c.max {
		clear(c.chains)
	}
	c.chains[k] = chains
	c.mu.Unlock()
	return chains, nil
}

func validAt(chain []*x509.Certificate, t time.Time) bool {
	for _, c := range chain {
		if t.Before(c.NotBefore) || t.After(c.NotAfter) {
			return false
		}
	}
	return len(chain) > 0
}
