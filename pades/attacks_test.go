package pades

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/testcerts"
)

// The attack samples below are written at test time from our own signed
// outputs, following the public descriptions of the attacks (Mladenov et
// al., "1 Trillion Dollar Refund", CCS 2019; Mainka, Mladenov, Rohlmann,
// "Shadow Attacks", NDSS 2021; Rohlmann et al., "Breaking the Specification:
// PDF Certification", IEEE S&P 2021). No binary sample is committed.

// handPDF writes a one-page PDF with the given extra objects (numbered from
// 6 on). Objects 1-5: catalog, pages, page (content 4, font 5).
func handPDF(contents string, extra ...string) []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(contents)+1, contents),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	return samplepdf.Assemble(append(objs, extra...), "")
}

// rawUpdate appends an incremental update written by hand: the objects
// (number -> body, or an offset override when body starts with "@") and a
// classic xref table and trailer chained to the previous one.
func rawUpdate(t *testing.T, data []byte, objs map[int]string, trailerExtra string) []byte {
	t.Helper()
	r, err := pdf.Open(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	size := int(r.MaxObjectNumber()) + 1
	root := r.Trailer().Get("Root").(pdf.Ref)
	var buf bytes.Buffer
	buf.Write(data)
	if !bytes.HasSuffix(data, []byte("\n")) {
		buf.WriteString("\n")
	}
	nums := make([]int, 0, len(objs))
	for n := range objs {
		nums = append(nums, n)
		if n >= size {
			size = n + 1
		}
	}
	sort.Ints(nums)
	offs := map[int]int{}
	for _, n := range nums {
		body := objs[n]
		if len(body) > 0 && body[0] == '@' {
			o, _ := strconv.Atoi(body[1:])
			offs[n] = o
			continue
		}
		offs[n] = buf.Len()
		fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", n, body)
	}
	x := buf.Len()
	buf.WriteString("xref\n0 1\n0000000000 65535 f \n")
	for _, n := range nums {
		fmt.Fprintf(&buf, "%d 1\n%010d 00000 n \n", n, offs[n])
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root %d 0 R /Prev %d %s>>\nstartxref\n%d\n%%%%EOF\n", size, root.Num, r.StartXref(), trailerExtra, x)
	return buf.Bytes()
}

func signedHand(t *testing.T, pki *testcerts.PKI, doc []byte, opts *Options) []byte {
	t.Helper()
	out, _, err := signBytes(t, doc, entitySigner(pki, "person-p256"), opts)
	if err != nil {
		t.Fatal(err)
	}
	rep := verifyBytes(t, out, offlineOpts(pki))
	wantSig(t, rep, 0, TotalPassed, "")
	return out
}

// lastSigDict returns the offsets of the last signature dictionary's
// /ByteRange array and /Contents value.
func lastSigDict(t *testing.T, data []byte) (brStart, brEnd, cStart, cEnd int) {
	t.Helper()
	locs := regexp.MustCompile(`/ByteRange\s*\[[^\]]*\]`).FindAllIndex(data, -1)
	cl := regexp.MustCompile(`/Contents\s*<[0-9a-fA-F]*>`).FindAllIndex(data, -1)
	if len(locs) == 0 || len(cl) == 0 {
		t.Fatal("no signature dictionary")
	}
	l, c := locs[len(locs)-1], cl[len(cl)-1]
	v := bytes.IndexByte(data[c[0]:c[1]], '<') + c[0]
	return l[0], l[1], v, c[1]
}

func patch(data []byte, at int, with string) []byte {
	out := append([]byte(nil), data...)
	copy(out[at:], with)
	return out
}

func pad(s string, n int) string {
	for len(s) < n {
		s += " "
	}
	return s
}

// TestAttackUSF: Universal Signature Forgery — missing, null or malformed
// /Contents or /ByteRange, or a CMS that is not a signature.
func TestAttackUSF(t *testing.T) {
	pki := testcerts.New(t)
	signed := signedHand(t, pki, handPDF("BT /F1 24 Tf 72 720 Td (Plata: 100 MDL) Tj ET"), nil)
	brS, brE, cS, cE := lastSigDict(t, signed)
	cases := map[string][]byte{
		"contents-missing":   patch(signed, cS-len("/Contents "), "/Contentz "),
		"contents-null":      patch(signed, cS, pad("null", cE-cS)),
		"contents-zeros":     patch(signed, cS+1, string(bytes.Repeat([]byte("0"), cE-cS-2))),
		"contents-garbage":   patch(signed, cS+1, string(bytes.Repeat([]byte("AB"), (cE-cS-2)/2))),
		"contents-empty":     patch(signed, cS, "<>"+string(bytes.Repeat([]byte(" "), cE-cS-2))),
		"byterange-missing":  patch(signed, brS, "/ByteRangf"),
		"byterange-null":     patch(signed, brS, pad("/ByteRange null", brE-brS)),
		"byterange-three":    patch(signed, brS, pad("/ByteRange [0 10 20]", brE-brS)),
		"byterange-negative": patch(signed, brS, pad("/ByteRange [0 -1 20 30]", brE-brS)),
		"byterange-real":     patch(signed, brS, pad("/ByteRange [0 10.0 20 30]", brE-brS)),
		"byterange-overlap":  patch(signed, brS, pad(fmt.Sprintf("/ByteRange [0 %d %d %d]", cE, cS, len(signed)-cS), brE-brS)),
		"byterange-past-eof": patch(signed, brS, pad(fmt.Sprintf("/ByteRange [0 %d %d %d]", cS, cE, len(signed)), brE-brS)),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			rep := verifyBytes(t, data, offlineOpts(pki))
			wantSig(t, rep, 0, TotalFailed, FormatFailure)
			if rep.Indication != TotalFailed {
				t.Fatalf("document: %s", rep.Indication)
			}
		})
	}
	// A changed signed byte is a hash failure, not a format failure.
	t.Run("signed-byte-changed", func(t *testing.T) {
		i := bytes.Index(signed, []byte("100 MDL"))
		rep := verifyBytes(t, patch(signed, i, "900 MDL"), offlineOpts(pki))
		wantSig(t, rep, 0, TotalFailed, HashFailure)
	})
	t.Run("signature-value-changed", func(t *testing.T) {
		// Flip a byte of the signature value (near the end of the DER:
		// the CMS ends with the signature; skip the zero padding).
		hexEnd := cE - 1
		for signed[hexEnd-1] == '0' {
			hexEnd--
		}
		at := hexEnd - 8
		c := byte('1')
		if signed[at] == '1' {
			c = '2'
		}
		rep := verifyBytes(t, patch(signed, at, string(c)), offlineOpts(pki))
		wantSig(t, rep, 0, TotalFailed, SigCryptoFailure)
	})
}

