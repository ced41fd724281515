package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/testcerts"
)

// TestVerifyReportPDF: `semnat verify --report-pdf` writes the report as
// a PDF in the language asked, sealed at B-LT with a key and --tsa (our
// verifier, offline, and pdfsig accept the seal); without a key it is
// written unsealed with a warning; a bad language or several files are
// usage errors that write nothing.
func TestVerifyReportPDF(t *testing.T) {
	p, dir, addr := servedPKI(t, "--tsa", "tsa-rsa")
	work := t.TempDir()
	doc := filepath.Join(work, "contract.pdf")
	os.WriteFile(doc, samplepdf.Document("Contract", []string{"Contract de vânzare"}, 0), 0o644)
	signed := filepath.Join(work, "contract-signed.pdf")
	person := []string{"--key", filepath.Join(dir, "person-rsa2048/key.pem"), "--cert", filepath.Join(dir, "person-rsa2048/cert.pem"), "--chain", filepath.Join(dir, "person-rsa2048/chain.pem")}
	if code, _, e := revRun(t, append([]string{"sign", doc, "-o", signed}, person...)...); code != exitOK {
		t.Fatalf("sign: %d %s", code, e)
	}
	trust := filepath.Join(dir, testcerts.TrustAnchorsFile)
	seal := []string{"--key", filepath.Join(dir, "seal/key.pem"), "--cert", filepath.Join(dir, "seal/cert.pem"), "--chain", filepath.Join(dir, "seal/chain.pem")}

	report := filepath.Join(work, "report.pdf")
	args := append([]string{"verify", signed, "--trust", trust, "--report-pdf", report, "--report-lang", "en", "--tsa", "http://" + addr + "/tsa"}, seal...)
	if code, out, e := revRun(t, args...); code != exitOK {
		t.Fatalf("verify --report-pdf: exit %d\n%s%s", code, out, e)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pades.Verify(context.Background(), bytes.NewReader(data), int64(len(data)), &pades.VerifyOptions{Roots: p.RootPool()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != 1 || rep.Indication != pades.TotalPassed || rep.Signatures[0].Level != "B-LT" || rep.Signatures[0].Signer.Subject != p.MustGet("seal").Cert.Subject.String() {
		t.Fatalf("the report's seal: %s, %+v", rep.Indication, rep.Signatures)
	}
	testtool.PdfsigTrusted(t, testtool.NSSTrustDB(t, p.Root.Cert), report)
	out, err := exec.Command(testtool.Require(t, "pdftotext"), "-raw", report, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Electronic signature verification report", "Signer: " + p.MustGet("person-rsa2048").Cert.Subject.CommonName, "Valid signature (TOTAL-PASSED)", "Europe/Chisinau"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("%q not in the report:\n%s", w, out)
		}
	}

	// Unsealed without a key, with a warning.
	plain := filepath.Join(work, "plain.pdf")
	if code, _, e := revRun(t, "verify", signed, "--trust", trust, "--report-pdf", plain); code != exitOK || !strings.Contains(e, "not sealed") {
		t.Fatalf("unsealed report: exit %d, stderr %s", code, e)
	}
	if b, err := os.ReadFile(plain); err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) || bytes.Contains(b, []byte("/ByteRange")) {
		t.Fatalf("the unsealed report: %v", err)
	}
	// Usage errors write nothing.
	for _, bad := range [][]string{
		{"verify", signed, "--trust", trust, "--report-pdf", filepath.Join(work, "de.pdf"), "--report-lang", "de"},
		{"verify", signed, signed, "--trust", trust, "--report-pdf", filepath.Join(work, "two.pdf")},
	} {
		if code, _, _ := revRun(t, bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", bad, code, exitUsage)
		}
	}
	for _, f := range []string{"de.pdf", "two.pdf"} {
		if _, err := os.Stat(filepath.Join(work, f)); err == nil {
			t.Errorf("%s written after a usage error", f)
		}
	}
}
