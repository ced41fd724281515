package pades

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/testcerts"
)

// negativeSerialSigned signs a sample with person-p256's key under its
// certificate re-issued with a negative serial number (properly signed by
// its CA, as certificates of pre-RFC 5280 CAs are).
func negativeSerialSigned(t *testing.T, pki *testcerts.PKI) []byte {
	t.Helper()
	e := pki.MustGet("person-p256")
	der, err := testcerts.WithNegativeSerial(e.Cert, e.Issuer.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der) // go.mod: godebug x509negativeserial=1
	if err != nil {
		t.Fatalf("the module's godebug setting does not apply: %v", err)
	}
	if cert.SerialNumber.Sign() >= 0 {
		t.Fatal("serial is not negative")
	}
	signed, _, err := signBytes(t, corpus(t, "pdf17-xrefstream-objstm.pdf"), NewKeySigner(e.Key, cert, e.Chain), nil)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// TestVerifyNegativeSerial: a signer certificate with a negative serial
// number (RFC 5280 forbids it, real CAs issued them) verifies, since
// go.mod sets godebug x509negativeserial=1 for semnat's binaries and tests.
func TestVerifyNegativeSerial(t *testing.T) {
	pki := testcerts.New(t)
	rep := verifyBytes(t, negativeSerialSigned(t, pki), &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip})
	wantSig(t, rep, 0, TotalPassed, "")
}

// TestVerifyNegativeSerialWithoutGodebug: a program importing pades
// without the setting gets INDETERMINATE/NO_SIGNING_CERTIFICATE_FOUND with
// a reason that names the setting (GODEBUG read again at run time).
func TestVerifyNegativeSerialWithoutGodebug(t *testing.T) {
	t.Setenv("GODEBUG", "x509negativeserial=0")
	pki := testcerts.New(t)
	e := pki.MustGet("person-p256")
	der, err := testcerts.WithNegativeSerial(e.Cert, e.Issuer.Key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParseCertificate(der); err == nil {
		t.Skip("GODEBUG=x509negativeserial=0 did not apply")
	}
	// Signed with the positive certificate, the negative one patched in
	// (the CMS carries its DER; same length).
	signed, _, err := signBytes(t, corpus(t, "pdf17-xrefstream-objstm.pdf"), entitySigner(pki, "person-p256"), nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(signed)
	n := 0
	for _, enc := range []func([]byte) string{hex.EncodeToString, func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }} {
		old, repl := []byte(enc(e.Cert.Raw)), []byte(enc(der))
		if len(old) != len(repl) {
			t.Skip("re-signed certificate has another length")
		}
		n += bytes.Count(bad, old)
		bad = bytes.ReplaceAll(bad, old, repl)
	}
	if n == 0 {
		t.Fatal("the signer certificate is not in /Contents")
	}
	rep := verifyBytes(t, bad, &VerifyOptions{Roots: pki.RootPool(), Revocation: RevocationSkip})
	wantSig(t, rep, 0, Indeterminate, NoSigningCertificateFound)
	if r := rep.Signatures[0].Reasons[0]; !strings.Contains(r, "negative serial number") || !strings.Contains(r, "x509negativeserial=1") {
		t.Fatalf("reason %q", r)
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
