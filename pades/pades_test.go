package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/semnat/semnat/cms"
	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/testcerts"
)

func corpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signBytes(t testing.TB, in []byte, s Signer, opts *Options) ([]byte, *Result, error) {
	t.Helper()
	var out bytes.Buffer
	res, err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, s, opts)
	return out.Bytes(), res, err
}

func entitySigner(pki *testcerts.PKI, name string) *KeySigner {
	e := pki.MustGet(name)
	return NewKeySigner(e.Key, e.Cert, e.Chain)
}

func fieldsOf(t *testing.T, data []byte) *acroForm {
	t.Helper()
	r, err := pdf.Open(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := r.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	af, err := readAcroForm(r, cat)
	if err != nil {
		t.Fatal(err)
	}
	return af
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTwoPhaseWithJSONState(t *testing.T) {
	pki := testcerts.New(t)
	e := pki.MustGet("person-rsa3072")
	in := corpus(t, "pdf17-xrefstream-objstm.pdf")
	prep, err := Prepare(context.Background(), bytes.NewReader(in), int64(len(in)), e.Cert, e.Chain, &Options{Reason: "two-phase"})
	if err != nil {
		t.Fatal(err)
	}
	// The state crosses a request boundary as JSON.
	js, err := json.Marshal(prep)
	if err != nil {
		t.Fatal(err)
	}
	var back Prepared
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	sig, err := e.Key.Sign(rand.Reader, back.DigestToSign(), back.SignerOpts())
	if err != nil {
		t.Fatal(err)
	}
	// A wrong signature value is refused and nothing is written.
	var out bytes.Buffer
	bad := append([]byte(nil), sig...)
	bad[10] ^= 0xff
	if _, err := Complete(context.Background(), bytes.NewReader(in), int64(len(in)), &back, bad, &out, nil); !errors.Is(err, cms.ErrBadSignature) || out.Len() != 0 {
		t.Fatalf("bad signature: %v, %d bytes written", err, out.Len())
	}
	// A different original is detected.
	other := append([]byte(nil), in...)
	other[100] ^= 1
	if _, err := Complete(context.Background(), bytes.NewReader(other), int64(len(other)), &back, sig, io.Discard, nil); !errors.Is(err, ErrOriginalChanged) {
		t.Fatalf("changed original: %v", err)
	}
	if _, err := Complete(context.Background(), bytes.NewReader(in), int64(len(in)), &back, sig, &out, nil); err != nil {
		t.Fatal(err)
	}
	db := trustDB(t, pki)
	sigs, certs := pdfsigResult(t, db, writeTemp(t, out.Bytes()))
	if len(sigs) != 1 || sigs[0] != "Signature is Valid." || certs[0] != "Certificate is Trusted." {
		t.Fatalf("pdfsig: %v %v", sigs, certs)
	}
}

func TestSignTwiceAndFillExistingFields(t *testing.T) {
	pki := testcerts.New(t)
	in := corpus(t, "emptysig-2fields-pdf20-tagged.pdf")
	af := fieldsOf(t, in)
	var empty []string
	for _, f := range af.Fields {
		if f.IsSignature() && !f.Signed() {
			empty = append(empty, f.Name)
		}
	}
	if len(empty) != 2 {
		t.Fatalf("expected two empty signature fields, found %v", empty)
	}
	one, _, err := signBytes(t, in, entitySigner(pki, "person-p256"), &Options{Field: empty[0]})
	if err != nil {
		t.Fatal(err)
	}
	two, _, err := signBytes(t, one, entitySigner(pki, "person-pss"), &Options{Field: empty[1], PSS: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := signBytes(t, two, entitySigner(pki, "seal"), &Options{Field: empty[0]}); !errors.Is(err, ErrFieldSigned) {
		t.Fatalf("re-signing a signed field: %v", err)
	}
	af = fieldsOf(t, two)
	if af.signatureCount() != 2 || len(af.Fields) != 2 {
		t.Fatalf("after two signatures: %d signed of %d fields", af.signatureCount(), len(af.Fields))
	}
	db := trustDB(t, pki)
	sigs, certs := pdfsigResult(t, db, writeTemp(t, two))
	if len(sigs) != 2 {
		t.Fatalf("pdfsig lists %d signatures", len(sigs))
	}
	for i := range sigs {
		if sigs[i] != "Signature is Valid." || certs[i] != "Certificate is Trusted." {
			t.Errorf("signature %d: %s / %s", i+1, sigs[i], certs[i])
		}
	}
	qpdfCheck(t, writeTemp(t, two), "")
}

func TestCertificationAndLocks(t *testing.T) {
	pki := testcerts.New(t)
	in := corpus(t, "minimal-table-pdf17.pdf")
	s := entitySigner(pki, "person-rsa2048")
	// P=1: nothing may follow.
	p1, _, err := signBytes(t, in, s, &Options{Certify: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := signBytes(t, p1, s, nil); !errors.Is(err, ErrCertifiedNoChanges) {
		t.Fatalf("signing after P=1: %v", err)
	}
	// P=2: a further approval signature is allowed; a second certification is not.
	p2, _, err := signBytes(t, in, s, &Options{Certify: 2, Lock: &FieldLock{Action: "Include", Fields: []string{"Approval"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := signBytes(t, p2, s, &Options{Certify: 2}); !errors.Is(err, ErrAlreadyCertified) {
		t.Fatalf("second certification: %v", err)
	}
	if _, _, err := signBytes(t, p2, s, &Options{Field: "Approval"}); !errors.Is(err, ErrFieldLocked) {
		t.Fatalf("locked field: %v", err)
	}
	after, _, err := signBytes(t, p2, entitySigner(pki, "person-p384"), &Options{Field: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := pdf.Open(bytes.NewReader(after), int64(len(after)), nil)
	cat, _ := r.Catalog()
	if docMDP(r, cat) != 2 {
		t.Fatalf("DocMDP permission %d, want 2", docMDP(r, cat))
	}
	// P=1 with B-LT is refused up front.
	if _, _, err := signBytes(t, in, s, &Options{Certify: 1, Level: LevelBLT, Timestamper: nopTimestamper{}, Revocation: nopRevocation{}}); err == nil {
		t.Fatal("P=1 with B-LT accepted")
	}
	db := trustDB(t, pki)
	sigs, _ := pdfsigResult(t, db, writeTemp(t, after))
	if len(sigs) != 2 || sigs[0] != "Signature is Valid." || sigs[1] != "Signature is Valid." {
		t.Fatalf("pdfsig: %v", sigs)
	}
}

type nopTimestamper struct{}

func (nopTimestamper) Timestamp(context.Context, []byte, crypto.Hash) ([]byte, error) {
	return nil, errors.New("no TSA in this test")
}

type nopRevocation struct{}

func (nopRevocation) Revocation(context.Context, *x509.Certificate, *x509.Certificate) ([][]byte, [][]byte, error) {
	return nil, nil, errors.New("no revocation in this test")
}

func TestPlaceholderTooSmallIsAnError(t *testing.T) {
	pki := testcerts.New(t)
	in := corpus(t, "minimal-table-pdf17.pdf")
	_, _, err := signBytes(t, in, entitySigner(pki, "person-rsa4096"), &Options{ContentsSize: 1024})
	if !errors.Is(err, ErrPlaceholderSmall) {
		t.Fatalf("want ErrPlaceholderSmall, got %v", err)
	}
}

func TestRefusesNonPDF(t *testing.T) {
	pki := testcerts.New(t)
	for _, in := range [][]byte{nil, []byte("hello"), []byte("%PDF-1.7\n garbage without xref")} {
		if _, _, err := signBytes(t, in, entitySigner(pki, "person-p256"), nil); err == nil {
			t.Errorf("%q: signed", in)
		}
	}
}

func TestSignFileLeavesNothingOnFailure(t *testing.T) {
	pki := testcerts.New(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.pdf")
	_, err := SignFile(context.Background(), filepath.Join(corpusDir, "encrypted-rc4-40-userpw.pdf"), out, entitySigner(pki, "person-p256"), nil)
	if !errors.Is(err, ErrPasswordRequired) {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

// BenchmarkSignBB1MB is the in-process target: B-B, 1 MB PDF,
// ECDSA P-256 software key.
func BenchmarkSignBB1MB(b *testing.B) {
	pki := testcerts.New(b)
	s := entitySigner(pki, "person-p256")
	in := samplepdf.Document("bench", nil, 1<<20)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), io.Discard, s, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
}

func TestVisibleSignature(t *testing.T) {
	pki := testcerts.New(t)
	in := corpus(t, "pdf12-2pages.pdf")
	out, _, err := signBytes(t, in, entitySigner(pki, "person-p384"), &Options{
		Reason: "Aprobat", Location: "Chișinău",
		Visible: &Visible{Page: 2, Rect: [4]float64{50, 50, 330, 140}},
	})
	if err != nil {
		t.Fatal(err)
	}
	file := writeTemp(t, out)
	qpdfCheck(t, file, "")
	sigs, certs := pdfsigResult(t, trustDB(t, pki), file)
	if len(sigs) != 1 || sigs[0] != "Signature is Valid." || certs[0] != "Certificate is Trusted." {
		t.Fatalf("pdfsig: %v %v", sigs, certs)
	}
	// The stamp is on page 2 and its Cyrillic signer name is real text.
	text, err := exec.Command(requireTool(t, "pdftotext"), "-f", "2", "-l", "2", file, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Наталья Иванова", "Chișinău", "IDNP: "} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("page 2 text lacks %q:\n%s", want, text)
		}
	}
	if _, _, err := signBytes(t, in, entitySigner(pki, "person-p384"), &Options{Visible: &Visible{Page: 3, Rect: [4]float64{0, 0, 10, 10}}}); err == nil {
		t.Error("a stamp on a missing page was accepted")
	}
}

// BenchmarkSignBB1MBParallel is BenchmarkSignBB1MB on every core.
func BenchmarkSignBB1MBParallel(b *testing.B) {
	pki := testcerts.New(b)
	s := entitySigner(pki, "person-p256")
	in := samplepdf.Document("bench", nil, 1<<20)
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), io.Discard, s, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
}

// TestPrepareNilOptions: Prepare with no options uses the defaults (B-B,
// SHA-256), like Sign, instead of failing on the nil pointer.
func TestPrepareNilOptions(t *testing.T) {
	e := testcerts.New(t).MustGet("person-p256")
	doc := samplepdf.Document("Nil", nil, 0)
	p, err := Prepare(context.Background(), bytes.NewReader(doc), int64(len(doc)), e.Cert, e.Chain, nil)
	if err != nil || len(p.DigestToSign()) != 32 {
		t.Fatalf("Prepare(nil options): %v", err)
	}
}

// TestSignFillsEmptyFieldByDefault: without Options.Field the signature goes
// into the document's first empty signature field, so that a certified
// form keeps its certification; NewField makes a new field.
func TestSignFillsEmptyFieldByDefault(t *testing.T) {
	pki := testcerts.New(t)
	in := corpus(t, "certified-changes-permitted-emptysig.pdf")
	out, res, err := signBytes(t, in, entitySigner(pki, "person-p256"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Field != "signature-test2" {
		t.Fatalf("signed field %q, want the empty signature-test2", res.Field)
	}
	rep := verifyBytes(t, out, offlineOpts(pki))
	if len(rep.Signatures) != 2 || rep.DocMDP == 0 {
		t.Fatalf("got:\n%s", dumpReport(rep))
	}
	if s := rep.Signatures[0]; s.Checks.Modifications != CheckPassed {
		t.Fatalf("the certification does not allow our signature:\n%s", dumpReport(rep))
	}
	wantSig(t, rep, 1, TotalPassed, "")

	_, res, err = signBytes(t, in, entitySigner(pki, "person-p256"), &Options{NewField: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Field == "signature-test2" || res.Field == "signature-test" {
		t.Fatalf("NewField: signed %q", res.Field)
	}
	// Two empty fields are filled in order, then a new field is made.
	doc := corpus(t, "emptysig-2fields-pdf20-tagged.pdf")
	var names []string
	for i := 0; i < 3; i++ {
		doc, res, err = signBytes(t, doc, entitySigner(pki, "person-p256"), nil)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, res.Field)
	}
	if af := fieldsOf(t, doc); len(af.Fields) != 3 || names[0] == names[1] || names[2] != "Signature1" && names[2] != "Signature3" {
		t.Fatalf("filled %v, fields %d", names, len(af.Fields))
	}
}
