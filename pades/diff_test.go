package pades

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/semnat/semnat/cms"
	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/testcerts"
)

// Samples for the revision diff (issue 12): each attack next to its benign
// twin, with the exact indication expected. They are built at test time
// from our own signed output, edited by hand and, where the edit touches
// signed bytes, signed again with resign.

// resign recomputes the last signature of data after its signed revision
// was edited by hand: the last /ByteRange is set to cover the whole file
// but the last /Contents value, and a new CMS signature by e goes in.
func resign(t *testing.T, e *testcerts.Entity, data []byte) []byte {
	t.Helper()
	out := bytes.Clone(data)
	brS, brE, cS, cE := lastSigDict(t, out)
	br := fmt.Sprintf("/ByteRange [0 %d %d %d]", cS, cE, len(out)-cE)
	if len(br) > brE-brS {
		t.Fatalf("ByteRange %s does not fit in %d bytes", br, brE-brS)
	}
	copy(out[brS:], pad(br, brE-brS))
	h := sha256.New()
	h.Write(out[:cS])
	h.Write(out[cE:])
	sd, err := cms.Sign(rand.Reader, e.Key, cms.Params{ContentDigest: h.Sum(nil), Hash: crypto.SHA256, Certificate: e.Cert, Chain: e.Chain})
	if err != nil {
		t.Fatal(err)
	}
	der, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	hx := hex.EncodeToString(der)
	if len(hx) > cE-cS-2 {
		t.Fatalf("CMS of %d bytes does not fit", len(der))
	}
	copy(out[cS+1:], hx)
	for i := cS + 1 + len(hx); i < cE-1; i++ {
		out[i] = '0'
	}
	return out
}

// objOffset returns the offset of the last "N 0 obj" in data[:limit].
func objOffset(t *testing.T, data []byte, num, limit int) int64 {
	t.Helper()
	i := bytes.LastIndex(data[:limit], []byte(fmt.Sprintf("\n%d 0 obj", num)))
	if i < 0 {
		t.Fatalf("object %d not found", num)
	}
	return int64(i + 1)
}

