package pdf

import (
	"bytes"
	"fmt"
	"slices"
)

// XrefKind is the form of a cross-reference section.
type XrefKind int

const (
	XrefTable  XrefKind = iota + 1 // classic "xref" table + "trailer"
	XrefStream                     // cross-reference stream (/Type /XRef)
	XrefHybrid                     // classic table whose trailer has /XRefStm
)

func (k XrefKind) String() string {
	switch k {
	case XrefTable:
		return "table"
	case XrefStream:
		return "stream"
	case XrefHybrid:
		return "hybrid"
	}
	return "unknown"
}

// EntryType is the type of a cross-reference entry.
type EntryType uint8

const (
	EntryFree       EntryType = iota // free (deleted) object
	EntryInUse                       // object at a byte offset
	EntryCompressed                  // object inside an object stream
)

// XrefEntry is one cross-reference entry.
type XrefEntry struct {
	Num    uint32
	Gen    uint16 // generation (0 for compressed objects)
	Type   EntryType
	Offset int64  // EntryInUse: byte offset of "N G obj"; EntryFree: next free object number
	Stream uint32 // EntryCompressed: number of the object stream
	Index  int    // EntryCompressed: index of the object inside the stream
}

// section is one cross-reference section of the /Prev chain.
type section struct {
	kind    XrefKind
	offset  int64 // offset of "xref" or of the xref stream's "N G obj"
	xrefStm int64 // hybrid: offset of the /XRefStm stream
	trailer *Dict
	entries []XrefEntry // sorted by Num, one per number (table entries win in hybrid sections)
	end     int64       // offset just after the section (trailer dict, or endobj)
}

func (s *section) lookup(num uint32) (XrefEntry, bool) {
	i, ok := slices.BinarySearchFunc(s.entries, num, func(e XrefEntry, n uint32) int {
		switch {
		case e.Num < n:
			return -1
		case e.Num > n:
			return 1
		}
		return 0
	})
	if !ok {
		return XrefEntry{}, false
	}
	return s.entries[i], true
}

// sortEntries sorts by number, keeping for duplicate numbers the entry that
// came last (the later subsection wins).
func sortEntries(es []XrefEntry) []XrefEntry {
	increasing := true
	for i := 1; i < len(es); i++ {
		if es[i].Num <= es[i-1].Num {
			increasing = false
			break
		}
	}
	if increasing {
		return es
	}
	slices.SortStableFunc(es, func(a, b XrefEntry) int {
		switch {
		case a.Num < b.Num:
			return -1
		case a.Num > b.Num:
			return 1
		}
		return 0
	})
	out := es[:0]
	for i, e := range es {
		if i+1 < len(es) && es[i+1].Num == e.Num {
			continue
		}
		out = append(out, e)
	}
	return out
}

// mergeEntries merges two sorted entry lists, pri winning on equal numbers.
func mergeEntries(pri, sec []XrefEntry) []XrefEntry {
	out := make([]XrefEntry, 0, len(pri)+len(sec))
	i, j := 0, 0
	for i < len(pri) || j < len(sec) {
		switch {
		case j >= len(sec) || (i < len(pri) && pri[i].Num < sec[j].Num):
			out = append(out, pri[i])
			i++
		case i >= len(pri) || sec[j].Num < pri[i].Num:
			out = append(out, sec[j])
			j++
		default:
			out = append(out, pri[i])
			i++
			j++
		}
	}
	return out
}

