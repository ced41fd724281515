package ocsp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// fastEntity is a certificate with its key.
type fastEntity struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// fastPKI makes a small ECDSA P-256 hierarchy (CA, delegated OCSP responder,
// leaf) in milliseconds, for fuzz targets whose workers would otherwise spend
// their time budget generating the full RSA test PKI.
func fastPKI(tb testing.TB) (ca, responder, leaf fastEntity) {
	tb.Helper()
	now := time.Now()
	mk := func(tmpl *x509.Certificate, parent *fastEntity) fastEntity {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		pc, pk := tmpl, key
		if parent != nil {
			pc, pk = parent.cert, parent.key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, pc, &key.PublicKey, pk)
		if err != nil {
			tb.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			tb.Fatal(err)
		}
		return fastEntity{c, key}
	}
	ca = mk(&x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, nil)
	responder = mk(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "fuzz responder"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}}, &ca)
	leaf = mk(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "fuzz leaf"},
		KeyUsage: x509.KeyUsageDigitalSignature}, &ca)
	return ca, responder, leaf
}
