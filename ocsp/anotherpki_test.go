package ocsp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/testcerts"
)

// TestDelegateOfAnotherPKI: a responder certificate of another test PKI
// whose CA has the same name is refused with words that say so.
func TestDelegateOfAnotherPKI(t *testing.T) {
	ours := testcerts.New(t)
	other, err := testcerts.Generate(testcerts.Options{BaseURL: ours.BaseURL})
	if err != nil {
		t.Fatal(err)
	}
	err = authorizedDelegate(other.MustGet("ocsp-token").Cert, ours.MustGet("token-ca").Cert, time.Now(), nil)
	if !errors.Is(err, ErrUnauthorizedResponder) || !strings.Contains(err.Error(), "this responder answers for another PKI") {
		t.Fatalf("another PKI's responder: %v", err)
	}
	if err := authorizedDelegate(ours.MustGet("ocsp-token").Cert, ours.MustGet("token-ca").Cert, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
}