// loadSection reads the xref section at off: a table (possibly hybrid) or
// a stream.
func (r *Reader) loadSection(off int64) (*section, error) {
	if off < 0 || off >= r.src.size {
		return nil, fmt.Errorf("%w: xref offset %d outside the file (%d bytes)", ErrDamaged, off, r.src.size)
	}
	lx := newFileLexer(r.src, off, r.opts.Limits.MaxTokenLen)
	lx.skipSpace()
	if lx.hasPrefixAt(lx.pos, "xref") {
		sec, err := r.loadTable(lx)
		if err != nil {
			return nil, err
		}
		sec.offset = off
		if v := sec.trailer.Get("XRefStm"); v != nil {
			so, ok := v.(Integer)
			if !ok {
				return nil, fmt.Errorf("%w: /XRefStm %v is not an integer", ErrDamaged, v)
			}
			ss, err := r.loadStreamSection(int64(so))
			if err != nil {
				return nil, fmt.Errorf("hybrid section at %d: /XRefStm: %w", off, err)
			}
			sec.kind = XrefHybrid
			sec.xrefStm = int64(so)
			// ISO 32000-1 7.5.8.4: a reader looks an object up in the
			// table first, then in the /XRefStm stream, then in /Prev: the
			// table's entries take precedence (as in qpdf, poppler and
			// pdf.js). The revision diff reads the same merged entries.
			sec.entries = mergeEntries(sec.entries, ss.entries)
		}
		return sec, nil
	}
	return r.loadStreamSection(off)
}

// loadTable parses a classic xref table at lx (positioned at "xref").
func (r *Reader) loadTable(lx *lexer) (*section, error) {
	lim := &r.opts.Limits
	sec := &section{kind: XrefTable}
	start := lx.pos
	lx.seek(lx.pos + 4)
	var entries []XrefEntry
	badSpacing := false
	for {
		t, err := lx.token()
		if err != nil {
			return nil, err
		}
		if t.kind == tKeyword && t.kw == kwTrailer {
			break
		}
		if t.kind != tInt {
			return nil, &SyntaxError{Offset: t.pos, Where: "xref table", Msg: "expected subsection header or trailer"}
		}
		t2, err := lx.token()
		if err != nil {
			return nil, err
		}
		if t2.kind != tInt || t.i < 0 || t2.i < 0 {
			return nil, &SyntaxError{Offset: t.pos, Where: "xref table", Msg: "invalid subsection header"}
		}
		first, count := t.i, t2.i
		if first+count > lim.MaxObjects || count > (r.src.size-lx.pos)/16+1 {
			return nil, fmt.Errorf("%w: xref subsection %d %d at offset %d: %w", ErrDamaged, first, count, t.pos, limitErr("object count", lim.MaxObjects))
		}
		prevPos := int64(-1)
		entries = slices.Grow(entries, int(count))
		for k := int64(0); k < count; k++ {
			// Fast path: a well-formed 20-byte entry in the current block.
			if k == 0 && first == 1 {
				// Possibly the shifted-subsection defect: token path below.
			} else if off, gen, typ, ok := lx.xrefEntry20(); ok {
				e := XrefEntry{Num: uint32(first + k), Gen: gen, Offset: off}
				if typ == 'n' && off != 0 {
					e.Type = EntryInUse
				}
				entries = append(entries, e)
				prevPos = -1
				continue
			}
			a, err := lx.token()
			if err != nil {
				return nil, err
			}
			b, err := lx.token()
			if err != nil {
				return nil, err
			}
			c, err := lx.token()
			if err != nil {
				return nil, err
			}
			if a.kind != tInt || b.kind != tInt || c.kind != tKeyword || (c.kw != kwN && c.kw != kwF) ||
				a.i < 0 || b.i < 0 || b.i > 65535 {
				return nil, &SyntaxError{Offset: a.pos, Where: "xref table", Msg: fmt.Sprintf("invalid xref entry (object %d)", first+k)}
			}
			if prevPos >= 0 && a.pos-prevPos != 20 {
				badSpacing = true
			}
			prevPos = a.pos
			num := first + k
			if k == 0 && first == 1 && c.kw == kwF && a.i == 0 && b.i == 65535 {
				// Common defect: "1 n" subsection that starts with object 0's entry.
				r.note(fmt.Sprintf("xref table at %d: subsection starts at 1 but holds object 0; shifted", start))
				first, num = 0, 0
			}
			e := XrefEntry{Num: uint32(num), Gen: uint16(b.i), Offset: a.i}
			if c.kw == kwN {
				e.Type = EntryInUse
				if a.i == 0 {
					// "0000000000 00000 n" is an in-use entry pointing nowhere;
					// qpdf and pdf.js treat it as free.
					e.Type = EntryFree
				}
			}
			entries = append(entries, e)
		}
	}
	if badSpacing {
		r.note(fmt.Sprintf("xref table at %d: entries are not 20 bytes long", start))
	}
	p := &parser{lx: lx, maxDepth: r.opts.Limits.MaxDepth, where: "trailer", defect: r.note}
	o, err := p.parseObject(0)
	if err != nil {
		return nil, fmt.Errorf("trailer of xref table at %d: %w", start, err)
	}
	d, ok := o.(*Dict)
	if !ok {
		return nil, &SyntaxError{Offset: lx.pos, Where: "trailer", Msg: "trailer is not a dictionary"}
	}
	sec.trailer = d
	sec.entries = sortEntries(entries)
	sec.end = lx.pos
	return sec, nil
}

