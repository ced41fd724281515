package pdf

import (
	"bytes"
	"fmt"
)

// repair reconstructs the cross-reference table by scanning the whole file
// for "N G obj" and "trailer" (last definition wins; members of object
// streams count as defined where their object stream is). It is done at
// most once per file.
func (r *Reader) repair(reason string) error {
	r.st.mu.Lock()
	if r.st.repaired {
		r.st.mu.Unlock()
		return nil
	}
	if r.st.repairErr != nil {
		err := r.st.repairErr
		r.st.mu.Unlock()
		return err
	}
	r.st.repairing = true
	r.st.mu.Unlock()

	// Partial chain information stays available for diagnostics. (Only
	// during Open is revs nil; lazy repairs leave the view alone.)
	if r.revs == nil {
		if len(r.chain) > 0 {
			r.revs = r.buildRevisions(r.chain)
			r.view = r.chain
		}
		r.viewRev = len(r.revs) - 1
	}

	tbl, err := r.scan()

	r.st.mu.Lock()
	defer r.st.mu.Unlock()
	r.st.repairing = false
	if err != nil {
		r.st.repairErr = err
		return err
	}
	r.st.repaired = true
	r.st.reasons = append(r.st.reasons, reason)
	r.st.repairTable = tbl

	r.mu.Lock()
	r.cache = make(map[uint32]cached)
	r.objstms = nil
	r.pages = nil
	r.mu.Unlock()
	return nil
}

type scanObj struct {
	num  uint32
	gen  uint16
	off  int64
	kind Name // "ObjStm", "XRef", "Catalog" or ""
	end  int64
}

func (r *Reader) scan() (*section, error) {
	size := r.src.size
	lim := &r.opts.Limits
	var cands []scanObj
	var trailers []int64
	const chunk = 1 << 20
	const back = 64
	buf := make([]byte, min(size, chunk+2*back))
	for off := int64(0); off < size; off += chunk {
		ws := max(0, off-back)
		we := min(size, off+chunk+16)
		b := buf[:we-ws]
		if _, err := r.src.readAt(b, ws); err != nil {
			return nil, err
		}
		for i := int(off - ws); i < len(b) && ws+int64(i) < off+chunk; {
			j := bytes.Index(b[i:], []byte("obj"))
			k := bytes.Index(b[i:], []byte("trailer"))
			if j < 0 && k < 0 {
				break
			}
			if k >= 0 && (j < 0 || k < j) {
				p := i + k
				if ws+int64(p) < off+chunk && (p == 0 || !isRegular(b[p-1])) && (p+7 >= len(b) || !isRegular(b[p+7])) {
					trailers = append(trailers, ws+int64(p))
				}
				i = p + 7
				continue
			}
			p := i + j
			i = p + 3
			if ws+int64(p) >= off+chunk || (p+3 < len(b) && isRegular(b[p+3])) {
				continue
			}
			if num, gen, start, ok := backScan(b, p); ok {
				if int64(len(cands)) >= lim.MaxObjects {
					return nil, limitErr("objects found while repairing", lim.MaxObjects)
				}
				cands = append(cands, scanObj{num: num, gen: gen, off: ws + int64(start)})
			}
		}
	}

	// Parse the candidates in file order, skipping those inside the data of
	// a stream parsed before (fake "N G obj" in binary data).
	defs := make(map[uint32]int) // object number -> index into objs
	var objs []scanObj
	var lastEnd int64
	for _, c := range cands {
		if c.off < lastEnd {
			continue
		}
		lx := newFileLexer(r.src, c.off, lim.MaxTokenLen)
		p := &parser{lx: lx, maxDepth: lim.MaxDepth}
		_, o, err := p.parseIndirect(nil)
		if err != nil {
			continue
		}
		if int64(c.num) >= lim.MaxObjects {
			continue
		}
		switch v := o.(type) {
		case *Stream:
			t, _ := v.Dict.Name("Type")
			if t == "ObjStm" || t == "XRef" {
				c.kind = t
			}
			lastEnd = lx.pos
		case *Dict:
			if t, _ := v.Name("Type"); t == "Catalog" {
				c.kind = "Catalog"
			}
		}
		c.end = lx.pos
		defs[c.num] = len(objs)
		objs = append(objs, c)
	}

	entries := make(map[uint32]XrefEntry, len(defs))
	where := make(map[uint32]int64, len(defs)) // offset that defined the entry
	for num, i := range defs {
		entries[num] = XrefEntry{Num: num, Gen: objs[i].gen, Type: EntryInUse, Offset: objs[i].off}
		where[num] = objs[i].off
	}

	// Trailer: merge all trailers and xref stream dictionaries in file order.
	trailer := &Dict{}
	merge := func(d *Dict) {
		for _, e := range d.Entries() {
			switch e.Key {
			case "Root", "Info", "ID", "Encrypt":
				trailer.Set(e.Key, e.Value)
			}
		}
	}
	ti, oi := 0, 0
	for ti < len(trailers) || oi < len(objs) {
		if oi >= len(objs) || (ti < len(trailers) && trailers[ti] < objs[oi].off) {
			lx := newFileLexer(r.src, trailers[ti]+7, lim.MaxTokenLen)
			p := &parser{lx: lx, maxDepth: lim.MaxDepth}
			if o, err := p.parseObject(0); err == nil {
				if d, ok := o.(*Dict); ok {
					merge(d)
				}
			}
			ti++
			continue
		}
		if objs[oi].kind == "XRef" {
			if _, o, err := r.parseAtNoResolve(objs[oi].off); err == nil {
				if s, ok := o.(*Stream); ok {
					merge(s.Dict)
				}
			}
		}
		oi++
	}

	// Object stream members (not possible to read in encrypted files).
	if trailer.Get("Encrypt") == nil {
		for _, o := range objs {
			if o.kind != "ObjStm" || objs[defs[o.num]].off != o.off {
				continue
			}
			_, so, err := r.parseAtNoResolve(o.off)
			if err != nil {
				continue
			}
			s, ok := so.(*Stream)
			if !ok {
				continue
			}
			n, ok1 := s.Dict.Int("N")
			first, ok2 := s.Dict.Int("First")
			if !ok1 || !ok2 || n < 0 || n > lim.MaxObjStmObjects || first < 0 {
				continue
			}
			data, err := r.decodeStreamData(s, lim.MaxXrefStreamSize, false)
			if err != nil || first > int64(len(data)) {
				continue
			}
			lx := newMemLexer(data[:first], 64)
			for i := int64(0); i < n; i++ {
				t1, err1 := lx.token()
				t2, err2 := lx.token()
				if err1 != nil || err2 != nil || t1.kind != tInt || t2.kind != tInt || t1.i < 0 || t1.i >= lim.MaxObjects {
					break
				}
				m := uint32(t1.i)
				if w, ok := where[m]; ok && w > o.off {
					continue // redefined later in the file
				}
				entries[m] = XrefEntry{Num: m, Type: EntryCompressed, Stream: o.num, Index: int(i)}
				where[m] = o.off
			}
		}
	}

	if trailer.Get("Root") == nil {
		for i := len(objs) - 1; i >= 0; i-- {
			if objs[i].kind == "Catalog" && defs[objs[i].num] == i {
				trailer.Set("Root", Ref{Num: objs[i].num, Gen: objs[i].gen})
				break
			}
		}
	}
	if trailer.Get("Root") == nil {
		return nil, fmt.Errorf("%w: no trailer /Root and no catalog found while repairing", ErrDamaged)
	}
	sec := &section{kind: XrefTable, offset: -1, trailer: trailer}
	var maxNum uint32
	for _, e := range entries {
		sec.entries = append(sec.entries, e)
		maxNum = max(maxNum, e.Num)
	}
	sec.entries = sortEntries(sec.entries)
	trailer.Set("Size", Integer(int64(maxNum)+1))
	return sec, nil
}

