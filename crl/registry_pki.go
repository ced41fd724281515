//go:build !(js && wasm)

// The test PKI's registry: left out of the in-browser verifier (GOOS=js).

package crl

import (
	"fmt"
	"math/big"

	"github.com/semnat/semnat/testcerts"
)

// RegistryFromPKI builds the registry of a test PKI: every CA with the exact
// set of serials it issued (others are Unknown) and the PKI's revocations.
func RegistryFromPKI(p *testcerts.PKI) (*Registry, error) {
	r := NewRegistry()
	issued := map[string][]*big.Int{}
	for _, e := range p.Entities() {
		if e.Issuer != nil {
			issued[e.Issuer.Name] = append(issued[e.Issuer.Name], e.Cert.SerialNumber)
		}
	}
	for _, ca := range p.CAs() {
		r.AddCA(ca.Cert, append([]*big.Int{}, issued[ca.Name]...))
	}
	for _, rv := range p.Revocations {
		ca := p.Get(rv.Issuer)
		if ca == nil {
			return nil, fmt.Errorf("%w: revocation of %s names CA %q", ErrUnknownIssuer, rv.Name, rv.Issuer)
		}
		if err := r.Revoke(ca.Cert, rv.Serial, rv.Time, rv.Reason); err != nil {
			return nil, err
		}
	}
	return r, nil
}
