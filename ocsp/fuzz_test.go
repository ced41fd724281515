package ocsp

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/semnat/semnat/crl"
)

// fuzzResponder returns a responder over a fast P-256 PKI, the CA, the leaf,
// and seed requests (SHA-1 and SHA-256 CertIDs, with and without nonce).
func fuzzResponder(f *testing.F) (*Responder, *x509.Certificate, *x509.Certificate, [][]byte) {
	ca, resp, leaf := fastPKI(f)
	reg := crl.NewRegistry()
	reg.AddCA(ca.cert, []*big.Int{leaf.cert.SerialNumber, resp.cert.SerialNumber})
	if err := reg.Revoke(ca.cert, big.NewInt(99), time.Now(), 1); err != nil {
		f.Fatal(err)
	}
	r, err := NewResponder(reg, []Authority{{Issuer: ca.cert, Cert: resp.cert, Key: resp.key}}, ResponderOptions{})
	if err != nil {
		f.Fatal(err)
	}
	var seeds [][]byte
	for _, serial := range []*big.Int{leaf.cert.SerialNumber, big.NewInt(99), big.NewInt(1234)} {
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
			id, err := NewCertID(h, ca.cert, serial)
			if err != nil {
				f.Fatal(err)
			}
			for _, nonce := range [][]byte{nil, []byte("nonce")} {
				der, err := (&Request{CertIDs: []CertID{id}, Nonce: nonce}).Marshal()
				if err != nil {
					f.Fatal(err)
				}
				seeds = append(seeds, der)
			}
		}
	}
	return r, ca.cert, leaf.cert, seeds
}

func FuzzParseRequest(f *testing.F) {
	_, _, _, seeds := fuzzResponder(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ParseRequest(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not wrapping ErrMalformed: %v", err)
			}
			return
		}
		if len(req.CertIDs) == 0 {
			t.Fatal("accepted a request without CertIDs")
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	r, issuer, cert, seeds := fuzzResponder(f)
	for _, s := range seeds {
		out, _ := r.Respond(context.Background(), s)
		f.Add(out)
	}
	f.Add(ErrorResponse(TryLater))
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := ParseResponse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedHash) {
				t.Fatalf("error not wrapped: %v", err)
			}
			return
		}
		_, _, _ = resp.CertStatus(cert, issuer, VerifyOptions{Now: time.Now()})
	})
}

func FuzzRespond(f *testing.F) {
	r, issuer, _, seeds := fuzzResponder(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _ := r.Respond(context.Background(), data)
		resp, err := ParseResponse(out)
		if err != nil {
			t.Fatalf("responder produced an unparsable response: %v", err)
		}
		if resp.Status == Successful {
			if _, err := resp.Verify(issuer, VerifyOptions{}); err != nil {
				t.Fatalf("responder produced an unverifiable response: %v", err)
			}
		}
	})
}
