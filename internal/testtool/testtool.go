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
func InCI() bool { return os.Getenv("CI") != "" }

// Require returns the path of an external tool. Outside CI a missing tool
// skips the test; in CI it fails it, so that CI never passes by skipping.
func Require(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if InCI() {
			t.Fatalf("%s not installed: .ci/run must install it", name)
		}
		t.Skipf("%s not installed", name)
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
