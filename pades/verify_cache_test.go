package pades

import (
	"bytes"
	"testing"
	"time"

	"github.com/semnat/semnat/testcerts"
)

// TestVerifyCacheKeepsVerdicts: with a VerifyCache, reports are the same as
// without, also when the validation time moves outside a cached chain's
// validity or the signer is untrusted.
func TestVerifyCacheKeepsVerdicts(t *testing.T) {
	pki := testcerts.New(t)
	in := corpus(t, "pdf17-xrefstream-objstm.pdf")
	good, _, err := signBytes(t, in, entitySigner(pki, "person-rsa2048"), nil)
	if err != nil {
		t.Fatal(err)
	}
	untrusted, _, err := signBytes(t, in, entitySigner(pki, "untrusted"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cache := NewVerifyCache(0)
	for _, tc := range []struct {
		name string
		doc  []byte
		at   time.Time
	}{
		{"good", good, time.Time{}},
		{"good again (cached)", good, time.Time{}},
		{"good in 20 years", good, time.Now().AddDate(20, 0, 0)},
		{"untrusted", untrusted, time.Time{}},
		{"untrusted again", untrusted, time.Time{}},
	} {
		plain := &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip, At: tc.at}
		cached := *plain
		cached.Cache = cache
		want := verifyBytes(t, tc.doc, plain).Signatures[0]
		got := verifyBytes(t, tc.doc, &cached).Signatures[0]
		if got.Indication != want.Indication || got.SubIndication != want.SubIndication {
			t.Errorf("%s: cached %s/%s, uncached %s/%s", tc.name, got.Indication, got.SubIndication, want.Indication, want.SubIndication)
		}
	}
	if len(cache.chains) == 0 {
		t.Error("nothing was cached")
	}
}

// TestVerifyCacheStillHashes: a document whose signed bytes changed after a
// cached verification of the original (same /Contents, so every cached
// CMS, certificate and signature result applies) still fails: the digest is
// computed on every call.
func TestVerifyCacheStillHashes(t *testing.T) {
	pki := testcerts.New(t)
	in := corpus(t, "pdf17-xrefstream-objstm.pdf")
	good, _, err := signBytes(t, in, entitySigner(pki, "person-p256"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cache := NewVerifyCache(0)
	opts := &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip, Cache: cache}
	if rep := verifyBytes(t, good, opts); rep.Indication != TotalPassed {
		t.Fatalf("original: %s", dumpReport(rep))
	}
	if len(cache.memo) == 0 {
		t.Fatal("nothing was remembered")
	}
	// Change one byte of the signed content (in the first range, away from
	// the header): a space that does not change the PDF structure.
	bad := bytes.Clone(good)
	i := bytes.Index(bad[100:], []byte(" ")) + 100
	bad[i] = '\n'
	rep := verifyBytes(t, bad, opts)
	if len(rep.Signatures) != 1 || rep.Signatures[0].Indication != TotalFailed || rep.Signatures[0].SubIndication != HashFailure {
		t.Fatalf("modified document with a warm cache:\n%s", dumpReport(rep))
	}
}