// TestAttackSWA: Signature Wrapping — bytes that are not the signature are
// placed in the unsigned gap, or the ByteRange points elsewhere.
func TestAttackSWA(t *testing.T) {
	pki := testcerts.New(t)
	signed := signedHand(t, pki, handPDF("BT /F1 24 Tf 72 720 Td (Plata: 100 MDL) Tj ET"), nil)
	_, _, cS, cE := lastSigDict(t, signed)
	// The CMS is shorter than its placeholder: the trailing zeros are free
	// room an attacker can fill with objects without touching signed bytes.
	hexEnd := cE - 1
	for signed[hexEnd-1] == '0' {
		hexEnd--
	}
	hexEnd += (hexEnd - cS - 1) % 2 // keep whole bytes
	room := cE - 1 - hexEnd
	evil := "> >>\nendobj\n4 0 obj\n<< /Length 44 >>\nstream\nBT /F1 24 Tf 72 720 Td (Plata: 9 MDL) Tj ET\nendstream\nendobj\n%"
	if room < len(evil)+2 {
		t.Fatalf("only %d bytes of room", room)
	}
	wrapped := patch(signed, hexEnd, evil)
	rep := verifyBytes(t, wrapped, offlineOpts(pki))
	wantSig(t, rep, 0, TotalFailed, FormatFailure)

	// The gap's hex stays pure but ends earlier, so that signed bytes
	// would start inside /Contents.
	brS, brE, _, _ := lastSigDict(t, signed)
	shifted := patch(signed, brS, pad(fmt.Sprintf("/ByteRange [0 %d %d %d]", cS, cE-10, len(signed)-(cE-10)), brE-brS))
	rep = verifyBytes(t, shifted, offlineOpts(pki))
	wantSig(t, rep, 0, TotalFailed, FormatFailure)

	// The second range stops before the end of the revision (attacker
	// content after it would not be signed nor be a revision).
	short := patch(signed, brS, pad(fmt.Sprintf("/ByteRange [0 %d %d %d]", cS, cE, len(signed)-cE-40), brE-brS))
	rep = verifyBytes(t, short, offlineOpts(pki))
	wantSig(t, rep, 0, TotalFailed, FormatFailure)
}

