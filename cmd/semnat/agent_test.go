package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/pkcs11/softhsmtest"
)

const agentPage = "http://127.0.0.1:8480"

// agentStart runs `semnat agent ARGS` in-process with stdin until the test
// ends and returns its URL and its stderr.
func agentStart(t *testing.T, stdin io.Reader, args ...string) (string, *revSyncBuffer) {
	t.Helper()
	return startCommand(t, stdin, append([]string{"agent"}, args...)...)
}

func agentCall(t *testing.T, method, url string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", agentPage)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// agentSign lists the certificates, asks for a signature of digest with the
// only one and checks the signature and the binding.
func agentSign(t *testing.T, base, nonce string, digest []byte) (int, []byte) {
	t.Helper()
	code, body := agentCall(t, "GET", base+"/v1/certificates", nil)
	var certs []wire.Certificate
	if code != 200 || json.Unmarshal(body, &certs) != nil || len(certs) != 1 {
		t.Fatalf("certificates: %d %s", code, body)
	}
	cert, err := x509.ParseCertificate(certs[0].Certificate)
	if err != nil {
		t.Fatal(err)
	}
	code, body = agentCall(t, "POST", base+"/v1/sign", wire.SignRequest{CertificateID: certs[0].ID, Hash: "SHA-256",
		Digest: digest, Nonce: nonce, Document: "cerere.pdf"})
	if code != 200 {
		return code, body
	}
	var resp wire.SignResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), digest, resp.Signature) {
		t.Error("the signature does not verify")
	}
	if err := wire.VerifyBinding(cert.PublicKey, crypto.SHA256, "", agentPage, nonce, digest, resp.Binding); err != nil || resp.Origin != agentPage {
		t.Errorf("binding for %q: %v", resp.Origin, err)
	}
	return code, body
}

func TestCLIAgentYes(t *testing.T) {
	tok := softhsmtest.New(t, "person-p256")
	t.Setenv("SEMNAT_PKCS11_MODULE", tok.ModulePath)
	t.Setenv("SEMNAT_PIN", tok.PIN)
	base, errb := agentStart(t, strings.NewReader(""), "--addr", "127.0.0.1:0", "--origin", agentPage,
		"--token-label", tok.Label, "--yes")
	if !strings.Contains(errb.String(), "WARNING: --yes") {
		t.Errorf("no warning for --yes: %s", errb.String())
	}
	d := sha256.Sum256([]byte("cerere"))
	if code, body := agentSign(t, base, "nonce-1", d[:]); code != 200 {
		t.Fatalf("sign: %d %s", code, body)
	}
	if !strings.Contains(errb.String(), `signing "cerere.pdf" for `+agentPage) {
		t.Errorf("the signature was not reported: %s", errb.String())
	}
	if strings.Contains(errb.String(), tok.PIN) {
		t.Error("the PIN was printed")
	}
	// Another site gets nothing.
	req, _ := http.NewRequest("GET", base+"/v1/certificates", nil)
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("foreign origin: %d", resp.StatusCode)
	}

	// --pin-file instead of $SEMNAT_PIN.
	os.Unsetenv("SEMNAT_PIN")
	pinFile := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(pinFile, []byte(tok.PIN+"\n"), 0o600)
	base, _ = agentStart(t, strings.NewReader(""), "--addr", "127.0.0.1:0", "--origin", agentPage,
		"--token-label", tok.Label, "--yes", "--pin-file", pinFile)
	if code, body := agentSign(t, base, "nonce-2", d[:]); code != 200 {
		t.Fatalf("sign with --pin-file: %d %s", code, body)
	}
}

