// Package textpdf sets plain text on A4 pages and writes it as a PDF: the
// acts of MPower and the verification reports of MSign. The text is laid
// out by pades/appearance (the embedded Go font, subset; Romanian ș ț
// with comma below and Cyrillic), one form XObject per page, so what is
// shown is exactly what a PAdES verifier will later see signed.
package textpdf

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades/appearance"
	"github.com/semnat/semnat/pades/pdf"
)

// ErrTooLong is returned when the text needs more pages than Options.MaxPages.
var ErrTooLong = errors.New("textpdf: the text does not fit on the pages allowed")

// A4 in points, and the text box on it: 50 pt margins left and right, a
// little more at the foot.
const (
	pageW, pageH = 595, 842
	boxX, boxY   = 50, 56
	boxW, boxH   = 495, 730
)

// Options tune Render.
type Options struct {
	// FontSize in points (default 11).
	FontSize float64
	// MaxPages bounds the pages (0: no bound); more is ErrTooLong.
	MaxPages int
	// Code, when set, is a square of dark and light modules (a QR code's,
	// row by row) drawn in the foot margin of the last page, at the right.
	Code [][]bool
}

// Render sets blocks of lines (a title, a paragraph, a card) top to
// bottom on A4 pages. A block is kept on one page when it fits on one;
// lines too long for the width are wrapped at spaces. At least one page
// is written, blank when there is no text.
func Render(blocks [][]string, opts Options) ([]byte, error) {
	if opts.FontSize == 0 {
		opts.FontSize = 11
	}
	pages, err := paginate(blocks, opts.FontSize)
	if err != nil {
		return nil, err
	}
	if opts.MaxPages > 0 && len(pages) > opts.MaxPages {
		return nil, fmt.Errorf("%w: %d pages, at most %d", ErrTooLong, len(pages), opts.MaxPages)
	}
	return write(pages, opts.Code)
}

// fits tells whether lines fit in the text box at size.
func fits(lines []string, size float64) (*appearance.Appearance, error) {
	return appearance.Layout(appearance.Spec{Rect: [4]float64{0, 0, boxW, boxH}, Lines: lines, FontSize: size, NoBorder: true})
}

// overLimit tells whether lines are more than pades/appearance lays out
// at once (64 lines, 4096 characters): more than a page holds anyway.
func overLimit(lines []string) bool {
	n := 0
	for _, l := range lines {
		n += utf8.RuneCountInString(l)
	}
	return len(lines) > 64 || n > 4096
}

// paginate packs the blocks onto pages and lays each page out.
func paginate(blocks [][]string, size float64) ([]*appearance.Appearance, error) {
	var pages []*appearance.Appearance
	var cur []string // lines of the page being filled
	var last *appearance.Appearance
	flush := func() {
		if last != nil {
			pages = append(pages, last)
		}
		cur, last = nil, nil
	}
	// add puts lines on the current page if they fit there, after a blank
	// line when sep and the page has text.
	add := func(lines []string, sep bool) (bool, error) {
		try := append([]string(nil), cur...)
		if sep && len(cur) > 0 {
			try = append(try, "")
		}
		try = append(try, lines...)
		if overLimit(try) {
			return false, nil
		}
		a, err := fits(try, size)
		if errors.Is(err, appearance.ErrTextDoesNotFit) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("textpdf: %w", err)
		}
		cur, last = try, a
		return true, nil
	}
	for _, b := range blocks {
		if ok, err := add(b, true); err != nil || ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		flush()
		if ok, err := add(b, true); err != nil || ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		// A block longer than a page: line by line.
		for _, l := range b {
			ok, err := add([]string{l}, false)
			if err != nil {
				return nil, err
			}
			if ok {
				continue
			}
			flush()
			if ok, err = add([]string{l}, false); err != nil {
				return nil, err
			} else if !ok {
				return nil, fmt.Errorf("%w: a line wraps to more than a page", ErrTooLong)
			}
		}
	}
	flush()
	if len(pages) == 0 {
		a, err := fits([]string{" "}, size)
		if err != nil {
			return nil, fmt.Errorf("textpdf: %w", err)
		}
		pages = append(pages, a)
	}
	return pages, nil
}

// write is a skeleton document of len(pages) pages, whose pages are then
// given their text as form XObjects in an incremental update.
func write(pages []*appearance.Appearance, code [][]bool) ([]byte, error) {
	kids := ""
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", ""}
	for i := range pages {
		kids += fmt.Sprintf(" %d 0 R", i+3)
		objs = append(objs, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] >>", pageW, pageH))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s ] /Count %d >>", kids, len(pages))
	skel := samplepdf.Assemble(objs, "")
	r, err := pdf.Open(bytes.NewReader(skel), int64(len(skel)), nil)
	if err != nil {
		return nil, fmt.Errorf("textpdf: %w", err)
	}
	u := r.NewUpdate()
	for i, a := range pages {
		form, err := a.AddTo(u)
		if err != nil {
			return nil, fmt.Errorf("textpdf: %w", err)
		}
		ops := fmt.Sprintf("q 1 0 0 1 %d %d cm /Fm1 Do Q\n", boxX, boxY)
		if i == len(pages)-1 {
			ops += codeOps(code)
		}
		content := u.Add(pdf.NewStream(nil, []byte(ops)))
		page := pdf.NewDict(
			pdf.DictEntry{Key: "Type", Value: pdf.Name("Page")},
			pdf.DictEntry{Key: "Parent", Value: pdf.Ref{Num: 2}},
			pdf.DictEntry{Key: "MediaBox", Value: pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(pageW), pdf.Integer(pageH)}},
			pdf.DictEntry{Key: "Contents", Value: content},
			pdf.DictEntry{Key: "Resources", Value: pdf.NewDict(pdf.DictEntry{Key: "XObject", Value: pdf.NewDict(pdf.DictEntry{Key: "Fm1", Value: form})})},
		)
		if err := u.Set(pdf.Ref{Num: uint32(i + 3)}, page); err != nil {
			return nil, fmt.Errorf("textpdf: %w", err)
		}
	}
	out := bytes.NewBuffer(skel)
	if _, err := u.Write(out); err != nil {
		return nil, fmt.Errorf("textpdf: %w", err)
	}
	return out.Bytes(), nil
}

// codeOps draws the modules of code as filled squares in the foot margin,
// right-aligned with the text box (at most 52 points wide; nothing for an
// empty code).
func codeOps(code [][]bool) string {
	n := len(code)
	if n == 0 {
		return ""
	}
	m := 52.0 / float64(n) // points per module
	x0, y0 := float64(pageW-boxX)-52, 2.0
	var b bytes.Buffer
	b.WriteString("q 0 g\n")
	for r, row := range code {
		for c, dark := range row {
			if dark && c < n {
				fmt.Fprintf(&b, "%.3f %.3f %.3f %.3f re\n", x0+float64(c)*m, y0+float64(n-1-r)*m, m, m)
			}
		}
	}
	b.WriteString("f Q\n")
	return b.String()
}

// MaxPages bounds a Document.
const MaxPages = 50

// Page sets lines on one A4 page; ErrTooLong when they do not fit.
func Page(lines []string) ([]byte, error) {
	return Render([][]string{lines}, Options{MaxPages: 1})
}

// Document sets lines on as many A4 pages as they need (at most
// MaxPages), breaking between lines.
func Document(lines []string) ([]byte, error) {
	return Render([][]string{lines}, Options{MaxPages: MaxPages})
}
