// Package appearance builds the appearance stream (/AP /N form XObject) of
// a visible signature widget: a stamp with a few lines of text (signer,
// date, reason, place ...) and an optional picture (PNG or JPEG).
//
// Text is drawn with an embedded TrueType font — by default the Go Regular
// font (Bigelow & Holmes, BSD licence; see fonts/LICENSE), which covers
// Latin with the Romanian comma-below letters (Ș ș Ț ț, U+0218..U+021B) and
// Cyrillic — embedded as a subset (only the glyphs drawn) in a Type0 font
// with a CIDFontType2 descendant, /Encoding /Identity-H and a /ToUnicode
// CMap, so that every viewer renders the same glyphs and text can be copied
// and searched. A character the font has no glyph for is an error
// (ErrMissingGlyph): nothing is dropped silently.
//
// The form's /BBox is [0 0 width height] of Spec.Rect; the caller puts the
// returned reference in the widget's /AP << /N ref >>. Page /Rotate is not
// taken into account: on a rotated page the stamp is drawn in unrotated
// page space (the caller may set /MK /R or a /Matrix itself).
package appearance

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/semnat/semnat/pades/pdf"
)

// Sentinel errors; errors returned by Build wrap one of these.
var (
	// ErrInvalidSpec: the rectangle, the lines or the font size are unusable.
	ErrInvalidSpec = errors.New("appearance: invalid specification")
	// ErrMissingGlyph: the font has no glyph for a character of the text.
	ErrMissingGlyph = errors.New("appearance: font has no glyph for character")
	// ErrTextDoesNotFit: the text does not fit the rectangle, even at the
	// smallest font size (auto-fit) or at the requested size.
	ErrTextDoesNotFit = errors.New("appearance: text does not fit the rectangle")
	// ErrBadFont: the font program is malformed or of an unsupported kind.
	ErrBadFont = errors.New("appearance: unusable font")
	// ErrBadImage: the image is not a decodable PNG or JPEG, or too large.
	ErrBadImage = errors.New("appearance: unusable image")
)

// Placement says where the image goes.
type Placement int

const (
	// PlaceAuto puts the image on the left when the rectangle is at least
	// twice as wide as it is high, and behind the text otherwise.
	PlaceAuto Placement = iota
	// PlaceLeft draws the image in a column on the left, the text right of it.
	PlaceLeft
	// PlaceBackground draws the image faded, centred behind the text.
	PlaceBackground
)

// Font size limits for auto-fit, in points.
const (
	MinFontSize = 4.0
	MaxFontSize = 24.0
	// lineSpacing is the baseline distance as a multiple of the font size.
	lineSpacing = 1.18
	// maxDim bounds the rectangle sides (PDF implementations limit user
	// space to 14400 units).
	maxDim = 14400
	// maxLines and maxRunes bound the text of a stamp.
	maxLines = 64
	maxRunes = 4096
)

// MaxLines and MaxRunes bound the text of one Spec: its lines, and its
// characters in all.
const (
	MaxLines = maxLines
	MaxRunes = maxRunes
)

// Spec describes a stamp.
type Spec struct {
	// Rect is the widget rectangle [x1 y1 x2 y2] in page user space (any
	// two opposite corners). Only its size matters here.
	Rect [4]float64
	// Lines are the text lines, drawn top to bottom, left-aligned. A line
	// too long for the box is wrapped at spaces (and, as a last resort,
	// between characters). Tabs become spaces; other control characters
	// are refused. Text is NFC-normalised first.
	Lines []string
	// Image is an optional PNG or JPEG picture (a logo or a hand-written
	// signature), scaled to fit with its aspect ratio kept.
	Image []byte
	// ImagePlacement chooses where the image goes (default PlaceAuto).
	ImagePlacement Placement
	// FontSize in points; 0 picks the largest size in [MinFontSize,
	// MaxFontSize] at which all lines fit.
	FontSize float64
	// Font is an optional TrueType (glyf) font program to use instead of
	// the embedded Go Regular font.
	Font []byte
	// NoBorder omits the thin frame around the stamp.
	NoBorder bool
	// Background fills the stamp first, opaque, so that the page's own
	// text and drawings do not show through it: nil is white.
	// Transparent leaves the stamp unfilled (the old look: the page shows
	// through).
	Background  *RGB
	Transparent bool
	// Border is the frame's colour (nil: dark blue).
	Border *RGB
}

// RGB is a colour, each component from 0 to 1.
type RGB [3]float64

func (c *RGB) valid() bool {
	if c == nil {
		return true
	}
	for _, v := range c {
		if !(v >= 0 && v <= 1) { // NaN fails too
			return false
		}
	}
	return true
}

