package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
)

// readmeTour returns the shell block of the README's "A short tour of the
// CLI".
func readmeTour(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "## A short tour of the CLI")
	if i < 0 {
		t.Fatal("README has no tour")
	}
	s = s[i:]
	start := strings.Index(s, "```sh\n")
	end := strings.Index(s[start+6:], "```\n")
	if start < 0 || end < 0 {
		t.Fatal("the tour has no sh block")
	}
	return s[start+6 : start+6+end]
}

// TestReadmeTour runs the README's tour as a script: every command in it,
// in order, in a fresh directory, on the binary `make build` makes (its
// first line), with the services' port 8480 moved to a free one (the
// machine may run a demo there). The script stops at the first command
// that fails.
func TestReadmeTour(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the whole tour")
	}
	testtool.Require(t, "softhsm2-util")
	module := ""
	for _, p := range []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"} {
		if _, err := os.Stat(p); err == nil {
			module = p
		}
	}
	if module == "" {
		testtool.Unavailable(t, "libsofthsm2.so not found", "install: "+testtool.InstallHint("softhsm2-util"))
	}
	tour := readmeTour(t)
	lines := strings.SplitN(tour, "\n", 2)
	if !strings.HasPrefix(lines[0], "make build") {
		t.Fatalf("the tour starts with %q, not make build", lines[0])
	}
	dir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "semnat")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	body := strings.NewReplacer("bin/semnat", bin, "127.0.0.1:8480", addr).Replace(lines[1])
	if strings.Contains(body, "8480") {
		t.Fatalf("the tour names port 8480 in a form the test cannot move:\n%s", body)
	}
	script := "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT\nset -x\n" + body
	conf := filepath.Join(dir, ".softhsm2.conf")
	os.Mkdir(filepath.Join(dir, ".tokens"), 0o700)
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, ".tokens")+"\nobjectstore.backend = file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf, "SEMNAT_PKCS11_MODULE="+module, "HOME="+dir, "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the tour fails: %v\n%s", err, out)
	}
	// What the tour says it makes is there.
	for _, f := range []string{".data/contract-signed.pdf", "pki/person-rsa2048/p12-password", "signed.pdf", "contract-lta.pdf",
		"signed/a.pdf", "signed/b.pdf", "token-signed.pdf", "contract.pdf.tsr", "token-ca.crl", "semnat.bash"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("after the tour: %v", err)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "pki/person-rsa2048/p12-password")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("p12-password: %v %v", st.Mode(), err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "contract.pdf")); !bytes.Equal(got, sampleContract) {
		t.Error("the tour did not sign the sample contract the demo writes")
	}
	if !strings.Contains(string(out), "TOTAL-PASSED") {
		t.Errorf("the tour's verify did not pass:\n%s", out)
	}
}
