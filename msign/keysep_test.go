package msign

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/semnat/semnat/testcerts"
)

// TestAuthenticationCertificateSignsNoDocument: MSign refuses a token's
// authentication certificate (digitalSignature without nonRepudiation,
// EKU clientAuth) as the signer of documents; the same person's signing
// certificate is accepted.
func TestAuthenticationCertificateSignsNoDocument(t *testing.T) {
	pki := testcerts.New(t)
	chain := base64.StdEncoding.EncodeToString(pki.TokenCA.Cert.Raw)
	auth := pki.MustGet("person-p256" + testcerts.AuthSuffix)
	if _, _, err := parseTokenCert(base64.StdEncoding.EncodeToString(auth.Cert.Raw), []string{chain}); err == nil ||
		!strings.Contains(err.Error(), "authentication certificate") {
		t.Fatalf("authentication certificate as a document signer: %v", err)
	}
	sign := pki.MustGet("person-p256")
	if cert, _, err := parseTokenCert(base64.StdEncoding.EncodeToString(sign.Cert.Raw), []string{chain}); err != nil || cert.Subject.String() != sign.Cert.Subject.String() {
		t.Fatalf("signing certificate: %v", err)
	}
}
