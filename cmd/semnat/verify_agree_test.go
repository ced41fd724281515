package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/testcerts"
)

// verdict is what must be the same wherever a file is verified: the
// document's indication and each signature's indication, sub-indication
// and level.
func verdict(r *pades.Report) string {
	var b strings.Builder
	b.WriteString(string(r.Indication) + "/" + string(r.SubIndication))
	for _, s := range r.Signatures {
		b.WriteString("; " + s.Field + " " + string(s.Indication) + "/" + string(s.SubIndication) + " " + s.Level)
	}
	return b.String()
}

// levels lists each signature's level.
func levels(r *pades.Report) string {
	var out []string
	for _, s := range r.Signatures {
		out = append(out, s.Field+"="+s.Level)
	}
	return strings.Join(out, " ")
}

// TestVerifyOneVerdict: `semnat verify` (online by default) gives the same
// verdict as pades.Verify with the options the web page and API use
// (msign: the trust anchors, online revocation), on the signed files of
// the corpus and on files the CLI signs at each level against a running
// `ocsp serve` (OCSP, CRLs, TSA); and the level of every signature is the
// same with and without --trust.
func TestVerifyOneVerdict(t *testing.T) {
	p, dir, addr := servedPKI(t, "--tsa", "tsa")
	trust := filepath.Join(dir, testcerts.TrustAnchorsFile)
	in := "../../../shared/corpus/pdf14-table.pdf"

	var files []string
	for _, lvl := range []string{"B-B", "B-T", "B-LT", "B-LTA"} {
		out := filepath.Join(dir, "ours-"+lvl+".pdf")
		args := []string{"sign", in, "-o", out, "--key", filepath.Join(dir, "seal", "key.pem"), "--cert", filepath.Join(dir, "seal", "cert.pem"),
			"--chain", filepath.Join(dir, "seal", "chain.pem"), "--level", lvl, "--trust", trust}
		if lvl != "B-B" {
			args = append(args, "--tsa", "http://"+addr+"/tsa")
		}
		if code, _, se := revRun(t, args...); code != exitOK {
			t.Fatalf("sign %s: %d %s", lvl, code, se)
		}
		files = append(files, out)
	}
	corpus, err := filepath.Glob("../../../shared/corpus/*.pdf")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range corpus {
		if base := filepath.Base(f); strings.HasPrefix(base, "signed-") || strings.HasPrefix(base, "certified-") {
			files = append(files, f)
		}
	}
	if len(files) < 10 {
		t.Fatalf("only %d files: is the corpus there?", len(files))
	}
	roots := p.RootPool()
	cliReport := func(args ...string) (*pades.Report, int, string) {
		t.Helper()
		code, so, se := revRun(t, append([]string{"--json", "verify"}, args...)...)
		var r pades.Report
		if err := json.Unmarshal([]byte(so), &r); err != nil {
			t.Fatalf("%v: exit %d, not a report: %v\n%s%s", args, code, err, so, se)
		}
		return &r, code, se
	}
	passed := 0
	for _, f := range files {
		name := filepath.Base(f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lib, err := pades.Verify(context.Background(), bytes.NewReader(data), int64(len(data)), &pades.VerifyOptions{Roots: roots, Online: true})
		if err != nil {
			t.Fatalf("%s: library: %v", name, err)
		}
		cli, code, se := cliReport(f, "--trust", trust)
		if got, want := verdict(cli), verdict(lib); got != want {
			t.Errorf("%s: the CLI says\n  %s\nthe library (as the web page and API) says\n  %s\n%s", name, got, want, se)
		}
		if code != lib.ExitCode() {
			t.Errorf("%s: exit %d, the report's code is %d", name, code, lib.ExitCode())
		}
		if lib.Indication == pades.TotalPassed {
			passed++
		}
		untrusted, _, _ := cliReport(f)
		if got, want := levels(untrusted), levels(cli); got != want {
			t.Errorf("%s: the levels change with --trust: %s without, %s with", name, got, want)
		}
	}
	// Our four outputs pass online (they hold no revocation data at B-B
	// and B-T: it is fetched), and each has the level it was signed at.
	if passed < 4 {
		t.Errorf("only %d files passed; our own four should", passed)
	}
	for i, lvl := range []string{"B-B", "B-T", "B-LT", "B-LTA"} {
		r, _, _ := cliReport(files[i])
		if len(r.Signatures) == 0 || r.Signatures[0].Level != lvl {
			t.Errorf("%s: level %s, want %s", files[i], levels(r), lvl)
		}
	}
	// --offline: the B-T file has no revocation data of its own.
	if r, code, _ := cliReport(files[1], "--trust", trust, "--offline"); code != exitIndeterminate || r.Signatures[0].SubIndication != pades.TryLater {
		t.Errorf("--offline on a B-T file: exit %d, %s", code, verdict(r))
	}
}
