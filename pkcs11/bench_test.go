package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/semnat/semnat/pkcs11"
	"github.com/semnat/semnat/pkcs11/softhsmtest"
)

// benchToken makes a token holding one key of the given kind with a
// self-signed certificate (cheaper than a whole test PKI).
func benchToken(b *testing.B, key crypto.Signer) (*softhsmtest.Token, *pkcs11.Signer) {
	b.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		b.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	tok := softhsmtest.New(b)
	if _, err := tok.Module.Import(context.Background(), pkcs11.ImportOptions{
		Token: tok.Selector(), PIN: tok.PINSource(), Key: key, Certificate: cert, Label: "bench"}); err != nil {
		b.Fatal(err)
	}
	s, err := tok.Module.NewSigner(context.Background(), pkcs11.SignerOptions{Token: tok.Selector(), PIN: tok.PINSource()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return tok, s
}

// parallel runs n calls of f spread over g goroutines and reports sigs/s.
func parallel(b *testing.B, g int, f func(worker int) error) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, g)
	b.ResetTimer()
	for w := 0; w < g; w++ {
		n := b.N / g
		if w < b.N%g {
			n++
		}
		wg.Add(1)
		go func(w, n int) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if err := f(w); err != nil {
					errs <- err
					return
				}
			}
		}(w, n)
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
}

func benchSign(b *testing.B, key crypto.Signer) {
	tok, s := benchToken(b, key)
	digest := sha256.Sum256([]byte("benchmark document"))
	for _, g := range []int{1, 2} {
		b.Run("ours/goroutines="+string(rune('0'+g)), func(b *testing.B) {
			parallel(b, g, func(int) error {
				_, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
				return err
			})
		})
	}
	// The limit: C_SignInit + C_Sign in a loop on the same key, one
	// session per goroutine, nothing else (the Signer above keeps the
	// token logged in).
	raw := p11.New(tok.ModulePath)
	if err := raw.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		b.Fatal(err)
	}
	slot, err := tok.Module.FindToken(tok.Selector())
	if err != nil {
		b.Fatal(err)
	}
	mech, input := []*p11.Mechanism{p11.NewMechanism(p11.CKM_ECDSA, nil)}, digest[:]
	if _, ok := key.(*rsa.PrivateKey); ok {
		prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
		mech, input = []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_PKCS, nil)}, append(prefix, digest[:]...)
	}
	for _, g := range []int{1, 2} {
		b.Run("raw/goroutines="+string(rune('0'+g)), func(b *testing.B) {
			sess := make([]p11.SessionHandle, g)
			var keyH p11.ObjectHandle
			for i := range sess {
				h, err := raw.OpenSession(slot.ID, p11.CKF_SERIAL_SESSION)
				if err != nil {
					b.Fatal(err)
				}
				defer raw.CloseSession(h)
				sess[i] = h
			}
			if err := raw.FindObjectsInit(sess[0], []*p11.Attribute{
				p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY), p11.NewAttribute(p11.CKA_ID, []byte(s.KeyID()))}); err != nil {
				b.Fatal(err)
			}
			hs, _, err := raw.FindObjects(sess[0], 2)
			raw.FindObjectsFinal(sess[0])
			if err != nil || len(hs) != 1 {
				b.Fatalf("key: %v %d", err, len(hs))
			}
			keyH = hs[0]
			parallel(b, g, func(w int) error {
				if err := raw.SignInit(sess[w], mech, keyH); err != nil {
					return err
				}
				_, err := raw.Sign(sess[w], input)
				return err
			})
		})
	}
}

func BenchmarkSignRSA2048(b *testing.B) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	benchSign(b, k)
}

func BenchmarkSignP256(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	benchSign(b, k)
}
