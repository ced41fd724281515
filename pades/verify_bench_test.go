package pades

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/httpserve"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

// benchSignedBLT returns a 1 MB document signed at B-LT (signature
// timestamp, DSS with certificates and OCSP responses) against loopback
// TSA/OCSP servers, and the PKI.
func benchSignedBLT(b *testing.B) ([]byte, *testcerts.PKI) {
	b.Helper()
	ln, base, err := httpserve.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	pki, err := testcerts.Generate(testcerts.Options{BaseURL: base})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := pkiserve.New(pki, pkiserve.Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: svc}
	go srv.Serve(ln)
	defer srv.Close()
	hc := &http.Client{Timeout: 10 * time.Second}
	e := pki.MustGet("person-p256")
	out, _, err := signBytes(b, makePDF(b, 1<<20), NewKeySigner(e.Key, e.Cert, e.Chain), &Options{
		Level:       LevelBLT,
		Timestamper: TSA{Client: &tsa.Client{URL: base + testcerts.TSAPath, HTTPClient: hc, Roots: pki.RootPool()}},
		Revocation:  OnlineRevocation{HTTP: hc},
		ExtraCerts:  [][]byte{pki.Root.Cert.Raw},
	})
	if err != nil {
		b.Fatal(err)
	}
	return out, pki
}

// BenchmarkVerify1MB is the in-process target: offline
// verification (revocation from the DSS) of a 1 MB B-LT document, on every
// core (report verifications/s).
func BenchmarkVerify1MB(b *testing.B) {
	doc, pki := benchSignedBLT(b)
	benchVerify(b, doc, &VerifyOptions{Roots: pki.RootPool()})
}

// BenchmarkVerify1MBCached is BenchmarkVerify1MB with a VerifyCache, as a
// service verifying many documents from the same CAs runs: CA signatures
// are checked once; each document's CMS, OCSP and timestamp signatures and
// its digest are still checked every time.
func BenchmarkVerify1MBCached(b *testing.B) {
	doc, pki := benchSignedBLT(b)
	benchVerify(b, doc, &VerifyOptions{Roots: pki.RootPool(), Cache: NewVerifyCache(0)})
}

func benchVerify(b *testing.B, doc []byte, opts *VerifyOptions) {
	rep := verifyBytes(b, doc, opts)
	if rep.Indication != TotalPassed || rep.Signatures[0].Level != "B-LT" {
		b.Fatalf("benchmark document does not pass:\n%s", dumpReport(rep))
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := Verify(context.Background(), bytes.NewReader(doc), int64(len(doc)), opts)
			if err != nil || r.Indication != TotalPassed {
				b.Errorf("verify: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}
