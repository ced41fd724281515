package keyfile_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/semnat/semnat/internal/keyfile"
	"github.com/semnat/semnat/testcerts"
)

func TestLoad(t *testing.T) {
	pki := testcerts.New(t)
	dir := t.TempDir()
	idx, err := pki.WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range idx.Entries {
		if e.Name != "person-rsa2048" && e.Name != "person-p384" {
			continue
		}
		want := pki.MustGet(e.Name)
		b, err := keyfile.LoadP12(filepath.Join(dir, e.P12), []byte(e.P12Password))
		if err != nil {
			t.Fatal(err)
		}
		if !b.Cert.Equal(want.Cert) || len(b.Chain) != len(want.Chain) {
			t.Fatalf("%s: p12 loaded %d chain certs", e.Name, len(b.Chain))
		}
		if _, err := keyfile.LoadP12(filepath.Join(dir, e.P12), []byte("wrong")); !errors.Is(err, keyfile.ErrWrongPassword) {
			t.Fatalf("wrong password: %v", err)
		}
		b, err = keyfile.LoadPEM(filepath.Join(dir, e.Key), filepath.Join(dir, e.Cert), filepath.Join(dir, e.Chain))
		if err != nil || !b.Cert.Equal(want.Cert) || len(b.Chain) != 1 {
			t.Fatalf("%s: pem: %v", e.Name, err)
		}
	}
	// A key with someone else's certificate is refused.
	if _, err := keyfile.LoadPEM(filepath.Join(dir, "person-p256/key.pem"), filepath.Join(dir, "person-p384/cert.pem"), ""); err == nil {
		t.Fatal("mismatched key and certificate accepted")
	}
}
