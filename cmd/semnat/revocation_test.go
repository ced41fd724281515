package main

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/testcerts"
)

// revSyncBuffer is a goroutine-safe buffer for a server command's stdout.
type revSyncBuffer = testtool.SyncBuffer

// revStartServer runs a server command until the test ends and returns the
// URL it prints.
func revStartServer(t *testing.T, args ...string) string {
	t.Helper()
	base, _ := startCommand(t, strings.NewReader(""), args...)
	return base
}

// startCommand runs a serving command (ARGS) in-process with stdin until
// the test ends and returns the URL of its "listening on" line and its
// stderr.
func startCommand(t *testing.T, stdin io.Reader, args ...string) (string, *revSyncBuffer) {
	t.Helper()
	return startCommandOn(t, nil, stdin, args...)
}

// startCommandOn is startCommand with listeners handed over to the command
// (app.listeners).
func startCommandOn(t *testing.T, listeners map[string]net.Listener, stdin io.Reader, args ...string) (string, *revSyncBuffer) {
	t.Helper()
	out, errb := &revSyncBuffer{}, &revSyncBuffer{}
	a := &app{stdin: stdin, stdout: out, stderr: errb, log: slog.New(slog.NewTextHandler(io.Discard, nil)), listeners: listeners}
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
			return strings.TrimSpace(strings.TrimPrefix(strings.SplitN(s, "\n", 2)[0], "listening on ")), errb
		}
		select {
		case err := <-done:
			t.Fatalf("%v exited: %v; stderr: %s", args, err, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%v: no listening line", args)
	return "", nil
}

func revRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// servedPKI generates a test PKI whose OCSP, CRL and CA-certificate URLs
// point at a loopback address, writes it to a temporary directory and
// serves it there with `ocsp serve --pki DIR` (and args). The PKI's URLs
// need the address before the server starts: the listener bound here is
// handed over to `ocsp serve` (no closing and binding again, which another
// test's server could take in between).
func servedPKI(t *testing.T, args ...string) (p *testcerts.PKI, dir, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	addr = l.Addr().String()
	p, err = testcerts.Generate(testcerts.Options{BaseURL: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if _, err := p.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	args = append([]string{"ocsp", "serve", "--pki", dir, "--addr", addr}, args...)
	if got, _ := startCommandOn(t, map[string]net.Listener{addr: l}, strings.NewReader(""), args...); got != "http://"+addr {
		t.Fatalf("ocsp serve listens on %s, want %s", got, addr)
	}
	return p, dir, addr
}

func TestCLIRevocationAndTimestamps(t *testing.T) {
	p, dir, addr := servedPKI(t, "--tsa", "tsa-rsa")
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
		{[]string{"crl", "show", "http://" + addr + "/crl/token-ca.crl"}, exitOK, "revoked:     2"}, // revoked and its authentication certificate, revoked-auth
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
	code, out, errOut := revRun(t, "--json", "tsa", "verify", doc+".tsr", "--data", doc, "--trust", trust)
	var info struct {
		Verified bool
		TSA      string
	}
	if code != exitOK || json.Unmarshal([]byte(out), &info) != nil || !info.Verified || !strings.Contains(info.TSA, "TSA") {
		t.Fatalf("verify: %d %s %s", code, out, errOut)
	}
	other := filepath.Join(t.TempDir(), "other.txt")
	os.WriteFile(other, []byte("altceva"), 0o644)
	if code, _, errOut := revRun(t, "tsa", "verify", doc+".tsr", "--data", other, "--trust", trust); code != exitFailed || !strings.Contains(errOut, "covers other data") {
		t.Fatalf("verify other data: %d %s", code, errOut)
	}
	if code, _, _ := revRun(t, "tsa", "verify", doc+".tsr", "--data", doc, "--trust", cert("untrusted-root")); code != exitFailed {
		t.Fatalf("verify untrusted: %d", code)
	}
	// The TSA served next to the OCSP responder (--tsa) answers too.
	if code, out, errOut := revRun(t, "--json", "tsa", "stamp", doc, "--url", "http://"+addr+"/tsa", "--trust", trust, "--out", doc+".rsa.tsr"); code != exitOK || !strings.Contains(out, "TSA (RSA)") {
		t.Fatalf("stamp via ocsp serve --tsa: %d\n%s%s", code, out, errOut)
	}
	if code, _, _ := revRun(t, "tsa", "stamp", doc); code != exitUsage {
		t.Fatalf("stamp without --url: %d", code)
	}
	// Standalone servers answer at the root of --addr.
	tsaRoot := strings.TrimSuffix(tsaURL, "/tsa")
	code, out, errOut = revRun(t, "tsa", "stamp", doc, "--url", tsaRoot, "--out", doc+".root.tsr")
	if code != exitOK || !strings.Contains(out, "gen time: ") {
		t.Fatalf("stamp at the TSA root: %d\n%s%s", code, out, errOut)
	}
	o, err := exec.Command(testtool.Require(t, "openssl"), "ts", "-reply", "-in", doc+".root.tsr", "-text").CombinedOutput()
	if err != nil || !strings.Contains(string(o), "Status: Granted") {
		t.Fatalf("openssl ts -reply on the .tsr: %v\n%s", err, o)
	}
	revLiveRevocation(t, p, dir, "http://"+addr)
}

// revLiveRevocation: `ca revoke` on the directory of a running `ocsp serve`
// shows at once in its OCSP answers (openssl as the client, at the root URL
// and at /ocsp, with and without nonce) and in its CRL (`crl fetch`).
func revLiveRevocation(t *testing.T, p *testcerts.PKI, dir, base string) {
	openssl := testtool.Require(t, "openssl")
	cert := func(name string) string { return filepath.Join(dir, name, "cert.pem") }
	victim := p.MustGet("person-p256")
	ask := func(url string, extra ...string) string {
		t.Helper()
		args := append([]string{"ocsp", "-issuer", cert("token-ca"), "-cert", cert("person-p256"), "-url", url,
			"-CAfile", filepath.Join(dir, testcerts.TrustAnchorsFile), "-verify_other", cert("token-ca")}, extra...)
		o, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(o), "Response verify OK") {
			t.Fatalf("openssl %v: %v\n%s", args, err, o)
		}
		return string(o)
	}
	for _, u := range []string{base, base + "/ocsp"} {
		if o := ask(u); !strings.Contains(o, ": good") {
			t.Fatalf("before revocation, %s:\n%s", u, o)
		}
	}
	ask(base, "-no_nonce") // pre-signed answer now cached
	// GET /<base64> at the root, and the CRL and CA paths are not swallowed by "/".
	id, err := ocsp.NewCertID(crypto.SHA1, victim.Issuer.Cert, victim.Cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	reqDER, err := (&ocsp.Request{CertIDs: []ocsp.CertID{id}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get("/" + url.PathEscape(base64.StdEncoding.EncodeToString(reqDER)))
	if r, err := ocsp.ParseResponse(body); err != nil || r.Status != ocsp.Successful || r.Responses[0].Status.State != crl.Good ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") || resp.Header.Get("ETag") == "" {
		t.Fatalf("GET /<base64>: %v %+v %v", err, r, resp.Header)
	}
	if resp, body := get("/crl/token-ca.crl"); resp.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Fatalf("GET /crl/token-ca.crl: %v %q", resp.Header, body)
	}
	if resp, _ := get("/ca/token-ca.crt"); resp.Header.Get("Content-Type") != "application/pkix-cert" {
		t.Fatalf("GET /ca/token-ca.crt: %v", resp.Header)
	}

	code, out, errOut := revRun(t, "ca", "revoke", "--pki", dir, "--cert", cert("person-p256"), "--reason", "keyCompromise", "--time", "2025-03-04T05:06:07Z")
	if code != exitOK || !strings.Contains(out, "revoked person-p256") {
		t.Fatalf("ca revoke: %d\n%s%s", code, out, errOut)
	}
	for _, extra := range [][]string{nil, {"-no_nonce"}} {
		o := ask(base, extra...)
		if !strings.Contains(o, ": revoked") || !strings.Contains(o, "keyCompromise") || !strings.Contains(o, "Mar  4 05:06:07 2025") {
			t.Fatalf("after revocation %v:\n%s", extra, o)
		}
	}
	if _, body := get("/" + base64.StdEncoding.EncodeToString(reqDER)); true {
		if r, err := ocsp.ParseResponse(body); err != nil || r.Responses[0].Status.State != crl.Revoked {
			t.Fatalf("GET after revocation: %v %+v", err, r)
		}
	}
	saved := filepath.Join(t.TempDir(), "token-ca.crl")
	code, out, errOut = revRun(t, "--json", "crl", "fetch", base+"/crl/token-ca.crl", "--issuer", cert("token-ca"), "--out", saved)
	var list struct {
		Verified bool
		Revoked  []struct{ Serial, Reason string }
	}
	if code != exitOK || json.Unmarshal([]byte(out), &list) != nil || !list.Verified {
		t.Fatalf("crl fetch: %d\n%s%s", code, out, errOut)
	}
	found := false
	for _, r := range list.Revoked {
		found = found || (r.Serial == fmt.Sprintf("%x", victim.Cert.SerialNumber) && r.Reason == "keyCompromise")
	}
	if der, err := os.ReadFile(saved); !found || err != nil || len(der) == 0 || der[0] != 0x30 {
		t.Fatalf("crl fetch: revocation not listed or not saved: %s %v", out, err)
	}
	// The CRL file in the directory was re-signed too; a second revocation is refused.
	if code, out, _ := revRun(t, "crl", "check", cert("person-p256"), "--crl", filepath.Join(dir, "crl", "token-ca.crl")); code != exitFailed {
		t.Fatalf("crl check against the re-signed file: %d %s", code, out)
	}
	if code, _, errOut := revRun(t, "ca", "revoke", "--pki", dir, "--name", "person-p256", "--reason", "superseded"); code != exitFailed || !strings.Contains(errOut, "already revoked") {
		t.Fatalf("second revocation: %d %s", code, errOut)
	}
	if code, _, _ := revRun(t, "ca", "revoke", "--pki", dir, "--serial", "abcdef", "--reason", "keyCompromise"); code != exitUsage {
		t.Fatalf("unknown serial: %d", code)
	}
}

// TestTSAServeWithPEMFiles runs `tsa serve` on explicit --cert/--key/--ca
// files (no PKI directory) and checks a stamp against it.
func TestTSAServeWithPEMFiles(t *testing.T) {
	dir, _ := testPKIDir(t)
	url := revStartServer(t, "tsa", "serve", "--cert", filepath.Join(dir, "tsa-rsa/cert.pem"),
		"--key", filepath.Join(dir, "tsa-rsa/key.pem"), "--ca", filepath.Join(dir, "tsa-rsa/chain.pem"), "--addr", "127.0.0.1:0")
	doc := filepath.Join(t.TempDir(), "doc.txt")
	os.WriteFile(doc, []byte("stamp me"), 0o644)
	if code, out, errOut := revRun(t, "tsa", "stamp", doc, "--url", url, "--trust", filepath.Join(dir, "trust-anchors.pem")); code != exitOK {
		t.Fatalf("stamp: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(doc + ".tsr"); err != nil {
		t.Fatal(err)
	}
	// --pki and --cert together, or --cert without --key, are usage errors.
	for _, args := range [][]string{
		{"tsa", "serve", "--pki", dir, "--cert", "x.pem", "--key", "y.pem"},
		{"tsa", "serve", "--cert", "x.pem"},
		{"tsa", "serve"},
	} {
		if code, _, _ := revRun(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestOCSPServeWithPEMFiles runs `ocsp serve` on explicit --cert/--key/--ca
// files and a CRL; openssl ocsp is the client.
func TestOCSPServeWithPEMFiles(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	dir, _ := testPKIDir(t)
	cert := func(name string) string { return filepath.Join(dir, name, "cert.pem") }
	url := revStartServer(t, "ocsp", "serve", "--cert", cert("ocsp-token"), "--key", filepath.Join(dir, "ocsp-token/key.pem"),
		"--ca", cert("token-ca"), "--crl", filepath.Join(dir, "crl/token-ca.crl"), "--addr", "127.0.0.1:0")
	for who, want := range map[string]string{"person-p256": ": good", "revoked": ": revoked"} {
		o, err := exec.Command(openssl, "ocsp", "-issuer", cert("token-ca"), "-cert", cert(who), "-url", url,
			"-CAfile", filepath.Join(dir, testcerts.TrustAnchorsFile), "-verify_other", cert("token-ca")).CombinedOutput()
		if err != nil || !strings.Contains(string(o), "Response verify OK") || !strings.Contains(string(o), want) {
			t.Errorf("%s: want %q: %v\n%s", who, want, err, o)
		}
	}
	if code, _, _ := revRun(t, "ocsp", "serve", "--cert", cert("ocsp-token")); code != exitUsage {
		t.Errorf("--cert alone: exit %d", code)
	}
}
