package appearance

import (
	"encoding/binary"
	"fmt"
	"math"
)

// sfnt is a minimal read-only view of a TrueType (glyf-outline) font: just
// what layout, PDF font dictionaries and subsetting need. Every offset read
// from the font is bounds-checked; a malformed font gives ErrBadFont, never a
// panic.
type sfnt struct {
	data   []byte
	tables map[string][]byte

	unitsPerEm       int
	bbox             [4]int16 // xMin yMin xMax yMax, font units
	indexToLocFormat int16
	numGlyphs        int
	numHMetrics      int
	ascent, descent  int16 // hhea, font units (descent negative)
	capHeight        int16 // OS/2 (version >= 2), else ascent
	italicAngle      float64
	postScriptName   string

	loca []uint32 // numGlyphs+1 offsets into glyf
	cmap cmapLookup
}

// cmapLookup maps a rune to a glyph index (0 when absent).
type cmapLookup func(r rune) uint16

func be16(b []byte, off int) (uint16, bool) {
	if off < 0 || off+2 > len(b) {
		return 0, false
	}
	return binary.BigEndian.Uint16(b[off:]), true
}

func be32(b []byte, off int) (uint32, bool) {
	if off < 0 || off+4 > len(b) {
		return 0, false
	}
	return binary.BigEndian.Uint32(b[off:]), true
}

func badFont(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadFont}, args...)...)
}

// maxFontSize bounds the font programs we accept (the largest CJK TrueType
// fonts are ~30 MB).
const maxFontSize = 64 << 20

// parseFont reads the table directory and the tables needed for layout.
func parseFont(data []byte) (*sfnt, error) {
	if len(data) > maxFontSize {
		return nil, badFont("font of %d bytes exceeds the %d byte limit", len(data), maxFontSize)
	}
	ver, ok := be32(data, 0)
	if !ok {
		return nil, badFont("too short")
	}
	switch ver {
	case 0x00010000, 0x74727565: // TrueType, 'true'
	case 0x4F54544F: // 'OTTO'
		return nil, badFont("CFF-flavoured OpenType is not supported; use a TrueType (glyf) font")
	case 0x74746366: // 'ttcf'
		return nil, badFont("font collections (.ttc) are not supported")
	default:
		return nil, badFont("not a TrueType font (version %#08x)", ver)
	}
	n, _ := be16(data, 4)
	f := &sfnt{data: data, tables: make(map[string][]byte, n)}
	for i := 0; i < int(n); i++ {
		rec := 12 + 16*i
		if rec+16 > len(data) {
			return nil, badFont("table directory truncated")
		}
		tag := string(data[rec : rec+4])
		off := binary.BigEndian.Uint32(data[rec+8:])
		length := binary.BigEndian.Uint32(data[rec+12:])
		if uint64(off)+uint64(length) > uint64(len(data)) {
			return nil, badFont("table %q lies outside the file", tag)
		}
		f.tables[tag] = data[off : off+length]
	}
	for _, t := range []string{"head", "hhea", "maxp", "hmtx", "loca", "glyf", "cmap"} {
		if f.tables[t] == nil {
			return nil, badFont("missing %q table", t)
		}
	}
	if err := f.parseHead(); err != nil {
		return nil, err
	}
	if err := f.parseMetrics(); err != nil {
		return nil, err
	}
	if err := f.parseLoca(); err != nil {
		return nil, err
	}
	cm, err := parseCmap(f.tables["cmap"], f.numGlyphs)
	if err != nil {
		return nil, err
	}
	f.cmap = cm
	f.parseOptional()
	return f, nil
}

func (f *sfnt) parseHead() error {
	h := f.tables["head"]
	if len(h) < 54 {
		return badFont("head table too short")
	}
	f.unitsPerEm = int(binary.BigEndian.Uint16(h[18:]))
	if f.unitsPerEm < 16 || f.unitsPerEm > 16384 {
		return badFont("unitsPerEm %d out of range", f.unitsPerEm)
	}
	for i := range f.bbox {
		f.bbox[i] = int16(binary.BigEndian.Uint16(h[36+2*i:]))
	}
	f.indexToLocFormat = int16(binary.BigEndian.Uint16(h[50:]))
	if f.indexToLocFormat != 0 && f.indexToLocFormat != 1 {
		return badFont("indexToLocFormat %d", f.indexToLocFormat)
	}
	return nil
}

