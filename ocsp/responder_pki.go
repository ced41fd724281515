//go:build !(js && wasm)

// The test PKI's responder: left out of the in-browser verifier (GOOS=js).

package ocsp

import (
	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/testcerts"
)

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
