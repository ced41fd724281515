package i18n

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/semnat/semnat/idn"
)

// Person is a certificate subject as a person reads it.
type Person struct {
	Name         string // GivenName Surname, else the CN without serial-number tags
	IDNP         string // a person's 13-digit number, when the subject has one
	Organization string // the organisation's name, its IDNO taken out
	IDNO         string // the organisation's 13-digit number
}

// String is the name, then the organisation: "Ion Popescu, SRL Exemplu".
func (p Person) String() string {
	switch {
	case p.Name == "":
		return p.Organization
	case p.Organization == "":
		return p.Name
	}
	return p.Name + ", " + p.Organization
}

type subjectFields struct{ cn, given, surname, serial, org string }

// PersonOf reads a subject: an RFC 4514 string (such as pkix.Name.String()
// or a verification report's subject), a pkix.Name, or a certificate. What
// it cannot read gives an empty Person.
func PersonOf(subject any) Person {
	switch s := subject.(type) {
	case string:
		return personOf(parseDN(s))
	case pkix.Name:
		return personOf(nameFields(s))
	case *pkix.Name:
		if s != nil {
			return personOf(nameFields(*s))
		}
	case *x509.Certificate:
		if s != nil {
			return personOf(nameFields(s.Subject))
		}
	}
	return Person{}
}

var (
	oidGivenName = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSurname   = asn1.ObjectIdentifier{2, 5, 4, 4}
)

func nameFields(n pkix.Name) subjectFields {
	f := subjectFields{cn: n.CommonName, serial: n.SerialNumber}
	if len(n.Organization) > 0 {
		f.org = n.Organization[0]
	}
	for _, atv := range append(append([]pkix.AttributeTypeAndValue(nil), n.Names...), n.ExtraNames...) {
		v, ok := atv.Value.(string)
		if !ok {
			continue
		}
		switch {
		case atv.Type.Equal(oidGivenName) && f.given == "":
			f.given = v
		case atv.Type.Equal(oidSurname) && f.surname == "":
			f.surname = v
		}
	}
	return f
}

// parseDN reads the attributes of an RFC 4514 distinguished name that a
// person's name is made of; values may be escaped (\, and \XX) or given as
// #hex DER (Go writes attributes it has no name for that way).
func parseDN(dn string) subjectFields {
	var f subjectFields
	for _, atv := range splitDN(dn) {
		typ, raw, ok := strings.Cut(atv, "=")
		if !ok {
			continue
		}
		v, ok := dnValue(raw)
		if !ok {
			continue
		}
		set := func(p *string) {
			if *p == "" {
				*p = v
			}
		}
		switch strings.ToUpper(strings.TrimSpace(typ)) {
		case "CN", "COMMONNAME", "2.5.4.3":
			set(&f.cn)
		case "GN", "G", "GIVENNAME", "2.5.4.42":
			set(&f.given)
		case "SN", "SURNAME", "2.5.4.4":
			set(&f.surname)
		case "SERIALNUMBER", "2.5.4.5":
			set(&f.serial)
		case "O", "2.5.4.10":
			set(&f.org)
		}
	}
	return f
}

// splitDN splits at the commas and pluses that are not escaped.
func splitDN(dn string) []string {
	var out []string
	start := 0
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',', '+', ';':
			out = append(out, dn[start:i])
			start = i + 1
		}
	}
	return append(out, dn[start:])
}

func dnValue(raw string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if strings.HasPrefix(raw, "#") {
		der, err := hex.DecodeString(raw[1:])
		if err != nil {
			return "", false
		}
		var s string
		if rest, err := asn1.Unmarshal(der, &s); err != nil || len(rest) > 0 {
			return "", false
		}
		return s, utf8.ValidString(s)
	}
	var b []byte
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 == len(raw) {
			b = append(b, raw[i])
			continue
		}
		if i+2 < len(raw) {
			if x, err := hex.DecodeString(raw[i+1 : i+3]); err == nil {
				b = append(b, x[0])
				i += 2
				continue
			}
		}
		b = append(b, raw[i+1])
		i++
	}
	s := string(b)
	return s, utf8.ValidString(s)
}

func personOf(f subjectFields) Person {
	var p Person
	if d := digits13(f.serial); d != "" && idn.KindOf(d) == idn.Person {
		p.IDNP = d
	}
	p.Organization = strings.TrimSpace(f.org)
	if d := digits13(p.Organization); d != "" {
		if idn.KindOf(d) == idn.Entity {
			p.IDNO = d
		}
		p.Organization = withoutNumbers(p.Organization)
	}
	given, surname := strings.TrimSpace(f.given), strings.TrimSpace(f.surname)
	switch {
	case given != "" && surname != "":
		p.Name = given + " " + surname
	default:
		p.Name = withoutNumbers(f.cn)
		if p.IDNP == "" {
			if d := digits13(f.cn); d != "" && idn.KindOf(d) == idn.Person {
				p.IDNP = d
			}
		}
	}
	return p
}

// digits13 is the first run of exactly 13 digits in s.
func digits13(s string) string {
	for _, run := range strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		if len(run) == 13 {
			return run
		}
	}
	return ""
}

// serialTags are the labels that may stand before a number in a CN or an
// organisation's name.
var serialTags = []string{"SERIALNUMBER", "IDNP", "IDNO", "PNOMD", "NTRMD", "SN", "CNP"}

// withoutNumbers drops the 13-digit numbers of s with their tags
// ("IDNP: 2004001000015", "(2004001000015)", "PNOMD-2004001000015"),
// tags left alone and words that are only punctuation.
func withoutNumbers(s string) string {
	var kept []string
	for _, w := range strings.Fields(s) {
		core := strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		up := strings.ToUpper(core)
		switch {
		case core == "" || isTag(up):
			continue
		case digits13(core) != "":
			if t := strings.Trim(strings.Trim(up, "0123456789"), ":=-"); t == "" || isTag(t) {
				continue
			}
		}
		kept = append(kept, w)
	}
	return strings.TrimRight(strings.Join(kept, " "), " ,;-/")
}

func isTag(s string) bool { return slices.Contains(serialTags, s) }
