package textpdf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
)

// TestCode: a module matrix is drawn on the last page only, as filled
// squares, and the file stays sound for qpdf.
func TestCode(t *testing.T) {
	code := [][]bool{{true, false, true}, {false, true, false}, {true, true, true}}
	doc, err := Render([][]string{{"Document"}}, Options{Code: code})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Render([][]string{{"Document"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "code.pdf")
	os.WriteFile(file, doc, 0o600)
	if out, err := exec.Command(testtool.Require(t, "qpdf"), "--check", file).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
	out, err := exec.Command(testtool.Require(t, "qpdf"), "--qdf", "--object-streams=disable", file, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), " re\n"); n != 6 {
		t.Fatalf("%d squares drawn, want 6", n)
	}
	if len(plain) >= len(doc) || strings.Count(string(plain), " re\n") != 0 {
		t.Fatal("squares drawn without a code")
	}
	if codeOps(nil) != "" {
		t.Fatal("an empty code draws something")
	}
}
