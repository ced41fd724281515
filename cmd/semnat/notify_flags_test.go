package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/mpass"
)

// TestMNotifyFlags: a bad --mnotify or an unreadable key file is a usage
// error naming the flag, for the portal's and MPay's serve alike.
func TestMNotifyFlags(t *testing.T) {
	dir := t.TempDir()
	key, cert, err := mpass.SelfSigned("mpay.test", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile := filepath.Join(dir, "k.pem"), filepath.Join(dir, "c.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ args []string }{
		{[]string{"--mnotify", "ftp://mnotify.example.md"}},
		{[]string{"--mnotify", "https://mnotify.example.md", "--mnotify-key-file", "/nonexistent/key"}},
	} {
		for _, serve := range [][]string{{"mpay", "serve", "--key", keyFile, "--cert", certFile}, {"mpower", "serve", "--trust", certFile}} {
			args := append(append(serve, "--data", t.TempDir(), "--addr", "127.0.0.1:0"), tc.args...)
			code, _, stderr := revRun(t, args...)
			want := tc.args[len(tc.args)-2]
			if code != exitUsage || !strings.Contains(stderr, want) {
				t.Errorf("%s %v: %d %s (want a usage error naming %s)", serve[0], tc.args, code, stderr, want)
			}
		}
	}
	for _, svc := range []string{"portal", "mpay", "mpower"} {
		_, stdout, _ := revRun(t, svc, "serve", "--help")
		if !strings.Contains(stdout, "--mnotify-key-file") || !strings.Contains(stdout, "--mnotify string") {
			t.Errorf("%s serve --help does not name --mnotify and --mnotify-key-file:\n%s", svc, stdout)
		}
	}
}
