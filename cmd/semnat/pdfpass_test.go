package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
)

// TestCLIEncryptedPDF signs and verifies an AES-256 PDF with a user
// password given by file, environment and prompt; a missing or wrong
// password is explained in plain words and the password never printed.
func TestCLIEncryptedPDF(t *testing.T) {
	const user, owner = "s3cret-user-pw", "s3cret-owner-pw"
	pki, _ := testPKIDir(t)
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.pdf")
	os.WriteFile(plain, samplepdf.Document("Encrypted", []string{"text"}, 0), 0o644)
	enc := filepath.Join(dir, "enc.pdf")
	if b, err := exec.Command(testtool.Require(t, "qpdf"), "--encrypt", user, owner, "256", "--", plain, enc).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --encrypt: %v\n%s", err, b)
	}
	pwFile := filepath.Join(dir, "pw.txt")
	os.WriteFile(pwFile, []byte(user+"\n"), 0o600)
	key := []string{"--key", filepath.Join(pki, "seal/key.pem"), "--cert", filepath.Join(pki, "seal/cert.pem"), "--chain", filepath.Join(pki, "seal/chain.pem")}
	trust := []string{"--trust", filepath.Join(pki, "trust-anchors.pem"), "--revocation", "skip"}
	cli := func(stdin string, args ...string) (int, string) {
		var so, se bytes.Buffer
		code := run(args, strings.NewReader(stdin), &so, &se)
		out := so.String() + se.String()
		if strings.Contains(out, user) || strings.Contains(out, owner) {
			t.Errorf("semnat %v printed the password:\n%s", args, out)
		}
		return code, out
	}

	// No password: the prompt reads nothing.
	out1 := filepath.Join(dir, "out1.pdf")
	if code, o := cli("", append([]string{"sign", enc, "-o", out1}, key...)...); code == 0 || !strings.Contains(o, "needs its password") {
		t.Fatalf("sign without a password: exit %d\n%s", code, o)
	}
	if _, err := os.Stat(out1); !os.IsNotExist(err) {
		t.Fatal("an output file was left behind")
	}
	// Wrong password.
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("nope\n"), 0o600)
	if code, o := cli("", append([]string{"sign", enc, "-o", out1, "--password-file", bad}, key...)...); code == 0 || !strings.Contains(o, "password is wrong") {
		t.Fatalf("sign with a wrong password: exit %d\n%s", code, o)
	}
	// From a file.
	if code, o := cli("", append([]string{"sign", enc, "-o", out1, "--password-file", pwFile}, key...)...); code != 0 {
		t.Fatalf("sign --password-file: exit %d\n%s", code, o)
	}
	// From the environment, which is unset once read.
	t.Setenv(pdfPasswordEnv, user)
	if code, o := cli("", append([]string{"verify", out1}, trust...)...); code != exitOK || !strings.Contains(o, "TOTAL-PASSED") {
		t.Fatalf("verify with $%s: exit %d\n%s", pdfPasswordEnv, code, o)
	}
	if _, ok := os.LookupEnv(pdfPasswordEnv); ok {
		t.Errorf("$%s still set after reading", pdfPasswordEnv)
	}
	// At the prompt (the owner password, to sign a second time).
	out2 := filepath.Join(dir, "out2.pdf")
	code, o := cli(owner+"\n", append([]string{"sign", out1, "-o", out2}, key...)...)
	if code != 0 || !strings.Contains(o, "Password for out1.pdf") {
		t.Fatalf("sign with the prompt: exit %d\n%s", code, o)
	}
	if code, o := cli(user+"\n", append([]string{"verify", out2}, trust...)...); code != exitOK || strings.Count(o, "TOTAL-PASSED") < 3 {
		t.Fatalf("verify with the prompt: exit %d\n%s", code, o)
	}
	if code, o := cli("", append([]string{"verify", out2}, trust...)...); code != exitUsage || !strings.Contains(o, "needs its password") {
		t.Fatalf("verify without a password: exit %d\n%s", code, o)
	}
}
