package pades

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/testcerts"
)

func verifyBytes(t testing.TB, data []byte, opts *VerifyOptions) *Report {
	t.Helper()
	rep, err := Verify(context.Background(), bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func dumpReport(rep *Report) string {
	var sb strings.Builder
	rep.WriteText(&sb, false)
	return sb.String()
}

// wantSig checks the indication of signature i (and of the document).
func wantSig(t *testing.T, rep *Report, i int, ind Indication, sub SubIndication) {
	t.Helper()
	if len(rep.Signatures) <= i {
		t.Fatalf("want signature %d, report has %d:\n%s", i, len(rep.Signatures), dumpReport(rep))
	}
	s := rep.Signatures[i]
	if s.Indication != ind || s.SubIndication != sub {
		t.Fatalf("signature %d: got %s/%s, want %s/%s\n%s", i, s.Indication, s.SubIndication, ind, sub, dumpReport(rep))
	}
}

func offlineOpts(pki *testcerts.PKI) *VerifyOptions {
	return &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip}
}

// TestVerifyOwnBB verifies our B-B outputs over several corpus layouts
// (classic table, xref stream, object streams, existing empty field,
// linearized, many pages).
func TestVerifyOwnBB(t *testing.T) {
	pki := testcerts.New(t)
	files := []string{"minimal-table-pdf17.pdf", "pdf17-xrefstream-objstm.pdf", "emptysig-1field-table.pdf",
		"linearized-xrefstream-30pages.pdf", "mixed-xref-stream-then-table-update.pdf", "pdf20-via-incremental-save.pdf"}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			out, _, err := signBytes(t, corpus(t, name), entitySigner(pki, "person-p256"), &Options{Reason: "Aprobat"})
			if err != nil {
				t.Fatal(err)
			}
			rep := verifyBytes(t, out, offlineOpts(pki))
			wantSig(t, rep, 0, TotalPassed, "")
			s := rep.Signatures[0]
			if rep.Indication != TotalPassed || s.Level != "B-B" || !s.CoversWholeDoc || s.Signer == nil || s.Signer.IDNP == "" ||
				s.Reason != "Aprobat" || s.ClaimedSigningTime == nil || s.Checks.Revocation != CheckSkipped {
				t.Fatalf("unexpected report:\n%s", dumpReport(rep))
			}
			// Revocation auto, offline, no embedded data: TRY_LATER.
			rep = verifyBytes(t, out, &VerifyOptions{Roots: pki.RootPool()})
			wantSig(t, rep, 0, Indeterminate, TryLater)
			// No trust anchors.
			rep = verifyBytes(t, out, &VerifyOptions{Revocation: RevocationSkip})
			wantSig(t, rep, 0, Indeterminate, NoCertificateChainFound)
		})
	}
}