// backScan checks that "obj" at b[p] is preceded by "N G " at a token
// boundary and returns N, G and the offset of N.
func backScan(b []byte, p int) (uint32, uint16, int, bool) {
	j := p - 1
	if j < 0 || !isSpace(b[j]) {
		return 0, 0, 0, false
	}
	for j >= 0 && isSpace(b[j]) {
		j--
	}
	ge := j + 1
	for j >= 0 && isDigit(b[j]) {
		j--
	}
	gs := j + 1
	if gs == ge || ge-gs > 5 || j < 0 || !isSpace(b[j]) {
		return 0, 0, 0, false
	}
	for j >= 0 && isSpace(b[j]) {
		j--
	}
	ne := j + 1
	for j >= 0 && isDigit(b[j]) {
		j--
	}
	ns := j + 1
	if ns == ne || ne-ns > 10 || (j >= 0 && isRegular(b[j])) {
		return 0, 0, 0, false
	}
	var num, gen uint64
	for _, c := range b[ns:ne] {
		num = num*10 + uint64(c-'0')
	}
	for _, c := range b[gs:ge] {
		gen = gen*10 + uint64(c-'0')
	}
	if num > 1<<32-1 || gen > 65535 {
		return 0, 0, 0, false
	}
	return uint32(num), uint16(gen), ns, true
}

func (r *Reader) parseAtNoResolve(off int64) (Ref, Object, error) {
	lx := newFileLexer(r.src, off, r.opts.Limits.MaxTokenLen)
	p := &parser{lx: lx, maxDepth: r.opts.Limits.MaxDepth}
	return p.parseIndirect(nil)
}