// loadStreamSection parses a cross-reference stream at off.
func (r *Reader) loadStreamSection(off int64) (*section, error) {
	if off < 0 || off >= r.src.size {
		return nil, fmt.Errorf("%w: xref stream offset %d outside the file", ErrDamaged, off)
	}
	lim := &r.opts.Limits
	lx := newFileLexer(r.src, off, lim.MaxTokenLen)
	p := &parser{lx: lx, maxDepth: lim.MaxDepth, where: fmt.Sprintf("xref stream at %d", off), defect: r.note}
	_, obj, err := p.parseIndirect(nil)
	if err != nil {
		return nil, fmt.Errorf("xref stream at %d: %w", off, err)
	}
	s, ok := obj.(*Stream)
	if !ok {
		return nil, &SyntaxError{Offset: off, Where: "xref", Msg: "no xref table or xref stream here"}
	}
	if t, _ := s.Dict.Name("Type"); t != "XRef" {
		return nil, &SyntaxError{Offset: off, Where: "xref", Msg: "stream is not /Type /XRef"}
	}
	sec := &section{kind: XrefStream, offset: off, trailer: s.Dict, end: lx.pos}

	wa, _ := s.Dict.Get("W").(Array)
	if len(wa) != 3 {
		return nil, &SyntaxError{Offset: off, Where: "xref stream", Msg: "/W is not an array of 3 integers"}
	}
	var w [3]int
	for i, o := range wa {
		v, ok := o.(Integer)
		if !ok || v < 0 || v > 8 {
			return nil, &SyntaxError{Offset: off, Where: "xref stream", Msg: fmt.Sprintf("/W[%d] invalid", i)}
		}
		w[i] = int(v)
	}
	size, ok := s.Dict.Int("Size")
	if !ok || size < 0 || size > lim.MaxObjects {
		return nil, &SyntaxError{Offset: off, Where: "xref stream", Msg: "/Size missing or out of range"}
	}
	var index []int64
	switch ia := s.Dict.Get("Index").(type) {
	case nil:
		index = []int64{0, size}
	case Array:
		if len(ia)%2 != 0 {
			return nil, &SyntaxError{Offset: off, Where: "xref stream", Msg: "/Index has an odd length"}
		}
		for _, o := range ia {
			v, ok := o.(Integer)
			if !ok || v < 0 || int64(v) > lim.MaxObjects {
				return nil, &SyntaxError{Offset: off, Where: "xref stream", Msg: "/Index holds an invalid value"}
			}
			index = append(index, int64(v))
		}
	default:
		return nil, &SyntaxError{Offset: off, Where: "xref stream", Msg: "/Index is not an array"}
	}
	rowLen := w[0] + w[1] + w[2]
	if rowLen == 0 {
		return nil, &SyntaxError{Offset: off, Where: "xref stream", Msg: "/W sums to zero"}
	}
	var total int64
	for i := 0; i < len(index); i += 2 {
		if index[i]+index[i+1] > lim.MaxObjects {
			return nil, fmt.Errorf("xref stream at %d: %w", off, limitErr("object number", lim.MaxObjects))
		}
		total += index[i+1]
	}
	if total*int64(rowLen) > lim.MaxXrefStreamSize {
		return nil, fmt.Errorf("xref stream at %d: %w", off, limitErr("xref stream size", lim.MaxXrefStreamSize))
	}
	// Xref streams are never encrypted (7.6.1), so decode regardless.
	data, err := r.decodeStreamData(s, min(lim.MaxXrefStreamSize, total*int64(rowLen)), false)
	if err != nil {
		return nil, fmt.Errorf("xref stream at %d: %w", off, err)
	}
	if int64(len(data)) < total*int64(rowLen) {
		r.note(fmt.Sprintf("xref stream at %d: data shorter than /Index says (%d < %d bytes)", off, len(data), total*int64(rowLen)))
	}
	field := func(b []byte) int64 {
		var v int64
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		return v
	}
	entries := make([]XrefEntry, 0, min(total, int64(len(data)/rowLen)))
	pos := 0
	for i := 0; i < len(index); i += 2 {
		first, count := index[i], index[i+1]
		for k := int64(0); k < count; k++ {
			if pos+rowLen > len(data) {
				break
			}
			row := data[pos : pos+rowLen]
			pos += rowLen
			typ := int64(1)
			if w[0] > 0 {
				typ = field(row[:w[0]])
			}
			f2 := field(row[w[0] : w[0]+w[1]])
			f3 := field(row[w[0]+w[1]:])
			num := uint32(first + k)
			switch typ {
			case 0:
				entries = append(entries, XrefEntry{Num: num, Type: EntryFree, Offset: f2, Gen: uint16(f3)})
			case 1:
				if f3 > 65535 || f2 < 0 {
					continue
				}
				e := XrefEntry{Num: num, Type: EntryInUse, Offset: f2, Gen: uint16(f3)}
				if f2 == 0 {
					e.Type = EntryFree
				}
				entries = append(entries, e)
			case 2:
				if f2 < 0 || f2 > 1<<32-1 || f3 < 0 || f3 > 1<<31-1 {
					continue
				}
				entries = append(entries, XrefEntry{Num: num, Type: EntryCompressed, Stream: uint32(f2), Index: int(f3)})
			default:
				// Unknown types are references to the null object (7.5.8.3).
			}
		}
	}
	sec.entries = sortEntries(entries)
	return sec, nil
}

