// Package samplepdf writes small, valid sample PDF documents for the demo,
// tests and benchmarks, so that none of them depends on files outside the
// repository.
package samplepdf

import (
	"bytes"
	"fmt"
	"strings"
)

// Document returns a one-page PDF 1.7 (classic xref table) showing title
// and lines in Helvetica, padded with an unused stream to about minSize
// bytes (0: no padding). Text is ASCII: it is a sample, not a typesetter.
func Document(title string, lines []string, minSize int) []byte {
	doc := build(title, lines, 0)
	if len(doc) >= minSize {
		return doc
	}
	// The padding's /Length grows by a few digits: add a margin.
	return build(title, lines, minSize-len(doc)+16)
}

func build(title string, lines []string, pad int) []byte {
	var content strings.Builder
	fmt.Fprintf(&content, "BT /F1 20 Tf 72 770 Td (%s) Tj ET\n", escape(title))
	for i, l := range lines {
		fmt.Fprintf(&content, "BT /F1 11 Tf 72 %d Td (%s) Tj ET\n", 730-16*i, escape(l))
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 6 0 R >> /XObject << /Pad 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
		fmt.Sprintf("<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] /Length %d >>\nstream\n%s\nendstream", pad+1, bytes.Repeat([]byte("%"), pad)),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Producer (semnat sample) /Title (" + escape(title) + ") >>",
	}
	return Assemble(objs, fmt.Sprintf(" /Info %d 0 R", len(objs)))
}

// Assemble writes a PDF 1.7 file with a classic xref table whose objects
// 1..n have the given bodies (object 1 is the catalog, the trailer's
// /Root); trailerExtra is added inside the trailer dictionary.
func Assemble(objs []string, trailerExtra string) []byte {
	var buf bytes.Buffer
	buf.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	off := make([]int, len(objs)+1)
	for i, o := range objs {
		off[i+1] = buf.Len()
		fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for i := 1; i <= len(objs); i++ {
		fmt.Fprintf(&buf, "%010d 00000 n \n", off[i])
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, trailerExtra, x)
	return buf.Bytes()
}

func escape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
	var b strings.Builder
	for _, c := range r.Replace(s) {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// XrefEntry is one row of a cross-reference stream written by Hybridize:
// an object at a file offset (Type 1) or inside an object stream (Type 2,
// Offset is then the object stream's number and Index its index).
type XrefEntry struct {
	Num    int
	Type   int // 0 free, 1 in use, 2 compressed
	Offset int64
	Index  int
}

// Hybridize turns the last revision of data, which must end with a classic
// xref table, into a hybrid-reference section (ISO 32000-1 7.5.8.4): an
// uncompressed cross-reference stream holding entries is inserted right
// before the table (object number num), the trailer gets /XRefStm, and
// startxref is corrected. Nothing before the last "xref" moves.
func Hybridize(data []byte, num int, entries []XrefEntry) ([]byte, error) {
	x := bytes.LastIndex(data, []byte("\nxref"))
	if x < 0 {
		return nil, fmt.Errorf("samplepdf: no xref table")
	}
	x++
	tr := bytes.Index(data[x:], []byte("trailer"))
	if tr < 0 {
		return nil, fmt.Errorf("samplepdf: no trailer after the last xref table")
	}
	open := bytes.Index(data[x+tr:], []byte("<<"))
	if open < 0 {
		return nil, fmt.Errorf("samplepdf: no trailer dictionary")
	}
	var out bytes.Buffer
	out.Write(data[:x])
	stmOff := out.Len()
	out.Write(xrefStream(num, entries, ""))
	newX := out.Len()
	at := x + tr + open + 2
	out.Write(data[x:at])
	fmt.Fprintf(&out, " /XRefStm %d ", stmOff)
	rest := data[at:]
	sx := bytes.LastIndex(rest, []byte("startxref"))
	if sx < 0 {
		return nil, fmt.Errorf("samplepdf: no startxref after the last trailer")
	}
	out.Write(rest[:sx])
	fmt.Fprintf(&out, "startxref\n%d\n%%%%EOF\n", newX)
	return out.Bytes(), nil
}

// xrefStream writes an uncompressed cross-reference stream object holding
// entries (and the trailer keys in extra).
func xrefStream(num int, entries []XrefEntry, extra string) []byte {
	var rows []byte
	var index []string
	for _, e := range entries {
		rows = append(rows, byte(e.Type), byte(e.Offset>>24), byte(e.Offset>>16), byte(e.Offset>>8), byte(e.Offset), byte(e.Index>>8), byte(e.Index))
		index = append(index, fmt.Sprintf("%d 1", e.Num))
	}
	var stm bytes.Buffer
	fmt.Fprintf(&stm, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Index [%s]%s /Length %d >>\nstream\n", num, num+1, strings.Join(index, " "), extra, len(rows))
	stm.Write(rows)
	stm.WriteString("\nendstream\nendobj\n")
	return stm.Bytes()
}

// AppendXrefStream appends to data an incremental update that is only a
// cross-reference stream (object num, which must be the highest number)
// holding entries, chained with /Prev to the last startxref; extra holds
// further trailer keys (at least /Root).
func AppendXrefStream(data []byte, num int, entries []XrefEntry, extra string) ([]byte, error) {
	sx := bytes.LastIndex(data, []byte("startxref"))
	if sx < 0 {
		return nil, fmt.Errorf("samplepdf: no startxref")
	}
	var prev int64
	if _, err := fmt.Sscan(string(data[sx+9:]), &prev); err != nil {
		return nil, fmt.Errorf("samplepdf: startxref: %w", err)
	}
	var out bytes.Buffer
	out.Write(data)
	if !bytes.HasSuffix(data, []byte("\n")) {
		out.WriteString("\n")
	}
	x := out.Len()
	entries = append(entries, XrefEntry{Num: num, Type: 1, Offset: int64(x)})
	out.Write(xrefStream(num, entries, fmt.Sprintf(" /Prev %d %s", prev, extra)))
	fmt.Fprintf(&out, "startxref\n%d\n%%%%EOF\n", x)
	return out.Bytes(), nil
}
