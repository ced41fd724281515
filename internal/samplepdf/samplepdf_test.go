package samplepdf

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
)

func TestDocumentPassesQPDF(t *testing.T) {
	qpdf := testtool.Require(t, "qpdf")
	for _, size := range []int{0, 1 << 20} {
		doc := Document("Contract (nr. 1)", []string{"line one", "Chișinău"}, size)
		if len(doc) < size {
			t.Fatalf("size %d < %d", len(doc), size)
		}
		f := filepath.Join(t.TempDir(), "s.pdf")
		os.WriteFile(f, doc, 0o644)
		if out, err := exec.Command(qpdf, "--check", f).CombinedOutput(); err != nil {
			t.Fatalf("qpdf --check: %v\n%s", err, out)
		}
	}
}
