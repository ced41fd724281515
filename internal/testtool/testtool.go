// Package testtool holds what the project's tests share: finding the
// external oracles (openssl, qpdf, pdfsig, ...) and reading the shared PDF
// corpus and its manifest.
package testtool

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// InCI tells whether the tests run in CI, where a missing tool is a failure.
// .ci/run sets CI=true itself, so a local run of it is as strict as CI.
func InCI() bool { return os.Getenv("CI") != "" }

// installHints says how to get each external tool the tests use.
var installHints = map[string]string{
	"openssl":       "apt-get install openssl",
	"qpdf":          "apt-get install qpdf",
	"pdfsig":        "apt-get install poppler-utils",
	"pdftoppm":      "apt-get install poppler-utils",
	"pdftotext":     "apt-get install poppler-utils",
	"certutil":      "apt-get install libnss3-tools",
	"softhsm2-util": "apt-get install softhsm2",
	"pkcs11-tool":   "apt-get install opensc",
	"chromium":      "apt-get install chromium",
	"node":          "apt-get install nodejs",
	"npm":           "apt-get install npm",
	"pdfcpu":        "go install github.com/pdfcpu/pdfcpu/cmd/pdfcpu@v0.15.0",
}

// InstallHint is the command that installs tool name ("bash .ci/run
// installs every tool" when the tool has no hint of its own).
func InstallHint(name string) string {
	if h, ok := installHints[name]; ok {
		return h + " (bash .ci/run installs every tool)"
	}
	return "bash .ci/run installs every tool"
}

// Unavailable ends a test that cannot run its check here: outside CI it is
// skipped with a one-line reason, under CI=true it fails, so that CI never
// passes by skipping. what says what is missing; fix how to get it.
func Unavailable(t testing.TB, what, fix string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s (CI=true: a check may not be skipped); %s", what, fix)
	}
	logSkip(what, fix)
	t.Skipf("SKIP %s; %s; CI=true makes this a failure", what, fix)
}

// SkipLogEnv names the file (set by `make test`) where each skipped check
// appends one line, "what (fix)", so that the run ends with one summary
// line of what was not checked and how to install it; `go test` alone
// prints skips only with -v.
const SkipLogEnv = "SEMNAT_SKIP_LOG"

// logSkip appends to the skip log; a write of one short line with
// O_APPEND is whole even when test binaries of several packages write at
// once. A log that cannot be written changes nothing in the test.
func logSkip(what, fix string) {
	path := os.Getenv(SkipLogEnv)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	// The summary says once that .ci/run installs every tool.
	fix = strings.TrimSuffix(fix, " (bash .ci/run installs every tool)")
	line := strings.NewReplacer("\n", " ", ";", ",").Replace(what + " (" + fix + ")")
	f.WriteString(line + "\n")
}

// Require returns the path of an external tool. Outside CI a missing tool
// skips the test with one line naming the tool and its install command; in
// CI it fails it.
func Require(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, name+" not installed", "install: "+InstallHint(name))
	}
	return p
}

// CorpusDir is the shared corpus folder (../shared/corpus beside the
// repository), found from this file's location.
func CorpusDir(t testing.TB) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(self), "..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.tsv")); err != nil {
		if InCI() {
			t.Fatalf("corpus missing: %v", err)
		}
		t.Skipf("corpus missing: %v", err)
	}
	return dir
}

// ManifestRow is one line of the corpus MANIFEST.tsv, by column name.
type ManifestRow map[string]string

// Manifest reads the corpus manifest.
func Manifest(t testing.TB) []ManifestRow {
	t.Helper()
	f, err := os.Open(filepath.Join(CorpusDir(t), "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var header []string
	var rows []ManifestRow
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if header == nil {
			header = cols
			continue
		}
		row := ManifestRow{}
		for i, h := range header {
			if i < len(cols) {
				row[h] = cols[i]
			}
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("corpus manifest has no rows")
	}
	return rows
}
