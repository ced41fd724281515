package appearance

import (
	"encoding/binary"
	"slices"
	"unicode/utf16"
)

// maxCompositeDepth bounds the nesting of composite glyphs (real fonts use
// one or two levels; the TrueType rasterisers allow about 16).
const maxCompositeDepth = 16

// glyphClosure returns the sorted set of glyphs needed to draw used: the
// glyphs themselves, .notdef and every component of composite glyphs.
func (f *sfnt) glyphClosure(used []uint16) ([]uint16, error) {
	seen := map[uint16]bool{0: true}
	var walk func(g uint16, depth int) error
	walk = func(g uint16, depth int) error {
		if depth > maxCompositeDepth {
			return badFont("composite glyphs nested deeper than %d", maxCompositeDepth)
		}
		if int(g) >= f.numGlyphs {
			return badFont("glyph %d referenced but the font has %d", g, f.numGlyphs)
		}
		comps, err := components(f.glyph(g))
		if err != nil {
			return err
		}
		for _, c := range comps {
			if seen[c] {
				continue
			}
			seen[c] = true
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, g := range append([]uint16{0}, used...) {
		if g != 0 && seen[g] {
			continue
		}
		seen[g] = true
		if err := walk(g, 0); err != nil {
			return nil, err
		}
	}
	out := make([]uint16, 0, len(seen))
	for g := range seen {
		out = append(out, g)
	}
	slices.Sort(out)
	return out, nil
}

// subsetFont returns a TrueType font program holding only the glyphs in
// keep (sorted, from glyphClosure); every other glyph is emptied so that
// glyph ids stay as in the original (the PDF uses /CIDToGIDMap /Identity).
// The glyph count is cut after the highest kept glyph. cmapRunes maps the
// characters drawn to their glyphs, for a small (3,1) cmap.
//
// Kept tables: the ones ISO 32000-1 9.9 requires for a CIDFontType2 (head,
// hhea, loca, maxp, cvt, prep, glyf, hmtx, fpgm) plus OS/2, a version 3
// post table, a minimal name table and the cmap, which some viewers and
// font validators want. Layout tables (GSUB, GPOS, GDEF, kern) and the
// rest are dropped: PDF text is already positioned.
func (f *sfnt) subsetFont(keep []uint16, cmapRunes map[rune]uint16, psName string) []byte {
	numGlyphs := int(keep[len(keep)-1]) + 1
	keepSet := make([]bool, numGlyphs)
	for _, g := range keep {
		keepSet[g] = true
	}

	// glyf + loca (long offsets, glyphs padded to 4 bytes).
	var glyf []byte
	loca := make([]byte, 4*(numGlyphs+1))
	for g := 0; g < numGlyphs; g++ {
		binary.BigEndian.PutUint32(loca[4*g:], uint32(len(glyf)))
		if keepSet[g] {
			glyf = append(glyf, f.glyph(uint16(g))...)
			for len(glyf)%4 != 0 {
				glyf = append(glyf, 0)
			}
		}
	}
	binary.BigEndian.PutUint32(loca[4*numGlyphs:], uint32(len(glyf)))

	// hmtx: keep the metrics of all remaining glyph ids (advance widths of
	// emptied glyphs are harmless and keep the table simple).
	nh := min(f.numHMetrics, numGlyphs)
	hmtx := make([]byte, 0, 4*nh+2*(numGlyphs-nh))
	hmtx = append(hmtx, f.tables["hmtx"][:4*nh]...)
	lsbStart := 4 * f.numHMetrics
	for g := nh; g < numGlyphs; g++ {
		off := lsbStart + 2*(g-f.numHMetrics)
		hmtx = append(hmtx, f.tables["hmtx"][off:off+2]...)
	}

	head := slices.Clone(f.tables["head"][:54])
	binary.BigEndian.PutUint32(head[8:], 0) // checkSumAdjustment, set below
	binary.BigEndian.PutUint16(head[50:], 1)

	hhea := slices.Clone(f.tables["hhea"][:36])
	binary.BigEndian.PutUint16(hhea[34:], uint16(nh))

	maxp := slices.Clone(f.tables["maxp"])
	binary.BigEndian.PutUint16(maxp[4:], uint16(numGlyphs))

	tables := map[string][]byte{
		"head": head, "hhea": hhea, "maxp": maxp, "loca": loca,
		"glyf": glyf, "hmtx": hmtx,
		"cmap": buildCmap(cmapRunes),
		"name": buildName(psName),
	}
	for _, t := range []string{"cvt ", "fpgm", "prep", "OS/2"} {
		if v := f.tables[t]; v != nil {
			tables[t] = v
		}
	}
	if p := f.tables["post"]; len(p) >= 32 {
		post := slices.Clone(p[:32])
		binary.BigEndian.PutUint32(post, 0x00030000) // version 3: no glyph names
		tables["post"] = post
	}
	return writeSfnt(tables)
}

// buildCmap writes a (3,1) format 4 cmap with one segment per character
// (a stamp has a few dozen), plus the required final 0xFFFF segment.
func buildCmap(m map[rune]uint16) []byte {
	var rs []rune
	for r := range m {
		if r >= 0 && r < 0xFFFF {
			rs = append(rs, r)
		}
	}
	slices.Sort(rs)
	segs := len(rs) + 1
	sub := make([]byte, 16+8*segs)
	binary.BigEndian.PutUint16(sub[0:], 4)
	binary.BigEndian.PutUint16(sub[2:], uint16(len(sub)))
	binary.BigEndian.PutUint16(sub[6:], uint16(2*segs))
	sr := 2
	es := 0
	for sr*2 <= 2*segs {
		sr *= 2
		es++
	}
	binary.BigEndian.PutUint16(sub[8:], uint16(sr))
	binary.BigEndian.PutUint16(sub[10:], uint16(es))
	binary.BigEndian.PutUint16(sub[12:], uint16(2*segs-sr))
	ends := sub[14:]
	starts := sub[16+2*segs:]
	deltas := sub[16+4*segs:]
	for i, r := range rs {
		binary.BigEndian.PutUint16(ends[2*i:], uint16(r))
		binary.BigEndian.PutUint16(starts[2*i:], uint16(r))
		binary.BigEndian.PutUint16(deltas[2*i:], m[r]-uint16(r))
	}
	last := segs - 1
	binary.BigEndian.PutUint16(ends[2*last:], 0xFFFF)
	binary.BigEndian.PutUint16(starts[2*last:], 0xFFFF)
	binary.BigEndian.PutUint16(deltas[2*last:], 1)
	// idRangeOffsets are all zero.

	out := make([]byte, 12, 12+len(sub))
	binary.BigEndian.PutUint16(out[2:], 1)  // one subtable
	binary.BigEndian.PutUint16(out[4:], 3)  // Windows
	binary.BigEndian.PutUint16(out[6:], 1)  // Unicode BMP
	binary.BigEndian.PutUint32(out[8:], 12) // offset
	return append(out, sub...)
}

// buildName writes a name table with family (1), subfamily (2), full name
// (4) and PostScript name (6), in Windows Unicode English records.
func buildName(psName string) []byte {
	recs := []struct {
		id uint16
		s  string
	}{{1, psName}, {2, "Regular"}, {4, psName}, {6, psName}}
	var str []byte
	hdr := make([]byte, 6+12*len(recs))
	binary.BigEndian.PutUint16(hdr[2:], uint16(len(recs)))
	binary.BigEndian.PutUint16(hdr[4:], uint16(len(hdr)))
	for i, r := range recs {
		u := utf16.Encode([]rune(r.s))
		off := len(str)
		for _, c := range u {
			str = binary.BigEndian.AppendUint16(str, c)
		}
		p := hdr[6+12*i:]
		binary.BigEndian.PutUint16(p[0:], 3)
		binary.BigEndian.PutUint16(p[2:], 1)
		binary.BigEndian.PutUint16(p[4:], 0x0409)
		binary.BigEndian.PutUint16(p[6:], r.id)
		binary.BigEndian.PutUint16(p[8:], uint16(2*len(u)))
		binary.BigEndian.PutUint16(p[10:], uint16(off))
	}
	return append(hdr, str...)
}

func tableChecksum(b []byte) uint32 {
	var sum uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		sum += binary.BigEndian.Uint32(w[:])
	}
	return sum
}

// writeSfnt assembles tables into a font file: sorted directory, tables
// 4-byte aligned, checksums and head.checkSumAdjustment.
func writeSfnt(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	n := len(tags)
	sr, es := 1, 0
	for sr*2 <= n {
		sr *= 2
		es++
	}
	size := 12 + 16*n
	for _, t := range tags {
		size += (len(tables[t]) + 3) &^ 3
	}
	out := make([]byte, 12+16*n, size)
	binary.BigEndian.PutUint32(out[0:], 0x00010000)
	binary.BigEndian.PutUint16(out[4:], uint16(n))
	binary.BigEndian.PutUint16(out[6:], uint16(16*sr))
	binary.BigEndian.PutUint16(out[8:], uint16(es))
	binary.BigEndian.PutUint16(out[10:], uint16(16*(n-sr)))
	headOff := 0
	for i, t := range tags {
		data := tables[t]
		rec := out[12+16*i:]
		copy(rec, t)
		binary.BigEndian.PutUint32(rec[4:], tableChecksum(data))
		binary.BigEndian.PutUint32(rec[8:], uint32(len(out)))
		binary.BigEndian.PutUint32(rec[12:], uint32(len(data)))
		if t == "head" {
			headOff = len(out)
		}
		out = append(out, data...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	binary.BigEndian.PutUint32(out[headOff+8:], 0xB1B0AFBA-tableChecksum(out))
	return out
}
