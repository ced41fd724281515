package pades

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades/pdf"
	"github.com/semnat/semnat/testcerts"
)

// benchSignedBLT returns a 1 MB document signed at B-LT (signature
// timestamp, DSS with certificates and OCSP responses) against loopback
// TSA/OCSP servers, and the PKI.
func benchSignedBLT(b *testing.B) ([]byte, *testcerts.PKI) {
	b.Helper()
	l, stop, err := startLivePKI()
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	e := l.pki.MustGet("person-p256")
	out, _, err := signBytes(b, samplepdf.Document("bench", nil, 1<<20), NewKeySigner(e.Key, e.Cert, e.Chain), l.options(LevelBLT))
	if err != nil {
		b.Fatal(err)
	}
	return out, l.pki
}

// BenchmarkVerify1MB is the in-process target: offline
// verification (revocation from the DSS) of a 1 MB B-LT document, on every
// core (report verifications/s).
func BenchmarkVerify1MB(b *testing.B) {
	doc, pki := benchSignedBLT(b)
	benchVerify(b, doc, &VerifyOptions{Roots: pki.RootPool()})
}

// BenchmarkVerify1MBCached is BenchmarkVerify1MB with a VerifyCache, as a
// service verifying many documents from the same CAs runs. The cache keeps
// results keyed by the SHA-256 of the exact bytes they depend on (see
// VerifyCache); since this benchmark verifies the same document again and
// again, every CMS, OCSP and timestamp check is a cache hit after the
// first call, and what is measured is reading, parsing and hashing the
// document (its digest is computed on every call). A new document from a
// known signer and PKI still pays for its own CMS and timestamp signatures
// (about 0.2 ms more on this machine).
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
	cpu0 := processCPU()
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
	// CPU time of the process per verification (GC included), which other
	// load on a shared machine disturbs much less than wall time: 2e9 /
	// cpu-ns/op is the rate 2 idle cores would reach.
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU returns the user+system CPU time of the process in ns.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkReferencedIn measures the walk the revision diff makes when a
// later revision defines objects (every signing revision does): all
// dictionaries and arrays reachable from the previous revision's trailer,
// here a 2,000-page document (report ns per walk; about 6 objects a page).
func BenchmarkReferencedIn(b *testing.B) {
	const pages = 2000
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", ""}
	kids := make([]string, 0, pages)
	for i := 0; i < pages; i++ {
		n := len(objs) + 1
		kids = append(kids, fmt.Sprintf("%d 0 R", n))
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>", n+1, n+2),
			"<< /Length 9 >>\nstream\nBT (p) ET\nendstream",
			"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), pages)
	doc := samplepdf.Assemble(objs, "")
	v := &verifier{ctx: context.Background()}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := pdf.Open(bytes.NewReader(doc), int64(len(doc)), nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := referencedIn(v, r, []pdf.Ref{{Num: uint32(len(objs) + 1)}}); err != nil {
			b.Fatal(err)
		}
	}
}
