package pdf

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/md5"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"
)

// Update collects new and replaced objects and writes them as one
// incremental update (ISO 32000-1 7.5.6) after the original file. It never
// re-serialises or buffers the original: the caller copies the original
// bytes, then calls Write for the appended bytes.
type Update struct {
	r        *Reader
	next     uint32 // next object number to allocate
	objs     map[uint32]pendingObj
	trailer  map[Name]Object
	compress bool
	form     XrefKind // 0: match the file
}

type pendingObj struct {
	ref Ref
	obj Object
}

// NewUpdate starts an incremental update of the document r reads. New
// object numbers start after the highest number any revision used.
func (r *Reader) NewUpdate() *Update {
	next := r.MaxObjectNumber() + 1
	for _, s := range r.chain {
		if sz, ok := s.trailer.Int("Size"); ok && sz > int64(next) && sz <= r.opts.Limits.MaxObjects {
			next = uint32(sz)
		}
		if n := len(s.entries); n > 0 && s.entries[n-1].Num >= next {
			next = s.entries[n-1].Num + 1
		}
	}
	if next == 0 {
		next = 1
	}
	return &Update{r: r, next: next, objs: make(map[uint32]pendingObj), trailer: make(map[Name]Object)}
}

// Add allocates a new object number for o and returns its reference. o may
// be any object, including a *Stream (from NewStream, or one read from the
// file, whose raw data is copied) and objects holding Placeholders.
func (u *Update) Add(o Object) Ref {
	ref := Ref{Num: u.next}
	u.next++
	u.objs[ref.Num] = pendingObj{ref, o}
	return ref
}

// Alloc reserves a new object number whose value is given later with Set
// (for objects that refer to each other).
func (u *Update) Alloc() Ref {
	ref := Ref{Num: u.next}
	u.next++
	u.objs[ref.Num] = pendingObj{ref, nil}
	return ref
}

// Set gives the object ref a new value in the update: ref is an existing
// object of the document (same generation), or one allocated by Add/Alloc.
func (u *Update) Set(ref Ref, o Object) error {
	if o == nil {
		return fmt.Errorf("pdf: Set %v: nil object", ref)
	}
	if ref.Num == 0 {
		return fmt.Errorf("pdf: Set: object number 0 is reserved")
	}
	if p, ok := u.objs[ref.Num]; ok {
		if p.ref.Gen != ref.Gen {
			return fmt.Errorf("pdf: Set %v: generation differs from %v", ref, p.ref)
		}
		u.objs[ref.Num] = pendingObj{ref, o}
		return nil
	}
	if ref.Num >= u.next {
		return fmt.Errorf("pdf: Set %v: no such object (allocate new objects with Add)", ref)
	}
	if e, ok := u.r.Lookup(ref.Num); ok && e.Type != EntryFree && e.Gen != ref.Gen {
		return fmt.Errorf("pdf: Set %v: the document's object %d has generation %d", ref, ref.Num, e.Gen)
	}
	u.objs[ref.Num] = pendingObj{ref, o}
	return nil
}

// SetTrailer sets a trailer key of the new revision (normally /Root or
// /Info). /Size, /Prev and the xref stream keys are computed by Write and
// cannot be set.
func (u *Update) SetTrailer(key Name, o Object) error {
	switch key {
	case "Size", "Prev", "XRefStm", "Type", "W", "Index", "Length", "Filter", "DecodeParms":
		return fmt.Errorf("pdf: SetTrailer: /%s is computed by the writer", key)
	}
	u.trailer[key] = o
	return nil
}

// SetCompress makes Write Flate-compress new streams that have no /Filter
// (and the xref stream, when one is written). Default: off.
func (u *Update) SetCompress(on bool) { u.compress = on }

// SetXrefForm forces the xref form (XrefTable or XrefStream) instead of
// matching the file. Use only in tests: a signed file must keep its form.
func (u *Update) SetXrefForm(k XrefKind) { u.form = k }

// PlaceholderPos says where Write put a Placeholder.
type PlaceholderPos struct {
	Ref    Ref             // object that holds the placeholder
	Kind   PlaceholderKind //
	Offset int64           // absolute file offset of the first byte ('<' or '[')
	Width  int             // bytes, delimiters included
}

