package pades

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades/pdf"
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

// withOrphanSignature appends to data an update holding a signature
// dictionary that no form field in /AcroForm /Fields reaches; with widget,
// a signature widget on the first page (not in /Fields) has it as /V.
func withOrphanSignature(t *testing.T, data []byte, widget bool) ([]byte, pdf.Ref) {
	t.Helper()
	r, err := pdf.Open(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	u := r.NewUpdate()
	u.SetCompress(false)
	sig := u.Add(pdf.NewDict(
		pdf.DictEntry{Key: "Type", Value: pdf.Name("Sig")},
		pdf.DictEntry{Key: "Filter", Value: pdf.Name("Adobe.PPKLite")},
		pdf.DictEntry{Key: "SubFilter", Value: pdf.Name("ETSI.CAdES.detached")},
		pdf.DictEntry{Key: "ByteRange", Value: pdf.Array{pdf.Integer(0), pdf.Integer(100), pdf.Integer(200), pdf.Integer(300)}},
		pdf.DictEntry{Key: "Contents", Value: pdf.String{Value: bytes.Repeat([]byte{0x30}, 64), Hex: true}},
	))
	if widget {
		p, err := r.Page(0)
		if err != nil || p.Ref.IsZero() {
			t.Fatalf("page 0: %v", err)
		}
		w := u.Add(pdf.NewDict(
			pdf.DictEntry{Key: "Type", Value: pdf.Name("Annot")},
			pdf.DictEntry{Key: "Subtype", Value: pdf.Name("Widget")},
			pdf.DictEntry{Key: "FT", Value: pdf.Name("Sig")},
			pdf.DictEntry{Key: "T", Value: pdf.String{Value: []byte("Hidden")}},
			pdf.DictEntry{Key: "V", Value: sig},
			pdf.DictEntry{Key: "Rect", Value: pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(0), pdf.Integer(0)}},
			pdf.DictEntry{Key: "P", Value: p.Ref},
		))
		nd := p.Dict.Clone()
		annots, _ := mustResolve(r, nd.Get("Annots")).(pdf.Array)
		nd.Set("Annots", append(append(pdf.Array(nil), annots...), w))
		if err := u.Set(p.Ref, nd); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := u.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return append(bytes.Clone(data), buf.Bytes()...), sig
}

// TestVerifyUnreachedSignatureDict: a signature dictionary that no field
// reaches is reported as a warning, never counted, and does not change the
// verdict of a valid document; when a signature widget outside /Fields
// shows it (a hidden signature), the document is INDETERMINATE.
func TestVerifyUnreachedSignatureDict(t *testing.T) {
	pki := testcerts.New(t)
	in := corpus(t, "pdf17-xrefstream-objstm.pdf")
	opts := &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip}
	warned := func(rep *Report, ref pdf.Ref, what string) bool {
		for _, w := range rep.Warnings {
			if strings.Contains(w, ref.String()) && strings.Contains(w, what) {
				return true
			}
		}
		return false
	}

	orphan, ref := withOrphanSignature(t, in, false)
	rep := verifyBytes(t, orphan, opts)
	if rep.Indication != NoSignatureFound || len(rep.Signatures) != 0 || !warned(rep, ref, "is not the value of any signature field") {
		t.Errorf("unsigned with an orphan dictionary:\n%s", dumpReport(rep))
	}
	signed, _, err := signBytes(t, orphan, entitySigner(pki, "person-p256"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep = verifyBytes(t, signed, opts)
	if rep.Indication != TotalPassed || len(rep.Signatures) != 1 || !warned(rep, ref, "is not the value of any signature field") {
		t.Errorf("signed, with an orphan dictionary:\n%s", dumpReport(rep))
	}
	// The orphan is found in the bytes no signature covers as well.
	rep = verifyBytes(t, func() []byte { b, _ := withOrphanSignature(t, signed, false); return b }(), opts)
	if n := strings.Count(strings.Join(rep.Warnings, "\n"), "is not the value of any signature field"); n != 2 {
		t.Errorf("orphans before and after the signature: %d warnings:\n%s", n, dumpReport(rep))
	}

	hidden, ref := withOrphanSignature(t, in, true)
	signed, _, err = signBytes(t, hidden, entitySigner(pki, "person-p256"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep = verifyBytes(t, signed, opts)
	if rep.Indication != Indeterminate || rep.SubIndication != SigConstraintsFailure || len(rep.Signatures) != 1 ||
		rep.Signatures[0].Indication != TotalPassed || !warned(rep, ref, "hidden signature") {
		t.Errorf("signed, with a hidden signature widget:\n%s", dumpReport(rep))
	}
}

// TestVerifyHashesOnce: three signatures over a ~1 MB document (each
// signing all earlier revisions) are checked with about one pass of
// hashing over the file, not three, and still pass; a change in the shared
// prefix still breaks all three.
func TestVerifyHashesOnce(t *testing.T) {
	pki := testcerts.New(t)
	doc := samplepdf.Document("hash once", nil, 1<<20)
	for _, who := range []string{"person-p256", "person-rsa2048", "seal"} {
		var err error
		if doc, _, err = signBytes(t, doc, entitySigner(pki, who), nil); err != nil {
			t.Fatal(err)
		}
	}
	check := func(doc []byte) (*Report, int64) {
		v, err := newVerifier(context.Background(), bytes.NewReader(doc), int64(len(doc)), &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := v.run()
		if err != nil {
			t.Fatal(err)
		}
		return rep, v.hashed
	}
	rep, hashed := check(doc)
	if rep.Indication != TotalPassed || len(rep.Signatures) != 3 {
		t.Fatalf("got:\n%s", dumpReport(rep))
	}
	if hashed > int64(len(doc))*5/4 {
		t.Errorf("%d bytes hashed for a %d-byte file with 3 signatures: more than one pass", hashed, len(doc))
	}
	bad := bytes.Clone(doc)
	i := bytes.Index(bad[100:], []byte(" ")) + 100
	bad[i] = '\n'
	rep, _ = check(bad)
	for k := range rep.Signatures {
		wantSig(t, rep, k, TotalFailed, HashFailure)
	}
}
