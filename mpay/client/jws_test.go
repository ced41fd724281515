package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func selfSigned(t testing.TB, rsaKey bool) (*Signer, *x509.Certificate, any) {
	t.Helper()
	var signer any
	if rsaKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		signer = k
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		signer = k
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	var der []byte
	var err error
	switch k := signer.(type) {
	case *rsa.PrivateKey:
		der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	case *ecdsa.PrivateKey:
		der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	}
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	var s *Signer
	switch k := signer.(type) {
	case *rsa.PrivateKey:
		s, err = NewSigner(k, cert)
	case *ecdsa.PrivateKey:
		s, err = NewSigner(k, cert)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s, cert, signer
}

func TestSignVerify(t *testing.T) {
	for _, rsaKey := range []bool{false, true} {
		s, cert, _ := selfSigned(t, rsaKey)
		body := []byte(`{"ServiceID":"MDS02","OrderKey":"1"}`)
		sig, err := s.Sign(OpOrderQuery, body)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(sig, ".")
		if len(parts) != 3 || parts[1] != "" {
			t.Fatalf("not a detached compact JWS: %q", sig)
		}
		hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
		if !strings.Contains(string(hdr), `"b64":false`) || !strings.Contains(string(hdr), `"crit":["b64"]`) {
			t.Fatalf("protected header %s: want b64 false, critical", hdr)
		}
		now := time.Now()
		if _, err := Verify(sig, body, OpOrderQuery, cert, now); err != nil {
			t.Fatalf("rsa=%v: %v", rsaKey, err)
		}
		for name, tc := range map[string]struct {
			sig  string
			body []byte
			op   string
			now  time.Time
		}{
			"tampered body": {sig, []byte(`{"ServiceID":"MDS02","OrderKey":"2"}`), OpOrderQuery, now},
			"other kind":    {sig, body, OpConfirm, now},
			"stale":         {sig, body, OpOrderQuery, now.Add(time.Hour)},
			"no signature":  {"", body, OpOrderQuery, now},
			"garbage":       {"a.b.c", body, OpOrderQuery, now},
		} {
			if _, err := Verify(tc.sig, tc.body, tc.op, cert, tc.now); !errors.Is(err, ErrBadSignature) {
				t.Errorf("%s: %v", name, err)
			}
		}
		_, other, _ := selfSigned(t, false)
		if _, err := Verify(sig, body, OpOrderQuery, other, now); !errors.Is(err, ErrBadSignature) {
			t.Errorf("another key: %v", err)
		}
	}
}

// TestEncodedPayloadRefused: a JWS over the base64url payload (b64 true)
// is not accepted, even by the right key.
func TestEncodedPayloadRefused(t *testing.T) {
	_, cert, key := selfSigned(t, false)
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).
		WithHeader("op", OpOrderQuery).WithHeader("iat", time.Now().Unix()))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{}`)
	obj, err := js.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := obj.DetachedCompactSerialize()
	if _, err := Verify(sig, body, OpOrderQuery, cert, time.Now()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("b64 payload: %v", err)
	}
}

// FuzzVerify: whatever the header and body, Verify answers without a
// panic, and accepts only the body the key signed.
func FuzzVerify(f *testing.F) {
	s, cert, _ := selfSigned(f, false)
	body := []byte(`{"PaymentID":"1"}`)
	good, _ := s.Sign(OpConfirm, body)
	f.Add(good, body)
	f.Add("eyJhbGciOiJub25lIn0..", body)
	f.Add("a.b.c", []byte{})
	f.Add(good+"x", body)
	now := time.Now()
	f.Fuzz(func(t *testing.T, sig string, b []byte) {
		if _, err := Verify(sig, b, OpConfirm, cert, now); err == nil && string(b) != string(body) {
			t.Fatalf("accepted %q over %q", sig, b)
		}
	})
}
