package tsa

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/digitorus/timestamp"
)

// BenchmarkRespond: parse a request and sign a token (with certificates),
// in process: ECDSA P-256 ("tsa") and RSA-2048 ("tsa-rsa") with the
// built-in encoder, and P-256 with github.com/digitorus/timestamp's
// encoder ("tsa-library"), which re-verifies the chain for every token.
// Compare tsa-rsa with BenchmarkRawSign/rsa2048, the limit.
func BenchmarkRespond(b *testing.B) {
	for _, name := range []string{"tsa", "tsa-rsa", "tsa-library"} {
		b.Run(name, func(b *testing.B) {
			entity, opts := name, ServerOptions{}
			if name == "tsa-library" {
				entity, opts.UseLibrary = "tsa", true
			}
			_, s, _ := newTSA(b, entity, opts)
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

// BenchmarkRawSign: the bare signature of a SHA-256 digest with the TSA
// keys (rsa.SignPKCS1v15 for RSA-2048, ECDSA for P-256): the ceiling of
// BenchmarkRespond.
func BenchmarkRawSign(b *testing.B) {
	for _, tc := range []struct{ bench, entity string }{{"p256", "tsa"}, {"rsa2048", "tsa-rsa"}} {
		b.Run(tc.bench, func(b *testing.B) {
			p, _, _ := newTSA(b, tc.entity, ServerOptions{})
			key := p.MustGet(tc.entity).Key
			d := sha256.Sum256([]byte("bench"))
			for b.Loop() {
				var err error
				if k, ok := key.(*rsa.PrivateKey); ok {
					_, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
				} else {
					_, err = key.Sign(rand.Reader, d[:], crypto.SHA256)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signs/s")
		})
	}
}