// Result describes what Write wrote.
type Result struct {
	Start        int64 // absolute offset of the first byte written (= original size)
	End          int64 // absolute offset after the last byte (= new file size)
	XrefOffset   int64 // absolute offset of the new xref section (the new startxref)
	XrefKind     XrefKind
	Objects      map[Ref]int64 // absolute offset of each object written
	Placeholders []PlaceholderPos
}

// XrefForm returns the xref form Write will use: XrefStream if the newest
// section of the file is an xref stream, XrefTable otherwise (a hybrid file
// gets a plain table without /XRefStm).
func (u *Update) XrefForm() XrefKind {
	if u.form != 0 {
		return u.form
	}
	if len(u.r.chain) > 0 && u.r.chain[0].kind == XrefStream {
		return XrefStream
	}
	return XrefTable
}

// countWriter tracks the absolute position and hashes everything written.
type countWriter struct {
	w   *bufio.Writer
	pos int64
	h   hash.Hash
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.pos += int64(n)
	c.err = err
	return n, err
}

func (c *countWriter) str(s string) { io.WriteString(c, s) }

// Write writes the update to w. The bytes are meant to be appended to the
// original file: all offsets are computed from the original's size. A
// newline is written first if the original does not end with one.
//
// In an encrypted file (opened with its password), the strings and streams
// of the update are encrypted with the file's key, except a signature
// dictionary's /Contents; the trailer keeps /Encrypt and /ID. Write refuses
// files it cannot encrypt for (ErrEncrypted) and repaired files
// (ErrRepaired).
func (u *Update) Write(w io.Writer) (*Result, error) {
	r := u.r
	if r.Encrypted() != nil && r.crypt == nil {
		return nil, fmt.Errorf("pdf: writing an update: %w", r.encryptedErr())
	}
	if r.Repaired() {
		return nil, fmt.Errorf("pdf: writing an update: %w (%v)", ErrRepaired, r.RepairReasons())
	}
	if len(r.chain) == 0 {
		return nil, fmt.Errorf("%w: no xref section to chain to", ErrDamaged)
	}
	nums := make([]uint32, 0, len(u.objs))
	for n, p := range u.objs {
		if p.obj == nil {
			return nil, fmt.Errorf("pdf: object %d was allocated but never Set", n)
		}
		nums = append(nums, n)
	}
	slices.Sort(nums)

	cw := &countWriter{w: bufio.NewWriterSize(w, 64<<10), pos: r.Size(), h: md5.New()}
	res := &Result{Start: r.Size(), Objects: make(map[Ref]int64, len(nums)+1), XrefKind: u.XrefForm()}

	if r.Size() > 0 {
		var last [1]byte
		if _, err := r.src.readAt(last[:], r.Size()-1); err != nil {
			return nil, err
		}
		if last[0] != '\n' && last[0] != '\r' {
			cw.str("\n")
		}
	}

	var e encoder
	for _, n := range nums {
		p := u.objs[n]
		res.Objects[p.ref] = cw.pos
		if err := u.writeObject(cw, &e, p, res); err != nil {
			return nil, fmt.Errorf("pdf: writing object %v: %w", p.ref, err)
		}
	}

	trailer, err := u.newTrailer(cw)
	if err != nil {
		return nil, err
	}
	prev := r.chain[0].offset

	switch res.XrefKind {
	case XrefStream:
		xnum := u.next
		xref := Ref{Num: xnum}
		res.XrefOffset = cw.pos
		res.Objects[xref] = cw.pos
		if err := u.writeXrefStream(cw, trailer, res, xref, prev); err != nil {
			return nil, err
		}
	default:
		res.XrefOffset = cw.pos
		if cw.pos > 9999999999 {
			return nil, fmt.Errorf("pdf: offset %d does not fit a classic xref table entry (10 digits)", cw.pos)
		}
		u.writeXrefTable(cw, trailer, res, prev)
	}
	cw.str("startxref\n")
	cw.str(strconv.FormatInt(res.XrefOffset, 10))
	cw.str("\n%%EOF\n")
	if cw.err != nil {
		return nil, cw.err
	}
	if err := cw.w.Flush(); err != nil {
		return nil, err
	}
	res.End = cw.pos
	return res, nil
}

