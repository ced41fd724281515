package appearance

import (
	"crypto/sha256"
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"

	"github.com/semnat/semnat/pades/pdf"
)

// goRegular is Go Regular 2.010 (golang.org/x/image/font/gofont/ttfs), by
// Bigelow & Holmes, under the BSD licence in fonts/LICENSE.
//
//go:embed fonts/Go-Regular.ttf
var goRegular []byte

// glyphRun is one character mapped to its glyph.
type glyphRun struct {
	r   rune
	gid uint16
	adv int // font units
}

// fontUse tracks the glyphs a stamp draws with one font.
type fontUse struct {
	f       *sfnt
	runeGID map[rune]uint16
	gidRune map[uint16]rune // for /ToUnicode: the first character seen
	drawn   []uint16        // sorted glyphs actually drawn
}

func newFontUse(f *sfnt) *fontUse {
	return &fontUse{f: f, runeGID: make(map[rune]uint16), gidRune: make(map[uint16]rune)}
}

// shapeLine maps each character to a glyph; a character without a glyph is
// an ErrMissingGlyph. Glyphs map one-to-one to characters (no ligatures, no
// kerning: PDF signature stamps are short and this keeps /ToUnicode exact).
func (u *fontUse) shapeLine(s string, line int) ([]glyphRun, error) {
	out := make([]glyphRun, 0, len(s))
	for _, r := range s {
		g := u.f.cmap(r)
		if g == 0 {
			name := u.f.postScriptName
			if name == "" {
				name = "the font"
			}
			return nil, fmt.Errorf("%w %q (%U) on line %d: %s has none; use another font (Spec.Font) or remove the character", ErrMissingGlyph, r, r, line, name)
		}
		out = append(out, glyphRun{r: r, gid: g, adv: u.f.advance(g)})
	}
	return out, nil
}

// use records the glyphs of a row as drawn; the character for a glyph in
// /ToUnicode is the first one seen drawn with it.
func (u *fontUse) use(rs []glyphRun) {
	for _, g := range rs {
		if _, ok := u.runeGID[g.r]; !ok {
			u.runeGID[g.r] = g.gid
		}
		if _, ok := u.gidRune[g.gid]; !ok {
			u.gidRune[g.gid] = g.r
			u.drawn = append(u.drawn, g.gid)
		}
	}
}

// subset builds the font program and its subset name.
func (u *fontUse) subset() ([]byte, string, error) {
	slices.Sort(u.drawn)
	keep, err := u.f.glyphClosure(u.drawn)
	if err != nil {
		return nil, "", err
	}
	base := sanitizePSName(u.f.postScriptName)
	// The tag is derived from the glyph set, so the same stamp gives the
	// same bytes (reproducible output) and different subsets get
	// different names (ISO 32000-1 9.9.2).
	h := sha256.New()
	h.Write([]byte(base))
	for _, g := range keep {
		h.Write([]byte{byte(g >> 8), byte(g)})
	}
	sum := h.Sum(nil)
	var tag [6]byte
	for i := range tag {
		tag[i] = 'A' + sum[i]%26
	}
	name := string(tag[:]) + "+" + base
	cmapRunes := make(map[rune]uint16, len(u.runeGID))
	for r, g := range u.runeGID {
		cmapRunes[r] = g
	}
	return u.f.subsetFont(keep, cmapRunes, base), name, nil
}

// sanitizePSName keeps the characters allowed in a PostScript font name.
func sanitizePSName(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c > ' ' && c < 127 && !strings.ContainsRune("[](){}<>/%", c) {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "Embedded"
	}
	if b.Len() > 63 {
		return b.String()[:63]
	}
	return b.String()
}

