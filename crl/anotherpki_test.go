package crl

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/testcerts"
)

// TestVerifyAnotherPKI: a CRL of another test PKI whose CA has the same
// name (two PKIs generated with the same base URL) is refused with words
// that say so, not a bare "CRL signature invalid".
func TestVerifyAnotherPKI(t *testing.T) {
	ours := testcerts.New(t)
	other, err := testcerts.Generate(testcerts.Options{BaseURL: ours.BaseURL})
	if err != nil {
		t.Fatal(err)
	}
	der, err := other.CRL(other.MustGet("token-ca"), 1, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	list, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	err = Verify(list, ours.MustGet("token-ca").Cert, CheckOptions{})
	if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "this responder answers for another PKI") {
		t.Fatalf("another PKI's CRL: %v", err)
	}
	// Its own CRL still verifies.
	own, _ := ours.CRL(ours.MustGet("token-ca"), 1, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	list, _ = x509.ParseRevocationList(own)
	if err := Verify(list, ours.MustGet("token-ca").Cert, CheckOptions{}); err != nil {
		t.Fatal(err)
	}
}
