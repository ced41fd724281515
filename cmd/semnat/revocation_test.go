package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semnat/semnat/testcerts"
)

// revSyncBuffer is a goroutine-safe buffer for a server command's stdout.
type revSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *revSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *revSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// revStartServer runs a server command until the test ends and returns the
// URL it prints.
func revStartServer(t *testing.T, args ...string) string {
	t.Helper()
	out := &revSyncBuffer{}
	a := &app{stdin: strings.NewReader(""), stdout: out, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	root := newRootCmd(a)
	root.SetArgs(args)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%v: %v", args, err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if s := out.String(); strings.HasPrefix(s, "listening on ") {
			return strings.TrimSpace(strings.TrimPrefix(strings.SplitN(s, "\n", 2)[0], "listening on "))
		}
		select {
		case err := <-done:
			t.Fatalf("%v exited: %v", args, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%v: no listening line", args)
	return ""
}

func revRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestCLIRevocationAndTimestamps(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p, err := testcerts.Generate(testcerts.Options{BaseURL: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := p.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	if got := revStartServer(t, "ocsp", "serve", "--pki", dir, "--addr", addr, "--tsa", "tsa-rsa"); got != "http://"+addr {
		t.Fatalf("ocsp serve listens on %s, want %s", got, addr)
	}
	tsaURL := revStartServer(t, "tsa", "serve", "--pki", dir, "--addr", "127.0.0.1:0") + "/tsa"
	cert := func(name string) string { return filepath.Join(dir, name, "cert.pem") }

	// OCSP: the issuer comes from the AIA caIssuers URL (served by ocsp serve).
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ocsp", "check", cert("person-rsa2048")}, exitOK, ": good"},
		{[]string{"ocsp", "check", cert("mobile-p256"), "--get", "--hash", "sha256"}, exitOK, ": good"},
		{[]string{"ocsp", "check", cert("revoked"), "--issuer", cert("token-ca")}, exitFailed, "keyCompromise"},
		{[]string{"crl", "check", cert("revoked")}, exitFailed, ": revoked"},
		{[]string{"crl", "check", cert("seal"), "--crl", filepath.Join(dir, "crl", "token-ca.crl")}, exitOK, ": good"},
		{[]string{"crl", "check", cert("seal"), "--issuer", cert("mobile-ca")}, exitUsage, ""},
		{[]string{"ocsp", "check", filepath.Join(dir, "nope.pem")}, exitUsage, ""},
		{[]string{"ocsp", "check", cert("person-p256"), "--url", "http://127.0.0.1:1/ocsp", "--issuer", cert("token-ca")}, exitIndeterminate, ""},
		{[]string{"crl", "show", "http://" + addr + "/crl/token-ca.crl"}, exitOK, "revoked:     1"},
	}
	for _, tc := range cases {
		code, out, errOut := revRun(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d (want %d)\nstdout: %s\nstderr: %s", tc.args, code, tc.code, out, errOut)
		}
	}
	code, out, _ := revRun(t, "ocsp", "check", cert("revoked"), "--json")
	var st struct{ Status, Reason, Responder string }
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != exitFailed || st.Status != "revoked" || st.Reason != "keyCompromise" || !strings.Contains(st.Responder, "OCSP Responder") {
		t.Errorf("--json: exit %d %+v %v\n%s", code, st, err, out)
	}

	// Time-stamps.
	doc := filepath.Join(t.TempDir(), "doc.txt")
	os.WriteFile(doc, []byte("Hotărârea nr. 1"), 0o644)
	trust := filepath.Join(dir, testcerts.TrustAnchorsFile)
	if code, out, errOut := revRun(t, "tsa", "stamp", doc, "--url", tsaURL, "--trust", trust); code != exitOK {
		t.Fatalf("stamp: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := revRun(t, "--json", "tsa", "verify", doc+".tst", "--data", doc, "--trust", trust)
	var info struct {
		Verified bool
		TSA      string
	}
	if code != exitOK || json.Unmarshal([]byte(out), &info) != nil || !info.Verified || !strings.Contains(info.TSA, "TSA") {
		t.Fatalf("verify: %d %s %s", code, out, errOut)
	}
	other := filepath.Join(t.TempDir(), "other.txt")
	os.WriteFile(other, []byte("altceva"), 0o644)
	if code, _, errOut := revRun(t, "tsa", "verify", doc+".tst", "--data", other, "--trust", trust); code != exitFailed || !strings.Contains(errOut, "covers other data") {
		t.Fatalf("verify other data: %d %s", code, errOut)
	}
	if code, _, _ := revRun(t, "tsa", "verify", doc+".tst", "--data", doc, "--trust", cert("untrusted-root")); code != exitFailed {
		t.Fatalf("verify untrusted: %d", code)
	}
	// The TSA served next to the OCSP responder (--tsa) answers too.
	if code, out, errOut := revRun(t, "--json", "tsa", "stamp", doc, "--url", "http://"+addr+"/tsa", "--trust", trust, "--out", doc+".rsa.tst"); code != exitOK || !strings.Contains(out, "TSA (RSA)") {
		t.Fatalf("stamp via ocsp serve --tsa: %d\n%s%s", code, out, errOut)
	}
	if code, _, _ := revRun(t, "tsa", "stamp", doc); code != exitUsage {
		t.Fatalf("stamp without --url: %d", code)
	}
}
