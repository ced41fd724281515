package pades

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pkcs11/softhsmtest"
	"github.com/semnat/semnat/testcerts"
)

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Cleanup()
	os.Exit(code)
}

// TestSignWithSoftHSMToken signs PDFs with keys on a real SoftHSM2 token,
// every key type, and has pdfsig validate them.
func TestSignWithSoftHSMToken(t *testing.T) {
	names := []string{"person-rsa2048", "person-p256", "person-p384", "person-pss"}
	tok := softhsmtest.New(t, names...)
	pki := testcerts.New(t)
	db := trustDB(t, pki)
	in := corpus(t, "pdf15-xrefstream-objstm-64pages.pdf")
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			s := tok.Signer(t, n)
			out, _, err := signBytes(t, in, s, &Options{PSS: pki.MustGet(n).PSS, Reason: "token"})
			if err != nil {
				t.Fatal(err)
			}
			sigs, certs := pdfsigResult(t, db, writeTemp(t, out))
			if len(sigs) != 1 || sigs[0] != "Signature is Valid." || certs[0] != "Certificate is Trusted." {
				t.Fatalf("pdfsig: %v %v", sigs, certs)
			}
		})
	}
}

// TestTokenConcurrentBatch signs many documents in parallel through one
// token signer (one login, a pool of sessions).
func TestTokenConcurrentBatch(t *testing.T) {
	tok := softhsmtest.New(t, "seal")
	s := tok.Signer(t, "seal")
	doc := samplepdf.Document("batch", []string{"one of many"}, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			if _, err := Sign(context.Background(), bytes.NewReader(doc), int64(len(doc)), &out, s, nil); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkTokenBatch1000 signs 1,000 PDFs with one login on SoftHSM2 (the
// issue's batch figure): total and per-document time.
func BenchmarkTokenBatch1000(b *testing.B) {
	tok := softhsmtest.New(b, "person-p256")
	s := tok.Signer(b, "person-p256")
	doc := samplepdf.Document("batch", []string{"document"}, 100<<10)
	const n = 1000
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		var wg sync.WaitGroup
		next := make(chan int)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					var out bytes.Buffer
					if _, err := Sign(context.Background(), bytes.NewReader(doc), int64(len(doc)), &out, s, nil); err != nil {
						panic(fmt.Sprint(err))
					}
				}
			}()
		}
		for j := 0; j < n; j++ {
			next <- j
		}
		close(next)
		wg.Wait()
		el := time.Since(start)
		b.ReportMetric(el.Seconds(), "s/1000docs")
		b.ReportMetric(float64(el.Microseconds())/1000/n, "ms/doc")
	}
}
