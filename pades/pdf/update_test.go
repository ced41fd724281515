package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
)

// needQpdf returns the qpdf path; without qpdf the test fails in CI and is
// skipped elsewhere.
func needQpdf(t *testing.T) string { t.Helper(); return testtool.Require(t, "qpdf") }

// qpdfCheck runs qpdf --check; exit status 3 (warnings) is accepted only if
// every warning is a linearization diagnostic, as in the corpus manifest.
func qpdfCheck(t *testing.T, qpdf, path string, args ...string) {
	t.Helper()
	out, err := exec.Command(qpdf, append(append([]string{"--check"}, args...), path)...).CombinedOutput()
	if err == nil {
		return
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "WARNING") && !strings.Contains(l, "linearization") && !strings.Contains(l, "hint table") {
				t.Fatalf("qpdf --check %s: %s", filepath.Base(path), out)
			}
		}
		return
	}
	t.Fatalf("qpdf --check %s: %v\n%s", filepath.Base(path), err, out)
}

type updated struct {
	path     string
	orig     []byte
	res      *Result
	newRef   Ref
	strmRef  Ref
	sigRef   Ref
	rootRef  Ref
	pages    int
	revs     int
	origForm XrefKind
	pw       string // password of an encrypted file
}

// qpdfPw is the qpdf password option for up.
func (up *updated) qpdfPw() string { return "--password=" + up.pw }

