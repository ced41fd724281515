package pades

import (
	"fmt"
	"time"
	"unicode/utf16"

	"github.com/semnat/semnat/pades/pdf"
)

// textString encodes s as a PDF text string: plain bytes when it is
// printable ASCII, else UTF-16BE with a byte order mark (ISO 32000-1 7.9.2.2),
// which every reader understands for Romanian and Cyrillic text.
func textString(s string) pdf.String {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			ascii = false
			break
		}
	}
	if ascii {
		return pdf.String{Value: []byte(s)}
	}
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2, 2+2*len(u))
	b[0], b[1] = 0xfe, 0xff
	for _, c := range u {
		b = append(b, byte(c>>8), byte(c))
	}
	return pdf.String{Value: b, Hex: true}
}

// decodeTextString decodes a PDF text string (UTF-16BE with BOM, UTF-8 with
// BOM, or PDFDocEncoding, whose printable ASCII part is what matters here).
func decodeTextString(b []byte) string {
	if len(b) >= 2 && b[0] == 0xfe && b[1] == 0xff {
		u := make([]uint16, 0, (len(b)-2)/2)
		for i := 2; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		}
		return string(utf16.Decode(u))
	}
	if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		return string(b[3:])
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = pdfDocRune(c)
	}
	return string(r)
}

// pdfDocRune maps a PDFDocEncoding byte to a rune (Latin-1 for the upper
// half, which is close enough for names; the few differing codes are rare).
func pdfDocRune(c byte) rune {
	switch c {
	case 0x80:
		return '•'
	case 0x84:
		return '—'
	case 0x85:
		return '–'
	case 0xa0:
		return '€'
	}
	return rune(c)
}

// pdfDate formats t as a PDF date string D:YYYYMMDDHHmmSS+HH'mm'.
func pdfDate(t time.Time) pdf.String {
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	s := t.Format("D:20060102150405")
	if off == 0 {
		s += "Z"
	} else {
		s += fmt.Sprintf("%c%02d'%02d'", sign, off/3600, off%3600/60)
	}
	return pdf.String{Value: []byte(s)}
}

// parsePDFDate parses a PDF date string; ok is false when it is not one.
func parsePDFDate(s string) (time.Time, bool) {
	if len(s) >= 2 && s[:2] == "D:" {
		s = s[2:]
	}
	if len(s) < 4 {
		return time.Time{}, false
	}
	// Pad the optional fields with their defaults.
	base := s
	zone := ""
	for i, c := range s {
		if c == 'Z' || c == '+' || c == '-' {
			base, zone = s[:i], s[i:]
			break
		}
	}
	const full = "00000101000000"
	if len(base) > len(full) {
		return time.Time{}, false
	}
	if len(base) < len(full) {
		base += full[len(base):]
	}
	t, err := time.Parse("20060102150405", base)
	if err != nil {
		return time.Time{}, false
	}
	if zone == "" || zone[0] == 'Z' {
		return t, true
	}
	var hh, mm int
	z := zone[1:]
	n, _ := fmt.Sscanf(z, "%02d'%02d", &hh, &mm)
	if n == 0 {
		return t, true
	}
	off := hh*3600 + mm*60
	if zone[0] == '-' {
		off = -off
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.FixedZone("", off)), true
}
