package pdf

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
)

// corpusDir is the shared corpus of real-world PDFs (see its README.md).
const corpusDir = "../../../shared/corpus"

type manifestRow map[string]string

func (m manifestRow) int(t *testing.T, k string) int {
	t.Helper()
	n, err := strconv.Atoi(m[k])
	if err != nil {
		t.Fatalf("manifest %s: column %s = %q: %v", m["file"], k, m[k], err)
	}
	return n
}

// loadManifest reads MANIFEST.tsv. Without the corpus the test fails in CI
// and is skipped elsewhere.
func loadManifest(t testing.TB) []manifestRow {
	t.Helper()
	var rows []manifestRow
	for _, r := range testtool.Manifest(t) {
		rows = append(rows, manifestRow(r))
	}
	return rows
}

func openFile(t testing.TB, path string, opts *Options) *Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(f, st.Size(), opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", filepath.Base(path), err)
	}
	return r
}

func TestCorpus(t *testing.T) {
	for _, row := range loadManifest(t) {
		t.Run(row["file"], func(t *testing.T) {
			path := filepath.Join(corpusDir, row["file"])
			user, _ := knownPassword(row["user_password"])
			r := openFile(t, path, &Options{Password: []byte(user)})
			encrypted := row["encrypted"] != "none"
			damaged := row["damaged"] == "yes"
			brokenChain := strings.Contains(row["xref_chain"], "broken") || strings.HasPrefix(row["file"], "broken-")

			if got := r.HeaderVersion(); got != row["pdf_version"] {
				t.Errorf("HeaderVersion = %q, manifest %q", got, row["pdf_version"])
			}
			if (r.Encrypted() != nil) != encrypted {
				t.Errorf("Encrypted() = %v, manifest encrypted=%s", r.Encrypted(), row["encrypted"])
			}
			if encrypted {
				want := map[string]string{"rc4": "RC4", "aes128": "AES-128", "aes256": "AES-256"}[row["encrypted"]]
				if r.Encrypted().Method != want {
					t.Errorf("encryption method %q, manifest %s", r.Encrypted().Method, row["encrypted"])
				}
				if !r.Decrypting() {
					t.Errorf("encrypted file not decrypted")
				}
			}
			if strings.HasPrefix(row["file"], "broken-") {
				if !r.Repaired() {
					t.Errorf("broken file not flagged Repaired")
				}
			} else if r.Repaired() {
				t.Errorf("file repaired: %v", r.RepairReasons())
			}

			if !brokenChain {
				revs := r.Revisions()
				if got, want := len(revs), row.int(t, "revisions"); got != want {
					t.Errorf("%d revisions, manifest %d", got, want)
				}
				// xref_chain lists sections newest first.
				var kinds []string
				for i := len(revs) - 1; i >= 0; i-- {
					rv := revs[i]
					kinds = append(kinds, rv.Kind.String())
					if rv.Linearized {
						kinds = append(kinds, kindAt(r, rv.Sections[1]))
					}
				}
				if got := strings.Join(kinds, ","); got != row["xref_chain"] {
					t.Errorf("xref chain %s, manifest %s", got, row["xref_chain"])
				}
				checkRevisionEnds(t, r, path)
			}

			n, err := r.NumPages()
			switch {
			case err == nil:
				if want := row.int(t, "pages"); n != want {
					t.Errorf("NumPages = %d, manifest %d", n, want)
				}
			default:
				t.Errorf("NumPages: %v", err)
			}
			if err == nil && n > 0 {
				for _, i := range []int{0, n - 1} {
					p, err := r.Page(i)
					if err != nil {
						t.Errorf("Page(%d): %v", i, err)
						continue
					}
					if p.MediaBox.URX <= p.MediaBox.LLX || p.MediaBox.URY <= p.MediaBox.LLY {
						t.Errorf("Page(%d): empty MediaBox %+v", i, p.MediaBox)
					}
				}
				if _, err := r.Page(n); !errors.Is(err, ErrNoSuchPage) {
					t.Errorf("Page(%d) past the end: %v", n, err)
				}
			}
			if !damaged {
				resolveAll(t, r)
			}
			if testing.Verbose() && len(r.Defects()) > 0 {
				t.Logf("defects: %q", r.Defects())
			}
		})
	}
}

func kindAt(r *Reader, off int64) string {
	for _, s := range r.chain {
		if s.offset == off {
			return s.kind.String()
		}
	}
	return "?"
}

// checkRevisionEnds checks each revision's End against the bytes: it must
// follow "%%EOF" (and its EOL), and the startxref before it must point at
// the revision's entry section.
func checkRevisionEnds(t *testing.T, r *Reader, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	revs := r.Revisions()
	for i, rv := range revs {
		if rv.End < 0 || rv.End > int64(len(data)) {
			t.Errorf("revision %d: End %d", i, rv.End)
			continue
		}
		head := strings.TrimRight(string(data[:rv.End]), "\r\n")
		if !strings.HasSuffix(head, "%%EOF") {
			t.Errorf("revision %d: End %d does not follow %%%%EOF", i, rv.End)
		}
		if rv.StartXref != rv.XrefOffset {
			t.Errorf("revision %d: startxref %d, entry section at %d", i, rv.StartXref, rv.XrefOffset)
		}
		if i > 0 && rv.End <= revs[i-1].End {
			t.Errorf("revision %d ends at %d, not after revision %d (%d)", i, rv.End, i-1, revs[i-1].End)
		}
		if i == len(revs)-1 && rv.StartXref != r.StartXref() {
			t.Errorf("newest revision startxref %d != file startxref %d", rv.StartXref, r.StartXref())
		}
	}
}

// resolveAll resolves every object of every revision and decodes every
// stream whose filters we support.
func resolveAll(t *testing.T, r *Reader) {
	t.Helper()
	for ri, rv := range r.Revisions() {
		v, err := r.AsOf(ri)
		if err != nil {
			t.Fatalf("AsOf(%d): %v", ri, err)
		}
		for _, e := range rv.Entries() {
			if e.Type == EntryFree {
				continue
			}
			o, err := v.Object(Ref{Num: e.Num, Gen: e.Gen})
			if err != nil {
				t.Errorf("revision %d: object %d: %v", ri, e.Num, err)
				continue
			}
			if _, ok := o.(Null); ok && e.Type != EntryFree {
				t.Errorf("revision %d: object %d (%+v) resolved to null", ri, e.Num, e)
			}
			if s, ok := o.(*Stream); ok {
				if _, err := v.StreamData(s); err != nil && !errors.Is(err, ErrUnsupportedFilter) {
					t.Errorf("revision %d: stream %d: %v", ri, e.Num, err)
				}
			}
		}
	}
	if r.Repaired() {
		t.Errorf("resolving all objects triggered a repair: %v", r.RepairReasons())
	}
}