// TestVerifyMultiAndCertified: two approval signatures, and a certified
// (P=2) document signed again; both stay valid.
func TestVerifyMultiAndCertified(t *testing.T) {
	pki := testcerts.New(t)
	in := corpus(t, "emptysig-2fields-pdf20-tagged.pdf")
	one, _, err := signBytes(t, in, entitySigner(pki, "person-rsa2048"), &Options{Certify: 2})
	if err != nil {
		t.Fatal(err)
	}
	two, _, err := signBytes(t, one, entitySigner(pki, "person-p384"), &Options{Visible: nil})
	if err != nil {
		t.Fatal(err)
	}
	three, _, err := signBytes(t, two, entitySigner(pki, "seal"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := verifyBytes(t, three, offlineOpts(pki))
	if rep.Indication != TotalPassed || len(rep.Signatures) != 3 || rep.DocMDP != 2 {
		t.Fatalf("got:\n%s", dumpReport(rep))
	}
	if rep.Signatures[0].CoversWholeDoc || len(rep.Signatures[0].Changes) == 0 {
		t.Fatalf("the first signature must list later changes:\n%s", dumpReport(rep))
	}
	if rep.Signatures[2].Signer.IDNO == "" {
		t.Errorf("seal IDNO missing:\n%s", dumpReport(rep))
	}
	// A visible signature after a certification, signed in the revision
	// that adds it, is signing; it could hide content (sneaky signature),
	// so it is listed as a warning with its page and rectangle.
	vis, _, err := signBytes(t, one, entitySigner(pki, "person-p384"), &Options{NewField: true, Visible: &Visible{Page: 1, Rect: [4]float64{50, 50, 250, 120}}})
	if err != nil {
		t.Fatal(err)
	}
	rep = verifyBytes(t, vis, offlineOpts(pki))
	wantSig(t, rep, 0, TotalPassed, "")
	wantSig(t, rep, 1, TotalPassed, "")
	if w := strings.Join(rep.Signatures[0].Warnings, "\n"); !strings.Contains(w, "page 1, rectangle [50 50 250 120]") {
		t.Fatalf("no warning names the visible signature:\n%s", dumpReport(rep))
	}
	rep = verifyBytes(t, vis, &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip,
		Policy: Policy{AllowVisibleSignatureAfterCertification: true}})
	wantSig(t, rep, 0, TotalPassed, "")
}

// TestVerifyBadCertificates: expired, untrusted, wrong key usage.
func TestVerifyBadCertificates(t *testing.T) {
	pki := testcerts.New(t)
	in := corpus(t, "minimal-table-pdf17.pdf")
	for _, c := range []struct {
		entity string
		sub    SubIndication
	}{
		{"expired", OutOfBoundsNoPOE},
		{"notyetvalid", OutOfBoundsNoPOE},
		{"untrusted", NoCertificateChainFound},
		{"badusage", ChainConstraintsFailure},
	} {
		t.Run(c.entity, func(t *testing.T) {
			out, _, err := signBytes(t, in, entitySigner(pki, c.entity), nil)
			if err != nil {
				// The verifier's negative check needs the signed file: a
				// signer that refuses the certificate must not hide it.
				t.Fatalf("the signer refuses %s: %v", c.entity, err)
			}
			rep := verifyBytes(t, out, offlineOpts(pki))
			wantSig(t, rep, 0, Indeterminate, c.sub)
		})
	}
}

// TestVerifyLevelsLive signs at B-T, B-LT and B-LTA against live TSA/OCSP
// servers, then verifies offline (embedded revocation) and online.
func TestVerifyLevelsLive(t *testing.T) {
	l := newLivePKI(t)
	in := corpus(t, "pdf14-table.pdf")
	for _, lvl := range []Level{LevelBT, LevelBLT, LevelBLTA} {
		t.Run(lvl.String(), func(t *testing.T) {
			e := l.pki.MustGet("person-rsa2048")
			out, _, err := signBytes(t, in, NewKeySigner(e.Key, e.Cert, e.Chain), l.options(lvl))
			if err != nil {
				t.Fatal(err)
			}
			offline := verifyBytes(t, out, &VerifyOptions{Roots: l.pki.RootPool()})
			online := verifyBytes(t, out, &VerifyOptions{Roots: l.pki.RootPool(), Online: true, HTTPClient: &http.Client{Timeout: 10 * time.Second}})
			switch lvl {
			case LevelBT:
				wantSig(t, offline, 0, Indeterminate, TryLater)
				wantSig(t, online, 0, TotalPassed, "")
			default:
				wantSig(t, offline, 0, TotalPassed, "")
				wantSig(t, online, 0, TotalPassed, "")
			}
			s := online.Signatures[0]
			if s.Level != lvl.String() || s.Timestamp == nil || !s.Timestamp.Valid || s.Revocation == nil || s.Revocation.Status != "good" {
				t.Fatalf("level %s:\n%s", lvl, dumpReport(online))
			}
			// Where the data came from: the responder for the online B-T
			// check, the DSS for B-LT and B-LTA; the timestamp is the
			// signature's, its TSA's status from the same place.
			wantOrigin := map[Level]string{LevelBT: OriginOnline, LevelBLT: OriginDSS, LevelBLTA: OriginDSS}[lvl]
			from := online
			if lvl == LevelBT {
				if r := offline.Signatures[0].Revocation; r == nil || r.Origin != OriginNone {
					t.Fatalf("offline B-T revocation %+v", r)
				}
			} else {
				from = offline
			}
			if s := from.Signatures[0]; s.Revocation.Origin != wantOrigin || s.Timestamp.Origin != TimestampInSignature ||
				s.Timestamp.Revocation == nil || s.Timestamp.Revocation.Origin != wantOrigin {
				t.Fatalf("origins: revocation %+v, timestamp %+v (%+v), want %s", s.Revocation, s.Timestamp, s.Timestamp.Revocation, wantOrigin)
			}
			if lvl == LevelBLTA {
				if ts := offline.Signatures[len(offline.Signatures)-1].Timestamp; ts == nil || ts.Origin != TimestampInDocument {
					t.Fatalf("document timestamp origin %+v", ts)
				}
				if len(offline.Signatures) != 2 || offline.Signatures[1].Kind != "timestamp" {
					t.Fatalf("document timestamp missing:\n%s", dumpReport(offline))
				}
				wantSig(t, offline, 1, TotalPassed, "")
			}
		})
	}
	// A revoked signer: B-B without a timestamp cannot be placed before the
	// revocation (REVOKED_NO_POE); B-T proves it was made after: REVOKED.
	e := l.pki.MustGet("revoked")
	bb, _, err := signBytes(t, in, NewKeySigner(e.Key, e.Cert, e.Chain), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := verifyBytes(t, bb, &VerifyOptions{Roots: l.pki.RootPool(), Online: true})
	wantSig(t, rep, 0, Indeterminate, RevokedNoPOE)
	o := l.options(LevelBT)
	bt, _, err := signBytes(t, in, NewKeySigner(e.Key, e.Cert, e.Chain), o)
	if err != nil {
		t.Fatal(err)
	}
	rep = verifyBytes(t, bt, &VerifyOptions{Roots: l.pki.RootPool(), Online: true})
	wantSig(t, rep, 0, TotalFailed, Revoked)
}
