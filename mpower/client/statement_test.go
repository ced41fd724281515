package client

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

func FuzzVerifyStatement(f *testing.F) {
	f.Add([]byte("eyJhbGciOiJFUzI1NiJ9.e30.AAAA"))
	f.Add([]byte("x.y.z"))
	f.Add([]byte(""))
	roots := x509.NewCertPool()
	f.Fuzz(func(t *testing.T, b []byte) {
		st, cert, err := VerifyStatement(b, roots, time.Now())
		if err == nil || st != nil || cert != nil || !errors.Is(err, ErrBadStatement) {
			t.Fatalf("untrusted input: %v %v %v", st, cert, err)
		}
	})
}