// TestCLIAgentTerminal answers the terminal prompt through stdin: yes and
// the PIN for the first request, no for the second.
func TestCLIAgentTerminal(t *testing.T) {
	tok := softhsmtest.New(t, "person-p256")
	t.Setenv("SEMNAT_PKCS11_MODULE", tok.ModulePath)
	os.Unsetenv("SEMNAT_PIN")
	stdin := strings.NewReader("y\n" + tok.PIN + "\nn\n")
	base, errb := agentStart(t, stdin, "--addr", "127.0.0.1:0", "--origin", agentPage, "--token-label", tok.Label)
	d := sha256.Sum256([]byte("cerere"))
	if code, body := agentSign(t, base, "nonce-1", d[:]); code != 200 {
		t.Fatalf("sign: %d %s; stderr: %s", code, body, errb.String())
	}
	shown := errb.String()
	for _, want := range []string{"site:        " + agentPage, "document:    cerere.pdf", "Bălănescu", "SHA-256 " + hex.EncodeToString(d[:]), "[y/N]", "PIN for token"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the prompt does not show %q:\n%s", want, shown)
		}
	}
	if strings.Contains(shown, tok.PIN) {
		t.Error("the PIN was echoed")
	}
	code, body := agentSign(t, base, "nonce-2", d[:])
	var p wire.Problem
	if code != 403 || json.Unmarshal(body, &p) != nil || p.Type != wire.ProblemRefused {
		t.Errorf("refusal: %d %s", code, body)
	}
	// No answer left on stdin: the page learns the agent could not ask.
	code, body = agentSign(t, base, "nonce-3", d[:])
	if code != 503 || json.Unmarshal(body, &p) != nil || p.Type != wire.ProblemConsent {
		t.Errorf("no terminal answer: %d %s", code, body)
	}
}

func TestCLIAgentUsage(t *testing.T) {
	tok := softhsmtest.New(t, "person-p256")
	t.Setenv("SEMNAT_PKCS11_MODULE", tok.ModulePath)
	os.Unsetenv("SEMNAT_PIN")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"agent"}, "--origin URL is required"},
		{[]string{"agent", "--origin", "https://x/path"}, "no path"},
		{[]string{"agent", "--origin", agentPage, "--addr", "0.0.0.0:0"}, "loopback only"},
		{[]string{"agent", "--origin", agentPage, "--addr", "192.168.1.1:8421"}, "loopback only"},
		{[]string{"agent", "--origin", agentPage, "--addr", "127.0.0.1:0", "--yes"}, "--yes needs the PIN"},
		{[]string{"agent", "--origin", agentPage, "--addr", "127.0.0.1:0", "--pin-file", "pin"}, "only for --yes"},
		{[]string{"agent", "--origin", agentPage, "--addr", "127.0.0.1:0", "--module", "/nonexistent/module.so"}, "module"},
	} {
		code, _, errs := tokenRun(t, "", c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errs, exitUsage, c.want)
		}
	}
	code, out, _ := tokenRun(t, "", "agent", "--help")
	if code != 0 || !strings.Contains(out, "Security model") || !strings.Contains(out, "--origin") {
		t.Errorf("help: %d %s", code, out)
	}
}

// TestAgentListenFD: --listen-fd takes over a loopback socket and refuses
// one that listens beyond loopback, and a descriptor that is no socket.
func TestAgentListenFD(t *testing.T) {
	fdOf := func(ln net.Listener) int {
		t.Helper()
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fd, err := syscall.Dup(int(f.Fd())) // agentListener closes what it gets
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	lo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Close()
	ln, base, err := agentListener("ignored", fdOf(lo))
	if err != nil || base != "http://"+lo.Addr().String() {
		t.Fatalf("loopback socket: %v %q", err, base)
	}
	ln.Close()
	wide, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer wide.Close()
	if _, _, err := agentListener("", fdOf(wide)); err == nil || !strings.Contains(err.Error(), "loopback only") {
		t.Errorf("a socket on 0.0.0.0: %v", err)
	}
	r, w, _ := os.Pipe()
	defer w.Close()
	if _, _, err := agentListener("", int(r.Fd())); err == nil || !strings.Contains(err.Error(), "not a listening socket") {
		t.Errorf("a pipe: %v", err)
	}
}