func hybridize(t *testing.T, data []byte, num int, es ...samplepdf.XrefEntry) []byte {
	t.Helper()
	out, err := samplepdf.Hybridize(data, num, es)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantAltered checks signature i after a later revision that alters what
// the pages show (ChangePolicy): TOTAL-FAILED/FORMAT_FAILURE after a
// certification, INDETERMINATE/SIG_CONSTRAINTS_FAILURE after an approval
// signature, whose own bytes are intact.
func wantAltered(t *testing.T, rep *Report, i int, certified bool) {
	t.Helper()
	if certified {
		wantSig(t, rep, i, TotalFailed, FormatFailure)
		return
	}
	wantSig(t, rep, i, Indeterminate, SigConstraintsFailure)
	if s := rep.Signatures[i]; s.Checks.Integrity != CheckPassed || s.Checks.Signature != CheckPassed || s.Checks.Modifications != CheckIndeterminate {
		t.Fatalf("signature %d: checks %+v", i, s.Checks)
	}
}

func sizeOf(t *testing.T, data []byte) int {
	t.Helper()
	r, err := pdf.Open(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return int(r.MaxObjectNumber()) + 1
}

// TestDiffHybridPrecedence: ISO 32000-1 7.5.8.4, the table of a hybrid
// section wins over its /XRefStm stream, in the reader and in the diff.
func TestDiffHybridPrecedence(t *testing.T) {
	pki := testcerts.New(t)
	e := pki.MustGet("person-p256")
	doc := handPDF("BT /F1 24 Tf 72 720 Td (Plata: 100 MDL) Tj ET")
	signed := signedHand(t, pki, doc, nil)
	t.Run("benign-signed-hybrid-revision", func(t *testing.T) {
		// The signing revision's table lists the new catalog (with the
		// form); its /XRefStm lists the original catalog. qpdf and
		// poppler resolve the new one: the signature is found and valid.
		hy := hybridize(t, signed, sizeOf(t, signed), samplepdf.XrefEntry{Num: 1, Type: 1, Offset: objOffset(t, signed, 1, len(doc))})
		hy = resign(t, e, hy)
		rep := verifyBytes(t, hy, offlineOpts(pki))
		wantSig(t, rep, 0, TotalPassed, "")
		if rep.Indication != TotalPassed {
			t.Fatalf("document %s", rep.Indication)
		}
		// The oracles read the table first too: qpdf finds no damage,
		// pdfsig finds the signature valid.
		file := writeTemp(t, hy)
		qpdfCheck(t, file, "")
		if sigs, _ := pdfsigResult(t, trustDB(t, pki), file); len(sigs) != 1 || sigs[0] != "Signature is Valid." {
			t.Fatalf("pdfsig: %q", sigs)
		}
	})
	t.Run("attack-stream-hides-table-entry", func(t *testing.T) {
		// A later hybrid update: the table points the page content (4)
		// at new text, the /XRefStm at the signed body. Viewers follow
		// the table; so must the diff.
		upd := rawUpdate(t, signed, map[int]string{4: "<< /Length 46 >>\nstream\nBT /F1 24 Tf 72 720 Td (Plata: 9 MDL)   Tj ET\nendstream"}, "")
		upd = hybridize(t, upd, sizeOf(t, upd), samplepdf.XrefEntry{Num: 4, Type: 1, Offset: objOffset(t, signed, 4, len(doc))})
		rep := verifyBytes(t, upd, offlineOpts(pki))
		wantAltered(t, rep, 0, false)
		// What qpdf shows is the table's body.
		out, err := exec.Command(requireTool(t, "qpdf"), "--show-object=4", "--filtered-stream-data", writeTemp(t, upd)).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("Plata: 9 MDL")) {
			t.Fatalf("qpdf shows: %v\n%s", err, out)
		}
	})
}

// xrefOnly appends an update that writes no object, only an xref section
// of the given form pointing object numbers at offsets already in the file.
func xrefOnly(t *testing.T, data []byte, form pdf.XrefKind, offs map[int]int64) []byte {
	t.Helper()
	var es []samplepdf.XrefEntry
	for n, o := range offs {
		es = append(es, samplepdf.XrefEntry{Num: n, Type: 1, Offset: o})
	}
	size := sizeOf(t, data)
	switch form {
	case pdf.XrefTable:
		m := map[int]string{}
		for n, o := range offs {
			m[n] = "@" + fmt.Sprint(o)
		}
		return rawUpdate(t, data, m, "")
	case pdf.XrefStream:
		out, err := samplepdf.AppendXrefStream(data, size, es, "/Root 1 0 R")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return hybridize(t, rawUpdate(t, data, nil, ""), size, es...)
}

// TestDiffXrefRedirection: the signed revision holds a second body that no
// xref entry uses; a later update writes no object, only an xref section
// (table, stream or hybrid) that points an object number at that body.
// Every object whose xref entry changed is compared, wherever its body is.
func TestDiffXrefRedirection(t *testing.T) {
	pki := testcerts.New(t)
	real := "BT /F1 24 Tf 72 720 Td (Plata: 100 MDL) Tj ET"
	fake := "<< /Length 44 >>\nstream\nBT /F1 24 Tf 72 720 Td (Plata: 9 MDL)  Tj ET\nendstream"
	same := fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(real)+1, real)
	offsets := func(doc []byte, nums ...int) map[int]int {
		m := map[int]int{}
		for _, n := range nums {
			m[n] = int(objOffset(t, doc, n, len(doc)))
		}
		return m
	}
	// redirect: a second "4 0 obj" (fake, or an identical copy for the
	// benign twin) after the first; the xref keeps the first.
	redirectDoc := func(body string) ([]byte, int64) {
		doc := handPDF(real, body)
		doc = bytes.Replace(doc, []byte("\n6 0 obj"), []byte("\n4 0 obj"), 1)
		second := bytes.LastIndex(doc, []byte("\n4 0 obj")) + 1
		first := bytes.Index(doc, []byte("\n4 0 obj")) + 1
		offs := offsets(doc, 1, 2, 3, 5)
		offs[4] = first
		return rewriteXref(doc, offs), int64(second)
	}
	// revive: the page draws 4 then 40; 40 is in the file but in no xref
	// section (the reference reads as null when signed).
	reviveDoc := func(pageRefs string) ([]byte, int64) {
		doc := handPDF(real, "<< /Length 60 >>\nstream\n1 1 1 rg 0 0 595 842 re f BT /F1 24 Tf 72 700 Td (Cover) Tj ET\nendstream")
		doc = bytes.Replace(doc, []byte("\n6 0 obj"), []byte("\n40 0 obj"), 1)
		doc = bytes.Replace(doc, []byte("/Contents 4 0 R"), []byte("/Contents "+pageRefs), 1)
		hidden := objOffset(t, doc, 40, len(doc))
		return rewriteXref(doc, offsets(doc, 1, 2, 3, 4, 5)), hidden
	}
	for _, tc := range []struct {
		form    pdf.XrefKind
		certify int
	}{{pdf.XrefTable, 0}, {pdf.XrefStream, 0}, {pdf.XrefHybrid, 0}, {pdf.XrefTable, 2}, {pdf.XrefStream, 2}, {pdf.XrefHybrid, 2}} {
		form := tc.form
		t.Run(fmt.Sprintf("%s-P=%d", form, tc.certify), func(t *testing.T) {
			for _, c := range []struct {
				name string
				doc  func() ([]byte, int64)
				num  int
				want Indication
			}{
				{"redirect-attack", func() ([]byte, int64) { return redirectDoc(fake) }, 4, TotalFailed},
				{"redirect-benign-identical-copy", func() ([]byte, int64) { return redirectDoc(same) }, 4, TotalPassed},
				{"revive-attack-referenced", func() ([]byte, int64) { return reviveDoc("[4 0 R 40 0 R]") }, 40, TotalFailed},
				{"revive-benign-unreferenced", func() ([]byte, int64) { return reviveDoc("4 0 R") }, 40, TotalPassed},
			} {
				t.Run(c.name, func(t *testing.T) {
					doc, body := c.doc()
					signed := signedHand(t, pki, doc, &Options{Certify: tc.certify})
					rep := verifyBytes(t, xrefOnly(t, signed, form, map[int]int64{c.num: body}), offlineOpts(pki))
					if c.want == TotalFailed {
						wantAltered(t, rep, 0, tc.certify > 0)
					} else {
						wantSig(t, rep, 0, TotalPassed, "")
					}
				})
			}
		})
	}
}

// TestDiffRepairDuringAnalysis: an update whose xref entry for the page's
// content stream points at another object's body, past the end of the
// file, or at a body that does not parse. The reader would rescan the file
// and find the signed body: the verdict must be the one of a file damaged
// from the start, whether the diff or a lazy repair finds it.
func TestDiffRepairDuringAnalysis(t *testing.T) {
	pki := testcerts.New(t)
	doc := handPDF("BT /F1 24 Tf 72 720 Td (Plata: 100 MDL) Tj ET")
	signed := signedHand(t, pki, doc, nil)
	font := objOffset(t, signed, 5, len(doc))

	// Damaged from the start: the last startxref points nowhere.
	sx := bytes.LastIndex(signed, []byte("startxref\n")) + len("startxref\n")
	digits := bytes.IndexByte(signed[sx:], '\n')
	damaged := patch(signed, sx, strings.Repeat("9", digits))
	base := verifyBytes(t, damaged, offlineOpts(pki))
	wantSig(t, base, 0, TotalFailed, FormatFailure)

	broken := rawUpdate(t, signed, map[int]string{4: "<< /Length 12 >>\nstream\nBT ET\nendstream\n"}, "")
	at := bytes.LastIndex(broken, []byte("4 0 obj\n")) + len("4 0 obj\n")
	broken = patch(broken, at, "[ /Foo >>")
	// The same broken body in a revision that is not the last: read
	// through an older view, which never repairs.
	brokenEarlier := rawUpdate(t, broken, map[int]string{5: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}, "")
	for name, data := range map[string][]byte{
		"body-does-not-parse-in-an-earlier-revision": brokenEarlier,
		"entry-at-another-object":                    xrefOnly(t, signed, pdf.XrefTable, map[int]int64{4: font}),
		"entry-past-eof":                             xrefOnly(t, signed, pdf.XrefTable, map[int]int64{4: int64(len(signed) + 5000)}),
		"entry-in-stream-at-another-object":          xrefOnly(t, signed, pdf.XrefStream, map[int]int64{4: font}),
		"body-does-not-parse":                        broken,
	} {
		t.Run(name, func(t *testing.T) {
			rep := verifyBytes(t, data, offlineOpts(pki))
			wantSig(t, rep, 0, base.Signatures[0].Indication, base.Signatures[0].SubIndication)
			if rep.Indication != base.Indication || rep.SubIndication != base.SubIndication {
				t.Fatalf("document %s/%s, damaged from the start: %s/%s\n%s", rep.Indication, rep.SubIndication, base.Indication, base.SubIndication, dumpReport(rep))
			}
			if !strings.Contains(strings.Join(rep.Signatures[0].Reasons, "\n"), "object 4") {
				t.Errorf("no reason names object 4:\n%s", dumpReport(rep))
			}
		})
	}
}

// formPDF is handPDF with a text field "Suma" (merged field and widget 6,
// value 100) whose appearance is stream 7.
func formPDF(t *testing.T) []byte {
	t.Helper()
	return formPDFBytes()
}

func formPDFBytes() []byte {
	doc := handPDF("BT /F1 24 Tf 72 720 Td (Plata) Tj ET",
		"<< /FT /Tx /T (Suma) /V (100) /Type /Annot /Subtype /Widget /F 4 /Rect [72 600 272 630] /P 3 0 R /AP << /N 7 0 R >> /DA (/Helv 12 Tf 0 g) >>",
		apStream("100"))
	doc = bytes.Replace(doc, []byte("<< /Type /Catalog /Pages 2 0 R >>"), []byte("<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R] /DA (/Helv 12 Tf 0 g) >> >>"), 1)
	doc = bytes.Replace(doc, []byte("/Contents 4 0 R"), []byte("/Annots [6 0 R] /Contents 4 0 R"), 1)
	return fixXrefBytes(doc)
}

func apStream(text string) string {
	body := fmt.Sprintf("BT /Helv 12 Tf 2 10 Td (%s) Tj ET", text)
	return fmt.Sprintf("<< /Type /XObject /Subtype /Form /BBox [0 0 200 30] /Resources << /Font << /Helv 5 0 R >> >> /Length %d >>\nstream\n%s\nendstream", len(body), body)
}

func textField(value string, ap string) string {
	return fmt.Sprintf("<< /FT /Tx /T (Suma) /V (%s) /Type /Annot /Subtype /Widget /F 4 /Rect [72 600 272 630] /P 3 0 R /AP << /N %s >> /DA (/Helv 12 Tf 0 g) >>", value, ap)
}

// TestDiffCertifyFillApprove: a document certified with P=2 (and P=3) is
// filled in a later revision that rewrites the field's appearance stream
// in place, then approved with a visible signature in a new field:
// everything passes, with a warning naming the new signature's place. The
// twins change an appearance while the value stays the same.
func TestDiffCertifyFillApprove(t *testing.T) {
	pki := testcerts.New(t)
	doc := formPDF(t)
	for _, p := range []int{2, 3} {
		t.Run(fmt.Sprintf("P=%d", p), func(t *testing.T) {
			certified := signedHand(t, pki, doc, &Options{Certify: p})
			filled := rawUpdate(t, certified, map[int]string{6: textField("900", "7 0 R"), 7: apStream("900")}, "")
			rep := verifyBytes(t, filled, offlineOpts(pki))
			wantSig(t, rep, 0, TotalPassed, "")
			approved, _, err := signBytes(t, filled, entitySigner(pki, "person-rsa2048"),
				&Options{Visible: &Visible{Page: 1, Rect: [4]float64{300, 50, 550, 120}}})
			if err != nil {
				t.Fatal(err)
			}
			rep = verifyBytes(t, approved, offlineOpts(pki))
			wantSig(t, rep, 0, TotalPassed, "")
			wantSig(t, rep, 1, TotalPassed, "")
			if rep.Indication != TotalPassed {
				t.Fatalf("document %s", rep.Indication)
			}
			if w := strings.Join(rep.Signatures[0].Warnings, "\n"); !strings.Contains(w, "page 1, rectangle [300 50 550 120]") {
				t.Fatalf("no warning names the new signature's page and rectangle:\n%s", dumpReport(rep))
			}
		})
	}
	// Appearance replaced, value unchanged: not form filling.
	for _, certify := range []int{2, 0} {
		signed := signedHand(t, pki, doc, &Options{Certify: certify})
		for name, objs := range map[string]map[int]string{
			"stream-rewritten-in-place": {7: apStream("900")},
			"new-ap-dictionary":         {6: textField("100", "60 0 R"), 60: apStream("900")},
		} {
			t.Run(fmt.Sprintf("%s-P=%d", name, certify), func(t *testing.T) {
				rep := verifyBytes(t, rawUpdate(t, signed, objs, ""), offlineOpts(pki))
				wantAltered(t, rep, 0, certify > 0)
				if !strings.Contains(rep.Signatures[0].Reasons[0], "value stays the same") {
					t.Fatalf("reason: %q", rep.Signatures[0].Reasons[0])
				}
			})
		}
	}
}

// TestReportCarriesPolicy: the JSON report says how changes were judged.
func TestReportCarriesPolicy(t *testing.T) {
	rep := verifyBytes(t, handPDF("BT ET"), nil)
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if p, _ := m["policy"].(string); p != ChangePolicy || !strings.Contains(p, "SIG_CONSTRAINTS_FAILURE") {
		t.Fatalf("policy %q", m["policy"])
	}
}

// TestDiffTrailerChanges: what a later trailer changes is judged like any
// other change.
func TestDiffTrailerChanges(t *testing.T) {
	pki := testcerts.New(t)
	doc := handPDF("BT /F1 24 Tf 72 720 Td (Plata: 100 MDL) Tj ET",
		"<< /Type /Pages /Kids [7 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 6 0 R /MediaBox [0 0 595 842] /Contents 8 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		"<< /Length 44 >>\nstream\nBT /F1 24 Tf 72 720 Td (Plata: 9 MDL)  Tj ET\nendstream")
	for _, certify := range []int{0, 2} {
		signed := signedHand(t, pki, doc, &Options{Certify: certify})
		r, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)), nil)
		if err != nil {
			t.Fatal(err)
		}
		cat, _ := r.Catalog()
		n := sizeOf(t, signed) + 5
		newRoot := func(c *pdf.Dict) []byte {
			b, err := pdf.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			upd := rawUpdate(t, signed, map[int]string{n: string(b)}, "")
			i := bytes.LastIndex(upd, []byte("/Root 1 0 R"))
			return patch(upd, i, fmt.Sprintf("/Root %d 0 R", n))
		}
		shadow := cat.Clone()
		shadow.Set("Pages", pdf.Ref{Num: 6})
		info := rawUpdate(t, signed, map[int]string{n: "<< /Producer (an editor) >>"}, fmt.Sprintf("/Info %d 0 R ", n))
		shrunk := rawUpdate(t, signed, nil, "")
		i := bytes.LastIndex(shrunk, []byte("/Size ")) + len("/Size ")
		digits := bytes.IndexByte(shrunk[i:], ' ')
		shrunk = patch(shrunk, i, pad("3", digits))
		t.Run(fmt.Sprintf("P=%d", certify), func(t *testing.T) {
			// A copy of the catalog under another number shows nothing new.
			rep := verifyBytes(t, newRoot(cat), offlineOpts(pki))
			if certify > 0 {
				wantSig(t, rep, 0, TotalFailed, FormatFailure)
			} else {
				wantSig(t, rep, 0, TotalPassed, "")
				if !strings.Contains(strings.Join(rep.Signatures[0].Warnings, "\n"), "points to another catalog") {
					t.Fatalf("no warning:\n%s", dumpReport(rep))
				}
			}
			// A new catalog that shows other pages.
			rep = verifyBytes(t, newRoot(shadow), offlineOpts(pki))
			wantAltered(t, rep, 0, certify > 0)
			// /Info is metadata.
			rep = verifyBytes(t, info, offlineOpts(pki))
			wantSig(t, rep, 0, TotalPassed, "")
			// /Size shrinks below the numbers in use.
			rep = verifyBytes(t, shrunk, offlineOpts(pki))
			wantAltered(t, rep, 0, certify > 0)
		})
	}
}

