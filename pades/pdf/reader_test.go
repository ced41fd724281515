package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
)

// mkPDF builds a classic-xref PDF whose objects 1..n have the given bodies
// (object 1 should be the catalog). trailerExtra is added to the trailer.
func mkPDF(objs []string, trailerExtra string) []byte { return samplepdf.Assemble(objs, trailerExtra) }

var minimalObjs = []string{
	"<</Type /Catalog /Pages 2 0 R>>",
	"<</Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 200 100]>>",
	"<</Type /Page /Parent 2 0 R /Contents 4 0 R>>",
	"<</Length 5>>\nstream\nhello\nendstream",
}

func open(t *testing.T, data []byte, opts *Options) *Reader {
	t.Helper()
	r, err := Open(bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return r
}

func TestOpenMinimal(t *testing.T) {
	r := open(t, mkPDF(minimalObjs, ""), nil)
	if r.Repaired() || len(r.Defects()) != 0 {
		t.Fatalf("repaired %v defects %q", r.RepairReasons(), r.Defects())
	}
	p, err := r.Page(0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Ref != (Ref{Num: 3}) || p.MediaBox != (Rect{0, 0, 200, 100}) || p.CropBox != p.MediaBox || p.Parent != (Ref{Num: 2}) {
		t.Errorf("page %+v", p)
	}
	s, _ := r.Resolve(p.Dict.Get("Contents"))
	data, err := r.StreamData(s.(*Stream))
	if err != nil || string(data) != "hello" {
		t.Errorf("contents %q %v", data, err)
	}
}

func TestStreamLength(t *testing.T) {
	objs := append([]string(nil), minimalObjs...)
	// Wrong /Length: the data is found through endstream.
	objs[3] = "<</Length 50>>\nstream\nhello world\r\nendstream"
	r := open(t, mkPDF(objs, ""), nil)
	s, _ := r.Object(Ref{Num: 4})
	data, err := r.StreamData(s.(*Stream))
	if err != nil || string(data) != "hello world" {
		t.Errorf("wrong /Length: %q %v", data, err)
	}
	if d := strings.Join(r.Defects(), ";"); !strings.Contains(d, "/Length") {
		t.Errorf("defect not noted: %q", d)
	}
	// Indirect /Length.
	objs = append(objs[:3:3], "<</Length 5 0 R>>\nstream\nhello world\nendstream", "11")
	r = open(t, mkPDF(objs, ""), nil)
	s, _ = r.Object(Ref{Num: 4})
	data, err = r.StreamData(s.(*Stream))
	if err != nil || string(data) != "hello world" || len(r.Defects()) != 0 {
		t.Errorf("indirect /Length: %q %v %q", data, err, r.Defects())
	}
	// /Length referring to the stream itself must not recurse forever.
	objs[3] = "<</Length 4 0 R>>\nstream\nabc\nendstream"
	r = open(t, mkPDF(objs, ""), nil)
	s, err = r.Object(Ref{Num: 4})
	if err != nil {
		t.Fatal(err)
	}
	if data, err := r.StreamData(s.(*Stream)); err != nil || string(data) != "abc" {
		t.Errorf("self-referencing /Length: %q %v", data, err)
	}
}

func TestPrevLoop(t *testing.T) {
	pdf := mkPDF(minimalObjs, "")
	// Make the trailer's /Prev point at its own xref section.
	xref := bytes.LastIndex(pdf, []byte("xref\n0 "))
	pdf = bytes.Replace(pdf, []byte("/Root 1 0 R >>"), []byte(fmt.Sprintf("/Root 1 0 R /Prev %d >>", xref)), 1)
	if _, err := Open(bytes.NewReader(pdf), int64(len(pdf)), &Options{NoRepair: true}); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "loops") {
		t.Errorf("NoRepair: %v", err)
	}
	r := open(t, pdf, nil)
	if !r.Repaired() || !strings.Contains(strings.Join(r.RepairReasons(), ""), "loops") {
		t.Errorf("repaired %v: %q", r.Repaired(), r.RepairReasons())
	}
	if n, err := r.NumPages(); n != 1 || err != nil {
		t.Errorf("NumPages %d %v", n, err)
	}
	if _, err := r.AsOf(0); !errors.Is(err, ErrRepaired) {
		t.Errorf("AsOf on a repaired file: %v", err)
	}
}

func TestLazyRepair(t *testing.T) {
	pdf := mkPDF(minimalObjs, "")
	// Point object 4's entry at object 3.
	i := bytes.Index(pdf, []byte("xref\n"))
	lines := strings.Split(string(pdf[i:]), "\n")
	lines[6] = lines[5] // entry of object 4 := entry of object 3
	pdf = append(pdf[:i:i], strings.Join(lines, "\n")...)
	r := open(t, pdf, nil)
	if r.Repaired() {
		t.Fatalf("repaired at Open: %q", r.RepairReasons())
	}
	o, err := r.Object(Ref{Num: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := o.(*Stream); !ok || !r.Repaired() {
		t.Errorf("object 4 = %T, repaired %v", o, r.Repaired())
	}
	r = open(t, pdf, &Options{NoRepair: true})
	if _, err := r.Object(Ref{Num: 4}); !errors.Is(err, ErrSyntax) || r.Repaired() {
		t.Errorf("NoRepair: %v", err)
	}
}

func TestLeadingGarbage(t *testing.T) {
	pdf := mkPDF(minimalObjs, "")
	// Offsets relative to %PDF (the garbage was prepended later).
	g := append([]byte("GARBAGE\r\n"), pdf...)
	r := open(t, g, &Options{NoRepair: true})
	if r.HeaderOffset() != 9 || r.HeaderVersion() != "1.7" {
		t.Errorf("header offset %d version %q", r.HeaderOffset(), r.HeaderVersion())
	}
	if n, err := r.NumPages(); n != 1 || err != nil {
		t.Errorf("NumPages %d %v; defects %q", n, err, r.Defects())
	}
	if _, err := Open(bytes.NewReader([]byte("hello")), 5, nil); !errors.Is(err, ErrNotPDF) {
		t.Errorf("not a PDF: %v", err)
	}
}

func TestXrefDefects(t *testing.T) {
	pdf := mkPDF(minimalObjs, "")
	// Subsection "1 5" that starts with object 0's entry, and 19-byte entries.
	pdf = bytes.Replace(pdf, []byte("xref\n0 5\n"), []byte("xref\n1 5\n"), 1)
	pdf = bytes.ReplaceAll(pdf, []byte(" n \n"), []byte(" n\n"))
	r := open(t, pdf, &Options{NoRepair: true})
	if n, err := r.NumPages(); n != 1 || err != nil {
		t.Errorf("NumPages %d %v", n, err)
	}
	d := strings.Join(r.Defects(), ";")
	if !strings.Contains(d, "shifted") || !strings.Contains(d, "20 bytes") {
		t.Errorf("defects %q", d)
	}
}

func TestPageTreeHostile(t *testing.T) {
	// Loop: the page tree node lists itself.
	objs := []string{
		"<</Type /Catalog /Pages 2 0 R>>",
		"<</Type /Pages /Kids [3 0 R 2 0 R] /Count 2>>",
		"<</Type /Page /Parent 2 0 R>>",
	}
	r := open(t, mkPDF(objs, ""), nil)
	if _, err := r.NumPages(); !errors.Is(err, ErrPageTree) {
		t.Errorf("loop: %v", err)
	}
	if _, err := r.Page(1); !errors.Is(err, ErrPageTree) {
		t.Errorf("loop, Page(1): %v", err)
	}
	// Depth bomb: a chain of 400 nested /Pages nodes.
	objs = []string{"<</Type /Catalog /Pages 2 0 R>>"}
	for i := 2; i < 402; i++ {
		objs = append(objs, fmt.Sprintf("<</Type /Pages /Kids [%d 0 R] /Count 1>>", i+1))
	}
	objs = append(objs, "<</Type /Page>>")
	r = open(t, mkPDF(objs, ""), nil)
	if _, err := r.NumPages(); !errors.Is(err, ErrPageTree) {
		t.Errorf("depth bomb: %v", err)
	}
	// A lying /Count: Page() falls back to the full walk.
	objs = []string{
		"<</Type /Catalog /Pages 2 0 R>>",
		"<</Type /Pages /Kids [3 0 R 4 0 R] /Count 5>>",
		"<</Type /Pages /Kids [5 0 R] /Count 0 /Rotate -90 /Resources <</X 1>>>>",
		"<</Type /Page /MediaBox [0 0 10 10]>>",
		"<</Type /Page /MediaBox [0 0 20 20]>>",
	}
	r = open(t, mkPDF(objs, ""), nil)
	p, err := r.Page(1)
	if err != nil {
		t.Fatal(err)
	}
	if p.Ref.Num != 4 || p.MediaBox.URX != 10 {
		t.Errorf("Page(1) = %v %+v", p.Ref, p.MediaBox)
	}
	p, err = r.Page(0)
	if err != nil || p.Ref.Num != 5 || p.Rotate != 270 || p.Resources == nil {
		t.Errorf("Page(0) = %+v, %v", p, err)
	}
	if n, _ := r.NumPages(); n != 2 {
		t.Errorf("NumPages = %d", n)
	}
}

func TestCorpusLaziness(t *testing.T) {
	// Opening and reading the first page of a 1.3 MB file reads a small
	// part of it.
	r := openFile(t, filepath.Join(corpusDir, "many-pages-196-xrefstream.pdf"), nil)
	if _, err := r.Page(0); err != nil {
		t.Fatal(err)
	}
	if r.BytesRead() > r.Size()/4 {
		t.Errorf("read %d of %d bytes for Open + Page(0)", r.BytesRead(), r.Size())
	}
	t.Logf("read %d of %d bytes", r.BytesRead(), r.Size())
}

func TestEncryptedStructure(t *testing.T) {
	r := openFile(t, filepath.Join(corpusDir, "encrypted-rc4-40-userpw.pdf"), &Options{Password: []byte("view")})
	e := r.Encrypted()
	if e == nil || e.V != 1 || e.R != 2 || e.Method != "RC4" || e.Owner() {
		t.Fatalf("Encrypted() = %+v", e)
	}
	p, err := r.Page(0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Resolve(p.Dict.Get("Contents"))
	if err != nil {
		t.Fatal(err)
	}
	if data, err := r.StreamData(s.(*Stream)); err != nil || !bytes.Contains(data, []byte("BT")) {
		t.Errorf("StreamData of an encrypted file: %q, %v", data, err)
	}
	r = openFile(t, filepath.Join(corpusDir, "encrypted-aes256-r6-nouserpw.pdf"), nil)
	if e := r.Encrypted(); e.Method != "AES-256" || e.R != 6 || e.Owner() {
		t.Errorf("Encrypted() = %v", e)
	}
	if n, err := r.NumPages(); err != nil || n != 30 {
		t.Errorf("page tree in encrypted object streams: %d, %v", n, err)
	}
	if len(r.Revisions()) != 1 || r.Trailer().Get("Encrypt") == nil {
		t.Errorf("structure of an encrypted file not readable")
	}
}

// Many streams with a wrong /Length and no endstream must not make the
// reader scan the file once per stream.
func TestEndstreamSearchIsLinear(t *testing.T) {
	objs := []string{"<</Type /Catalog /Pages 2 0 R>>", "<</Type /Pages /Kids [] /Count 0>>"}
	for i := 0; i < 3000; i++ {
		objs = append(objs, "<</Length 999999>>\nstream\n"+strings.Repeat("x", 100))
	}
	pdf := mkPDF(objs, "")
	r := open(t, pdf, &Options{BlockSize: 4096, CacheBlocks: 2})
	for n := uint32(3); n < uint32(len(objs)); n++ {
		r.Object(Ref{Num: n})
	}
	if r.BytesRead() > 4*int64(len(pdf)) {
		t.Errorf("read %d bytes of a %d-byte file", r.BytesRead(), len(pdf))
	}
}

func TestConcurrentUse(t *testing.T) {
	r := openFile(t, filepath.Join(corpusDir, "pdf15-xrefstream-objstm-64pages.pdf"), nil)
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 64; i++ {
				p, err := r.Page((i + g*8) % 64)
				if err != nil {
					errs <- err
					return
				}
				if s, ok := mustResolve(r, p.Dict.Get("Contents")).(*Stream); ok {
					if _, err := r.StreamData(s); err != nil {
						errs <- err
						return
					}
				}
			}
			n, err := r.NumPages()
			if err == nil && n != 64 {
				err = fmt.Errorf("NumPages = %d", n)
			}
			errs <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func mustResolve(r *Reader, o Object) Object {
	v, err := r.Resolve(o)
	if err != nil {
		return nil
	}
	return v
}

// In hybrid-xref-minimal.pdf the newest section is an empty table whose
// /XRefStm defines object 6, which the older table marks free: the stream
// entry wins in the newest revision, the object does not exist as of the
// first one.
func TestHybridStreamPriority(t *testing.T) {
	r := openFile(t, filepath.Join(corpusDir, "hybrid-xref-minimal.pdf"), &Options{NoRepair: true})
	revs := r.Revisions()
	if len(revs) != 2 || revs[1].Kind != XrefHybrid || revs[1].XRefStm != 504 || revs[0].Kind != XrefTable {
		t.Fatalf("revisions %+v %+v", revs[0], revs[1])
	}
	o, err := r.Object(Ref{Num: 6})
	if s, ok := o.(String); err != nil || !ok || s.Text() != "TestTest" {
		t.Errorf("object 6 = %#v, %v", o, err)
	}
	v, err := r.AsOf(0)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := v.Object(Ref{Num: 6}); err != nil || o != (Null{}) {
		t.Errorf("object 6 as of revision 0 = %#v, %v", o, err)
	}
	if e, _ := v.Lookup(6); e.Type != EntryFree {
		t.Errorf("revision 0 entry for 6: %+v", e)
	}
	if _, err := r.AsOf(2); !errors.Is(err, ErrNoRevision) {
		t.Errorf("AsOf(2): %v", err)
	}
}
