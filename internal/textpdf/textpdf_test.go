package textpdf

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
)

// TestRenderPages: blocks that need several pages are spread over them,
// no block is cut between two pages, and qpdf and pdftotext read the
// result, diacritics included; MaxPages is kept.
func TestRenderPages(t *testing.T) {
	var blocks [][]string
	for i := range 40 {
		blocks = append(blocks, []string{fmt.Sprintf("Semnătura %d — ștampilă țară", i), "Подпись действительна", "third line"})
	}
	doc, err := Render(blocks, Options{})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "text.pdf")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(testtool.Require(t, "qpdf"), "--check", file).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
	out, err := exec.Command("qpdf", "--show-npages", file).Output()
	if err != nil {
		t.Fatal(err)
	}
	pages := strings.TrimSpace(string(out))
	if pages == "1" {
		t.Fatalf("40 blocks of 3 lines on %s page", pages)
	}
	for p := 1; ; p++ {
		out, err := exec.Command(testtool.Require(t, "pdftotext"), "-f", fmt.Sprint(p), "-l", fmt.Sprint(p), "-raw", file, "-").Output()
		if err != nil || fmt.Sprint(p) == pages {
			break
		}
		text := string(out)
		// Every block begun on this page ends on it.
		if strings.Count(text, "Semnătura") != strings.Count(text, "third line") {
			t.Errorf("page %d cuts a block:\n%s", p, text)
		}
		if p == 1 && !strings.Contains(text, "Semnătura 0 — ștampilă țară") {
			t.Errorf("page 1 lacks the first block:\n%s", text)
		}
	}
	if _, err := Render(blocks, Options{MaxPages: 1}); !errors.Is(err, ErrTooLong) {
		t.Errorf("MaxPages 1 for several pages: %v, want ErrTooLong", err)
	}
	long := make([]string, 200)
	for i := range long {
		long[i] = fmt.Sprint("line ", i)
	}
	if _, err := Render([][]string{long}, Options{}); err != nil {
		t.Errorf("a block longer than a page: %v", err)
	}
	if _, err := Render([][]string{{"bad\x00control"}}, Options{}); err == nil {
		t.Error("a control character was accepted")
	}
}