// ParseRGB reads a colour written "#rrggbb" (or "rrggbb").
func ParseRGB(s string) (RGB, error) {
	h := strings.TrimPrefix(strings.TrimSpace(s), "#")
	var c RGB
	if len(h) != 6 {
		return c, fmt.Errorf("%w: colour %q: want #rrggbb", ErrInvalidSpec, s)
	}
	for i := range 3 {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return c, fmt.Errorf("%w: colour %q: want #rrggbb", ErrInvalidSpec, s)
		}
		c[i] = float64(v) / 255
	}
	return c, nil
}

// Adder receives the new PDF objects; *pdf.Update implements it.
type Adder interface {
	Add(pdf.Object) pdf.Ref
}

// Appearance is a laid-out stamp, ready to be added to a document.
type Appearance struct {
	Width, Height float64 // the /BBox size
	FontSize      float64 // the font size used
	Rows          []string
	// FontProgram is the subset TrueType font that will be embedded
	// (uncompressed), and FontName its /BaseFont ("ABCDEF+Name").
	FontProgram []byte
	FontName    string

	content []byte // content stream (uncompressed)
	font    *fontUse
	image   *imageXObject
	opacity bool // background image drawn through /GS1
	z       deflater
}

// Build lays out spec and adds the appearance form XObject with its font
// and image to u. It returns the reference of the form XObject, to be used
// as the widget's /AP << /N ref >>.
func Build(u Adder, spec Spec) (pdf.Ref, error) {
	a, err := Layout(spec)
	if err != nil {
		return pdf.Ref{}, err
	}
	return a.AddTo(u)
}

// Layout computes the stamp without writing anything.
func Layout(spec Spec) (*Appearance, error) {
	r := spec.Rect
	for _, v := range r {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: rectangle %v has a non-finite coordinate", ErrInvalidSpec, r)
		}
	}
	w, h := math.Abs(r[2]-r[0]), math.Abs(r[3]-r[1])
	if w < 1 || h < 1 || w > maxDim || h > maxDim {
		return nil, fmt.Errorf("%w: rectangle %v is %.4gx%.4g; each side must be between 1 and %d points", ErrInvalidSpec, r, w, h, maxDim)
	}
	if !spec.Background.valid() || !spec.Border.valid() {
		return nil, fmt.Errorf("%w: a colour component is outside 0 to 1", ErrInvalidSpec)
	}
	if spec.FontSize != 0 && !(spec.FontSize >= 1 && spec.FontSize <= 200) {
		return nil, fmt.Errorf("%w: font size %v (want 0 for auto-fit, or 1 to 200 points)", ErrInvalidSpec, spec.FontSize)
	}
	lines, err := cleanLines(spec.Lines)
	if err != nil {
		return nil, err
	}

	fontData := spec.Font
	if fontData == nil {
		fontData = goRegular
	}
	f, err := parseFont(fontData)
	if err != nil {
		return nil, err
	}
	fu := newFontUse(f)
	shaped := make([][]glyphRun, len(lines))
	for i, l := range lines {
		if shaped[i], err = fu.shapeLine(l, i+1); err != nil {
			return nil, err
		}
	}

	a := &Appearance{Width: w, Height: h, font: fu}
	pad := min(max(math.Min(w, h)*0.06, 2), 8)
	tx, ty, tw, th := pad, pad, w-2*pad, h-2*pad

	if len(spec.Image) > 0 {
		img, err := loadImage(spec.Image, &a.z)
		if err != nil {
			return nil, err
		}
		a.image = img
		place := spec.ImagePlacement
		if place == PlaceAuto {
			place = PlaceBackground
			if w >= 2*h {
				place = PlaceLeft
			}
		}
		aspect := float64(img.w) / float64(img.h)
		switch place {
		case PlaceLeft:
			colW := math.Min(th*aspect, tw*0.38)
			iw, ih := fitBox(aspect, colW, th)
			img.box = [4]float64{tx + (colW-iw)/2, ty + (th-ih)/2, iw, ih}
			tx += colW + pad
			tw -= colW + pad
		case PlaceBackground:
			iw, ih := fitBox(aspect, tw, th)
			img.box = [4]float64{tx + (tw-iw)/2, ty + (th-ih)/2, iw, ih}
			a.opacity = true
		default:
			return nil, fmt.Errorf("%w: unknown image placement %d", ErrInvalidSpec, place)
		}
	}
	if tw < 1 || th < 1 {
		return nil, fmt.Errorf("%w: no room for text in a %.4gx%.4g rectangle", ErrTextDoesNotFit, w, h)
	}

	size, rows, err := fit(f, shaped, tw, th, spec.FontSize)
	if err != nil {
		return nil, err
	}
	a.FontSize = size
	for _, row := range rows {
		a.Rows = append(a.Rows, row.text)
		fu.use(row.runs)
	}
	a.content = a.render(spec, rows, tx, ty, tw, th)
	if a.FontProgram, a.FontName, err = fu.subset(); err != nil {
		return nil, err
	}
	return a, nil
}

