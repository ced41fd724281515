package pades

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sync"
	"time"
)

// VerifyCache remembers certificate checks across Verify calls, so that a
// service verifying many documents from the same CAs pays for each CA
// signature once: which certificate issued which (a signature check), and
// the chains found for a certificate. A cached chain is used only when every
// certificate in it is valid at the new validation time; otherwise the chain
// is built again. Documents' own data (CMS signatures, OCSP responses,
// timestamps) is always checked. Safe for concurrent use; nil means no cache.
type VerifyCache struct {
	mu     sync.Mutex
	issued map[[64]byte]error
	chains map[chainKey][][]*x509.Certificate
	max    int
}

type chainKey struct {
	leaf  [32]byte
	roots *x509.CertPool
	ekus  string
}

// NewVerifyCache returns a cache holding at most max entries of each kind
// (0: 4096); when full it starts over.
func NewVerifyCache(max int) *VerifyCache {
	if max <= 0 {
		max = 4096
	}
	return &VerifyCache{issued: map[[64]byte]error{}, chains: map[chainKey][][]*x509.Certificate{}, max: max}
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
