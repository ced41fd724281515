package pades

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/semnat/semnat/pades/pdf"
)

// TestSignCorpusVerifyAllLevels: `semnat verify` passes everything `semnat
// sign` writes. Every supported corpus file is signed at B-B, B-T, B-LT and
// B-LTA, invisible and visible (in-process TSA, OCSP and CRL servers), and
// each output is verified by our verifier (our signature and document
// timestamp TOTAL-PASSED, earlier signatures as they were) and by pdfsig.
// Files run in parallel: most of the time is pdfsig's.
func TestSignCorpusVerifyAllLevels(t *testing.T) {
	l := newLivePKI(t)
	e := l.pki.MustGet("person-p256")
	signer := NewKeySigner(e.Key, e.Cert, e.Chain)
	db := trustDB(t, l.pki)
	for _, row := range readManifest(t) {
		name := row["file"]
		if unsupportedReason(row) != nil {
			continue // TestSignCorpusBB checks the refusals
		}
		// Encrypted files: opened with the password they are signed with
		// (the owner's where /P forbids signing without it).
		pw := []byte(signPassword(row))
		pdfOpts := &pdf.Options{Password: pw}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := corpus(t, name)
			dir := t.TempDir()
			before := verifyBytes(t, in, &VerifyOptions{Roots: l.pki.RootPool(), Revocation: RevocationSkip, PDF: pdfOpts})
			pdfsigBefore := pdfsigEntries(t, db, filepath.Join(corpusDir, name), pdfsigArgs(row)...)
			for _, lvl := range []Level{LevelBB, LevelBT, LevelBLT, LevelBLTA} {
				if _, ok := fillOnly[name]; ok && lvl == LevelBLTA {
					continue // its /P permits filling the one field, not the document timestamp's (TestSignCorpusBB checks the refusal)
				}
				for _, visible := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/visible=%v", lvl, visible), func(t *testing.T) {
						opts := l.options(lvl)
						opts.Password = pw
						if visible {
							opts.Visible = &Visible{Page: 1, Rect: stampWithin(t, in, pdfOpts)}
						}
						out, res, err := signBytes(t, in, signer, opts)
						if err != nil {
							t.Fatal(err)
						}
						checkOwnOutput(t, before, out, res, lvl, l, pdfOpts)
						file := filepath.Join(dir, fmt.Sprintf("%s-%v.pdf", lvl, visible))
						if err := os.WriteFile(file, out, 0o644); err != nil {
							t.Fatal(err)
						}
						checkPdfsigAgainst(t, db, pdfsigBefore, file, res.Field, lvl == LevelBLTA, pdfsigArgs(row)...)
					})
				}
			}
		})
	}
}

// checkOwnOutput verifies what we signed at level lvl: our signature (and
// document timestamp) TOTAL-PASSED, the signatures of the input as they
// were (before).
func checkOwnOutput(t *testing.T, before *Report, out []byte, res *Result, lvl Level, l *livePKI, pdfOpts *pdf.Options) {
	t.Helper()
	vo := &VerifyOptions{Roots: l.pki.RootPool(), Revocation: RevocationSkip, PDF: pdfOpts}
	if lvl >= LevelBLT {
		vo.Revocation = RevocationAuto // from the DSS, offline
	}
	rep := verifyBytes(t, out, vo)
	added := 1
	if lvl == LevelBLTA {
		added = 2
	}
	if len(rep.Signatures) != len(before.Signatures)+added {
		t.Fatalf("%d signatures, want %d:\n%s", len(rep.Signatures), len(before.Signatures)+added, dumpReport(rep))
	}
	for _, s := range rep.Signatures {
		if s.Field == res.Field || (lvl == LevelBLTA && s.Kind == "timestamp" && s.Revision == rep.Revisions-1) {
			if s.Indication != TotalPassed {
				t.Fatalf("ours %q: %s/%s\n%s", s.Field, s.Indication, s.SubIndication, dumpReport(rep))
			}
			continue
		}
		for _, b := range before.Signatures {
			if b.Field == s.Field && (b.Indication != s.Indication || b.SubIndication != s.SubIndication) {
				t.Errorf("earlier %q: %s/%s, was %s/%s\n%s", s.Field, s.Indication, s.SubIndication, b.Indication, b.SubIndication, dumpReport(rep))
			}
		}
	}
}

// stampWithin is a stamp rectangle inside page 1's crop box: 260×70 pt
// 10 pt from its lower-left corner, smaller on a smaller page.
func stampWithin(t *testing.T, in []byte, opts *pdf.Options) [4]float64 {
	t.Helper()
	r, err := pdf.Open(bytes.NewReader(in), int64(len(in)), opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Page(0)
	if err != nil {
		t.Fatal(err)
	}
	b := p.CropBox
	w, h := min(260, b.URX-b.LLX-20), min(70, b.URY-b.LLY-20)
	return [4]float64{b.LLX + 10, b.LLY + 10, b.LLX + 10 + w, b.LLY + 10 + h}
}
