package wire

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestBinding(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	doc := sha256.Sum256([]byte("document"))
	for _, tc := range []struct {
		name   string
		key    crypto.Signer
		scheme string
	}{{"ecdsa", ec, ""}, {"rsa", rk, "pkcs1v15"}, {"rsa-pss", rk, "pss"}} {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := SignerOpts(crypto.SHA256, tc.scheme)
			if err != nil {
				t.Fatal(err)
			}
			b, err := tc.key.Sign(rand.Reader, BindingDigest(crypto.SHA256, "https://msign.example", "n1", doc[:]), opts)
			if err != nil {
				t.Fatal(err)
			}
			pub := tc.key.Public()
			if err := VerifyBinding(pub, crypto.SHA256, tc.scheme, "https://msign.example", "n1", doc[:], b); err != nil {
				t.Fatalf("good binding refused: %v", err)
			}
			for _, bad := range []struct{ origin, nonce string }{{"https://evil.example", "n1"}, {"https://msign.example", "n2"}, {"https://msign.example", ""}} {
				if err := VerifyBinding(pub, crypto.SHA256, tc.scheme, bad.origin, bad.nonce, doc[:], b); !errors.Is(err, ErrBinding) {
					t.Errorf("binding accepted for origin %q nonce %q: %v", bad.origin, bad.nonce, err)
				}
			}
			other := sha256.Sum256([]byte("other"))
			if err := VerifyBinding(pub, crypto.SHA256, tc.scheme, "https://msign.example", "n1", other[:], b); !errors.Is(err, ErrBinding) {
				t.Errorf("binding accepted for another digest: %v", err)
			}
		})
	}
}

func TestHashNames(t *testing.T) {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		got, err := HashByName(HashName(h))
		if err != nil || got != h {
			t.Errorf("%v: round trip gave %v, %v", h, got, err)
		}
	}
	if _, err := HashByName("MD5"); err == nil {
		t.Error("MD5 accepted")
	}
	if _, err := SignerOpts(crypto.SHA256, "raw"); err == nil {
		t.Error("unknown scheme accepted")
	}
}