func (u *Update) writeObject(cw *countWriter, e *encoder, p pendingObj, res *Result) error {
	e.buf = e.buf[:0]
	e.ph = e.ph[:0]
	e.buf = strconv.AppendUint(e.buf, uint64(p.ref.Num), 10)
	e.buf = append(e.buf, ' ')
	e.buf = strconv.AppendUint(e.buf, uint64(p.ref.Gen), 10)
	e.buf = append(e.buf, " obj\n"...)

	var data []byte
	var raw io.Reader
	h := u.r.crypt
	if h != nil && p.ref == h.encRef {
		h = nil // the /Encrypt dictionary is never encrypted
	}
	s, isStream := p.obj.(*Stream)
	if isStream {
		if s.Dict == nil {
			return fmt.Errorf("stream without dictionary")
		}
		d := s.Dict.Clone()
		if s.InMemory() {
			data = s.data
			if u.compress && d.Get("Filter") == nil {
				data = deflate(data)
				d.Set("Filter", Name("FlateDecode"))
				d.Delete("DecodeParms")
			}
			if h != nil {
				var err error
				if data, err = h.encryptStream(d, p.ref, data); err != nil {
					return err
				}
			}
			d.Set("Length", Integer(len(data)))
		} else if h != nil && s.encrypted && s.cryptRef != p.ref {
			// A stream of the file under another object number: its
			// data must be encrypted with that object's key.
			var err error
			if data, err = u.r.reencryptStream(s, d, p.ref); err != nil {
				return err
			}
			d.Set("Length", Integer(len(data)))
		} else {
			rr, err := u.r.RawStreamReader(s)
			if err != nil {
				return err
			}
			raw = rr
			d.Set("Length", Integer(s.Length))
		}
		if h != nil {
			ed, err := h.cryptStrings(d, p.ref, true, 0)
			if err != nil {
				return err
			}
			d = ed.(*Dict)
		}
		if err := e.obj(d, 0); err != nil {
			return err
		}
		e.buf = append(e.buf, "\nstream\n"...)
	} else {
		o := p.obj
		if h != nil {
			var err error
			if o, err = h.cryptStrings(o, p.ref, true, 0); err != nil {
				return err
			}
		}
		if err := e.obj(o, 0); err != nil {
			return err
		}
	}
	base := cw.pos
	for _, ph := range e.ph {
		res.Placeholders = append(res.Placeholders, PlaceholderPos{Ref: p.ref, Kind: ph.kind, Offset: base + int64(ph.pos), Width: ph.w})
	}
	cw.Write(e.buf)
	if isStream {
		if raw != nil {
			if _, err := io.Copy(cw, raw); err != nil {
				return err
			}
		} else {
			cw.Write(data)
		}
		cw.str("\nendstream")
	}
	cw.str("\nendobj\n")
	return cw.err
}

// newTrailer builds the trailer keys common to both xref forms.
func (u *Update) newTrailer(cw *countWriter) (*Dict, error) {
	old := u.r.chain[0].trailer
	t := &Dict{}
	for _, k := range []Name{"Root", "Info"} {
		if v, ok := u.trailer[k]; ok {
			t.Set(k, v)
		} else if v := old.Get(k); v != nil {
			t.Set(k, v)
		} else if k == "Root" {
			// Linearized first-page trailers always have /Root, but be safe.
			for _, s := range u.r.chain {
				if v := s.trailer.Get(k); v != nil {
					t.Set(k, v)
					break
				}
			}
		}
	}
	for k, v := range u.trailer {
		if k != "Root" && k != "Info" && k != "ID" {
			t.Set(k, v)
		}
	}
	if u.r.Encrypted() != nil {
		// The key depends on /Encrypt and the first /ID: keep both.
		if _, ok := u.trailer["Encrypt"]; !ok {
			t.Set("Encrypt", u.r.Trailer().Get("Encrypt"))
		}
		if _, ok := u.trailer["ID"]; !ok {
			if id := u.r.trailerID(); id != nil {
				t.Set("ID", id)
				return t, nil
			}
		}
	}
	if v, ok := u.trailer["ID"]; ok {
		t.Set("ID", v)
	} else {
		// Keep the first element, new second element: MD5 of the first
		// element and of everything this update wrote so far.
		var first []byte
		if a, ok := old.Get("ID").(Array); ok && len(a) == 2 {
			if s, ok := a[0].(String); ok {
				first = s.Value
			}
		}
		cw.h.Write(first)
		sum := cw.h.Sum(nil)
		if first == nil {
			first = sum
		}
		t.Set("ID", Array{String{Value: first, Hex: true}, String{Value: sum, Hex: true}})
	}
	return t, nil
}

