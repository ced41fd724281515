package textpdf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/pades/pdf"
)

// TestDocument: a long text breaks over pages; qpdf finds the file sound
// and pdftotext reads the Romanian and Russian text back.
func TestDocument(t *testing.T) {
	var lines []string
	for i := 0; i < 120; i++ {
		lines = append(lines, fmt.Sprintf("Rândul %d: șțăîâ ȘȚ — строка", i))
	}
	b, err := Document(lines)
	if err != nil {
		t.Fatal(err)
	}
	r, err := pdf.Open(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := r.NumPages()
	if err != nil || n < 2 || n > 4 {
		t.Fatalf("%d pages (%v), want 2 to 4", n, err)
	}
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("qpdf"); err == nil {
		if out, err := exec.Command("qpdf", "--check", path).CombinedOutput(); err != nil {
			t.Fatalf("qpdf --check: %v\n%s", err, out)
		}
	}
	if _, err := exec.LookPath("pdftotext"); err == nil {
		out, err := exec.Command("pdftotext", path, "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Rândul 0: șțăîâ ȘȚ", "Rândul 119", "строка"} {
			if !strings.Contains(string(out), want) {
				t.Fatalf("pdftotext misses %q:\n%.500s", want, out)
			}
		}
	}
	if _, err := Page(lines); !errors.Is(err, ErrTooLong) {
		t.Fatalf("120 lines on one page: %v", err)
	}
	if b, err := Page([]string{"Un rând"}); err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("one page: %v", err)
	}
	huge := make([]string, 0, 5000)
	for i := 0; i < 5000; i++ {
		huge = append(huge, "x")
	}
	if _, err := Document(huge); !errors.Is(err, ErrTooLong) {
		t.Fatalf("5000 lines: %v", err)
	}
	if _, err := Document([]string{"bad \x01 control"}); err == nil || errors.Is(err, ErrTooLong) {
		t.Fatalf("a control character: %v", err)
	}
}