// TestAttackISA: Incremental Saving — content changed in a later revision,
// with a proper xref and trailer, without them, and with a broken xref.
func TestAttackISA(t *testing.T) {
	pki := testcerts.New(t)
	signed := signedHand(t, pki, handPDF("BT /F1 24 Tf 72 720 Td (Plata: 100 MDL) Tj ET"), nil)
	newContent := "<< /Length 44 >>\nstream\nBT /F1 24 Tf 72 720 Td (Plata: 9 MDL)  Tj ET\nendstream"
	t.Run("with-xref", func(t *testing.T) {
		rep := verifyBytes(t, rawUpdate(t, signed, map[int]string{4: newContent}, ""), offlineOpts(pki))
		wantAltered(t, rep, 0, false) // an approval signature: see ChangePolicy
		if rep.Signatures[0].Checks.Integrity != CheckPassed || rep.Signatures[0].CoversWholeDoc {
			t.Fatalf("the signed revision itself is intact:\n%s", dumpReport(rep))
		}
	})
	t.Run("page-replaced", func(t *testing.T) {
		page := "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 9 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
		rep := verifyBytes(t, rawUpdate(t, signed, map[int]string{3: page, 9: newContent}, ""), offlineOpts(pki))
		wantAltered(t, rep, 0, false)
	})
	t.Run("without-xref", func(t *testing.T) {
		data := append(append([]byte(nil), signed...), []byte("4 0 obj\n"+newContent+"\nendobj\n")...)
		rep := verifyBytes(t, data, offlineOpts(pki))
		wantSig(t, rep, 0, TotalFailed, FormatFailure)
	})
	t.Run("xref-without-trailer", func(t *testing.T) {
		data := append([]byte(nil), signed...)
		off := len(data)
		data = append(data, []byte("4 0 obj\n"+newContent+"\nendobj\n")...)
		x := len(data)
		data = append(data, []byte(fmt.Sprintf("xref\n4 1\n%010d 00000 n \nstartxref\n%d\n%%%%EOF\n", off, x))...)
		rep := verifyBytes(t, data, offlineOpts(pki))
		wantSig(t, rep, 0, TotalFailed, FormatFailure)
	})
	t.Run("identical-copy-allowed", func(t *testing.T) {
		// Rewriting an object with an identical copy is harmless.
		font := "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
		rep := verifyBytes(t, rawUpdate(t, signed, map[int]string{5: font}, ""), offlineOpts(pki))
		wantSig(t, rep, 0, TotalPassed, "")
	})
}

