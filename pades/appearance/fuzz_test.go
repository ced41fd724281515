package appearance

import (
	"bytes"
	"testing"
)

// FuzzFont feeds arbitrary font programs (Spec.Font) through parsing,
// shaping, glyph closure and subsetting: errors are fine, panics are not,
// and whatever subset comes out must parse again.
func FuzzFont(f *testing.F) {
	// Seeds: a small subset (every table kind we read, little data) and a
	// truncated font; the full 148 KB font slows the fuzzer down.
	f.Add(goRegular[:2000])
	a, err := Layout(Spec{Rect: [4]float64{0, 0, 200, 60}, Lines: []string{"Aă Ж"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(a.FontProgram)
	f.Fuzz(func(t *testing.T, data []byte) {
		font, err := parseFont(data)
		if err != nil {
			return
		}
		u := newFontUse(font)
		var runs []glyphRun
		for _, r := range "Aă Жș0" {
			if g := font.cmap(r); g != 0 {
				runs = append(runs, glyphRun{r: r, gid: g, adv: font.advance(g)})
			}
		}
		u.use(runs)
		prog, _, err := u.subset()
		if err != nil {
			return
		}
		if _, err := parseFont(prog); err != nil && len(runs) > 0 {
			t.Fatalf("subset of a parsable font does not parse: %v", err)
		}
	})
}

// FuzzLayout drives the whole layout with arbitrary text, sizes and image
// bytes.
func FuzzLayout(f *testing.F) {
	f.Add("Semnat digital de: Ștefan Țurcanu\nIDNP: 2004001000035", 260.0, 90.0, 0.0, []byte(nil))
	f.Add("Щука Ёж — a very long line of text that wraps", 40.0, 200.0, 0.0, []byte("\xff\xd8\xff\xee\x00\x0eAdobe"))
	f.Add("x", 1.0, 1.0, 5.0, []byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, text string, w, h, size float64, img []byte) {
		a, err := Layout(Spec{Rect: [4]float64{0, 0, w, h}, Lines: []string{text}, FontSize: size, Image: img})
		if err != nil {
			return
		}
		if a.FontSize < 1 || len(a.FontProgram) == 0 || len(a.content) == 0 {
			t.Fatalf("layout without font size, font or content: %+v", a)
		}
	})
}

// FuzzAdobeMarker checks the JPEG marker scan on arbitrary bytes: a marker
// it reports is an APP14 segment starting "Adobe" in the input, and bytes
// appended after the input never hide a marker already found.
func FuzzAdobeMarker(f *testing.F) {
	f.Add([]byte("\xff\xd8\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00"))
	f.Add([]byte("\xff\xd8\xff\xe0\x00\x02\xff\xda"))
	f.Add([]byte("\xff\xd8\xff\xe0\x00\x04JF\xff\xee\x00\x0eAdobe"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !hasAdobeMarker(b) {
			return
		}
		if !bytes.Contains(b, []byte("Adobe")) || !bytes.Contains(b, []byte{0xFF, 0xEE}) {
			t.Fatalf("marker reported in % x", b)
		}
		if !hasAdobeMarker(append(bytes.Clone(b), 0xFF, 0xD9, 0, 0)) {
			t.Fatalf("appended bytes hide the marker of % x", b)
		}
	})
}
