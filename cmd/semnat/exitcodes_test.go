package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
)

// TestExitCodes runs each command's error cases and checks the codes of
// the one table (README "Exit codes", `semnat --help`): 0 success, 1
// failed, 2 indeterminate, 3 usage or input error.
func TestExitCodes(t *testing.T) {
	pki, _ := testPKIDir(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	doc := write("doc.pdf", samplepdf.Document("Contract", []string{"Contract of sale"}, 0))
	notPDF := write("notes.txt", []byte("just some words, no PDF header here"))
	missing := filepath.Join(dir, "missing.pdf")
	out := func(name string) string { return filepath.Join(dir, name) }
	key := []string{"--key", filepath.Join(pki, "seal/key.pem"), "--cert", filepath.Join(pki, "seal/cert.pem"), "--chain", filepath.Join(pki, "seal/chain.pem")}
	trust := filepath.Join(pki, "trust-anchors.pem")
	sign := func(args ...string) []string { return append(append([]string{"sign"}, args...), key...) }

	// Files the later cases need: a signed one, a tampered copy, a
	// document certified with P=1 (no further signature allowed).
	if code, _, e := runSignCLI(t, sign(doc, "-o", out("signed.pdf"))...); code != exitOK {
		t.Fatalf("sign: %d %s", code, e)
	}
	signed, _ := os.ReadFile(out("signed.pdf"))
	tampered := append([]byte(nil), signed...)
	tampered[100] ^= 1
	write("tampered.pdf", tampered)
	if code, _, e := runSignCLI(t, sign(doc, "-o", out("certified.pdf"), "--certify", "1")...); code != exitOK {
		t.Fatalf("certify: %d %s", code, e)
	}

	cases := []struct {
		name string
		args []string
		code int
		// say is in the error message (stderr), when given.
		say string
	}{
		{"unknown command", []string{"sing"}, exitUsage, "unknown command"},
		{"unknown flag", []string{"version", "--bogus"}, exitUsage, "unknown flag"},

		{"sign: no input", []string{"sign"}, exitUsage, ""},
		{"sign: no output", sign(doc), exitUsage, "say where to write"},
		{"sign: missing input", sign(missing, "-o", out("x.pdf")), exitUsage, "missing.pdf: no such file"},
		{"sign: not a PDF", sign(notPDF, "-o", out("x.pdf")), exitUsage, "not a PDF file"},
		{"sign: a directory", sign(dir, "-o", out("x.pdf")), exitUsage, "not a regular file"},
		{"sign: a batch with an input not a PDF", sign(doc, notPDF, "--out-dir", out("batch")), exitUsage, "1 of 2 files failed"},
		{"sign: a batch with a missing input", sign(doc, missing, "--out-dir", out("batch2")), exitUsage, "1 of 2 files failed"},
		{"sign: bad level", sign(doc, "-o", out("x.pdf"), "--level", "B-X"), exitUsage, ""},
		{"sign: B-T without a TSA", sign(doc, "-o", out("x.pdf"), "--level", "B-T"), exitUsage, "--tsa"},
		{"sign: missing key file", []string{"sign", doc, "-o", out("x.pdf"), "--key", missing, "--cert", missing}, exitUsage, ""},
		{"sign: a document certified with P=1", sign(out("certified.pdf"), "-o", out("x.pdf")), exitFailed, ""},
		{"sign: success", sign(doc, "-o", out("ok.pdf")), exitOK, ""},

		{"verify: no input", []string{"verify"}, exitUsage, ""},
		{"verify: missing input", []string{"verify", missing}, exitUsage, "missing.pdf: no such file"},
		{"verify: not a PDF", []string{"verify", notPDF}, exitUsage, "not a PDF file"},
		{"verify: bad --revocation", []string{"verify", out("signed.pdf"), "--revocation", "maybe"}, exitUsage, ""},
		{"verify: bad --at", []string{"verify", out("signed.pdf"), "--at", "yesterday"}, exitUsage, ""},
		{"verify: tampered", []string{"verify", out("tampered.pdf"), "--trust", trust, "--revocation", "skip"}, exitFailed, "TOTAL-FAILED"},
		{"verify: no trust anchors", []string{"verify", out("signed.pdf"), "--offline"}, exitIndeterminate, "INDETERMINATE"},
		{"verify: no signature", []string{"verify", doc, "--offline"}, exitIndeterminate, ""},
		{"verify: passed", []string{"verify", out("signed.pdf"), "--trust", trust, "--revocation", "skip"}, exitOK, ""},
		{"verify: the worst of several", []string{"verify", out("signed.pdf"), out("tampered.pdf"), missing, "--trust", trust, "--revocation", "skip"}, exitUsage, ""},

		{"tsa stamp: missing input", []string{"tsa", "stamp", missing, "--url", "http://127.0.0.1:1/tsa"}, exitUsage, ""},
		{"tsa verify: no --data", []string{"tsa", "verify", missing}, exitUsage, ""},
		{"ocsp check: missing certificate", []string{"ocsp", "check", missing}, exitUsage, ""},
		{"ocsp check: not a certificate", []string{"ocsp", "check", notPDF}, exitUsage, ""},
		{"crl check: missing certificate", []string{"crl", "check", missing}, exitUsage, ""},
		{"crl show: not a CRL", []string{"crl", "show", notPDF}, exitUsage, ""},
		{"ca revoke: no PKI", []string{"ca", "revoke", "--pki", out("nopki"), "--name", "x", "--reason", "keyCompromise"}, exitUsage, "testcerts generate"},
		{"testcerts generate: unwritable", []string{"testcerts", "generate", "--out", filepath.Join(notPDF, "pki")}, exitUsage, ""},
		{"token list: no module", []string{"token", "list", "--module", missing}, exitUsage, ""},
		{"audit verify: no store", []string{"audit", "verify", "--data", out("nodata")}, exitUsage, "no store"},
		{"mobileid phone: bad action", []string{"mobileid", "phone", "+37300000002", "maybe"}, exitUsage, ""},
		{"serve: bad flag", []string{"serve", "--bogus"}, exitUsage, ""},
		{"demo: bad flag", []string{"demo", "--bogus"}, exitUsage, ""},
		{"agent: bad flag", []string{"agent", "--bogus"}, exitUsage, ""},
		{"version", []string{"version"}, exitOK, ""},
	}
	for _, tc := range cases {
		code, so, se := runSignCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(so+se, tc.say) {
			t.Errorf("%s: exit %d (want %d), want %q in\n%s%s", tc.name, code, tc.code, tc.say, so, se)
		}
	}
}
