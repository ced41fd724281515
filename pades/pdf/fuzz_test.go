package pdf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// addCorpusSeeds adds the small corpus files as seeds.
func addCorpusSeeds(f *testing.F, maxSize int64) {
	paths, _ := filepath.Glob(filepath.Join(corpusDir, "*.pdf"))
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || st.Size() > maxSize {
			continue
		}
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

var fuzzOptions = &Options{Limits: Limits{
	MaxObjects:        1 << 16,
	MaxDepth:          64,
	MaxXrefSections:   64,
	MaxTokenLen:       1 << 16,
	MaxStreamSize:     1 << 20,
	MaxXrefStreamSize: 1 << 20,
	MaxPageTreeDepth:  64,
	MaxObjStmObjects:  1 << 12,
}, BlockSize: 512, CacheBlocks: 8}

// FuzzOpen opens arbitrary bytes and walks everything reachable: trailer,
// catalog, pages, every object of every revision, stream data. Then, if the
// file can be updated, it writes an update and checks that the result opens
// without repair and shows the new object.
func FuzzOpen(f *testing.F) {
	f.Add(mkPDF(minimalObjs, ""))
	f.Add([]byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj trailer<</Root 1 0 R>>"))
	addCorpusSeeds(f, 20000)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Open(bytes.NewReader(data), int64(len(data)), fuzzOptions)
		if err != nil {
			return
		}
		r.Catalog()
		r.Version()
		if n, err := r.NumPages(); err == nil {
			for i := 0; i < n && i < 8; i++ {
				if _, err := r.Page(i); err != nil {
					t.Fatalf("NumPages = %d but Page(%d): %v", n, i, err)
				}
			}
		}
		r.Page(0)
		budget := 2000
		for ri, rv := range r.Revisions() {
			v, err := r.AsOf(ri)
			if err != nil {
				break
			}
			for _, e := range rv.Entries() {
				if budget--; budget < 0 {
					break
				}
				if err := v.CheckEntry(e); err != nil && !errors.Is(err, ErrDamaged) {
					t.Fatalf("CheckEntry(%+v): %v is not ErrDamaged", e, err)
				}
				o, err := v.Object(Ref{Num: e.Num, Gen: e.Gen})
				if s, ok := o.(*Stream); ok && err == nil {
					v.StreamData(s)
				}
				if err == nil {
					if _, err := Marshal(o); err != nil && !errors.Is(err, ErrLimit) {
						t.Fatalf("object %d: parsed but cannot be marshalled: %v", e.Num, err)
					}
				}
			}
		}
		// Objects by number in repaired mode.
		for n := uint32(1); n < 64; n++ {
			r.Object(Ref{Num: n})
		}

		u := r.NewUpdate()
		ref := u.Add(Integer(12345))
		var buf bytes.Buffer
		if _, err := u.Write(&buf); err != nil {
			return
		}
		all := append(append([]byte(nil), data...), buf.Bytes()...)
		r2, err := Open(bytes.NewReader(all), int64(len(all)), &Options{Limits: fuzzOptions.Limits, NoRepair: true})
		if err != nil {
			t.Fatalf("re-open after update: %v\nupdate:\n%s", err, buf.Bytes())
		}
		if o, err := r2.Object(ref); err != nil || o != Integer(12345) {
			t.Fatalf("new object %v = %v, %v", ref, o, err)
		}
		if len(r2.Revisions()) != len(r.Revisions())+1 {
			t.Fatalf("%d revisions after update, had %d", len(r2.Revisions()), len(r.Revisions()))
		}
	})
}

// FuzzParseObject parses one object and checks that marshalling is stable:
// marshal(parse(marshal(o))) == marshal(o).
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{
		"<</A [1 2 0 R (x\\)) <4142>] /B#20C 1.5 /D null>>", "(a\\\r\nb)", "[[[[]]]]", "/N#", "-.5", "99999999999999999999",
		"<</Type /Sig /Contents <00> /ByteRange [0 1 2 3]>>", "(\\0053\\377)", "[1 0 R 2 0 obj]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := &parser{lx: newMemLexer(data, 1<<16), maxDepth: 64}
		o, err := p.parseObject(0)
		if err != nil {
			return
		}
		b, err := Marshal(o)
		if err != nil {
			t.Fatalf("marshal %#v: %v", o, err)
		}
		p2 := &parser{lx: newMemLexer(b, 1<<20), maxDepth: 64}
		o2, err := p2.parseObject(0)
		if err != nil {
			t.Fatalf("re-parse %q: %v", b, err)
		}
		b2, err := Marshal(o2)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("unstable: %q -> %q (%v)", b, b2, err)
		}
	})
}

// FuzzDecodeStream decodes arbitrary data with a filter chain picked by the
// first byte, with predictor parameters from the second.
func FuzzDecodeStream(f *testing.F) {
	f.Add([]byte{0, 12}, zlibBytes([]byte("hello")))
	f.Add([]byte{1, 0}, []byte("48656c6c6f>"))
	f.Add([]byte{2, 0}, []byte("87cURD]i,\"Ebo80~>"))
	f.Add([]byte{3, 0}, []byte{0x80, 0x0B, 0x60, 0x50, 0x22, 0x0C, 0x0C, 0x85, 0x01})
	f.Add([]byte{4, 0}, []byte{2, 'a', 'b', 'c', 252, 'z', 128})
	f.Add([]byte{5, 2}, zlibBytes([]byte("hello predictor")))
	f.Fuzz(func(t *testing.T, sel []byte, data []byte) {
		filters := []Name{"FlateDecode", "ASCIIHexDecode", "ASCII85Decode", "LZWDecode", "RunLengthDecode", "FlateDecode"}
		var fs []Name
		var ps []*Dict
		s0, s1 := byte(0), byte(0)
		if len(sel) > 0 {
			s0 = sel[0]
		}
		if len(sel) > 1 {
			s1 = sel[1]
		}
		fs = append(fs, filters[int(s0)%len(filters)])
		if s0 >= 128 {
			fs = append([]Name{"ASCIIHexDecode"}, fs...)
		}
		var parms *Dict
		if s1 != 0 {
			parms = NewDict(
				DictEntry{"Predictor", Integer(int64(s1 % 16))},
				DictEntry{"Colors", Integer(int64(s1%4) + 1)},
				DictEntry{"BitsPerComponent", Integer([]int64{1, 2, 4, 8, 16}[int(s1/16)%5])},
				DictEntry{"Columns", Integer(int64(s1/8) + 1)},
				DictEntry{"EarlyChange", Integer(int64(s1 % 2))},
			)
		}
		for range fs {
			ps = append(ps, parms)
		}
		rd, err := DecodeFilters(bytes.NewReader(data), fs, ps, 1<<20)
		if err != nil {
			return
		}
		buf := make([]byte, 4096)
		total := 0
		for {
			n, err := rd.Read(buf)
			total += n
			if total > 1<<20 {
				t.Fatalf("decoded %d bytes past the limit", total)
			}
			if err != nil {
				break
			}
		}
	})
}