// TestDiffApprovalPolicy: after an approval signature, what shows nothing
// new is a warning, what alters the pages is INDETERMINATE; after a
// certification (P=2) the same changes are judged by DocMDP.
func TestDiffApprovalPolicy(t *testing.T) {
	pki := testcerts.New(t)
	doc := handPDF("BT /F1 24 Tf 72 720 Td (Plata: 100 MDL) Tj ET")
	page := "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> /Annots [%s] >>"
	for _, certify := range []int{0, 2} {
		signed := signedHand(t, pki, doc, &Options{Certify: certify})
		r, _ := pdf.Open(bytes.NewReader(signed), int64(len(signed)), nil)
		pg, _ := r.Page(0)
		n := sizeOf(t, signed) + 5
		withAnnot := func(annot string) []byte {
			annots, _ := mustResolve(r, pg.Dict.Get("Annots")).(pdf.Array)
			var list []string
			for _, a := range annots {
				list = append(list, a.(pdf.Ref).String())
			}
			list = append(list, fmt.Sprintf("%d 0 R", n))
			return rawUpdate(t, signed, map[int]string{n: annot, 3: fmt.Sprintf(page, strings.Join(list, " "))}, "")
		}
		for _, c := range []struct {
			name   string
			data   []byte
			passes bool // else altered
			warn   string
		}{
			{"pages-node-same-pages", rawUpdate(t, signed, map[int]string{2: "<< /Type /Pages /Kids [3 0 R] /Count 1 /ITXT (5.0.0) >>"}, ""), true, "same pages"},
			{"page-added", rawUpdate(t, signed, map[int]string{2: fmt.Sprintf("<< /Type /Pages /Kids [3 0 R %d 0 R] /Count 2 >>", n),
				n: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"}, ""), false, ""},
			{"annotation-that-draws", withAnnot("<< /Type /Annot /Subtype /FreeText /Rect [60 700 400 760] /Contents (Plata: 9 MDL) /DA (/Helv 24 Tf 0 g) >>"), certify == 3, ""},
			{"link-that-draws-nothing", withAnnot("<< /Type /Annot /Subtype /Link /Rect [60 700 400 760] /Border [0 0 0] /A << /S /URI /URI (https://example.org) >> >>"), certify == 0, "draws nothing"},
		} {
			t.Run(fmt.Sprintf("%s-P=%d", c.name, certify), func(t *testing.T) {
				rep := verifyBytes(t, c.data, offlineOpts(pki))
				if !c.passes {
					wantAltered(t, rep, 0, certify > 0)
					return
				}
				wantSig(t, rep, 0, TotalPassed, "")
				if w := strings.Join(rep.Signatures[0].Warnings, "\n"); certify == 0 && !strings.Contains(w, c.warn) {
					t.Fatalf("no warning %q:\n%s", c.warn, dumpReport(rep))
				}
			})
		}
	}
}

// TestDiffObjectStreamMembership: an xref-stream update that writes no
// object but moves an object into an object stream the signed revision
// already holds (unreferenced): the page (3), where a page with other
// content waits, or, the benign twin, the font (5), an identical copy.
func TestDiffObjectStreamMembership(t *testing.T) {
	pki := testcerts.New(t)
	real := "BT /F1 24 Tf 72 720 Td (Plata: 100 MDL) Tj ET"
	for _, c := range []struct {
		name string
		num  int
		body string
		want Indication
	}{
		{"attack-page-with-other-content", 3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 41 0 R /Resources << /Font << /F1 5 0 R >> >> >>", Indeterminate},
		{"benign-identical-font", 5, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", TotalPassed},
	} {
		t.Run(c.name, func(t *testing.T) {
			header := fmt.Sprintf("%d 0 ", c.num)
			body := header + c.body
			doc := handPDF(real,
				fmt.Sprintf("<< /Type /ObjStm /N 1 /First %d /Length %d >>\nstream\n%s\nendstream", len(header), len(body), body),
				"<< /Length 44 >>\nstream\nBT /F1 24 Tf 72 720 Td (Plata: 9 MDL)  Tj ET\nendstream")
			doc = bytes.Replace(doc, []byte("\n6 0 obj"), []byte("\n40 0 obj"), 1)
			doc = bytes.Replace(doc, []byte("\n7 0 obj"), []byte("\n41 0 obj"), 1)
			offs := map[int]int{}
			for _, n := range []int{1, 2, 3, 4, 5, 40, 41} {
				offs[n] = int(objOffset(t, doc, n, len(doc)))
			}
			signed := signedHand(t, pki, rewriteXref(doc, offs), nil)
			upd, err := samplepdf.AppendXrefStream(signed, sizeOf(t, signed), []samplepdf.XrefEntry{{Num: c.num, Type: 2, Offset: 40, Index: 0}}, "/Root 1 0 R")
			if err != nil {
				t.Fatal(err)
			}
			rep := verifyBytes(t, upd, offlineOpts(pki))
			if c.want == TotalPassed {
				wantSig(t, rep, 0, TotalPassed, "")
				return
			}
			wantAltered(t, rep, 0, false)
		})
	}
}