// cleanLines normalises the text and refuses what cannot be drawn.
func cleanLines(in []string) ([]string, error) {
	total := 0
	for _, l := range in {
		total += len(l)
	}
	if len(in) > maxLines || total > 4*maxRunes {
		return nil, fmt.Errorf("%w: %d lines, %d bytes of text (at most %d lines and %d characters)", ErrInvalidSpec, len(in), total, maxLines, maxRunes)
	}
	var out []string
	n := 0
	for i, l := range in {
		for _, part := range strings.Split(strings.ReplaceAll(l, "\r\n", "\n"), "\n") {
			if !utf8.ValidString(part) {
				return nil, fmt.Errorf("%w: line %d is not valid UTF-8", ErrInvalidSpec, i+1)
			}
			part = norm.NFC.String(strings.ReplaceAll(part, "\t", " "))
			for _, c := range part {
				if unicode.IsControl(c) {
					return nil, fmt.Errorf("%w: line %d has control character %U", ErrInvalidSpec, i+1, c)
				}
				n++
			}
			out = append(out, strings.TrimRight(part, " "))
		}
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no text", ErrInvalidSpec)
	}
	if len(out) > maxLines || n > maxRunes {
		return nil, fmt.Errorf("%w: %d lines, %d characters (at most %d and %d)", ErrInvalidSpec, len(out), n, maxLines, maxRunes)
	}
	return out, nil
}

// fitBox scales a box of the given aspect ratio (w/h) into w x h.
func fitBox(aspect, w, h float64) (float64, float64) {
	if w/h > aspect {
		return h * aspect, h
	}
	return w, w / aspect
}

// row is one laid-out line.
type row struct {
	text string
	runs []glyphRun
}

// fit picks the font size and wraps the lines. With size > 0 only that size
// is tried.
func fit(f *sfnt, lines [][]glyphRun, tw, th, size float64) (float64, []row, error) {
	upem := float64(f.unitsPerEm)
	ext := float64(int(f.ascent)-int(f.descent)) / upem // ascent+descent in em
	height := func(n int, s float64) float64 { return s*ext + float64(n-1)*s*lineSpacing }
	words := make([][]word, len(lines))
	for i, l := range lines {
		words[i] = splitWords(l)
	}
	try := func(s float64, breakWords bool) ([]row, bool) {
		rows, ok := wrap(words, tw*upem/s, breakWords)
		return rows, ok && height(len(rows), s) <= th+1e-9
	}
	if size > 0 {
		if rows, ok := try(size, false); ok {
			return size, rows, nil
		}
		if rows, ok := try(size, true); ok {
			return size, rows, nil
		}
		return 0, nil, fmt.Errorf("%w: %d lines at %.4g pt need more than the %.4gx%.4g points available", ErrTextDoesNotFit, len(lines), size, tw, th)
	}
	// Largest size at which the text fits, to 0.1 pt: the number of rows
	// only grows with the size, so fitting is monotonic in the size.
	largest := func(ok func(s float64) bool) (float64, bool) {
		if !ok(MinFontSize) {
			return 0, false
		}
		lo, hi := MinFontSize, MaxFontSize
		if ok(hi) {
			return hi, true
		}
		for hi-lo > 0.05 {
			mid := (lo + hi) / 2
			if ok(mid) {
				lo = mid
			} else {
				hi = mid
			}
		}
		return max(math.Floor(lo*10)/10, MinFontSize), true
	}
	fits := func(breakWords bool) func(float64) bool {
		return func(s float64) bool { _, ok := try(s, breakWords); return ok }
	}
	// Prefer whole lines (wrapping reads worse on a stamp) unless that
	// costs more than a quarter of the size wrapping at spaces allows.
	noWrap, okNoWrap := largest(func(s float64) bool {
		rows, ok := try(s, false)
		return ok && len(rows) == len(lines)
	})
	wrapped, okWrap := largest(fits(false))
	switch {
	case okNoWrap && (!okWrap || noWrap >= 0.75*wrapped):
		rows, _ := try(noWrap, false)
		return noWrap, rows, nil
	case okWrap:
		rows, _ := try(wrapped, false)
		return wrapped, rows, nil
	}
	if s, ok := largest(fits(true)); ok {
		rows, _ := try(s, true)
		return s, rows, nil
	}
	return 0, nil, fmt.Errorf("%w: %d lines do not fit %.4gx%.4g points even at %.4g pt; make the rectangle larger", ErrTextDoesNotFit, len(lines), tw, th, MinFontSize)
}

