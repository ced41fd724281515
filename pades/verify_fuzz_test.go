package pades

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades/pdf"
)

func quickSigner(t testing.TB) *KeySigner {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return NewKeySigner(key, cert, nil)
}

// fuzzLimits keep a hostile input from costing much in the fuzzers.
var fuzzLimits = &pdf.Options{Limits: pdf.Limits{MaxStreamSize: 1 << 20, MaxXrefStreamSize: 1 << 20, MaxObjects: 1 << 16, MaxTokenLen: 1 << 20}}

// FuzzVerify runs the whole verifier (PDF reader, signature dictionary,
// coverage, CMS, diff analysis) on mutated signed documents: no panic, no
// error but I/O or not-a-PDF.
func FuzzVerify(f *testing.F) {
	// A throw-away self-signed key: generating the test PKI in every fuzz
	// worker would take longer than the fuzzing.
	signer := quickSigner(f)
	signed, _, err := signBytes(f, handPDF("BT /F1 24 Tf 72 720 Td (Plata: 100 MDL) Tj ET"), signer, &Options{Certify: 2})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	two, _, err := signBytes(f, signed, signer, nil)
	if err == nil {
		f.Add(two)
	}
	// Revision-diff samples (issue 12): a hybrid update, a certified form
	// filled in place then approved visibly.
	if hy, err := samplepdf.Hybridize(signed, 40, []samplepdf.XrefEntry{{Num: 1, Type: 1, Offset: 15}}); err == nil {
		f.Add(hy)
	}
	form, _, err := signBytes(f, formPDFBytes(), signer, &Options{Certify: 2})
	if err == nil {
		if approved, _, err := signBytes(f, form, signer, &Options{NewField: true, Visible: &Visible{Page: 1, Rect: [4]float64{300, 50, 550, 120}}}); err == nil {
			f.Add(approved)
		}
	}
	f.Add([]byte("%PDF-1.7\n1 0 obj<</Type/Catalog/AcroForm<</Fields[2 0 R]>>>>endobj 2 0 obj<</FT/Sig/V<</ByteRange[0 1 2 3]/Contents<00>>>>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"))
	roots := x509.NewCertPool()
	roots.AddCert(signer.Cert)
	opts := &VerifyOptions{Roots: roots, PDF: fuzzLimits}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Verify(context.Background(), bytes.NewReader(data), int64(len(data)), opts)
		// In memory there is no I/O error: any input is a report or
		// ErrNotPDF; everything wrong with a signature is in the report.
		if err != nil && !errors.Is(err, ErrNotPDF) {
			t.Fatalf("error that is neither I/O nor not-a-PDF: %v", err)
		}
		if err == nil && rep == nil {
			t.Fatal("nil report without error")
		}
		if err == nil {
			for _, s := range rep.Signatures {
				if s.Indication == TotalPassed && s.Checks.Integrity != CheckPassed {
					t.Fatalf("passed without an integrity check: %+v", s)
				}
			}
		}
	})
}

// FuzzSigDict fuzzes the signature-dictionary parser and the coverage
// checks on a dictionary written as object 4 of a small document.
func FuzzSigDict(f *testing.F) {
	f.Add([]byte("<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange [0 10 20 30] /Contents <3000> /M (D:20240101000000Z) >>"))
	f.Add([]byte("<< /ByteRange [0 -1 2 3.5] /Contents (x) >>"))
	f.Add([]byte("<< /ByteRange 5 0 R /Contents null /Cert <00> >>"))
	f.Fuzz(func(t *testing.T, dict []byte) {
		doc := handPDF("q Q", string(dict))
		r, err := pdf.Open(bytes.NewReader(doc), int64(len(doc)), fuzzLimits)
		if err != nil {
			return
		}
		d, err := r.ResolveDict(pdf.Ref{Num: 6})
		if err != nil || d == nil {
			return
		}
		sd, err := parseSigDict(r, d)
		if err != nil {
			return
		}
		if sd.ByteRange[0] < 0 || len(sd.Contents) == 0 || len(sd.Contents) > maxContents {
			t.Fatalf("accepted %+v", sd)
		}
		v := &verifier{ctx: context.Background(), in: bytes.NewReader(doc), size: int64(len(doc)), r: r, opts: &VerifyOptions{}}
		s := &sigState{ref: pdf.Ref{Num: 6}, sd: sd, rev: -1, rep: &SignatureReport{Indication: TotalPassed}}
		if err := v.coverage(s); err != nil {
			t.Fatal(err)
		}
		if !s.failed {
			t.Fatalf("coverage accepted a dictionary that is not signed: %+v", sd)
		}
	})
}
