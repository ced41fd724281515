package pades

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

// TestVerifyRevokedTSA: a signature timestamp from a TSA whose certificate
// was revoked before the token's time proves nothing (checked online).
func TestVerifyRevokedTSA(t *testing.T) {
	l, stop, err := startLivePKI() // private: this test revokes the TSA
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	pki, base, svc := l.pki, l.base, l.svc

	e := pki.MustGet("person-p256")
	hc := &http.Client{Timeout: 10 * time.Second}
	opts := &Options{Level: LevelBT, Timestamper: TSA{Client: &tsa.Client{URL: base + testcerts.TSAPath, HTTPClient: hc}}}
	in := corpus(t, "minimal-table-pdf17.pdf")
	good, _, err := signBytes(t, in, NewKeySigner(e.Key, e.Cert, e.Chain), opts)
	if err != nil {
		t.Fatal(err)
	}
	vopts := &VerifyOptions{Roots: pki.RootPool(), Online: true}
	if rep := verifyBytes(t, good, vopts); rep.Signatures[0].Indication != TotalPassed || !rep.Signatures[0].Timestamp.Valid {
		t.Fatalf("before revocation:\n%s", dumpReport(rep))
	}
	// Revoke the TSA's certificate an hour ago, then timestamp again.
	ts := pki.MustGet("tsa")
	if err := svc.Registry.Revoke(ts.Issuer.Cert, ts.Cert.SerialNumber, time.Now().Add(-time.Hour), testcerts.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	bad, _, err := signBytes(t, in, NewKeySigner(e.Key, e.Cert, e.Chain), opts)
	if err != nil {
		t.Fatal(err)
	}
	rep := verifyBytes(t, bad, vopts)
	sig := rep.Signatures[0]
	if sig.Timestamp == nil || sig.Timestamp.Valid || !strings.Contains(sig.Timestamp.Reason, "revoked") {
		t.Fatalf("timestamp of a revoked TSA accepted:\n%s", dumpReport(rep))
	}
	if sig.Indication == TotalPassed {
		t.Fatalf("signature passed on a revoked TSA's timestamp:\n%s", dumpReport(rep))
	}
}
