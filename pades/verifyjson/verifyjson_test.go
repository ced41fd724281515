package verifyjson

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/testcerts"
)

// TestVerifyMatchesPades: the JSON is the report pades.Verify gives for
// the same bytes, anchors and time, with the chosen file name.
func TestVerifyMatchesPades(t *testing.T) {
	pki := testcerts.New(t)
	signed := signSample(t, pki)
	var anchors bytes.Buffer
	for _, c := range pki.TrustAnchors() {
		pem.Encode(&anchors, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	at := time.Now()
	out, err := Verify(context.Background(), signed, anchors.Bytes(), Options{At: at, File: "a.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	var got pades.Report
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want, err := pades.Verify(context.Background(), bytes.NewReader(signed), int64(len(signed)), &pades.VerifyOptions{Roots: pki.RootPool(), At: at})
	if err != nil {
		t.Fatal(err)
	}
	if got.File != "a.pdf" || got.Indication != want.Indication || got.SubIndication != want.SubIndication || len(got.Signatures) != 1 {
		t.Fatalf("got %s %s %d signatures (file %q); want %s %s", got.Indication, got.SubIndication, len(got.Signatures), got.File, want.Indication, want.SubIndication)
	}
	// Without anchors the chain is not trusted: never TOTAL-PASSED.
	out, err = Verify(context.Background(), signed, nil, Options{})
	if err != nil || bytes.Contains(out, []byte(`"indication": "TOTAL-PASSED"`)) {
		t.Fatalf("no anchors: %v %s", err, out)
	}
}

// TestVerifyBadInput: bad anchors and a non-PDF are errors, not panics.
func TestVerifyBadInput(t *testing.T) {
	if _, err := Verify(context.Background(), samplepdf.Document("x", nil, 0), []byte("not a certificate"), Options{}); !errors.Is(err, ErrTrust) {
		t.Fatalf("bad anchors: %v", err)
	}
	if _, err := Verify(context.Background(), []byte("hello"), nil, Options{}); !errors.Is(err, pades.ErrNotPDF) {
		t.Fatalf("not a PDF: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte("%PDF-1.7\n%%EOF"), []byte(""))
	f.Add(samplepdf.Document("x", nil, 0), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, doc, trust []byte) {
		out, err := Verify(context.Background(), doc, trust, Options{})
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
	})
}

// signSample signs a sample PDF with the PKI's first person (B-B).
func signSample(t *testing.T, pki *testcerts.PKI) []byte {
	t.Helper()
	person := pki.ByRole(testcerts.RolePerson)[0]
	doc := samplepdf.Document("Contract", []string{"nr. 42"}, 0)
	var signed bytes.Buffer
	if _, err := pades.Sign(context.Background(), bytes.NewReader(doc), int64(len(doc)), &signed,
		pades.NewKeySigner(person.Key, person.Cert, person.Chain), nil); err != nil {
		t.Fatal(err)
	}
	return signed.Bytes()
}