// wrap breaks lines into rows no wider than maxW font units, at spaces; a
// word wider than a row fails unless breakWords, when it is split between
// characters.
func wrap(lines [][]word, maxW float64, breakWords bool) ([]row, bool) {
	var rows []row
	for _, words := range lines {
		var cur []glyphRun
		curW := 0
		flush := func() {
			rows = append(rows, makeRow(cur))
			cur, curW = nil, 0
		}
		if len(words) == 0 {
			flush()
			continue
		}
		for _, w := range words {
			ww := w.width
			sp := 0
			if len(cur) > 0 {
				sp = w.spaceW
			}
			if float64(curW+sp+ww) <= maxW {
				if len(cur) > 0 {
					cur = append(cur, w.space...)
				}
				cur = append(cur, w.runs...)
				curW += sp + ww
				continue
			}
			if len(cur) > 0 {
				flush()
			}
			if float64(ww) <= maxW {
				cur, curW = append(cur, w.runs...), ww
				continue
			}
			if !breakWords {
				return nil, false
			}
			for _, g := range w.runs {
				if curW > 0 && float64(curW+g.adv) > maxW {
					flush()
				}
				if float64(g.adv) > maxW {
					return nil, false
				}
				cur = append(cur, g)
				curW += g.adv
			}
		}
		flush()
	}
	return rows, true
}

type word struct {
	space  []glyphRun // the spaces before the word
	spaceW int
	runs   []glyphRun
	width  int // of runs
}

// splitWords splits a shaped line at space glyphs; leading spaces stay with
// the first word (an indent), other runs of spaces separate words.
func splitWords(line []glyphRun) []word {
	var out []word
	i := 0
	for i < len(line) {
		var w word
		if len(out) > 0 {
			for i < len(line) && line[i].r == ' ' {
				w.space = append(w.space, line[i])
				w.spaceW += line[i].adv
				i++
			}
		} else {
			for i < len(line) && line[i].r == ' ' {
				w.runs = append(w.runs, line[i])
				i++
			}
		}
		for i < len(line) && line[i].r != ' ' {
			w.runs = append(w.runs, line[i])
			i++
		}
		if len(w.runs) > 0 {
			w.width = runsWidth(w.runs)
			out = append(out, w)
		}
	}
	return out
}

func runsWidth(rs []glyphRun) int {
	w := 0
	for _, g := range rs {
		w += g.adv
	}
	return w
}

func makeRow(rs []glyphRun) row {
	var sb strings.Builder
	for _, g := range rs {
		sb.WriteRune(g.r)
	}
	return row{text: sb.String(), runs: rs}
}

// Colours of the stamp.
const (
	borderRGB = "0.18 0.32 0.58"
	textGray  = "0.1"
)

// render writes the content stream.
func (a *Appearance) render(spec Spec, rows []row, tx, ty, tw, th float64) []byte {
	var b []byte
	num := func(v float64) {
		b = strconv.AppendFloat(b, math.Round(v*1000)/1000, 'f', -1, 64)
		b = append(b, ' ')
	}
	colour := func(c *RGB, def string, op string) {
		if c == nil {
			b = append(b, def...)
		} else {
			num(c[0])
			num(c[1])
			num(c[2])
		}
		b = append(b, op...)
	}
	if !spec.Transparent { // opaque: the page does not show through
		b = append(b, "q "...)
		colour(spec.Background, "1 1 1 ", "rg 0 0 ")
		num(a.Width)
		num(a.Height)
		b = append(b, "re f Q\n"...)
	}
	if img := a.image; img != nil {
		b = append(b, "q "...)
		if a.opacity {
			b = append(b, "/GS1 gs "...)
		}
		num(img.box[2])
		b = append(b, "0 0 "...)
		num(img.box[3])
		num(img.box[0])
		num(img.box[1])
		b = append(b, "cm /Im1 Do Q\n"...)
	}
	if !spec.NoBorder {
		lw := min(max(math.Min(a.Width, a.Height)*0.01, 0.5), 1.5)
		b = append(b, "q "...)
		colour(spec.Border, borderRGB+" ", "RG ")
		num(lw)
		b = append(b, "w "...)
		num(lw / 2)
		num(lw / 2)
		num(a.Width - lw)
		num(a.Height - lw)
		b = append(b, "re S Q\n"...)
	}
	f := a.font.f
	upem := float64(f.unitsPerEm)
	s := a.FontSize
	// Centre the block vertically on what shows: from about the top of
	// accented capitals (between cap height and ascent) down to the
	// descent. When the fit is tight, the unused top of the ascent may
	// reach into the padding, never beyond the box.
	visTop := float64(int(f.ascent)+int(f.capHeight)) / 2 / upem * s
	blockH := visTop - float64(f.descent)/upem*s + float64(len(rows)-1)*s*lineSpacing
	baseline := ty + th - (th-blockH)/2 - visTop
	b = append(b, "BT /F1 "...)
	num(s)
	b = append(b, "Tf "+textGray+" g "...)
	num(s * lineSpacing)
	b = append(b, "TL "...)
	num(tx)
	num(baseline)
	b = append(b, "Td\n"...)
	for i, r := range rows {
		if i > 0 {
			b = append(b, "T* "...)
		}
		if len(r.runs) > 0 {
			b = append(b, '<')
			for _, gr := range r.runs {
				g := gr.gid
				b = append(b, hexDigits[g>>12], hexDigits[g>>8&15], hexDigits[g>>4&15], hexDigits[g&15])
			}
			b = append(b, "> Tj"...)
		}
		b = append(b, '\n')
	}
	b = append(b, "ET\n"...)
	return b
}

