package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSignRepair: a damaged file is refused with a hint at --repair; with
// --repair it is rewritten (the user is told) and the rewrite signed and
// verified; once signed and damaged again, --repair refuses it.
func TestSignRepair(t *testing.T) {
	pki, _ := testPKIDir(t)
	dir := t.TempDir()
	key := []string{"--key", filepath.Join(pki, "seal/key.pem"), "--cert", filepath.Join(pki, "seal/cert.pem"), "--chain", filepath.Join(pki, "seal/chain.pem")}
	cli := func(args ...string) (int, string, string) {
		var so, se bytes.Buffer
		code := run(args, strings.NewReader(""), &so, &se)
		return code, so.String(), se.String()
	}
	damaged := "../../../shared/corpus/broken-xref-not-found.pdf"
	out := filepath.Join(dir, "signed.pdf")
	if code, so, se := cli(append([]string{"sign", damaged, "-o", out}, key...)...); code == 0 || !strings.Contains(se, "--repair") {
		t.Fatalf("damaged file without --repair: exit %d\n%s%s", code, so, se)
	}
	code, so, se := cli(append([]string{"sign", damaged, "-o", out, "--repair"}, key...)...)
	if code != 0 || !strings.Contains(se, "was damaged") || !strings.Contains(se, "rewritten") {
		t.Fatalf("--repair: exit %d\n%s%s", code, so, se)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files left in the output directory: %v", ents)
	}
	if code, so, se := cli("verify", out, "--trust", filepath.Join(pki, "trust-anchors.pem"), "--revocation", "skip"); code != exitOK {
		t.Fatalf("verify the signed rewrite: exit %d\n%s%s", code, so, se)
	}
	// Signed, then damaged: stays refused.
	data, _ := os.ReadFile(out)
	i := bytes.LastIndex(data, []byte("startxref\n"))
	broken := append(append([]byte(nil), data[:i+10]...), []byte("1\n%%EOF\n")...)
	signedDamaged := filepath.Join(dir, "signed-damaged.pdf")
	os.WriteFile(signedDamaged, broken, 0o644)
	if code, so, se := cli(append([]string{"sign", signedDamaged, "-o", filepath.Join(dir, "again.pdf"), "--repair"}, key...)...); code == 0 || !strings.Contains(se, "holds a signature") {
		t.Fatalf("--repair on a damaged signed file: exit %d\n%s%s", code, so, se)
	}
}