// TestAttackShadow: objects prepared before signing are swapped in later.
func TestAttackShadow(t *testing.T) {
	pki := testcerts.New(t)
	real := "BT /F1 24 Tf 72 720 Td (Plata: 100 MDL) Tj ET"
	overlay := "<< /Length 60 >>\nstream\n1 1 1 rg 0 0 595 842 re f BT /F1 24 Tf 72 700 Td (Cover) Tj ET\nendstream"
	t.Run("hide", func(t *testing.T) {
		// Signed: the page draws its content, then an opaque overlay (6)
		// hiding it. The update removes the overlay from /Contents.
		doc := handPDF(real, overlay)
		doc = bytes.Replace(doc, []byte("/Contents 4 0 R"), []byte("/Contents [4 0 R 6 0 R]"), 1)
		doc = fixXref(t, doc)
		signed := signedHand(t, pki, doc, nil)
		page := "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents [4 0 R] /Resources << /Font << /F1 5 0 R >> >> >>"
		rep := verifyBytes(t, rawUpdate(t, signed, map[int]string{3: page}, ""), offlineOpts(pki))
		wantAltered(t, rep, 0, false)
		// Hiding by overwriting the overlay stream with an empty one.
		rep = verifyBytes(t, rawUpdate(t, signed, map[int]string{6: "<< /Length 0 >>\nstream\n\nendstream"}, ""), offlineOpts(pki))
		wantAltered(t, rep, 0, false)
	})
	t.Run("replace", func(t *testing.T) {
		// The font of the signed text is redefined: glyphs can then draw
		// anything.
		signed := signedHand(t, pki, handPDF(real), nil)
		font := "<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>"
		rep := verifyBytes(t, rawUpdate(t, signed, map[int]string{5: font}, ""), offlineOpts(pki))
		wantAltered(t, rep, 0, false)
	})
	t.Run("hide-and-replace", func(t *testing.T) {
		// The signed file already holds a second, unseen document (objects
		// 6-9); the update is only an xref and trailer.
		fake := "<< /Length 44 >>\nstream\nBT /F1 24 Tf 72 720 Td (Plata: 9 MDL)  Tj ET\nendstream"
		doc := handPDF(real,
			"<< /Type /Catalog /Pages 7 0 R >>",
			"<< /Type /Pages /Kids [8 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 7 0 R /MediaBox [0 0 595 842] /Contents 9 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
			fake)
		signed := signedHand(t, pki, doc, nil)
		// Variant 1: /Root now points to the shadow catalog (bare xref and
		// trailer: the signature disappears with the old catalog), and the
		// same with the shadow catalog given the signed form.
		r, _ := pdf.Open(bytes.NewReader(signed), int64(len(signed)), nil)
		var buf bytes.Buffer
		buf.Write(signed)
		x := buf.Len()
		fmt.Fprintf(&buf, "xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size %d /Root 6 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", r.MaxObjectNumber()+1, r.StartXref(), x)
		rep := verifyBytes(t, buf.Bytes(), offlineOpts(pki))
		if rep.Indication == TotalPassed || len(rep.Signatures) != 0 {
			t.Fatalf("bare /Root swap:\n%s", dumpReport(rep))
		}
		cat, _ := r.Catalog()
		form := cat.Get("AcroForm").(pdf.Ref)
		upd := rawUpdate(t, signed, map[int]string{6: fmt.Sprintf("<< /Type /Catalog /Pages 7 0 R /AcroForm %v >>", form)}, "")
		i := bytes.LastIndex(upd, []byte("/Root 1 0 R"))
		upd = patch(upd, i, "/Root 6 0 R")
		rep = verifyBytes(t, upd, offlineOpts(pki))
		wantAltered(t, rep, 0, false)
		// Variant 2: the xref maps the signed content's number (4) to the
		// prepared object's bytes (a second "4 0 obj" hidden in the file).
		second := bytes.Replace(doc, []byte("9 0 obj"), []byte("4 0 obj"), 1)
		second = fixXrefKeep(t, second)
		signed2 := signedHand(t, pki, second, nil)
		hidden := bytes.LastIndex(signed2[:len(second)], []byte("4 0 obj"))
		rep = verifyBytes(t, rawUpdate(t, signed2, map[int]string{4: "@" + strconv.Itoa(hidden)}, ""), offlineOpts(pki))
		wantAltered(t, rep, 0, false)
	})
}

// fixXref recomputes the offsets of a handPDF document after an edit.
func fixXref(t *testing.T, doc []byte) []byte {
	t.Helper()
	return fixXrefBytes(doc)
}

func fixXrefBytes(doc []byte) []byte {
	re := regexp.MustCompile(`(?m)^(\d+) 0 obj`)
	offs := map[int]int{}
	for _, m := range re.FindAllSubmatchIndex(doc, -1) {
		n, _ := strconv.Atoi(string(doc[m[2]:m[3]]))
		offs[n] = m[0]
	}
	return rewriteXref(doc, offs)
}

