package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/semnat/semnat/testcerts"
)

// TestNegativeSerial: a certificate whose serial number is negative parses
// with go.mod's godebug x509negativeserial=1, in a SignedData too; without
// the setting, Parse and ParseCertificate say so with ErrNegativeSerial,
// whose message names the setting.
func TestNegativeSerial(t *testing.T) {
	pki := testcerts.New(t)
	e := pki.MustGet("person-p256")
	neg, err := testcerts.WithNegativeSerial(e.Cert, e.Issuer.Key)
	if err != nil {
		t.Fatal(err)
	}
	if NegativeSerial(e.Cert.Raw) {
		t.Error("NegativeSerial of a positive serial")
	}
	if !NegativeSerial(neg) {
		t.Fatal("NegativeSerial missed a negative serial")
	}
	c, err := ParseCertificate(neg)
	if err != nil {
		t.Fatalf("with go.mod's godebug: %v", err)
	}
	if c.SerialNumber.Sign() >= 0 {
		t.Fatalf("serial %v", c.SerialNumber)
	}
	if err := c.CheckSignatureFrom(e.Issuer.Cert); err != nil {
		t.Fatalf("the re-signed certificate does not verify: %v", err)
	}
	// A SignedData carrying it (same length: patched in place).
	der := signContent(t, e, crypto.SHA256, []byte("content"))
	i := bytes.Index(der, e.Cert.Raw)
	if i < 0 {
		t.Fatal("certificate not found in the SignedData")
	}
	// ECDSA signatures vary in length: sign again until the certificate
	// fits in place of the original.
	for i := 0; len(neg) != len(e.Cert.Raw) && i < 64; i++ {
		if neg, err = testcerts.WithNegativeSerial(e.Cert, e.Issuer.Key); err != nil {
			t.Fatal(err)
		}
	}
	if len(neg) != len(e.Cert.Raw) {
		t.Fatalf("the re-signed certificate is %d bytes, the original %d: it cannot be patched in place", len(neg), len(e.Cert.Raw))
	}
	bad := bytes.Clone(der)
	copy(bad[i:], neg)
	if _, err := Parse(bad); err != nil {
		t.Fatalf("Parse with go.mod's godebug: %v", err)
	}
	t.Run("without-godebug", func(t *testing.T) {
		t.Setenv("GODEBUG", "x509negativeserial=0")
		if _, err := x509.ParseCertificate(neg); err == nil {
			t.Fatal("GODEBUG x509negativeserial=0 not honoured at run time: the check without the setting cannot run")
		}
		_, err := ParseCertificate(neg)
		if !errors.Is(err, ErrNegativeSerial) || !strings.Contains(err.Error(), "x509negativeserial=1") {
			t.Fatalf("ParseCertificate: %v", err)
		}
		_, err = Parse(bad)
		if !errors.Is(err, ErrNegativeSerial) || !errors.Is(err, ErrMalformed) {
			t.Fatalf("Parse: %v, want ErrNegativeSerial", err)
		}
	})
}