// findStartxref locates the last "startxref N" in the file's tail and
// returns N. It looks at the last 1 KiB first and widens the window.
func (r *Reader) findStartxref() (int64, error) {
	size := r.src.size
	for window := int64(1024); ; window *= 8 {
		if window > size {
			window = size
		}
		buf := make([]byte, window)
		if _, err := r.src.readAt(buf, size-window); err != nil {
			return 0, err
		}
		if i := bytes.LastIndex(buf, []byte("startxref")); i >= 0 {
			lx := newFileLexer(r.src, size-window+int64(i)+9, 64)
			t, err := lx.token()
			if err != nil || t.kind != tInt || t.i < 0 {
				return 0, fmt.Errorf("%w: startxref at %d is not followed by an offset", ErrDamaged, size-window+int64(i))
			}
			return t.i, nil
		}
		if window == size || window >= 1<<20 {
			return 0, fmt.Errorf("%w: no startxref in the last %d bytes", ErrDamaged, window)
		}
	}
}

// revisionEnd finds, after pos, the "startxref N" and "%%EOF" that close a
// revision; it returns N and the offset just after %%EOF's line end (-1, -1
// if not found within a short window).
func (r *Reader) revisionEnd(pos int64) (startxref, end int64) {
	const window = 64 << 10
	lx := newFileLexer(r.src, pos, 64)
	sx := lx.find([]byte("startxref"), pos, pos+window)
	if sx < 0 {
		return -1, -1
	}
	lx.seek(sx + 9)
	t, err := lx.token()
	if err != nil || t.kind != tInt {
		return -1, -1
	}
	e := lx.find([]byte("%%EOF"), lx.pos, lx.pos+1024)
	if e < 0 {
		return t.i, -1
	}
	lx.err = nil
	lx.seek(e + 5)
	lx.skipEOL()
	return t.i, lx.pos
}

