package testcerts

import (
	"sync"
	"testing"
)

var shared struct {
	once sync.Once
	pki  *PKI
	err  error
}

// New returns the test PKI of this test binary, generating it on first use.
// The PKI is shared: tests must not Revoke or Issue on it (use Generate for a
// private one). Its URLs point at DefaultBaseURL.
func New(t testing.TB) *PKI {
	t.Helper()
	shared.once.Do(func() { shared.pki, shared.err = Generate(Options{}) })
	if shared.err != nil {
		t.Fatalf("testcerts: %v", shared.err)
	}
	return shared.pki
}
