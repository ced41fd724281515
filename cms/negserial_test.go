package cms

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/testcerts"
)

// negativeSerialCert returns a copy of cert with its serial number made
// negative (the sign bit of its first content byte set), signed again by
// issuerKey (RSA PKCS#1 v1.5 or ECDSA, SHA-256): a well-formed certificate
// apart from its forbidden serial.
func negativeSerialCert(t *testing.T, cert *x509.Certificate, issuerKey crypto.Signer) []byte {
	t.Helper()
	tbs := bytes.Clone(cert.RawTBSCertificate)
	in := cryptobyte.String(tbs)
	var body cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !body.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		t.Fatal("cannot parse the TBSCertificate")
	}
	var serial cryptobyte.String
	if !body.ReadASN1(&serial, cbasn1.INTEGER) {
		t.Fatal("no serial")
	}
	off := len(tbs) - len(body) - len(serial) // first content byte of the serial
	tbs[off] |= 0x80
	d := sha256.Sum256(tbs)
	sig, err := issuerKey.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if _, ok := issuerKey.Public().(*rsa.PublicKey); ok {
				b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}) // sha256WithRSAEncryption
				b.AddASN1NULL()
			} else {
				b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}) // ecdsa-with-SHA256
			}
		})
		b.AddASN1BitString(sig)
	})
	return b.BytesOrPanic()
}

func TestNegativeSerial(t *testing.T) {
	pki := testcerts.New(t)
	e := pki.MustGet("person-p256")
	if e.Issuer == nil || e.Issuer.PSS {
		t.Fatal("person-p256 has no PKCS#1/ECDSA issuer")
	}
	neg := negativeSerialCert(t, e.Cert, e.Issuer.Key)
	if NegativeSerial(e.Cert.Raw) {
		t.Error("NegativeSerial of a positive serial")
	}
	if !NegativeSerial(neg) {
		t.Fatal("NegativeSerial missed a negative serial")
	}
	if _, err := x509.ParseCertificate(neg); err == nil {
		t.Fatal("crypto/x509 parsed a negative serial without GODEBUG x509negativeserial=1")
	}
	// With the GODEBUG opt-in, it is a valid certificate from the same CA.
	t.Run("x509negativeserial", func(t *testing.T) {
		t.Setenv("GODEBUG", "x509negativeserial=1")
		c, err := x509.ParseCertificate(neg)
		if err != nil {
			testtool.Unavailable(t, fmt.Sprintf("GODEBUG x509negativeserial=1 not honoured at run time: %v", err), "use a Go toolchain that reads GODEBUG changes at run time (1.21+)")
		}
		if c.SerialNumber.Sign() >= 0 {
			t.Fatalf("serial %v", c.SerialNumber)
		}
		if err := c.CheckSignatureFrom(e.Issuer.Cert); err != nil {
			t.Fatalf("the re-signed certificate does not verify: %v", err)
		}
	})
	// A SignedData carrying it: Parse says why, as ErrNegativeSerial (an
	// ErrMalformed).
	der := signContent(t, e, crypto.SHA256, []byte("content"))
	i := bytes.Index(der, e.Cert.Raw)
	if i < 0 || len(neg) != len(e.Cert.Raw) {
		// The new signature may differ in length: patch without re-signing.
		neg = bytes.Clone(e.Cert.Raw)
		serial := e.Cert.SerialNumber.Bytes()
		j := bytes.Index(neg, serial)
		if i < 0 || j < 0 {
			t.Fatal("certificate not found in the SignedData")
		}
		neg[j] |= 0x80
	}
	bad := bytes.Clone(der)
	copy(bad[i:], neg)
	_, err := Parse(bad)
	if !errors.Is(err, ErrNegativeSerial) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("Parse: %v, want ErrNegativeSerial", err)
	}
}
