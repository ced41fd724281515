package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/testcerts"
)

// signedSample signs a corpus PDF with the PKI's person-p256 at B-B and
// writes it to dir: its path and bytes.
func signedSample(t *testing.T, pki *testcerts.PKI, dir string) (string, []byte) {
	t.Helper()
	in, err := os.ReadFile("../../../shared/corpus/pdf14-table.pdf")
	if err != nil {
		t.Fatal(err)
	}
	e := pki.MustGet("person-p256")
	var out bytes.Buffer
	if _, err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, pades.NewKeySigner(e.Key, e.Cert, e.Chain), nil); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.pdf")
	if err := os.WriteFile(good, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return good, out.Bytes()
}

func TestCLIVerify(t *testing.T) {
	pki := testcerts.New(t)
	dir := t.TempDir()
	good, signed := signedSample(t, pki, dir)
	bad := filepath.Join(dir, "bad.pdf")
	tampered := append([]byte(nil), signed...)
	tampered[200] ^= 1
	os.WriteFile(bad, tampered, 0o644)
	root := filepath.Join(dir, "roots")
	os.Mkdir(root, 0o755)
	os.WriteFile(filepath.Join(root, "root.pem"), testcerts.PEM(pki.Root.Cert), 0o644)

	run := func(args ...string) (int, string, string) {
		var so, se bytes.Buffer
		code := runCLI(args, &so, &se)
		return code, so.String(), se.String()
	}
	if code, so, se := run("verify", good, "--trust", root, "--revocation", "skip"); code != exitOK || !strings.Contains(so, "TOTAL-PASSED") {
		t.Fatalf("good: %d\n%s%s", code, so, se)
	}
	if code, so, se := run("verify", bad, "--trust", root, "--revocation", "skip"); code != exitFailed || !strings.Contains(so, "TOTAL-FAILED") {
		t.Fatalf("bad: %d\n%s%s", code, so, se)
	}
	if code, so, se := run("verify", good); code != exitIndeterminate {
		t.Fatalf("no trust: %d\n%s%s", code, so, se)
	}
	if code, _, se := run("verify", good, "--trust", root, "--offline"); code != exitIndeterminate || !strings.Contains(se, "INDETERMINATE") {
		t.Fatalf("no revocation data offline: %d %s", code, se)
	}
	if code, _, _ := run("verify", filepath.Join(dir, "missing.pdf")); code != exitUsage {
		t.Fatalf("missing file: %d", code)
	}
	// --json on one missing file: the one-file shape with an error object.
	code, so, _ := run("--json", "verify", filepath.Join(dir, "missing.pdf"))
	var fe struct {
		Version, File, Indication string
		Error                     *struct {
			Message  string
			ExitCode int `json:"exit_code"`
		}
	}
	if err := json.Unmarshal([]byte(so), &fe); err != nil || code != exitUsage || fe.Version != pades.ReportVersion || fe.Indication != "" ||
		fe.Error == nil || fe.Error.ExitCode != exitUsage || !strings.HasSuffix(fe.Error.Message, "missing.pdf: no such file or directory") || strings.Count(fe.Error.Message, "missing.pdf") != 1 {
		t.Fatalf("json, missing file: %d %v\n%s", code, err, so)
	}
	if code, _, _ := run("verify", good, "--revocation", "maybe"); code != exitUsage {
		t.Fatalf("bad flag: %d", code)
	}
	code, so, _ = run("--json", "verify", good, "--trust", filepath.Join(root, "root.pem"), "--revocation", "skip")
	var rep pades.Report
	if err := json.Unmarshal([]byte(so), &rep); err != nil || code != exitOK || rep.Version != pades.ReportVersion ||
		rep.Indication != pades.TotalPassed || len(rep.Signatures) != 1 || rep.Signatures[0].Level != "B-B" {
		t.Fatalf("json: %d %v\n%s", code, err, so)
	}
	code, so, _ = run("--json", "verify", good, bad, "--trust", root, "--revocation", "skip")
	var batch struct {
		Version, Indication string
		Reports             []json.RawMessage
	}
	if err := json.Unmarshal([]byte(so), &batch); err != nil || code != exitFailed || batch.Indication != "TOTAL-FAILED" || len(batch.Reports) != 2 {
		t.Fatalf("batch json: %d %v\n%s", code, err, so)
	}
}

func runCLI(args []string, stdout, stderr *bytes.Buffer) int {
	return run(args, strings.NewReader(""), stdout, stderr)
}

// TestCLIVerifyTrustNegativeSerial: a --trust file holding a root whose
// serial number is negative (pre-RFC 5280 CAs) loads, thanks to go.mod's
// godebug x509negativeserial=1, and anchors chains as usual.
func TestCLIVerifyTrustNegativeSerial(t *testing.T) {
	pki := testcerts.New(t)
	dir := t.TempDir()
	good, _ := signedSample(t, pki, dir)
	der, err := testcerts.WithNegativeSerial(pki.Root.Cert, pki.Root.Key)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root-negative-serial.pem")
	os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	certs, err := loadCertificates([]string{root})
	if err != nil || len(certs) != 1 || certs[0].SerialNumber.Sign() >= 0 {
		t.Fatalf("loading %s: %v", root, err)
	}
	var so, se bytes.Buffer
	if code := runCLI([]string{"verify", good, "--trust", root, "--revocation", "skip"}, &so, &se); code != exitOK || !strings.Contains(so.String(), "TOTAL-PASSED") {
		t.Fatalf("%d\n%s%s", code, so.String(), se.String())
	}
}
