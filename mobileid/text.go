package mobileid

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// TextFormat is the encoding of the text a phone displays.
type TextFormat string

// Display text formats (Mobile-ID displayTextFormat).
const (
	GSM7 TextFormat = "GSM-7"
	UCS2 TextFormat = "UCS-2"
)

// Mobile-ID display text limits: 100 bytes, i.e. 100 GSM-7 characters (at
// most 5 of them from the extension table) or 50 UCS-2 characters.
const (
	MaxGSM7Chars    = 100
	MaxGSM7Extended = 5
	MaxUCS2Chars    = 50
)

// gsmBasic is the GSM 03.38 default alphabet (the escape 0x1B excluded).
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtended are the characters of the GSM 03.38 extension table (two septets).
const gsmExtended = "€[]^|{}\\~\f"

// isGSM reports whether r is in the GSM 03.38 alphabet, and whether it takes
// the extension table.
func isGSM(r rune) (ok, ext bool) {
	if strings.ContainsRune(gsmExtended, r) {
		return true, true
	}
	return strings.ContainsRune(gsmBasic, r), false
}

// IsGSM7 reports whether every character of s is in the GSM 03.38 alphabet.
func IsGSM7(s string) bool {
	for _, r := range s {
		if ok, _ := isGSM(r); !ok {
			return false
		}
	}
	return true
}

// CheckDisplayText reports why s does not fit the Mobile-ID limits for
// format (empty means GSM-7), wrapping ErrDisplayText, or nil.
func CheckDisplayText(s string, format TextFormat) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: not valid UTF-8", ErrDisplayText)
	}
	switch format {
	case "", GSM7:
		n, ext := 0, 0
		for _, r := range s {
			n++
			if _, e := isGSM(r); e {
				ext++
			}
		}
		if n > MaxGSM7Chars {
			return fmt.Errorf("%w: %d characters, GSM-7 allows %d", ErrDisplayText, n, MaxGSM7Chars)
		}
		if ext > MaxGSM7Extended {
			return fmt.Errorf("%w: %d characters from €[]^|{}\\~, GSM-7 allows %d", ErrDisplayText, ext, MaxGSM7Extended)
		}
	case UCS2:
		if n := len(utf16.Encode([]rune(s))); n > MaxUCS2Chars {
			return fmt.Errorf("%w: %d characters, UCS-2 allows %d", ErrDisplayText, n, MaxUCS2Chars)
		}
	default:
		return fmt.Errorf("%w: unknown format %q (want GSM-7 or UCS-2)", ErrDisplayText, format)
	}
	return nil
}

// PhoneText is what a phone shows for s sent as format: in GSM-7 every
// character outside GSM 03.38 becomes a space (Mobile-ID behaviour).
func PhoneText(s string, format TextFormat) string {
	if format == UCS2 {
		return strings.ToValidUTF8(s, " ")
	}
	return strings.Map(func(r rune) rune {
		if ok, _ := isGSM(r); ok {
			return r
		}
		return ' '
	}, strings.ToValidUTF8(s, " "))
}

// fold maps the Romanian (and a few other) letters that GSM 03.38 lacks to
// their base letter, so that "Semnați" stays readable in GSM-7.
var fold = strings.NewReplacer(
	"ă", "a", "â", "a", "î", "i", "ș", "s", "ş", "s", "ț", "t", "ţ", "t",
	"Ă", "A", "Â", "A", "Î", "I", "Ș", "S", "Ş", "S", "Ț", "T", "Ţ", "T",
	"„", "\"", "”", "\"", "“", "\"", "’", "'", "‘", "'", "–", "-", "—", "-", "…", "...",
	"á", "a", "í", "i", "ó", "o", "ú", "u", "ç", "c", "ê", "e", "ô", "o",
)

// FitDisplayText makes s fit a phone display: text entirely in GSM 03.38
// (after folding Romanian diacritics) is sent as GSM-7; otherwise UCS-2 when
// it fits 50 characters; otherwise folded GSM-7. Whatever does not fit is
// cut at a character boundary and ends with "...". The result always passes
// CheckDisplayText.
func FitDisplayText(s string) (string, TextFormat) {
	s = strings.ToValidUTF8(s, "?")
	if !IsGSM7(s) && len(utf16.Encode([]rune(s))) <= MaxUCS2Chars {
		if folded := fold.Replace(s); !IsGSM7(folded) {
			return s, UCS2
		}
	}
	g := fold.Replace(s)
	g = strings.Map(func(r rune) rune {
		if ok, _ := isGSM(r); ok {
			return r
		}
		return '?'
	}, g)
	return truncateGSM(g), GSM7
}

// truncateGSM cuts s to the GSM-7 limits, marking a cut with "...".
func truncateGSM(s string) string {
	if CheckDisplayText(s, GSM7) == nil {
		return s
	}
	var b strings.Builder
	n, ext := 0, 0
	for _, r := range s {
		_, e := isGSM(r)
		if e && ext == MaxGSM7Extended {
			r, e = ' ', false
		}
		if n == MaxGSM7Chars-3 {
			break
		}
		b.WriteRune(r)
		n++
		if e {
			ext++
		}
	}
	if n < utf8.RuneCountInString(s) {
		return b.String() + "..."
	}
	return b.String()
}
