// Package textpdf sets plain text lines on A4 pages: the documents the
// services make for people to sign (MPower's acts, the portal's
// applications). The text is laid out by pades/appearance (wrapped at
// spaces, in the embedded Go font with Romanian ș ț and Cyrillic, its
// subset embedded) and drawn on each page as a form XObject.
package textpdf

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades/appearance"
	"github.com/semnat/semnat/pades/pdf"
)

// FontSize is the size the text is set in, in points.
const FontSize = 11

// MaxPages bounds a document.
const MaxPages = 50

// ErrTooLong: the text does not fit in MaxPages pages (or one line alone
// does not fit on a page).
var ErrTooLong = errors.New("textpdf: the text is too long")

// Page sets lines on one A4 page; ErrTooLong when they do not fit.
func Page(lines []string) ([]byte, error) {
	if len(lines) > appearance.MaxLines || runes(lines) > appearance.MaxRunes {
		return nil, fmt.Errorf("%w for one page: %d lines, %d characters", ErrTooLong, len(lines), runes(lines))
	}
	a, err := layout(lines)
	if errors.Is(err, appearance.ErrTextDoesNotFit) {
		return nil, fmt.Errorf("%w for one page: %v", ErrTooLong, err)
	}
	if err != nil {
		return nil, err
	}
	return assemble([]*appearance.Appearance{a})
}

// Document sets lines on as many A4 pages as they need (each page as full
// as it can be, breaking between lines).
func Document(lines []string) ([]byte, error) {
	var pages []*appearance.Appearance
	for len(lines) > 0 {
		if len(pages) == MaxPages {
			return nil, fmt.Errorf("%w: more than %d pages", ErrTooLong, MaxPages)
		}
		// The most lines that fit: fitting only gets harder with more
		// lines, so a binary search finds it.
		// At most what one layout takes.
		hi := min(len(lines), appearance.MaxLines)
		for hi > 0 && runes(lines[:hi]) > appearance.MaxRunes {
			hi--
		}
		lo := 0 // lines[:lo] fits; lines[:hi+1] does not (or is more than a layout takes)
		if _, err := layout(lines[:hi]); err == nil {
			lo = hi
		} else {
			for lo < hi {
				mid := (lo + hi + 1) / 2
				if _, err := layout(lines[:mid]); err == nil {
					lo = mid
				} else if errors.Is(err, appearance.ErrTextDoesNotFit) {
					hi = mid - 1
				} else {
					return nil, err
				}
			}
		}
		if lo == 0 {
			return nil, fmt.Errorf("%w: line %q alone does not fit on a page", ErrTooLong, truncate(lines[0]))
		}
		a, err := layout(lines[:lo])
		if err != nil {
			return nil, err
		}
		pages = append(pages, a)
		lines = lines[lo:]
	}
	if len(pages) == 0 {
		a, err := layout([]string{""})
		if err != nil {
			return nil, err
		}
		pages = append(pages, a)
	}
	return assemble(pages)
}

func runes(lines []string) int {
	n := 0
	for _, l := range lines {
		n += utf8.RuneCountInString(l)
	}
	return n
}

func truncate(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

func layout(lines []string) (*appearance.Appearance, error) {
	a, err := appearance.Layout(appearance.Spec{Rect: [4]float64{0, 0, 495, 730}, Lines: lines, FontSize: FontSize, NoBorder: true})
	if err != nil && !errors.Is(err, appearance.ErrTextDoesNotFit) {
		return nil, fmt.Errorf("textpdf: setting the text: %w", err)
	}
	return a, err
}

// assemble makes the document: a skeleton with the pages, then the pages
// given their text as form XObjects in an incremental update.
func assemble(pages []*appearance.Appearance) ([]byte, error) {
	kids := make([]string, len(pages))
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", ""}
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", i+3)
		objs = append(objs, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages))
	skel := samplepdf.Assemble(objs, "")
	r, err := pdf.Open(bytes.NewReader(skel), int64(len(skel)), nil)
	if err != nil {
		return nil, err
	}
	u := r.NewUpdate()
	for i, a := range pages {
		form, err := a.AddTo(u)
		if err != nil {
			return nil, err
		}
		content := u.Add(pdf.NewStream(nil, []byte("q 1 0 0 1 50 56 cm /Fm1 Do Q\n")))
		page := pdf.NewDict(
			pdf.DictEntry{Key: "Type", Value: pdf.Name("Page")},
			pdf.DictEntry{Key: "Parent", Value: pdf.Ref{Num: 2}},
			pdf.DictEntry{Key: "MediaBox", Value: pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(595), pdf.Integer(842)}},
			pdf.DictEntry{Key: "Contents", Value: content},
			pdf.DictEntry{Key: "Resources", Value: pdf.NewDict(pdf.DictEntry{Key: "XObject", Value: pdf.NewDict(pdf.DictEntry{Key: "Fm1", Value: form})})},
		)
		if err := u.Set(pdf.Ref{Num: uint32(i + 3)}, page); err != nil {
			return nil, err
		}
	}
	out := bytes.NewBuffer(skel)
	if _, err := u.Write(out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
