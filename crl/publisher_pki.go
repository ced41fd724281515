//go:build !(js && wasm)

// The test PKI's CRL publisher: left out of the in-browser verifier (GOOS=js).

package crl

import "github.com/semnat/semnat/testcerts"

// PublisherFromPKI publishes the CRLs of every CA of a test PKI.
func PublisherFromPKI(p *testcerts.PKI, src Source, opts PublisherOptions) (*Publisher, error) {
	var cas []Authority
	for _, e := range p.CAs() {
		cas = append(cas, Authority{Name: e.Name, Cert: e.Cert, Key: e.Key})
	}
	return NewPublisher(src, cas, opts)
}
