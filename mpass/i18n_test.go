package mpass

import (
	"bytes"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestPageWordsComplete: every word a page template or the code asks for
// is in the message files (which NewCatalog checks for every language).
func TestPageWordsComplete(t *testing.T) {
	if catalogErr != nil {
		t.Fatal(catalogErr)
	}
	ids := catalog.IDs()
	literal := regexp.MustCompile(`\.T\(? ?"([^"]+)"`)
	problem := regexp.MustCompile(`(?:Problem: |refuse\([^,]+, [^,]+, [^,]+, |"problem\.)"?([a-z][a-z-]+)"`)
	found := 0
	check := func(name string, text []byte) {
		found += len(literal.FindAllSubmatch(text, -1)) + len(problem.FindAllSubmatch(text, -1))
		for _, m := range literal.FindAllSubmatch(text, -1) {
			if bytes.HasSuffix(m[1], []byte(".")) {
				continue // a prefix completed at run time: T("problem." + key)
			}
			if !slices.Contains(ids, string(m[1])) {
				t.Errorf("%s: %q is in no message file", name, m[1])
			}
		}
		for _, m := range problem.FindAllSubmatch(text, -1) {
			if id := "problem." + string(m[1]); !slices.Contains(ids, id) {
				t.Errorf("%s: %q is in no message file", name, id)
			}
		}
	}
	pages, _ := fs.Glob(webFS, "web/*.html")
	for _, p := range pages {
		b, _ := fs.ReadFile(webFS, p)
		check(p, b)
	}
	code, _ := fs.Glob(os.DirFS("."), "*.go")
	for _, f := range code {
		b, _ := os.ReadFile(f)
		check(f, b)
	}
	if found < 20 { // the patterns still find the words asked for
		t.Fatalf("only %d words found in the pages and the code", found)
	}
}