// writeUpdate adds objects (a dictionary, a stream, a signature-like
// dictionary with placeholders), adds a key to the catalog and writes
// original+update to a temporary file.
func writeUpdate(t *testing.T, src string, compress bool, pw string) *updated {
	t.Helper()
	orig, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(bytes.NewReader(orig), int64(len(orig)), &Options{Password: []byte(pw)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := r.NumPages()
	if err != nil {
		t.Fatal(err)
	}
	u := r.NewUpdate()
	u.SetCompress(compress)
	up := &updated{orig: orig, pages: n, revs: len(r.Revisions()), origForm: r.chain[0].kind, pw: pw}
	up.newRef = u.Add(NewDict(
		DictEntry{"Type", Name("SemnatTest")},
		DictEntry{"Text", String{Value: []byte("hello (semnat) \\ \r\n\x00\xff")}},
		DictEntry{"Hex", String{Value: []byte{0, 1, 0xfe}, Hex: true}},
		DictEntry{"Odd name#/[]", Name("a b#c/\x01")},
		DictEntry{"Num", Array{Integer(-7), NewReal(1.25), Bool(true), Null{}}},
	))
	up.strmRef = u.Add(NewStream(NewDict(DictEntry{"Type", Name("SemnatData")}), []byte("semnat stream payload\n")))
	up.sigRef = u.Add(NewDict(
		DictEntry{"Type", Name("Sig")},
		DictEntry{"Filter", Name("Adobe.PPKLite")},
		DictEntry{"SubFilter", Name("ETSI.CAdES.detached")},
		DictEntry{"ByteRange", Placeholder{Kind: PlaceholderByteRange}},
		DictEntry{"Contents", Placeholder{Kind: PlaceholderContents, Size: 64}},
	))
	rootRef, ok := r.Trailer().Get("Root").(Ref)
	if !ok {
		for _, s := range r.chain {
			if rootRef, ok = s.trailer.Get("Root").(Ref); ok {
				break
			}
		}
	}
	up.rootRef = rootRef
	cat, err := r.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	cat = cat.Clone()
	cat.Set("SemnatTest", up.newRef)
	cat.Set("SemnatData", up.strmRef)
	cat.Set("SemnatSig", up.sigRef)
	if err := u.Set(rootRef, cat); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	res, err := u.Write(&buf)
	if err != nil {
		t.Fatal(err)
	}
	up.res = res
	if res.Start != int64(len(orig)) || res.End != int64(len(orig)+buf.Len()) {
		t.Fatalf("Result Start/End %d/%d, want %d/%d", res.Start, res.End, len(orig), len(orig)+buf.Len())
	}
	up.path = filepath.Join(t.TempDir(), "out.pdf")
	if err := os.WriteFile(up.path, append(append([]byte(nil), orig...), buf.Bytes()...), 0o644); err != nil {
		t.Fatal(err)
	}
	return up
}

func TestUpdateCorpusRoundTrip(t *testing.T) {
	qpdf := needQpdf(t)
	for _, row := range loadManifest(t) {
		if row["damaged"] != "no" {
			continue
		}
		t.Run(row["file"], func(t *testing.T) {
			user, _ := knownPassword(row["user_password"])
			up := writeUpdate(t, filepath.Join(corpusDir, row["file"]), strings.Contains(row["file"], "stream"), user)
			qpdfCheck(t, qpdf, up.path, up.qpdfPw())
			data, err := os.ReadFile(up.path)
			if err != nil {
				t.Fatal(err)
			}
			update := data[len(up.orig):]

			// qpdf reads the update: the new object and the new catalog.
			out, err := exec.Command(qpdf, up.qpdfPw(), fmt.Sprintf("--show-object=%d", up.newRef.Num), up.path).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "/Type /SemnatTest") {
				t.Fatalf("qpdf --show-object=%d: %v\n%s", up.newRef.Num, err, out)
			}
			out, err = exec.Command(qpdf, up.qpdfPw(), fmt.Sprintf("--show-object=%d", up.rootRef.Num), up.path).CombinedOutput()
			if err != nil || !strings.Contains(string(out), fmt.Sprintf("/SemnatTest %d 0 R", up.newRef.Num)) {
				t.Fatalf("qpdf --show-object=%d (catalog): %v\n%s", up.rootRef.Num, err, out)
			}
			out, err = exec.Command(qpdf, up.qpdfPw(), "--show-xref", up.path).CombinedOutput()
			if err != nil || !regexp.MustCompile(fmt.Sprintf(`(?m)^%d/0: uncompressed; offset = %d$`, up.newRef.Num, up.res.Objects[up.newRef])).Match(out) {
				t.Fatalf("qpdf --show-xref does not list object %d at %d: %v\n%s", up.newRef.Num, up.res.Objects[up.newRef], err, out)
			}
			out, err = exec.Command(qpdf, up.qpdfPw(), fmt.Sprintf("--show-object=%d", up.strmRef.Num), "--filtered-stream-data", up.path).CombinedOutput()
			if err != nil || string(out) != "semnat stream payload\n" {
				t.Fatalf("qpdf stream data: %v\n%q", err, out)
			}

			// Xref form of the update.
			checkXrefForm(t, up, update)

			// Our reader sees the new revision.
			r := openFile(t, up.path, &Options{NoRepair: true, Password: []byte(up.pw)})
			if got := len(r.Revisions()); got != up.revs+1 {
				t.Errorf("%d revisions after update, want %d", got, up.revs+1)
			}
			last := r.Revisions()[len(r.Revisions())-1]
			if last.End != int64(len(data)) || last.StartXref != up.res.XrefOffset || last.XrefOffset != up.res.XrefOffset {
				t.Errorf("new revision: End %d StartXref %d XrefOffset %d; want %d, %d", last.End, last.StartXref, last.XrefOffset, len(data), up.res.XrefOffset)
			}
			o, err := r.Object(up.newRef)
			if err != nil {
				t.Fatal(err)
			}
			d, ok := o.(*Dict)
			if !ok {
				t.Fatalf("new object is %T", o)
			}
			if s, _ := d.Get("Text").(String); string(s.Value) != "hello (semnat) \\ \r\n\x00\xff" || s.Hex {
				t.Errorf("Text = %#v", d.Get("Text"))
			}
			if s, _ := d.Get("Hex").(String); !bytes.Equal(s.Value, []byte{0, 1, 0xfe}) || !s.Hex {
				t.Errorf("Hex = %#v", d.Get("Hex"))
			}
			if n, _ := d.Name("Odd name#/[]"); n != "a b#c/\x01" {
				t.Errorf("escaped name = %q", n)
			}
			if a, _ := d.Get("Num").(Array); len(a) != 4 || a[1].(Real).String() != "1.25" {
				t.Errorf("Num = %#v", d.Get("Num"))
			}
			cat, err := r.Catalog()
			if err != nil {
				t.Fatal(err)
			}
			if cat.Get("SemnatTest") != up.newRef {
				t.Errorf("catalog /SemnatTest = %v", cat.Get("SemnatTest"))
			}
			so, _ := r.Resolve(cat.Get("SemnatData"))
			s, ok := so.(*Stream)
			if !ok {
				t.Fatalf("/SemnatData is %T", so)
			}
			if sd, err := r.StreamData(s); err != nil || string(sd) != "semnat stream payload\n" {
				t.Errorf("stream data %q, %v", sd, err)
			}
			if n, err := r.NumPages(); err != nil || n != up.pages {
				t.Errorf("NumPages after update = %d, %v; want %d", n, err, up.pages)
			}
			// The previous revision is unchanged.
			old, err := r.AsOf(len(r.Revisions()) - 2)
			if err != nil {
				t.Fatal(err)
			}
			oc, err := old.Catalog()
			if err != nil || oc.Has("SemnatTest") {
				t.Errorf("as of the previous revision the catalog has /SemnatTest (%v)", err)
			}

			checkPlaceholders(t, qpdf, up, data)
			if row["encrypted"] != "none" {
				checkEncryptedUpdate(t, up, r, update)
			}
		})
	}
}

func checkXrefForm(t *testing.T, up *updated, update []byte) {
	t.Helper()
	xref := update[up.res.XrefOffset-up.res.Start:]
	wantStream := up.origForm == XrefStream
	if got := up.res.XrefKind == XrefStream; got != wantStream {
		t.Fatalf("update xref kind %v for a file whose newest section is %v", up.res.XrefKind, up.origForm)
	}
	if !wantStream {
		if !bytes.HasPrefix(xref, []byte("xref\n")) {
			t.Fatalf("update does not end with an xref table: %q", xref[:min(40, len(xref))])
		}
		body := xref[5:bytes.Index(xref, []byte("trailer"))]
		lines := 0
		for len(body) > 0 {
			nl := bytes.IndexByte(body, '\n')
			line := body[:nl+1]
			body = body[nl+1:]
			if regexp.MustCompile(`^\d+ \d+\n$`).Match(line) {
				continue // subsection header
			}
			if len(line) != 20 || !regexp.MustCompile(`^\d{10} \d{5} [nf] \n$`).Match(line) {
				t.Errorf("xref entry %q is not 20 bytes", line)
			}
			lines++
		}
		if lines != len(up.res.Objects) {
			t.Errorf("%d xref entries, %d objects written", lines, len(up.res.Objects))
		}
		if bytes.Contains(xref, []byte("/XRefStm")) {
			t.Errorf("new trailer carries /XRefStm")
		}
		if !bytes.Contains(xref, []byte(fmt.Sprintf("/Prev %d", prevOf(t, up)))) {
			t.Errorf("trailer /Prev is not the previous startxref")
		}
	} else {
		if !regexp.MustCompile(`^\d+ 0 obj\n<</Type /XRef `).Match(xref) {
			t.Fatalf("update does not end with an xref stream: %q", xref[:min(60, len(xref))])
		}
	}
}

func prevOf(t *testing.T, up *updated) int64 {
	r, err := Open(bytes.NewReader(up.orig), int64(len(up.orig)), &Options{Password: []byte(up.pw)})
	if err != nil {
		t.Fatal(err)
	}
	return r.StartXref()
}

// checkPlaceholders verifies the reported placeholder offsets, fills them in
// like a signer would, and re-reads the result.
func checkPlaceholders(t *testing.T, qpdf string, up *updated, data []byte) {
	t.Helper()
	if len(up.res.Placeholders) != 2 {
		t.Fatalf("%d placeholders reported", len(up.res.Placeholders))
	}
	var br, ct PlaceholderPos
	for _, p := range up.res.Placeholders {
		if p.Ref != up.sigRef {
			t.Errorf("placeholder in %v, want %v", p.Ref, up.sigRef)
		}
		switch p.Kind {
		case PlaceholderByteRange:
			br = p
		case PlaceholderContents:
			ct = p
		}
	}
	if br.Width != ByteRangeWidth || ct.Width != 130 {
		t.Fatalf("widths %d, %d", br.Width, ct.Width)
	}
	gotBR := string(data[br.Offset : br.Offset+int64(br.Width)])
	if !regexp.MustCompile(`^\[0 0 0 0 +\]$`).MatchString(gotBR) {
		t.Fatalf("ByteRange placeholder bytes %q", gotBR)
	}
	if got := string(data[ct.Offset : ct.Offset+int64(ct.Width)]); got != "<"+strings.Repeat("0", 128)+">" {
		t.Fatalf("Contents placeholder bytes %q", got)
	}
	// Fill in as a signer does.
	a, b := ct.Offset, ct.Offset+int64(ct.Width)
	rng := [4]int64{0, a, b, int64(len(data)) - b}
	brb, err := FormatByteRange(rng)
	if err != nil {
		t.Fatal(err)
	}
	sig := []byte("not really a CMS signature")
	ctb, err := FormatContents(sig, 64)
	if err != nil {
		t.Fatal(err)
	}
	signed := append([]byte(nil), data...)
	copy(signed[br.Offset:], brb)
	copy(signed[ct.Offset:], ctb)
	if len(signed) != len(data) {
		t.Fatal("patching changed the length")
	}
	path := up.path + ".signed.pdf"
	if err := os.WriteFile(path, signed, 0o644); err != nil {
		t.Fatal(err)
	}
	qpdfCheck(t, qpdf, path, up.qpdfPw())
	r := openFile(t, path, &Options{NoRepair: true, Password: []byte(up.pw)})
	sd, err := r.ResolveDict(up.sigRef)
	if err != nil || sd == nil {
		t.Fatalf("signature dict: %v", err)
	}
	arr, _ := sd.Get("ByteRange").(Array)
	if len(arr) != 4 {
		t.Fatalf("ByteRange %#v", sd.Get("ByteRange"))
	}
	for i, v := range arr {
		if n, _ := v.(Integer); int64(n) != rng[i] {
			t.Errorf("ByteRange[%d] = %v, want %d", i, v, rng[i])
		}
	}
	c, _ := sd.Get("Contents").(String)
	if !bytes.Equal(c.Value[:len(sig)], sig) || len(c.Value) != 64 || !c.Hex {
		t.Errorf("Contents = %x", c.Value)
	}
}

func TestUpdateRefusals(t *testing.T) {
	// A security handler we do not implement: nothing can be encrypted.
	pubsec := mkPDF(append(append([]string(nil), minimalObjs...), "<</Filter /Adobe.PubSec /SubFilter /adbe.pkcs7.s5 /V 4 /Recipients [<00>]>>"), "/Encrypt 5 0 R /ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>]")
	r := open(t, pubsec, nil)
	if r.Encrypted() == nil || r.Decrypting() {
		t.Fatalf("public-key handler: Encrypted %v, Decrypting %v", r.Encrypted(), r.Decrypting())
	}
	u := r.NewUpdate()
	u.Add(Integer(1))
	if _, err := u.Write(&bytes.Buffer{}); !errors.Is(err, ErrEncrypted) {
		t.Errorf("update of a file encrypted with an unknown handler: %v", err)
	}
	r = openFile(t, filepath.Join(corpusDir, "broken-xref-not-found.pdf"), nil)
	u = r.NewUpdate()
	u.Add(Integer(1))
	if _, err := u.Write(&bytes.Buffer{}); !errors.Is(err, ErrRepaired) {
		t.Errorf("update of a repaired file: %v", err)
	}
	r = openFile(t, filepath.Join(corpusDir, "minimal-table-pdf17.pdf"), nil)
	u = r.NewUpdate()
	if err := u.Set(Ref{Num: 1, Gen: 3}, Integer(1)); err == nil {
		t.Error("Set with a wrong generation succeeded")
	}
	if err := u.Set(Ref{Num: 999}, Integer(1)); err == nil {
		t.Error("Set of an unallocated number succeeded")
	}
	if err := u.SetTrailer("Prev", Integer(1)); err == nil {
		t.Error("SetTrailer(/Prev) succeeded")
	}
	ref := u.Alloc()
	if _, err := u.Write(&bytes.Buffer{}); err == nil {
		t.Error("Write with an allocated but unset object succeeded")
	}
	if err := u.Set(ref, Integer(5)); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(&bytes.Buffer{}); err != nil {
		t.Error(err)
	}
}

// An original without a final newline gets one before the first object.
func TestUpdateNewlineBeforeFirstObject(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join(corpusDir, "minimal-table-pdf17.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	orig = bytes.TrimRight(orig, "\r\n")
	r, err := Open(bytes.NewReader(orig), int64(len(orig)), nil)
	if err != nil {
		t.Fatal(err)
	}
	u := r.NewUpdate()
	ref := u.Add(Integer(42))
	var buf bytes.Buffer
	res, err := u.Write(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte(fmt.Sprintf("\n%d 0 obj\n42\nendobj\n", ref.Num))) {
		t.Errorf("update starts with %q", buf.Bytes()[:20])
	}
	if res.Objects[ref] != int64(len(orig))+1 {
		t.Errorf("object offset %d, want %d", res.Objects[ref], len(orig)+1)
	}
	all := append(orig, buf.Bytes()...)
	r2, err := Open(bytes.NewReader(all), int64(len(all)), &Options{NoRepair: true})
	if err != nil {
		t.Fatal(err)
	}
	if o, err := r2.Object(ref); err != nil || o != Integer(42) {
		t.Errorf("object %v = %v, %v", ref, o, err)
	}
	if len(r2.Revisions()) != 2 {
		t.Errorf("%d revisions", len(r2.Revisions()))
	}
}

// checkEncryptedUpdate checks that the update of an encrypted file is
// encrypted (no plain text of the new objects in the bytes), keeps /Encrypt
// and /ID, and that qpdf decrypts the whole result as we do.
func checkEncryptedUpdate(t *testing.T, up *updated, r *Reader, update []byte) {
	t.Helper()
	for _, plain := range []string{"hello (semnat)", "semnat stream payload"} {
		if bytes.Contains(update, []byte(plain)) {
			t.Errorf("the update holds %q in plain text", plain)
		}
	}
	orig, err := Open(bytes.NewReader(up.orig), int64(len(up.orig)), &Options{Password: []byte(up.pw)})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []Name{"Encrypt", "ID"} {
		a, _ := Marshal(orig.trailerID())
		if k == "Encrypt" {
			a, _ = Marshal(orig.Trailer().Get(k))
		}
		b, _ := Marshal(r.Trailer().Get(k))
		if !bytes.Equal(a, b) {
			t.Errorf("trailer /%s %s, the original's %s", k, b, a)
		}
	}
	compareWithOracle(t, up.path, up.pw)
}