func (u *Update) size(extra uint32) int64 {
	size := int64(u.next)
	if extra >= u.next {
		size = int64(extra) + 1
	}
	return size
}

func (u *Update) writeXrefTable(cw *countWriter, trailer *Dict, res *Result, prev int64) {
	type ent struct {
		num uint32
		off int64
		gen uint16
	}
	var es []ent
	for ref, off := range res.Objects {
		es = append(es, ent{ref.Num, off, ref.Gen})
	}
	slices.SortFunc(es, func(a, b ent) int { return int(int64(a.num) - int64(b.num)) })
	cw.str("xref\n")
	for i := 0; i < len(es); {
		j := i + 1
		for j < len(es) && es[j].num == es[j-1].num+1 {
			j++
		}
		cw.str(strconv.FormatUint(uint64(es[i].num), 10) + " " + strconv.Itoa(j-i) + "\n")
		for _, e := range es[i:j] {
			// Exactly 20 bytes: 10-digit offset, space, 5-digit
			// generation, space, 'n', space, LF.
			cw.str(fmt.Sprintf("%010d %05d n \n", e.off, e.gen))
		}
		i = j
	}
	// /Size, /Prev first, then the other keys.
	d := NewDict(
		DictEntry{"Size", Integer(u.size(0))},
		DictEntry{"Prev", Integer(prev)},
	)
	for _, kv := range trailer.Entries() {
		d.Set(kv.Key, kv.Value)
	}
	b, _ := Marshal(d)
	cw.str("trailer\n")
	cw.Write(b)
	cw.str("\n")
}

func (u *Update) writeXrefStream(cw *countWriter, trailer *Dict, res *Result, xref Ref, prev int64) error {
	type ent struct {
		num uint32
		off int64
		gen uint16
	}
	var es []ent
	var maxOff int64
	var maxGen uint16
	for ref, off := range res.Objects {
		es = append(es, ent{ref.Num, off, ref.Gen})
		maxOff = max(maxOff, off)
		maxGen = max(maxGen, ref.Gen)
	}
	slices.SortFunc(es, func(a, b ent) int { return int(int64(a.num) - int64(b.num)) })
	w2 := 1
	for maxOff >= 1<<(8*w2) && w2 < 8 {
		w2++
	}
	w3 := 1
	if maxGen > 255 {
		w3 = 2
	}
	var index Array
	var data []byte
	for i := 0; i < len(es); {
		j := i + 1
		for j < len(es) && es[j].num == es[j-1].num+1 {
			j++
		}
		index = append(index, Integer(es[i].num), Integer(j-i))
		for _, e := range es[i:j] {
			data = append(data, 1)
			for k := w2 - 1; k >= 0; k-- {
				data = append(data, byte(e.off>>(8*k)))
			}
			for k := w3 - 1; k >= 0; k-- {
				data = append(data, byte(e.gen>>(8*k)))
			}
		}
		i = j
	}
	d := NewDict(
		DictEntry{"Type", Name("XRef")},
		DictEntry{"Size", Integer(u.size(xref.Num))},
		DictEntry{"Index", index},
		DictEntry{"W", Array{Integer(1), Integer(w2), Integer(w3)}},
		DictEntry{"Prev", Integer(prev)},
	)
	for _, kv := range trailer.Entries() {
		d.Set(kv.Key, kv.Value)
	}
	if u.compress {
		data = deflate(data)
		d.Set("Filter", Name("FlateDecode"))
	}
	d.Set("Length", Integer(len(data)))
	b, err := Marshal(d)
	if err != nil {
		return err
	}
	cw.str(strconv.FormatUint(uint64(xref.Num), 10) + " 0 obj\n")
	cw.Write(b)
	cw.str("\nstream\n")
	cw.Write(data)
	cw.str("\nendstream\nendobj\n")
	return cw.err
}

// deflate is data compressed for /FlateDecode (zlib format).
func deflate(data []byte) []byte {
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	zw.Write(data) // writes to a bytes.Buffer do not fail
	zw.Close()
	return b.Bytes()
}
