package appearance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/pades/pdf"
)

const (
	romanian = "ăâîșțĂÂÎȘȚ"
	russian  = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя"
)

func TestEmbeddedFontCoverage(t *testing.T) {
	f, err := parseFont(goRegular)
	if err != nil {
		t.Fatal(err)
	}
	if f.postScriptName != "GoRegular" {
		t.Errorf("PostScript name %q", f.postScriptName)
	}
	for _, r := range romanian + russian + "0123456789 .,:;+-—–()/«»„”" {
		g := f.cmap(r)
		if g == 0 {
			t.Errorf("%q (%U) has no glyph", r, r)
			continue
		}
		if len(f.glyph(g)) == 0 && r != ' ' {
			t.Errorf("%q (%U) maps to glyph %d without outline", r, r, g)
		}
	}
	// Glyph ids read independently with golang.org/x/image/font/sfnt:
	// the comma-below letters are their own glyphs, not the cedilla ones.
	for r, want := range map[rune]uint16{'ș': 346, 'ț': 348, 'Ș': 345, 'Ț': 347, 'ş': 289, 'Ж': 453, 'ж': 485} {
		if g := f.cmap(r); g != want {
			t.Errorf("%q: glyph %d, want %d", r, g, want)
		}
	}
}

// checkFontFile verifies the sfnt checksums of a font file.
func checkFontFile(t *testing.T, b []byte) {
	t.Helper()
	if s := tableChecksum(b); s != 0xB1B0AFBA {
		t.Errorf("whole-font checksum %#x, want 0xB1B0AFBA", s)
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	prev := ""
	for i := 0; i < n; i++ {
		rec := b[12+16*i:]
		tag := string(rec[:4])
		if tag <= prev {
			t.Errorf("table directory not sorted: %q after %q", tag, prev)
		}
		prev = tag
		off, ln := binary.BigEndian.Uint32(rec[8:]), binary.BigEndian.Uint32(rec[12:])
		if off%4 != 0 {
			t.Errorf("table %q not 4-byte aligned", tag)
		}
		data := b[off : off+ln]
		if tag == "head" {
			data = bytes.Clone(data)
			binary.BigEndian.PutUint32(data[8:], 0)
		}
		if got, want := tableChecksum(data), binary.BigEndian.Uint32(rec[4:]); got != want {
			t.Errorf("table %q checksum %#x, directory says %#x", tag, got, want)
		}
	}
}

func TestSubsetFont(t *testing.T) {
	a, err := Layout(Spec{Rect: [4]float64{0, 0, 260, 90}, Lines: typicalLines})
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := parseFont(goRegular)
	sub, err := parseFont(a.FontProgram)
	if err != nil {
		t.Fatalf("subset does not parse: %v", err)
	}
	checkFontFile(t, a.FontProgram)
	for _, tag := range []string{"GSUB", "GPOS", "kern", "GDEF", "gasp"} {
		if sub.tables[tag] != nil {
			t.Errorf("subset keeps %q", tag)
		}
	}
	keep, err := orig.glyphClosure(a.font.drawn)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[uint16]bool{}
	for _, g := range keep {
		kept[g] = true
	}
	if sub.numGlyphs != int(keep[len(keep)-1])+1 {
		t.Errorf("subset has %d glyphs, highest kept is %d", sub.numGlyphs, keep[len(keep)-1])
	}
	for g := 0; g < sub.numGlyphs; g++ {
		og, sg := orig.glyph(uint16(g)), sub.glyph(uint16(g))
		if kept[uint16(g)] {
			// Same outline (the subset pads to 4 bytes).
			if !bytes.Equal(og, sg[:len(og)]) || len(sg)-len(og) > 3 {
				t.Errorf("glyph %d differs in the subset", g)
			}
		} else if len(sg) != 0 {
			t.Errorf("glyph %d not emptied", g)
		}
		if orig.advance(uint16(g)) != sub.advance(uint16(g)) {
			t.Errorf("glyph %d advance %d, original %d", g, sub.advance(uint16(g)), orig.advance(uint16(g)))
		}
	}
	// Every component of a kept composite glyph is kept.
	for _, g := range keep {
		comps, err := components(orig.glyph(g))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range comps {
			if !kept[c] {
				t.Errorf("component %d of glyph %d dropped", c, g)
			}
		}
	}
	// The subset's own cmap maps every drawn character to the original
	// glyph id.
	for _, l := range typicalLines {
		for _, r := range l {
			if sub.cmap(r) != orig.cmap(r) {
				t.Errorf("subset cmap %q -> %d, original %d", r, sub.cmap(r), orig.cmap(r))
			}
		}
	}
	if !strings.HasSuffix(a.FontName, "+GoRegular") || len(a.FontName) != len("ABCDEF+GoRegular") || strings.ToUpper(a.FontName[:6]) != a.FontName[:6] {
		t.Errorf("subset name %q", a.FontName)
	}
	packed, _ := deflate(a.FontProgram)
	t.Logf("subset: %d glyphs drawn, %d kept, %d bytes (%d Flate-compressed); full font %d bytes",
		len(a.font.drawn), len(keep), len(a.FontProgram), len(packed), len(goRegular))
	if len(packed) > 50_000 {
		t.Errorf("compressed subset is %d bytes", len(packed))
	}
}

func TestCompositeGlyphsKept(t *testing.T) {
	// Go Regular has no composite glyphs; DejaVu Sans builds accented
	// letters from components.
	data := dejaVuSans(t)
	f, err := parseFont(data)
	if err != nil {
		t.Fatal(err)
	}
	g := f.cmap('ă')
	comps, err := components(f.glyph(g))
	if err != nil || len(comps) < 2 {
		t.Fatalf("ă (glyph %d) components %v, %v; want a composite", g, comps, err)
	}
	a, err := Layout(Spec{Rect: [4]float64{0, 0, 100, 30}, Lines: []string{"ă"}, Font: data})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := parseFont(a.FontProgram)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range append(comps, g, 0) {
		if len(sub.glyph(c)) == 0 && len(f.glyph(c)) != 0 {
			t.Errorf("glyph %d emptied in the subset", c)
		}
	}
	if got := len(a.font.drawn); got != 1 {
		t.Errorf("%d glyphs drawn, want 1", got)
	}
}

// written builds spec into an update of the minimal document and opens
// the result again, so that objects are read back the way a viewer would.
type written struct {
	t *testing.T
	r *pdf.Reader
}

func writeBuild(t *testing.T, spec Spec) (written, pdf.Ref) {
	t.Helper()
	orig := minimalPDF()
	r, err := pdf.Open(bytes.NewReader(orig), int64(len(orig)), nil)
	if err != nil {
		t.Fatal(err)
	}
	u := r.NewUpdate()
	ref, err := Build(u, spec)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.Write(orig)
	if _, err := u.Write(&out); err != nil {
		t.Fatal(err)
	}
	r2, err := pdf.Open(bytes.NewReader(out.Bytes()), int64(out.Len()), nil)
	if err != nil {
		t.Fatal(err)
	}
	return written{t, r2}, ref
}

func (w written) get(o pdf.Object) pdf.Object {
	w.t.Helper()
	v, err := w.r.Resolve(o)
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

func (w written) data(o pdf.Object) []byte {
	w.t.Helper()
	b, err := w.r.StreamData(w.get(o).(*pdf.Stream))
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

func TestPDFObjects(t *testing.T) {
	spec := Spec{Rect: [4]float64{560, 170, 300, 80}, Lines: []string{"Ștefan Țurcanu", "Щука"}}
	c, ref := writeBuild(t, spec)
	form := c.get(ref).(*pdf.Stream)
	if st, _ := form.Dict.Name("Subtype"); st != "Form" {
		t.Errorf("form /Subtype %v", st)
	}
	bbox := form.Dict.Get("BBox").(pdf.Array)
	if w, _ := pdf.Number(bbox[2]); w != 260 {
		t.Errorf("BBox %v, want width 260", bbox)
	}
	if h, _ := pdf.Number(bbox[3]); h != 90 {
		t.Errorf("BBox %v, want height 90", bbox)
	}
	res := form.Dict.Get("Resources").(*pdf.Dict)
	type0 := c.get(res.Get("Font").(*pdf.Dict).Get("F1")).(*pdf.Dict)
	if enc, _ := type0.Name("Encoding"); enc != "Identity-H" {
		t.Errorf("/Encoding %v", enc)
	}
	cid := c.get(type0.Get("DescendantFonts").(pdf.Array)[0]).(*pdf.Dict)
	if st, _ := cid.Name("Subtype"); st != "CIDFontType2" {
		t.Errorf("descendant /Subtype %v", st)
	}
	if m, _ := cid.Name("CIDToGIDMap"); m != "Identity" {
		t.Errorf("/CIDToGIDMap %v", m)
	}
	// /W: exactly the drawn glyphs, with widths in 1/1000 em.
	f, _ := parseFont(goRegular)
	want := map[uint16]float64{}
	for _, r := range "ȘtefanȚurcanuЩука" {
		g := f.cmap(r)
		want[g] = float64(f.advance(g)) * 1000 / 2048
	}
	want[f.cmap(' ')] = float64(f.advance(f.cmap(' '))) * 1000 / 2048
	w := cid.Get("W").(pdf.Array)
	got := map[uint16]float64{}
	for i := 0; i+1 < len(w); i += 2 {
		first, _ := pdf.Int(w[i])
		for j, x := range w[i+1].(pdf.Array) {
			got[uint16(int(first)+j)], _ = pdf.Number(x)
		}
	}
	if len(got) != len(want) {
		t.Errorf("/W has %d glyphs, want %d", len(got), len(want))
	}
	for g, wv := range want {
		if math.Abs(got[g]-wv) > 0.01 {
			t.Errorf("/W glyph %d: %v, want %v", g, got[g], wv)
		}
	}
	// ToUnicode maps glyphs 345 and 347 (Ș and Ț in Go Regular) to the
	// comma-below code points.
	tu := c.data(type0.Get("ToUnicode"))
	for _, m := range []string{"<0159> <0218>", "<015B> <021A>"} {
		if !bytes.Contains(tu, []byte(m)) {
			t.Errorf("ToUnicode lacks %q:\n%s", m, tu)
		}
	}
	desc := c.get(cid.Get("FontDescriptor")).(*pdf.Dict)
	file := c.get(desc.Get("FontFile2")).(*pdf.Stream)
	prog := c.data(file)
	if l1, _ := file.Dict.Int("Length1"); int(l1) != len(prog) {
		t.Errorf("/Length1 %d, font is %d bytes", l1, len(prog))
	}
	content := string(c.data(form))
	if !strings.Contains(content, "<0159") || !strings.Contains(content, "> Tj") {
		t.Errorf("content does not draw hex glyph ids:\n%s", content)
	}
}

func TestWrapAndShrink(t *testing.T) {
	long := "Motiv: semnez acest contract de prestări servicii în numele întreprinderii și confirm conținutul"
	a, err := Layout(Spec{Rect: [4]float64{0, 0, 120, 120}, Lines: []string{"Semnat digital de: Ștefan Țurcanu", long}})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Rows) < 4 {
		t.Errorf("expected wrapping, got %q", a.Rows)
	}
	if got := strings.Join(strings.Fields(strings.Join(a.Rows, " ")), " "); got != "Semnat digital de: Ștefan Țurcanu "+long {
		t.Errorf("wrapped text lost words: %q", got)
	}
	f, _ := parseFont(goRegular)
	for _, r := range a.Rows {
		w := 0
		for _, c := range r {
			w += f.advance(f.cmap(c))
		}
		if float64(w)*a.FontSize/2048 > 120 {
			t.Errorf("row %q is %.1f pt wide", r, float64(w)*a.FontSize/2048)
		}
	}
	// Auto-fit shrinks for more text in the same box.
	b, err := Layout(Spec{Rect: [4]float64{0, 0, 120, 120}, Lines: append(strings.Split(strings.Repeat("x ", 10), " "), long)})
	if err != nil {
		t.Fatal(err)
	}
	if b.FontSize >= a.FontSize {
		t.Errorf("more lines: %.1f pt, fewer: %.1f pt", b.FontSize, a.FontSize)
	}
	// A word wider than the box is broken between characters.
	c, err := Layout(Spec{Rect: [4]float64{0, 0, 40, 100}, Lines: []string{"IDNP:2004001000035200400100003520040010000352004001000035"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rows) < 2 || strings.Join(c.Rows, "") != "IDNP:2004001000035200400100003520040010000352004001000035" {
		t.Errorf("hard wrap: %q", c.Rows)
	}
	// A fixed size is kept.
	d, err := Layout(Spec{Rect: [4]float64{0, 0, 300, 100}, Lines: typicalLines, FontSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	if d.FontSize != 7 {
		t.Errorf("font size %v, want 7", d.FontSize)
	}
}

func TestNormalisation(t *testing.T) {
	// Decomposed s + combining comma below becomes U+0219; tabs become
	// spaces; embedded newlines split lines.
	a, err := Layout(Spec{Rect: [4]float64{0, 0, 300, 100}, Lines: []string{"Chis\u0326ina\u0306u\tMD", "a\nb"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Chișinău MD", "a", "b"}
	if strings.Join(a.Rows, "|") != strings.Join(want, "|") {
		t.Errorf("rows %q, want %q", a.Rows, want)
	}
}

func TestDeterministic(t *testing.T) {
	spec := Spec{Rect: [4]float64{0, 0, 260, 90}, Lines: typicalLines, Image: testPNG(t)}
	a, err := Layout(spec)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Layout(spec)
	if !bytes.Equal(a.FontProgram, b.FontProgram) || !bytes.Equal(a.content, b.content) || a.FontName != b.FontName {
		t.Error("two layouts of the same spec differ")
	}
	c, _ := Layout(Spec{Rect: spec.Rect, Lines: []string{"Altceva"}})
	if c.FontName[:6] == a.FontName[:6] {
		t.Error("different subsets share a tag")
	}
}

func TestErrors(t *testing.T) {
	ok := [4]float64{0, 0, 200, 80}
	lines := []string{"Ștefan"}
	cases := []struct {
		name string
		spec Spec
		want error
	}{
		{"nan", Spec{Rect: [4]float64{0, 0, math.NaN(), 80}, Lines: lines}, ErrInvalidSpec},
		{"inf", Spec{Rect: [4]float64{0, 0, math.Inf(1), 80}, Lines: lines}, ErrInvalidSpec},
		{"flat", Spec{Rect: [4]float64{0, 0, 200, 0}, Lines: lines}, ErrInvalidSpec},
		{"huge", Spec{Rect: [4]float64{0, 0, 20000, 80}, Lines: lines}, ErrInvalidSpec},
		{"no text", Spec{Rect: ok}, ErrInvalidSpec},
		{"blank text", Spec{Rect: ok, Lines: []string{"", " "}}, ErrInvalidSpec},
		{"control", Spec{Rect: ok, Lines: []string{"a\x07b"}}, ErrInvalidSpec},
		{"bad utf8", Spec{Rect: ok, Lines: []string{"a\xffb"}}, ErrInvalidSpec},
		{"too many lines", Spec{Rect: ok, Lines: make([]string, 100)}, ErrInvalidSpec},
		{"font size", Spec{Rect: ok, Lines: lines, FontSize: -3}, ErrInvalidSpec},
		{"font size nan", Spec{Rect: ok, Lines: lines, FontSize: math.NaN()}, ErrInvalidSpec},
		{"placement", Spec{Rect: ok, Lines: lines, Image: testJPEG(t), ImagePlacement: 7}, ErrInvalidSpec},
		{"missing glyph", Spec{Rect: ok, Lines: []string{"Semnat: 日本"}}, ErrMissingGlyph},
		{"emoji", Spec{Rect: ok, Lines: []string{"ok 😀"}}, ErrMissingGlyph},
		{"does not fit", Spec{Rect: [4]float64{0, 0, 30, 12}, Lines: typicalLines}, ErrTextDoesNotFit},
		{"fixed size too big", Spec{Rect: ok, Lines: typicalLines, FontSize: 40}, ErrTextDoesNotFit},
		{"image garbage", Spec{Rect: ok, Lines: lines, Image: []byte("GIF89a....")}, ErrBadImage},
		{"png truncated", Spec{Rect: ok, Lines: lines, Image: testPNG(t)[:60]}, ErrBadImage},
		{"jpeg truncated", Spec{Rect: ok, Lines: lines, Image: testJPEG(t)[:200]}, ErrBadImage},
		{"font garbage", Spec{Rect: ok, Lines: lines, Font: []byte("not a font at all")}, ErrBadFont},
		{"font cff", Spec{Rect: ok, Lines: lines, Font: []byte("OTTO\x00\x00\x00\x00\x00\x00\x00\x00")}, ErrBadFont},
		{"font truncated", Spec{Rect: ok, Lines: lines, Font: goRegular[:5000]}, ErrBadFont},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Layout(c.spec)
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			t.Log(err)
		})
	}
}

func TestOtherFont(t *testing.T) {
	// A second, independent TrueType font: DejaVu Sans (a much larger font
	// with many composite glyphs), when the system has it.
	data := dejaVuSans(t)
	a, err := Layout(Spec{Rect: [4]float64{0, 0, 260, 90}, Lines: typicalLines, Font: data})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(a.FontName, "+DejaVuSans") {
		t.Errorf("font name %q", a.FontName)
	}
	checkFontFile(t, a.FontProgram)
	if _, err := parseFont(a.FontProgram); err != nil {
		t.Fatal(err)
	}
	t.Logf("DejaVu Sans subset: %d of %d bytes", len(a.FontProgram), len(data))
}

func TestImagePlacement(t *testing.T) {
	png := testPNG(t) // square
	wide := Spec{Rect: [4]float64{0, 0, 300, 90}, Lines: typicalLines, Image: png}
	a, err := Layout(wide)
	if err != nil {
		t.Fatal(err)
	}
	// Left column: a square as high as the text area, at the left.
	box := a.image.box
	if math.Abs(box[2]-box[3]) > 1e-9 || box[0] > 10 || box[0]+box[2] > 300*0.4 {
		t.Errorf("left image box %v", box)
	}
	if a.opacity {
		t.Error("left image drawn faded")
	}
	tall := Spec{Rect: [4]float64{0, 0, 150, 150}, Lines: typicalLines, Image: png}
	b, err := Layout(tall)
	if err != nil {
		t.Fatal(err)
	}
	if !b.opacity || b.image.box[2] < 100 {
		t.Errorf("background image box %v faded=%v", b.image.box, b.opacity)
	}
	if !utf8.ValidString(string(b.content)) || !bytes.Contains(b.content, []byte("/GS1 gs")) {
		t.Errorf("content lacks the faded image:\n%s", b.content)
	}
}

func BenchmarkBuild(b *testing.B) {
	orig := minimalPDF()
	r, err := pdf.Open(bytes.NewReader(orig), int64(len(orig)), nil)
	if err != nil {
		b.Fatal(err)
	}
	spec := Spec{Rect: [4]float64{300, 80, 560, 170}, Lines: typicalLines}
	a, err := Layout(spec)
	if err != nil {
		b.Fatal(err)
	}
	packed, _ := deflate(a.FontProgram)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(r.NewUpdate(), spec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "stamps/s")
	b.ReportMetric(float64(len(packed)), "font-bytes")
}

// dejaVuSans reads DejaVu Sans, a second independent TrueType font with
// composite glyphs (fonts-dejavu-core, which .ci/run installs).
func dejaVuSans(t *testing.T) []byte {
	t.Helper()
	const path = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
	data, err := os.ReadFile(path)
	if err != nil {
		testtool.Unavailable(t, "DejaVu Sans not installed ("+path+")", "install: apt-get install fonts-dejavu-core")
	}
	return data
}
