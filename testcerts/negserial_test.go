package testcerts

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

// WithNegativeSerial's certificate parses (go.mod: godebug
// x509negativeserial=1) whatever the serial's first bytes: 0x7F then a
// byte with its top bit set was made a non-minimal 0xFF 0x80.
func TestWithNegativeSerialParses(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, serial := range [][]byte{{0x7F, 0x80, 0x01}, {0x7F, 0xFF}, {0x00, 0x80}, {0x01}, {0x12, 0x34, 0x56}} {
		tmpl := &x509.Certificate{SerialNumber: new(big.Int).SetBytes(serial), Subject: pkix.Name{CommonName: "negative serial"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		neg, err := WithNegativeSerial(cert, key)
		if err != nil {
			t.Fatalf("serial %x: %v", serial, err)
		}
		got, err := x509.ParseCertificate(neg)
		if err != nil || got.SerialNumber.Sign() >= 0 {
			t.Fatalf("serial %x: %v %v", serial, got, err)
		}
		if err := got.CheckSignatureFrom(got); err != nil {
			t.Errorf("serial %x: the re-signed certificate: %v", serial, err)
		}
	}
}
