package pades

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/semnat/semnat/testcerts"
)

// TestVerifyNegativeSerial: a signature whose embedded signer certificate
// has a negative serial number (RFC 5280 forbids it; crypto/x509 refuses
// it) is INDETERMINATE/NO_SIGNING_CERTIFICATE_FOUND with a reason that
// says so, not a panic nor a generic parse error.
func TestVerifyNegativeSerial(t *testing.T) {
	pki := testcerts.New(t)
	e := pki.MustGet("person-p256")
	signed, _, err := signBytes(t, corpus(t, "pdf17-xrefstream-objstm.pdf"), entitySigner(pki, "person-p256"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The same certificate with the sign bit of its serial set, written
	// over the original in the /Contents hex string (same length, so the
	// ByteRange and the digest are unchanged).
	neg := bytes.Clone(e.Cert.Raw)
	serial := e.Cert.SerialNumber.Bytes()
	if serial[0]&0x80 != 0 {
		serial = append([]byte{0}, serial...) // DER: a leading zero keeps it positive
	}
	j := bytes.Index(neg, append([]byte{0x02, byte(len(serial))}, serial...))
	if j < 0 {
		t.Fatal("serial not found in the certificate")
	}
	neg[j+2] |= 0x80
	bad := bytes.Clone(signed)
	n := 0
	for _, enc := range []func([]byte) string{hex.EncodeToString, func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }} {
		old, repl := []byte(enc(e.Cert.Raw)), []byte(enc(neg))
		n += bytes.Count(bad, old)
		bad = bytes.ReplaceAll(bad, old, repl)
	}
	if n == 0 {
		t.Fatal("the signer certificate is not in /Contents")
	}
	rep := verifyBytes(t, bad, &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip})
	if len(rep.Signatures) != 1 {
		t.Fatalf("want one signature:\n%s", dumpReport(rep))
	}
	s := rep.Signatures[0]
	if s.Indication != Indeterminate || s.SubIndication != NoSigningCertificateFound || len(s.Reasons) == 0 || !strings.Contains(s.Reasons[0], "negative serial number") {
		t.Fatalf("got %s/%s %q:\n%s", s.Indication, s.SubIndication, s.Reasons, dumpReport(rep))
	}
	if rep.Indication != Indeterminate {
		t.Errorf("document %s, want INDETERMINATE", rep.Indication)
	}
}