// fixXrefKeep is fixXref where the first definition of a number wins.
func fixXrefKeep(t *testing.T, doc []byte) []byte {
	t.Helper()
	re := regexp.MustCompile(`(?m)^(\d+) 0 obj`)
	offs := map[int]int{}
	for _, m := range re.FindAllSubmatchIndex(doc, -1) {
		n, _ := strconv.Atoi(string(doc[m[2]:m[3]]))
		if _, ok := offs[n]; !ok {
			offs[n] = m[0]
		}
	}
	return rewriteXref(doc, offs)
}

func rewriteXref(doc []byte, offs map[int]int) []byte {
	x := bytes.LastIndex(doc, []byte("xref\n"))
	body := doc[:x]
	max := 0
	for n := range offs {
		if n > max {
			max = n
		}
	}
	var buf bytes.Buffer
	buf.Write(body)
	fmt.Fprintf(&buf, "xref\n0 %d\n0000000000 65535 f \n", max+1)
	for i := 1; i <= max; i++ {
		fmt.Fprintf(&buf, "%010d 00000 n \n", offs[i])
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", max+1, x)
	return buf.Bytes()
}

// TestAttackEvilAnnotation: on a certified P=2 document an annotation is
// added that covers content; allowed only under P=3 (and listed).
func TestAttackEvilAnnotation(t *testing.T) {
	pki := testcerts.New(t)
	annot := "<< /Type /Annot /Subtype /FreeText /Rect [60 700 400 760] /Contents (Plata: 9 MDL) /DA (/Helv 24 Tf 0 g) >>"
	page := "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> /Annots [%s] >>"
	for _, p := range []int{2, 3} {
		t.Run(fmt.Sprintf("P=%d", p), func(t *testing.T) {
			signed := signedHand(t, pki, handPDF("BT /F1 24 Tf 72 720 Td (Plata: 100 MDL) Tj ET"), &Options{Certify: p})
			r, _ := pdf.Open(bytes.NewReader(signed), int64(len(signed)), nil)
			pg, err := r.Page(0)
			if err != nil {
				t.Fatal(err)
			}
			annots, _ := mustResolve(r, pg.Dict.Get("Annots")).(pdf.Array)
			var list []string
			for _, a := range annots {
				list = append(list, a.(pdf.Ref).String())
			}
			n := int(r.MaxObjectNumber()) + 1
			list = append(list, fmt.Sprintf("%d 0 R", n))
			objs := map[int]string{n: annot}
			if ref, ok := pg.Dict.Get("Annots").(pdf.Ref); ok {
				objs[int(ref.Num)] = "[" + joinSpace(list) + "]"
			} else {
				objs[int(pg.Ref.Num)] = fmt.Sprintf(page, joinSpace(list))
			}
			rep := verifyBytes(t, rawUpdate(t, signed, objs, ""), offlineOpts(pki))
			if p == 2 {
				wantSig(t, rep, 0, TotalFailed, FormatFailure)
			} else {
				wantSig(t, rep, 0, TotalPassed, "")
				if len(rep.Signatures[0].Changes) == 0 {
					t.Fatalf("the annotation must be listed:\n%s", dumpReport(rep))
				}
			}
		})
	}
}

func joinSpace(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}

// TestAttackSneakySignature: on a certified P=2 document a new visible
// signature field is added after the certification. Signing it in the
// revision that adds it is signing (allowed, with a warning naming the page
// and rectangle); the attack is an unsigned visible field, or a signature
// whose appearance draws outside its own rectangle.
func TestAttackSneakySignature(t *testing.T) {
	pki := testcerts.New(t)
	certified := signedHand(t, pki, handPDF("BT /F1 24 Tf 72 720 Td (Plata: 100 MDL) Tj ET"), &Options{Certify: 2})
	visible, _, err := signBytes(t, certified, entitySigner(pki, "person-rsa2048"),
		&Options{Visible: &Visible{Page: 1, Rect: [4]float64{60, 700, 400, 760}, Lines: []string{"Plata: 9 MDL"}}})
	if err != nil {
		t.Fatal(err)
	}
	rep := verifyBytes(t, visible, offlineOpts(pki))
	wantSig(t, rep, 0, TotalPassed, "")
	wantSig(t, rep, 1, TotalPassed, "")
	if w := strings.Join(rep.Signatures[0].Warnings, "\n"); !strings.Contains(w, "page 1, rectangle [60 700 400 760]") {
		t.Fatalf("no warning names the page and rectangle:\n%s", dumpReport(rep))
	}
	t.Run("appearance-outside-rect", func(t *testing.T) {
		// The same signature, its appearance's /BBox made larger than its
		// rectangle, signed again.
		m := regexp.MustCompile(`/BBox\s*\[0 0 ([0-9.]+) ([0-9.]+)\]`).FindAllSubmatchIndex(visible, -1)
		last := m[len(m)-1]
		big := patch(visible, last[2], strings.Repeat("9", last[3]-last[2]))
		big = resign(t, pki.MustGet("person-rsa2048"), big)
		rep := verifyBytes(t, big, offlineOpts(pki))
		wantSig(t, rep, 0, TotalFailed, FormatFailure)
		if !strings.Contains(rep.Signatures[0].Reasons[0], "draws outside its rectangle") {
			t.Fatalf("reason: %q", rep.Signatures[0].Reasons[0])
		}
	})
	t.Run("unsigned-visible-field", func(t *testing.T) {
		rep := verifyBytes(t, addSigWidget(t, certified, "[60 700 400 760]"), offlineOpts(pki))
		wantSig(t, rep, 0, TotalFailed, FormatFailure)
		if !strings.Contains(rep.Signatures[0].Reasons[0], "without being signed") {
			t.Fatalf("reason: %q", rep.Signatures[0].Reasons[0])
		}
	})
	// An invisible later signature is fine.
	ok, _, err := signBytes(t, certified, entitySigner(pki, "person-rsa2048"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep = verifyBytes(t, ok, offlineOpts(pki))
	wantSig(t, rep, 0, TotalPassed, "")
	wantSig(t, rep, 1, TotalPassed, "")
}

// addSigWidget appends an update that adds an empty signature field with a
// visible widget (an opaque appearance) on page 1.
func addSigWidget(t *testing.T, data []byte, rect string) []byte {
	t.Helper()
	r, err := pdf.Open(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := r.Catalog()
	pg, err := r.Page(0)
	if err != nil {
		t.Fatal(err)
	}
	n := int(r.MaxObjectNumber()) + 1
	objs := map[int]string{
		n:     fmt.Sprintf("<< /Type /Annot /Subtype /Widget /FT /Sig /T (Sneaky) /F 4 /Rect %s /P %v /AP << /N %d 0 R >> >>", rect, pg.Ref, n+1),
		n + 1: "<< /Type /XObject /Subtype /Form /BBox [0 0 340 60] /Length 23 >>\nstream\n1 1 1 rg 0 0 340 60 re f\nendstream",
	}
	widget := pdf.Ref{Num: uint32(n)}
	ser := func(o pdf.Object) string {
		b, err := pdf.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	afRef, _ := cat.Get("AcroForm").(pdf.Ref)
	af, _ := r.ResolveDict(cat.Get("AcroForm"))
	af = af.Clone()
	fields, _ := mustResolve(r, af.Get("Fields")).(pdf.Array)
	af.Set("Fields", append(append(pdf.Array{}, fields...), widget))
	root := r.Trailer().Get("Root").(pdf.Ref)
	if afRef.IsZero() {
		c := cat.Clone()
		c.Set("AcroForm", af)
		objs[int(root.Num)] = ser(c)
	} else {
		objs[int(afRef.Num)] = ser(af)
	}
	annots, _ := mustResolve(r, pg.Dict.Get("Annots")).(pdf.Array)
	p := pg.Dict.Clone()
	p.Set("Annots", append(append(pdf.Array{}, annots...), widget))
	objs[int(pg.Ref.Num)] = ser(p)
	return rawUpdate(t, data, objs, "")
}