// Revision is one revision of the document: the cross-reference section(s)
// written by one save, in the order they were written (Index 0 is the
// original document, the last one is the newest). The two sections of a
// linearized file (first-page and main xref, joined by /Prev) form one
// revision, as do a stale linearized file's two sections.
type Revision struct {
	Index      int
	Kind       XrefKind // kind of the entry section (the one startxref points to)
	XrefOffset int64    // offset of the entry section: what this revision's startxref must say
	XRefStm    int64    // hybrid: offset of the /XRefStm stream; 0 otherwise
	Sections   []int64  // offsets of all xref sections of this revision, entry section first
	Trailer    *Dict    // trailer of the entry section (an xref stream's dictionary)
	StartXref  int64    // value of the startxref that closes this revision (-1 if not found)
	End        int64    // offset just after this revision's %%EOF and its line end (-1 if not found)
	Linearized bool     // two sections joined (linearized first-page + main xref)

	secs []*section
}

// Entries returns the cross-reference entries this revision defines (in use,
// compressed and free), sorted by object number. For a linearized revision
// the first-page section wins over the main one.
func (rv *Revision) Entries() []XrefEntry {
	var out []XrefEntry
	for i := len(rv.secs) - 1; i >= 0; i-- {
		out = mergeEntries(rv.secs[i].entries, out)
	}
	return out
}

// buildRevisions groups the chain (newest first) into revisions (oldest
// first) and finds each revision's end.
func (r *Reader) buildRevisions(chain []*section) []*Revision {
	var groups [][]*section
	for i := 0; i < len(chain); {
		g := []*section{chain[i]}
		j := i + 1
		// A /Prev pointing forward in the file joins a linearized
		// first-page section and its main section.
		for j < len(chain) && chain[j].offset > chain[j-1].offset && len(g) < 2 {
			g = append(g, chain[j])
			j++
		}
		groups = append(groups, g)
		i = j
	}
	revs := make([]*Revision, len(groups))
	for gi, g := range groups {
		last := g[0]
		for _, s := range g {
			if s.offset > last.offset {
				last = s
			}
		}
		rv := &Revision{
			Kind: g[0].kind, XrefOffset: g[0].offset, XRefStm: g[0].xrefStm, Trailer: g[0].trailer,
			Linearized: len(g) > 1, secs: g,
		}
		for _, s := range g {
			rv.Sections = append(rv.Sections, s.offset)
		}
		rv.StartXref, rv.End = r.revisionEnd(last.end)
		idx := len(groups) - 1 - gi
		rv.Index = idx
		revs[idx] = rv
	}
	return revs
}

// CheckEntry reports whether an in-use entry leads to the object it names:
// "Num Gen obj" at its offset (or at offset + HeaderOffset, which the
// reader tolerates). It never repairs: a verifier uses it to find the xref
// entries that would make the reader rescan the file. Entries of other
// types are not checked.
func (r *Reader) CheckEntry(e XrefEntry) error {
	if e.Type != EntryInUse {
		return nil
	}
	var err error
	for _, off := range []int64{e.Offset, e.Offset + r.headerOff} {
		if off < 0 || off >= r.src.size {
			err = fmt.Errorf("%w: xref entry for object %d points at offset %d, outside the file (%d bytes)", ErrDamaged, e.Num, e.Offset, r.src.size)
			continue
		}
		lx := newFileLexer(r.src, off, 64)
		t1, e1 := lx.token()
		t2, e2 := lx.token()
		t3, e3 := lx.token()
		switch {
		case e1 != nil || e2 != nil || e3 != nil || t1.kind != tInt || t2.kind != tInt || t3.kind != tKeyword || t3.kw != kwObj:
			err = fmt.Errorf("%w: xref entry for object %d points at offset %d, where no object starts", ErrDamaged, e.Num, e.Offset)
		case t1.i != int64(e.Num):
			err = fmt.Errorf("%w: xref entry for object %d points at offset %d, where object %d starts", ErrDamaged, e.Num, e.Offset, t1.i)
		default:
			return nil
		}
		if r.headerOff == 0 {
			break
		}
	}
	return err
}