func (f *sfnt) parseMetrics() error {
	m := f.tables["maxp"]
	ng, ok := be16(m, 4)
	if !ok || ng == 0 {
		return badFont("maxp table too short or no glyphs")
	}
	f.numGlyphs = int(ng)
	hh := f.tables["hhea"]
	if len(hh) < 36 {
		return badFont("hhea table too short")
	}
	f.ascent = int16(binary.BigEndian.Uint16(hh[4:]))
	f.descent = int16(binary.BigEndian.Uint16(hh[6:]))
	f.numHMetrics = int(binary.BigEndian.Uint16(hh[34:]))
	if f.numHMetrics == 0 || f.numHMetrics > f.numGlyphs {
		return badFont("numberOfHMetrics %d (glyphs %d)", f.numHMetrics, f.numGlyphs)
	}
	need := 4*f.numHMetrics + 2*(f.numGlyphs-f.numHMetrics)
	if len(f.tables["hmtx"]) < need {
		return badFont("hmtx table too short (%d < %d)", len(f.tables["hmtx"]), need)
	}
	f.capHeight = f.ascent
	return nil
}

func (f *sfnt) parseLoca() error {
	l := f.tables["loca"]
	glyfLen := uint32(len(f.tables["glyf"]))
	f.loca = make([]uint32, f.numGlyphs+1)
	for i := range f.loca {
		var v uint32
		if f.indexToLocFormat == 0 {
			x, ok := be16(l, 2*i)
			if !ok {
				return badFont("loca table too short")
			}
			v = 2 * uint32(x)
		} else {
			x, ok := be32(l, 4*i)
			if !ok {
				return badFont("loca table too short")
			}
			v = x
		}
		if v > glyfLen || (i > 0 && v < f.loca[i-1]) {
			return badFont("loca entry %d (%d) is out of order or beyond glyf (%d bytes)", i, v, glyfLen)
		}
		f.loca[i] = v
	}
	return nil
}

// parseOptional reads OS/2, post and name values that only refine the font
// descriptor; their absence or damage is not an error.
func (f *sfnt) parseOptional() {
	if os2 := f.tables["OS/2"]; len(os2) >= 90 {
		if v, _ := be16(os2, 0); v >= 2 {
			f.capHeight = int16(binary.BigEndian.Uint16(os2[88:]))
		}
	}
	if p := f.tables["post"]; len(p) >= 8 {
		fixed := int32(binary.BigEndian.Uint32(p[4:]))
		f.italicAngle = float64(fixed) / 65536
	}
	f.postScriptName = f.nameEntry(6)
}

// nameEntry returns name id from the name table (Windows Unicode or Mac
// Roman record), or "".
func (f *sfnt) nameEntry(id uint16) string {
	t := f.tables["name"]
	count, ok1 := be16(t, 2)
	strOff, ok2 := be16(t, 4)
	if !ok1 || !ok2 {
		return ""
	}
	for i := 0; i < int(count); i++ {
		r := 6 + 12*i
		if r+12 > len(t) {
			return ""
		}
		pid := binary.BigEndian.Uint16(t[r:])
		eid := binary.BigEndian.Uint16(t[r+2:])
		nid := binary.BigEndian.Uint16(t[r+6:])
		ln := int(binary.BigEndian.Uint16(t[r+8:]))
		off := int(strOff) + int(binary.BigEndian.Uint16(t[r+10:]))
		if nid != id || off+ln > len(t) {
			continue
		}
		raw := t[off : off+ln]
		switch {
		case pid == 3 && (eid == 1 || eid == 0):
			var s []rune
			for j := 0; j+1 < len(raw); j += 2 {
				s = append(s, rune(binary.BigEndian.Uint16(raw[j:])))
			}
			return string(s)
		case pid == 1 && eid == 0:
			return string(raw)
		}
	}
	return ""
}

// advance returns the advance width of glyph g in font units.
func (f *sfnt) advance(g uint16) int {
	i := int(g)
	if i >= f.numHMetrics {
		i = f.numHMetrics - 1
	}
	return int(binary.BigEndian.Uint16(f.tables["hmtx"][4*i:]))
}

// glyph returns the glyf data of g (empty for a glyph without outline).
func (f *sfnt) glyph(g uint16) []byte {
	if int(g) >= f.numGlyphs {
		return nil
	}
	return f.tables["glyf"][f.loca[g]:f.loca[g+1]]
}