// addObjects adds the Type0 font, its CIDFontType2 descendant, the font
// descriptor, the font file and the /ToUnicode CMap; it returns the Type0
// font's reference.
func (u *fontUse) addObjects(a Adder, z *deflater, program []byte, name string) (pdf.Ref, error) {
	f := u.f
	packed, err := z.deflate(program)
	if err != nil {
		return pdf.Ref{}, err
	}
	file := a.Add(pdf.NewStream(pdf.NewDict(
		pdf.DictEntry{Key: "Length1", Value: pdf.Integer(len(program))},
		pdf.DictEntry{Key: "Filter", Value: pdf.Name("FlateDecode")},
	), packed))
	sc := func(v int16) pdf.Object { return num(f.scale(int(v))) }
	desc := a.Add(pdf.NewDict(
		pdf.DictEntry{Key: "Type", Value: pdf.Name("FontDescriptor")},
		pdf.DictEntry{Key: "FontName", Value: pdf.Name(name)},
		// Symbolic: the glyphs go beyond the Adobe standard Latin set.
		pdf.DictEntry{Key: "Flags", Value: pdf.Integer(4)},
		pdf.DictEntry{Key: "FontBBox", Value: pdf.Array{sc(f.bbox[0]), sc(f.bbox[1]), sc(f.bbox[2]), sc(f.bbox[3])}},
		pdf.DictEntry{Key: "ItalicAngle", Value: num(f.italicAngle)},
		pdf.DictEntry{Key: "Ascent", Value: sc(f.ascent)},
		pdf.DictEntry{Key: "Descent", Value: sc(f.descent)},
		pdf.DictEntry{Key: "CapHeight", Value: sc(f.capHeight)},
		pdf.DictEntry{Key: "StemV", Value: pdf.Integer(80)},
		pdf.DictEntry{Key: "FontFile2", Value: file},
	))
	cid := a.Add(pdf.NewDict(
		pdf.DictEntry{Key: "Type", Value: pdf.Name("Font")},
		pdf.DictEntry{Key: "Subtype", Value: pdf.Name("CIDFontType2")},
		pdf.DictEntry{Key: "BaseFont", Value: pdf.Name(name)},
		pdf.DictEntry{Key: "CIDSystemInfo", Value: pdf.NewDict(
			pdf.DictEntry{Key: "Registry", Value: pdf.String{Value: []byte("Adobe")}},
			pdf.DictEntry{Key: "Ordering", Value: pdf.String{Value: []byte("Identity")}},
			pdf.DictEntry{Key: "Supplement", Value: pdf.Integer(0)},
		)},
		pdf.DictEntry{Key: "FontDescriptor", Value: desc},
		pdf.DictEntry{Key: "DW", Value: pdf.Integer(1000)},
		pdf.DictEntry{Key: "W", Value: u.widths()},
		pdf.DictEntry{Key: "CIDToGIDMap", Value: pdf.Name("Identity")},
	))
	cmap, err := z.deflate(u.toUnicode())
	if err != nil {
		return pdf.Ref{}, err
	}
	tu := a.Add(pdf.NewStream(pdf.NewDict(pdf.DictEntry{Key: "Filter", Value: pdf.Name("FlateDecode")}), cmap))
	return a.Add(pdf.NewDict(
		pdf.DictEntry{Key: "Type", Value: pdf.Name("Font")},
		pdf.DictEntry{Key: "Subtype", Value: pdf.Name("Type0")},
		pdf.DictEntry{Key: "BaseFont", Value: pdf.Name(name)},
		pdf.DictEntry{Key: "Encoding", Value: pdf.Name("Identity-H")},
		pdf.DictEntry{Key: "DescendantFonts", Value: pdf.Array{cid}},
		pdf.DictEntry{Key: "ToUnicode", Value: tu},
	)), nil
}

// num writes integral values as integers.
func num(v float64) pdf.Object {
	if v == float64(int64(v)) {
		return pdf.Integer(int64(v))
	}
	return pdf.NewReal(v)
}

// widths returns the /W array for the drawn glyphs: runs of consecutive
// glyph ids as "first [w1 w2 ...]".
func (u *fontUse) widths() pdf.Array {
	var out pdf.Array
	gs := u.drawn // sorted by subset()
	for i := 0; i < len(gs); {
		j := i + 1
		for j < len(gs) && gs[j] == gs[j-1]+1 {
			j++
		}
		ws := make(pdf.Array, 0, j-i)
		for _, g := range gs[i:j] {
			ws = append(ws, num(u.f.scale(u.f.advance(g))))
		}
		out = append(out, pdf.Integer(gs[i]), ws)
		i = j
	}
	return out
}

// toUnicode writes the /ToUnicode CMap: each drawn glyph id (the 2-byte
// code under Identity-H) to its character in UTF-16BE.
func (u *fontUse) toUnicode() []byte {
	var b strings.Builder
	b.WriteString("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n" +
		"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n" +
		"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n" +
		"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	gs := u.drawn
	for len(gs) > 0 {
		n := min(len(gs), 100) // at most 100 entries per block
		fmt.Fprintf(&b, "%d beginbfchar\n", n)
		for _, g := range gs[:n] {
			fmt.Fprintf(&b, "<%04X> <", g)
			for _, c := range utf16.Encode([]rune{u.gidRune[g]}) {
				fmt.Fprintf(&b, "%04X", c)
			}
			b.WriteString(">\n")
		}
		b.WriteString("endbfchar\n")
		gs = gs[n:]
	}
	b.WriteString("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
	return []byte(b.String())
}
