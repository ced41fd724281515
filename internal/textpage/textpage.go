// Package textpage sets lines of text on a one-page A4 PDF in the embedded
// Go font (Romanian ș ț with comma below, Cyrillic): MPower's acts, MPay's
// receipts.
package textpage

import (
	"bytes"
	"fmt"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades/appearance"
	"github.com/semnat/semnat/pades/pdf"
)

// Render sets lines on an A4 page: a skeleton document whose page is
// then given the text as a form XObject (pades/appearance lays out and
// embeds the font subset) in an incremental update.
func Render(lines []string) ([]byte, error) {
	skel := samplepdf.Assemble([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
	}, "")
	r, err := pdf.Open(bytes.NewReader(skel), int64(len(skel)), nil)
	if err != nil {
		return nil, err
	}
	a, err := appearance.Layout(appearance.Spec{Rect: [4]float64{0, 0, 495, 730}, Lines: lines, FontSize: 11, NoBorder: true})
	if err != nil {
		return nil, fmt.Errorf("textpage: %w", err)
	}
	u := r.NewUpdate()
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
	if err := u.Set(pdf.Ref{Num: 3}, page); err != nil {
		return nil, err
	}
	out := bytes.NewBuffer(skel)
	if _, err := u.Write(out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
