package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/testcerts"
)

var pkiDirOnce struct {
	sync.Once
	dir string
	idx *testcerts.Index
	err error
}

// testPKIDir writes the test PKI once per binary.
func testPKIDir(t *testing.T) (string, *testcerts.Index) {
	t.Helper()
	pkiDirOnce.Do(func() {
		pkiDirOnce.dir, pkiDirOnce.err = os.MkdirTemp("", "semnat-cli-pki-")
		if pkiDirOnce.err == nil {
			pkiDirOnce.idx, pkiDirOnce.err = testcerts.New(t).WriteDir(pkiDirOnce.dir)
		}
	})
	if pkiDirOnce.err != nil {
		t.Fatal(pkiDirOnce.err)
	}
	return pkiDirOnce.dir, pkiDirOnce.idx
}

func runSignCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSignCommand(t *testing.T) {
	pki, _ := testPKIDir(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "a.pdf")
	os.WriteFile(good, samplepdf.Document("A", []string{"text"}, 0), 0o644)
	bad := filepath.Join(dir, "b.pdf")
	os.WriteFile(bad, []byte("not a pdf"), 0o644)
	key := []string{"--key", filepath.Join(pki, "seal/key.pem"), "--cert", filepath.Join(pki, "seal/cert.pem"), "--chain", filepath.Join(pki, "seal/chain.pem")}

	out := filepath.Join(dir, "a-signed.pdf")
	if code, _, e := runSignCLI(t, append([]string{"sign", good, "-o", out, "--reason", "ok"}, key...)...); code != 0 {
		t.Fatalf("sign: exit %d: %s", code, e)
	}
	// pdfsig reads what we wrote and trusts it through the test root.
	testtool.PdfsigTrusted(t, testtool.NSSTrustDB(t, testcerts.New(t).Root.Cert), out)
	// Refuses to overwrite, and to write over the input.
	if code, _, _ := runSignCLI(t, append([]string{"sign", good, "-o", out}, key...)...); code != exitUsage {
		t.Errorf("overwrite without --force: exit %d", code)
	}
	if code, _, _ := runSignCLI(t, append([]string{"sign", good, "-o", good, "--force"}, key...)...); code != exitUsage {
		t.Errorf("output over input: exit %d", code)
	}
	// To stdout.
	code, stdout, e := runSignCLI(t, append([]string{"sign", good, "-o", "-"}, key...)...)
	if code != 0 || !strings.HasPrefix(stdout, "%PDF-") || !strings.Contains(stdout, "/ETSI.CAdES.detached") {
		t.Fatalf("stdout: exit %d, %d bytes: %s", code, len(stdout), e)
	}
	// --json, one file: the documented snake_case shape (semnat-sign/1),
	// the level by name, no timestamp times at B-B.
	code, stdout, e = runSignCLI(t, append([]string{"--json", "sign", good, "-o", filepath.Join(dir, "a-json.pdf")}, key...)...)
	var one map[string]any
	if err := json.Unmarshal([]byte(stdout), &one); err != nil || code != exitOK {
		t.Fatalf("sign --json: exit %d, %v\n%s%s", code, err, stdout, e)
	}
	for _, k := range []string{"version", "input", "output", "level", "field", "size", "byte_range", "contents_size", "signature_size", "seconds"} {
		if _, ok := one[k]; !ok {
			t.Errorf("sign --json has no %q: %s", k, stdout)
		}
	}
	if one["version"] != "semnat-sign/1" || one["level"] != "B-B" || one["timestamp_time"] != nil || one["doc_timestamp_time"] != nil || one["error"] != nil {
		t.Errorf("sign --json: %s", stdout)
	}
	for k := range one {
		if k != strings.ToLower(k) {
			t.Errorf("sign --json key %q is not snake_case", k)
		}
	}
	// A batch with one input that is not a PDF: the good one is signed,
	// exit 3 (the worst: an input not a PDF), the JSON lists both, the bad
	// one with an error object.
	outDir := filepath.Join(dir, "out")
	code, stdout, _ = runSignCLI(t, append([]string{"sign", good, bad, "--out-dir", outDir, "--json"}, key...)...)
	var batch struct {
		Version        string
		Signed, Failed int
		Results        []struct {
			Input, Level string
			Error        *struct {
				Message  string
				ExitCode int `json:"exit_code"`
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &batch); err != nil || code != exitUsage || batch.Version != "semnat-sign/1" || batch.Signed != 1 || batch.Failed != 1 ||
		len(batch.Results) != 2 || batch.Results[0].Level != "B-B" || batch.Results[1].Error == nil || batch.Results[1].Error.ExitCode != exitUsage ||
		strings.Count(batch.Results[1].Error.Message, "not a PDF") != 1 {
		t.Fatalf("batch: exit %d, %v\n%s", code, err, stdout)
	}
	if _, err := os.Stat(filepath.Join(outDir, "a.pdf")); err != nil {
		t.Error("the good file of the batch was not signed")
	}
	if _, err := os.Stat(filepath.Join(outDir, "b.pdf")); !os.IsNotExist(err) {
		t.Error("the bad file of the batch left an output")
	}
	// Usage errors.
	for _, args := range [][]string{
		{"sign", good},                       // no output
		{"sign", good, "-o", out, "--force"}, // no key
		{"sign", good, "-o", out, "--level", "B-X"},
		{"sign", good, "-o", out, "--level", "B-T", "--force", "--p12", "x.p12"}, // B-T without --tsa
		{"sign", good, "-o", out, "--visible", "page=1", "--force", "--p12", "x.p12"},
	} {
		if code, _, _ := runSignCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
