package mobileid

import (
	"crypto/x509"
	"slices"
	"sync"
	"time"
)

// chainCacheSize bounds the chains a client remembers: one per mobile
// certificate seen (a few KB each).
const chainCacheSize = 4096

// chainCache remembers the certificate chains that x509 verified (every
// CA signature, basic and name constraints, path lengths, up to Roots),
// by the exact DER of the certificate they start from. A login with that
// very certificate takes the chain from here instead of verifying the CA
// signatures again (about 1 ms); the validity times of every certificate
// in it are still checked at each use, and revocation is the caller's
// (MPass asks OCSP, else the CRL, at every login). A certificate that
// differs in any byte (a tampered one) is not found and is verified in
// full.
//
// The unit is the whole chain of one certificate, not single (issuer,
// child) links: links verified in different chains must not be put
// together, since a CA's name constraints checked over one chain say
// nothing about another child. Each link of a remembered chain is thus
// known by the exact DER of both its certificates. Roots and
// Intermediates are fixed for a client, so its chains stay valid; a
// chain through a fetched (FetchIssuer) or sent intermediate was
// verified to Roots like any other.
type chainCache struct {
	mu sync.Mutex
	m  map[string][]*x509.Certificate // DER of the first certificate → the chain, root last
}

// get returns the intermediates (issuer first, root excluded) of cert's
// remembered chain when every certificate in it is valid at now.
func (cc *chainCache) get(cert *x509.Certificate, now time.Time) ([]*x509.Certificate, bool) {
	cc.mu.Lock()
	ch, ok := cc.m[string(cert.Raw)]
	cc.mu.Unlock()
	if !ok {
		return nil, false
	}
	for _, c := range ch {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return nil, false // verified again in full: its error names the certificate
		}
	}
	return slices.Clone(ch[1 : len(ch)-1]), true
}

// put remembers a chain x509 verified (leaf first, root last). When full,
// one remembered chain (any) makes room.
func (cc *chainCache) put(chain []*x509.Certificate) {
	if len(chain) < 2 {
		return
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.m == nil {
		cc.m = make(map[string][]*x509.Certificate)
	}
	if len(cc.m) >= chainCacheSize {
		for k := range cc.m {
			delete(cc.m, k)
			break
		}
	}
	cc.m[string(chain[0].Raw)] = slices.Clone(chain)
}
