package ocsp

import (
	"bytes"
	"context"
	"crypto"
	"net/http"
	"testing"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/testcerts"
)

func benchResponder(b *testing.B) (*testcerts.PKI, *Responder) {
	p := testcerts.New(b)
	reg, err := crl.RegistryFromPKI(p)
	if err != nil {
		b.Fatal(err)
	}
	r, err := ResponderFromPKI(p, reg, ResponderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return p, r
}

// BenchmarkRespond: parse, look up and sign one request (ECDSA P-256
// delegated responder), in process.
func BenchmarkRespond(b *testing.B) {
	p, r := benchResponder(b)
	e := p.MustGet("person-rsa2048")
	id, _ := NewCertID(crypto.SHA1, e.Issuer.Cert, e.Cert.SerialNumber)
	der, _ := (&Request{CertIDs: []CertID{id}, Nonce: []byte("0123456789abcdef")}).Marshal()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.Respond(ctx, der); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
}

// BenchmarkClientCheck: a full client round trip over loopback HTTP
// (request, response, signature and authorization checks).
func BenchmarkClientCheck(b *testing.B) {
	p, r := benchResponder(b)
	srv := newLoopback(b, r)
	e := p.MustGet("person-p256")
	c := Client{HTTPClient: &http.Client{}}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.CheckURL(ctx, srv, e.Cert, e.Issuer.Cert); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}

func BenchmarkParseVerify(b *testing.B) {
	p, r := benchResponder(b)
	e := p.MustGet("person-rsa2048")
	id, _ := NewCertID(crypto.SHA1, e.Issuer.Cert, e.Cert.SerialNumber)
	der, _ := (&Request{CertIDs: []CertID{id}}).Marshal()
	out, _ := r.Respond(context.Background(), der)
	b.ResetTimer()
	for b.Loop() {
		resp, err := ParseResponse(bytes.Clone(out))
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := resp.CertStatus(e.Cert, e.Issuer.Cert, VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRespondCached: nonce-less requests answered from the cache of
// signed responses.
func BenchmarkRespondCached(b *testing.B) {
	p, r := benchResponder(b)
	e := p.MustGet("person-rsa2048")
	id, _ := NewCertID(crypto.SHA1, e.Issuer.Cert, e.Cert.SerialNumber)
	der, _ := (&Request{CertIDs: []CertID{id}}).Marshal()
	ctx := context.Background()
	for b.Loop() {
		if _, err := r.Respond(ctx, der); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
}
