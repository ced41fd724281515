package osslrsa_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/semnat/semnat/internal/osslrsa"
)

var keys = map[int]*rsa.PrivateKey{}

func key(t testing.TB, bits int) *rsa.PrivateKey {
	if k, ok := keys[bits]; ok {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	keys[bits] = k
	return k
}

// wrapped is the libcrypto signer of k; under CI libcrypto must be there.
func wrapped(t testing.TB, k *rsa.PrivateKey) *osslrsa.Key {
	t.Helper()
	w, err := osslrsa.New(k)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("libcrypto must be used under CI: %v", err)
		}
		t.Skip(err)
	}
	return w
}

var hashes = []crypto.Hash{crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512}

// TestSameBytesAsGo: PKCS#1 v1.5 is deterministic, so libcrypto's
// signatures must be crypto/rsa's byte for byte, for every size and hash.
func TestSameBytesAsGo(t *testing.T) {
	for _, bits := range []int{2048, 3072, 4096} {
		k := key(t, bits)
		w := wrapped(t, k)
		for _, h := range hashes {
			d := h.New()
			d.Write([]byte("semnat osslrsa"))
			digest := d.Sum(nil)
			want, err := rsa.SignPKCS1v15(nil, k, h, digest)
			if err != nil {
				t.Fatal(err)
			}
			got, err := w.Sign(rand.Reader, digest, h)
			if err != nil {
				t.Fatalf("%d %v: %v", bits, h, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%d %v: libcrypto's signature differs from crypto/rsa's", bits, h)
			}
			if err := rsa.VerifyPKCS1v15(&k.PublicKey, h, digest, got); err != nil {
				t.Fatalf("%d %v: %v", bits, h, err)
			}
		}
	}
}

// TestOpenSSLVerifies: the openssl command (another program) verifies
// what the wrapped key signs.
func TestOpenSSLVerifies(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is required under CI")
		}
		t.Skip("no openssl")
	}
	k := key(t, 2048)
	w := wrapped(t, k)
	dir := t.TempDir()
	msg := []byte("a SAML Response's SignedInfo, say")
	d := crypto.SHA256.New()
	d.Write(msg)
	sig, err := w.Sign(nil, d.Sum(nil), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pubPath := write("pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	msgPath := write("msg", msg)
	sigPath := write("sig", sig)
	out, err := exec.Command("openssl", "dgst", "-sha256", "-verify", pubPath, "-signature", sigPath, msgPath).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Verified OK")) {
		t.Fatalf("openssl dgst -verify: %v\n%s", err, out)
	}
	sig[10] ^= 1
	write("sig", sig)
	if out, err := exec.Command("openssl", "dgst", "-sha256", "-verify", pubPath, "-signature", sigPath, msgPath).CombinedOutput(); err == nil {
		t.Fatalf("openssl accepted a changed signature:\n%s", out)
	}
}

// TestLeftToGo: PSS and unhashed signatures, wrong digest lengths and keys
// that are not two-prime RSA keys go to Go or are refused as Go refuses.
func TestLeftToGo(t *testing.T) {
	k := key(t, 2048)
	w := wrapped(t, k)
	digest := make([]byte, 32)
	pss, err := w.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPSS(&k.PublicKey, crypto.SHA256, digest, pss, nil); err != nil {
		t.Fatalf("PSS: %v", err)
	}
	raw, err := w.Sign(nil, []byte("prehashed DigestInfo"), crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := rsa.SignPKCS1v15(nil, k, 0, []byte("prehashed DigestInfo")); !bytes.Equal(raw, want) {
		t.Fatal("unhashed signature differs from crypto/rsa's")
	}
	if _, err := w.Sign(nil, digest[:31], crypto.SHA256); err == nil {
		t.Fatal("a 31-byte SHA-256 digest was signed")
	}
	if w.Public().(*rsa.PublicKey).Equal(&k.PublicKey) == false {
		t.Fatal("Public differs")
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if got := osslrsa.Wrap(ec); got != crypto.Signer(ec) {
		t.Fatal("an ECDSA key was wrapped")
	}
	if again := osslrsa.Wrap(w); again != crypto.Signer(w) {
		t.Fatal("a wrapped key was wrapped again")
	}
}

// TestConcurrent: one key signs from many goroutines at once (run with
// -race); every signature is crypto/rsa's.
func TestConcurrent(t *testing.T) {
	k := key(t, 2048)
	w := wrapped(t, k)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				d := crypto.SHA256.New()
				d.Write([]byte{byte(g), byte(i)})
				digest := d.Sum(nil)
				got, err := w.Sign(nil, digest, crypto.SHA256)
				if err != nil || rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, digest, got) != nil {
					errs <- "a concurrent signature does not verify"
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// TestOff: SEMNAT_OPENSSL=off leaves every key to crypto/rsa (checked in
// a child process: the choice is made once per process).
func TestOff(t *testing.T) {
	if os.Getenv("OSSLRSA_CHILD") == "1" {
		k := key(t, 2048)
		if _, isRSA := osslrsa.Wrap(k).(*rsa.PrivateKey); !isRSA {
			t.Fatal("SEMNAT_OPENSSL=off: the key was still wrapped")
		}
		if ok, why := osslrsa.Available(); ok || why != "SEMNAT_OPENSSL=off" {
			t.Fatalf("Available() = %v, %q", ok, why)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOff$", "-test.count=1")
	cmd.Env = append(os.Environ(), "OSSLRSA_CHILD=1", "SEMNAT_OPENSSL=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// BenchmarkSign: RSA-2048 PKCS#1 v1.5 SHA-256 with crypto/rsa and with
// libcrypto, on every core.
func BenchmarkSign(b *testing.B) {
	k := key(b, 2048)
	digest := make([]byte, 32)
	for _, c := range []struct {
		name string
		s    crypto.Signer
	}{{"crypto-rsa", k}, {"libcrypto", wrapped(b, k)}} {
		b.Run(c.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.s.Sign(nil, digest, crypto.SHA256); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