const hexDigits = "0123456789ABCDEF"

// AddTo adds the font, image and form XObject to u and returns the form's
// reference.
func (a *Appearance) AddTo(u Adder) (pdf.Ref, error) {
	fontRef, err := a.font.addObjects(u, &a.z, a.FontProgram, a.FontName)
	if err != nil {
		return pdf.Ref{}, err
	}
	res := pdf.NewDict(
		pdf.DictEntry{Key: "Font", Value: pdf.NewDict(pdf.DictEntry{Key: "F1", Value: fontRef})},
	)
	procs := pdf.Array{pdf.Name("PDF"), pdf.Name("Text")}
	if a.image != nil {
		imRef, err := a.image.addObjects(u)
		if err != nil {
			return pdf.Ref{}, err
		}
		res.Set("XObject", pdf.NewDict(pdf.DictEntry{Key: "Im1", Value: imRef}))
		if a.opacity {
			res.Set("ExtGState", pdf.NewDict(pdf.DictEntry{Key: "GS1", Value: pdf.NewDict(
				pdf.DictEntry{Key: "Type", Value: pdf.Name("ExtGState")},
				pdf.DictEntry{Key: "ca", Value: pdf.NewReal(0.25)},
				pdf.DictEntry{Key: "CA", Value: pdf.NewReal(0.25)},
			)}))
		}
		procs = append(procs, pdf.Name("ImageC"), pdf.Name("ImageB"))
	}
	res.Set("ProcSet", procs)
	data, err := a.z.deflate(a.content)
	if err != nil {
		return pdf.Ref{}, err
	}
	form := pdf.NewStream(pdf.NewDict(
		pdf.DictEntry{Key: "Type", Value: pdf.Name("XObject")},
		pdf.DictEntry{Key: "Subtype", Value: pdf.Name("Form")},
		pdf.DictEntry{Key: "FormType", Value: pdf.Integer(1)},
		pdf.DictEntry{Key: "BBox", Value: pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.NewReal(round3(a.Width)), pdf.NewReal(round3(a.Height))}},
		pdf.DictEntry{Key: "Resources", Value: res},
		pdf.DictEntry{Key: "Filter", Value: pdf.Name("FlateDecode")},
	), data)
	return u.Add(form), nil
}

// Content returns the uncompressed content stream of the form.
func (a *Appearance) Content() []byte { return a.content }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// deflater compresses several streams with one zlib writer (a writer
// costs about 1 MB to set up).
type deflater struct {
	zw  *zlib.Writer
	buf bytes.Buffer
}

// deflate returns p compressed in the zlib format (/FlateDecode).
func (d *deflater) deflate(p []byte) ([]byte, error) {
	d.buf.Reset()
	if d.zw == nil {
		zw, err := zlib.NewWriterLevel(&d.buf, zlib.BestCompression)
		if err != nil {
			return nil, err
		}
		d.zw = zw
	} else {
		d.zw.Reset(&d.buf)
	}
	if _, err := d.zw.Write(p); err != nil {
		return nil, err
	}
	if err := d.zw.Close(); err != nil {
		return nil, err
	}
	return bytes.Clone(d.buf.Bytes()), nil
}

// deflate compresses p with a writer of its own.
func deflate(p []byte) ([]byte, error) {
	var d deflater
	return d.deflate(p)
}
