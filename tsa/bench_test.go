package tsa

import (
	"context"
	"crypto"
	"crypto/sha256"
	"testing"

	"github.com/digitorus/timestamp"
)

// BenchmarkRespond: parse a request and sign a token (ECDSA P-256 TSA, with
// certificates), in process.
func BenchmarkRespond(b *testing.B) {
	for _, name := range []string{"tsa", "tsa-rsa"} {
		b.Run(name, func(b *testing.B) {
			_, s, _ := newTSA(b, name, ServerOptions{})
			d := sha256.Sum256([]byte("bench"))
			req := timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], Certificates: true}
			der, _ := req.Marshal()
			ctx := context.Background()
			for b.Loop() {
				if _, err := s.Respond(ctx, der); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkVerify: full token verification with chain building.
func BenchmarkVerify(b *testing.B) {
	p, s, _ := newTSA(b, "tsa", ServerOptions{})
	d := sha256.Sum256([]byte("bench"))
	req := timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], Certificates: true}
	der, _ := req.Marshal()
	out, _ := s.Respond(context.Background(), der)
	tok, err := ParseResponse(out)
	if err != nil {
		b.Fatal(err)
	}
	opts := VerifyOptions{Roots: p.RootPool()}
	for b.Loop() {
		if _, err := Verify(tok, crypto.SHA256, d[:], opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}
