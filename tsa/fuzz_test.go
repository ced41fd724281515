package tsa

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
)

// fuzzTSA builds a TSA over a fast ECDSA P-256 CA (milliseconds, so that fuzz
// workers do not spend their budget generating the RSA test PKI).
func fuzzTSA(tb testing.TB) (*Server, *x509.CertPool) {
	tb.Helper()
	now := time.Now()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{oidKPTimeStamping})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "fuzz TSA"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	s, err := NewServer(cert, nil, key, ServerOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return s, roots
}

func FuzzParseResponse(f *testing.F) {
	s, roots := fuzzTSA(f)
	d := sha256.Sum256([]byte("seed"))
	for _, certs := range []bool{true, false} {
		req := timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], Certificates: certs, Nonce: big.NewInt(42)}
		der, _ := req.Marshal()
		out, _ := s.Respond(context.Background(), der)
		f.Add(out)
	}
	f.Add(marshalRejection(FailBadAlg, "no"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseResponse(data)
		if err != nil {
			var re *RejectedError
			if !errors.Is(err, ErrMalformed) && !errors.As(err, &re) {
				t.Fatalf("error not wrapped: %v", err)
			}
			return
		}
		_, _ = Parse(tok)
		_, _ = Verify(tok, crypto.SHA256, d[:], VerifyOptions{Roots: roots, Certificates: []*x509.Certificate{s.Certificate()}})
	})
}

func FuzzRespond(f *testing.F) {
	s, roots := fuzzTSA(f)
	d := sha256.Sum256([]byte("seed"))
	req := timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], Certificates: true}
	der, _ := req.Marshal()
	f.Add(der)
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _ := s.Respond(context.Background(), data)
		tok, err := ParseResponse(out)
		var re *RejectedError
		if errors.As(err, &re) {
			return
		}
		if err != nil {
			t.Fatalf("server produced an unparsable response: %v", err)
		}
		// Requests without certReq give tokens without the certificate:
		// supply it, as a verifier holding the TSA certificate would.
		info, err := verify(tok, 0, nil, VerifyOptions{Certificates: []*x509.Certificate{s.Certificate()}}, false)
		if err != nil {
			t.Fatalf("server produced an invalid token: %v", err)
		}
		if _, err := Verify(tok, info.HashAlgorithm, info.HashedMessage, VerifyOptions{Roots: roots, Certificates: []*x509.Certificate{s.Certificate()}}); err != nil {
			t.Fatalf("server token does not verify: %v", err)
		}
	})
}