// components returns the glyph ids a composite glyph refers to.
func components(g []byte) ([]uint16, error) {
	if len(g) < 10 || int16(binary.BigEndian.Uint16(g)) >= 0 {
		return nil, nil // empty or simple glyph
	}
	var out []uint16
	p := 10
	for {
		flags, ok1 := be16(g, p)
		gid, ok2 := be16(g, p+2)
		if !ok1 || !ok2 {
			return nil, badFont("composite glyph truncated")
		}
		out = append(out, gid)
		p += 4
		if flags&0x0001 != 0 { // ARG_1_AND_2_ARE_WORDS
			p += 4
		} else {
			p += 2
		}
		switch {
		case flags&0x0008 != 0: // WE_HAVE_A_SCALE
			p += 2
		case flags&0x0040 != 0: // WE_HAVE_AN_X_AND_Y_SCALE
			p += 4
		case flags&0x0080 != 0: // WE_HAVE_A_TWO_BY_TWO
			p += 8
		}
		if flags&0x0020 == 0 { // MORE_COMPONENTS
			return out, nil
		}
		if p > len(g) {
			return nil, badFont("composite glyph truncated")
		}
	}
}

// parseCmap picks the best Unicode subtable: format 12 (full Unicode) over
// format 4 (BMP), from the Windows or Unicode platforms.
func parseCmap(t []byte, numGlyphs int) (cmapLookup, error) {
	n, ok := be16(t, 2)
	if !ok {
		return nil, badFont("cmap table too short")
	}
	best, bestRank := -1, 0
	for i := 0; i < int(n); i++ {
		r := 4 + 8*i
		pid, ok1 := be16(t, r)
		eid, ok2 := be16(t, r+2)
		off, ok3 := be32(t, r+4)
		if !ok1 || !ok2 || !ok3 || uint64(off) >= uint64(len(t)) {
			continue
		}
		format, _ := be16(t, int(off))
		rank := 0
		switch {
		case format == 12 && (pid == 3 && eid == 10 || pid == 0):
			rank = 3
		case format == 4 && (pid == 3 && eid == 1 || pid == 0):
			rank = 2
		}
		if rank > bestRank {
			best, bestRank = int(off), rank
		}
	}
	if best < 0 {
		return nil, badFont("no Unicode cmap subtable (format 4 or 12)")
	}
	sub := t[best:]
	format, _ := be16(sub, 0)
	clamp := func(g uint32) uint16 {
		if g >= uint32(numGlyphs) {
			return 0
		}
		return uint16(g)
	}
	if format == 12 {
		ngroups, ok := be32(sub, 12)
		if !ok || uint64(ngroups)*12+16 > uint64(len(sub)) {
			return nil, badFont("cmap format 12 subtable truncated")
		}
		groups := sub[16 : 16+12*int(ngroups)]
		return func(r rune) uint16 {
			c := uint32(r)
			lo, hi := 0, int(ngroups)
			for lo < hi {
				m := (lo + hi) / 2
				g := groups[12*m:]
				start, end := binary.BigEndian.Uint32(g), binary.BigEndian.Uint32(g[4:])
				switch {
				case c < start:
					hi = m
				case c > end:
					lo = m + 1
				default:
					return clamp(binary.BigEndian.Uint32(g[8:]) + (c - start))
				}
			}
			return 0
		}, nil
	}
	segX2, ok := be16(sub, 6)
	if !ok || segX2%2 != 0 || 16+4*int(segX2) > len(sub) {
		return nil, badFont("cmap format 4 subtable truncated")
	}
	segs := int(segX2) / 2
	ends := sub[14:]
	starts := sub[16+2*segs:]
	deltas := sub[16+4*segs:]
	rangeOffs := sub[16+6*segs:]
	if 16+8*segs > len(sub) {
		return nil, badFont("cmap format 4 subtable truncated")
	}
	return func(r rune) uint16 {
		if r < 0 || r > 0xFFFF {
			return 0
		}
		c := uint16(r)
		lo, hi := 0, segs
		for lo < hi { // first segment whose end >= c
			m := (lo + hi) / 2
			if binary.BigEndian.Uint16(ends[2*m:]) < c {
				lo = m + 1
			} else {
				hi = m
			}
		}
		if lo >= segs {
			return 0
		}
		start := binary.BigEndian.Uint16(starts[2*lo:])
		if c < start {
			return 0
		}
		delta := binary.BigEndian.Uint16(deltas[2*lo:])
		ro := binary.BigEndian.Uint16(rangeOffs[2*lo:])
		if ro == 0 {
			return clamp(uint32(c + delta))
		}
		// The offset is relative to the idRangeOffset entry itself.
		pos := 16 + 6*segs + 2*lo + int(ro) + 2*int(c-start)
		g, ok := be16(sub, pos)
		if !ok || g == 0 {
			return 0
		}
		return clamp(uint32(g + delta))
	}, nil
}

// scale converts font units to 1/1000 em (PDF glyph space), rounded.
func (f *sfnt) scale(v int) float64 {
	return math.Round(float64(v)*1000/float64(f.unitsPerEm)*100) / 100
}
