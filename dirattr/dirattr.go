// Package dirattr reads and writes the personal data a qualified
// certificate may carry in its subjectDirectoryAttributes extension
// (RFC 5280 §4.2.1.8, OID 2.5.29.9), with the attribute types of RFC 3739
// §3.2.2: dateOfBirth, gender and countryOfResidence. Absent attributes
// stay absent: nothing is derived or guessed.
package dirattr

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"
)

// Object identifiers (RFC 5280, RFC 3739).
var (
	OIDSubjectDirectoryAttributes = asn1.ObjectIdentifier{2, 5, 29, 9}
	OIDDateOfBirth                = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 9, 1}
	OIDGender                     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 9, 3}
	OIDCountryOfResidence         = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 9, 5}
)

// ErrMalformed: the extension is present but is not what RFC 3739 says.
var ErrMalformed = errors.New("dirattr: malformed subjectDirectoryAttributes")

// Attributes are the personal data of a certificate. The zero value of a
// field means the certificate does not say.
type Attributes struct {
	// DateOfBirth is the calendar date, "YYYY-MM-DD" (RFC 3739 recommends
	// GeneralizedTime at 12:00 GMT; only the date is kept).
	DateOfBirth string
	// Gender is "M" or "F".
	Gender string
	// CountriesOfResidence are ISO 3166 two-letter codes, upper case.
	CountriesOfResidence []string
}

// Empty tells whether a says nothing.
func (a Attributes) Empty() bool {
	return a.DateOfBirth == "" && a.Gender == "" && len(a.CountriesOfResidence) == 0
}

// ResidentOf tells whether country is one of the countries of residence;
// known is false when the certificate names none.
func (a Attributes) ResidentOf(country string) (resident, known bool) {
	for _, c := range a.CountriesOfResidence {
		if c == country {
			return true, true
		}
	}
	return false, len(a.CountriesOfResidence) > 0
}

// attribute is X.501's Attribute: a type and a SET OF values.
type attribute struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

// maxAttributes bounds the attributes read (a certificate has a handful).
const maxAttributes = 64

// Of reads the attributes of cert's subjectDirectoryAttributes extension
// (zero Attributes without one). Attribute types other than the three
// are skipped.
func Of(cert *x509.Certificate) (Attributes, error) {
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(OIDSubjectDirectoryAttributes) {
			return Parse(ext.Value)
		}
	}
	return Attributes{}, nil
}

// Parse reads the DER value of a subjectDirectoryAttributes extension.
func Parse(der []byte) (Attributes, error) {
	var out Attributes
	var attrs []attribute
	rest, err := asn1.Unmarshal(der, &attrs)
	if err != nil {
		return out, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return out, fmt.Errorf("%w: %d bytes after the attributes", ErrMalformed, len(rest))
	}
	if len(attrs) == 0 || len(attrs) > maxAttributes {
		return out, fmt.Errorf("%w: %d attributes (want 1 to %d)", ErrMalformed, len(attrs), maxAttributes)
	}
	seen := map[string]bool{}
	for _, a := range attrs {
		switch {
		case a.Type.Equal(OIDDateOfBirth), a.Type.Equal(OIDGender), a.Type.Equal(OIDCountryOfResidence):
		default:
			continue // another attribute type: not ours to read
		}
		if seen[a.Type.String()] {
			return out, fmt.Errorf("%w: attribute %s twice", ErrMalformed, a.Type)
		}
		seen[a.Type.String()] = true
		if len(a.Values) == 0 {
			return out, fmt.Errorf("%w: attribute %s has no value", ErrMalformed, a.Type)
		}
		switch {
		case a.Type.Equal(OIDDateOfBirth):
			if len(a.Values) != 1 {
				return out, fmt.Errorf("%w: dateOfBirth has %d values", ErrMalformed, len(a.Values))
			}
			v := a.Values[0]
			if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagGeneralizedTime {
				return out, fmt.Errorf("%w: dateOfBirth is not a GeneralizedTime", ErrMalformed)
			}
			var t time.Time
			if rest, err := asn1.UnmarshalWithParams(v.FullBytes, &t, "generalized"); err != nil || len(rest) != 0 {
				return out, fmt.Errorf("%w: dateOfBirth: %v", ErrMalformed, err)
			}
			if t = t.UTC(); t.Year() < 1850 || t.Year() > 9999 {
				return out, fmt.Errorf("%w: dateOfBirth %s is out of range", ErrMalformed, t.Format(time.DateOnly))
			}
			out.DateOfBirth = t.Format(time.DateOnly)
		case a.Type.Equal(OIDGender):
			if len(a.Values) != 1 {
				return out, fmt.Errorf("%w: gender has %d values", ErrMalformed, len(a.Values))
			}
			s, err := printable(a.Values[0], 1)
			if err != nil {
				return out, fmt.Errorf("%w: gender: %v", ErrMalformed, err)
			}
			switch s {
			case "M", "m":
				out.Gender = "M"
			case "F", "f":
				out.Gender = "F"
			default:
				return out, fmt.Errorf("%w: gender %q (want M or F)", ErrMalformed, s)
			}
		case a.Type.Equal(OIDCountryOfResidence):
			for _, v := range a.Values {
				s, err := printable(v, 2)
				if err != nil {
					return out, fmt.Errorf("%w: countryOfResidence: %v", ErrMalformed, err)
				}
				if s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
					return out, fmt.Errorf("%w: countryOfResidence %q (want an ISO 3166 code such as MD)", ErrMalformed, s)
				}
				out.CountriesOfResidence = append(out.CountriesOfResidence, s)
			}
		}
	}
	return out, nil
}

// printable is a PrintableString value of exactly n characters.
func printable(v asn1.RawValue, n int) (string, error) {
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagPrintableString {
		return "", errors.New("not a PrintableString")
	}
	var s string
	if rest, err := asn1.Unmarshal(v.FullBytes, &s); err != nil || len(rest) != 0 {
		return "", fmt.Errorf("not a PrintableString: %v", err)
	}
	if len(s) != n {
		return "", fmt.Errorf("%q has %d characters, want %d", s, len(s), n)
	}
	return s, nil
}

// Extension is the (non-critical, RFC 3739) subjectDirectoryAttributes
// extension saying a; an error for an empty or invalid a.
func Extension(a Attributes) (pkix.Extension, error) {
	var attrs []attribute
	add := func(oid asn1.ObjectIdentifier, vals ...any) error {
		at := attribute{Type: oid}
		for _, v := range vals {
			var b []byte
			var err error
			switch v := v.(type) {
			case time.Time:
				b, err = asn1.MarshalWithParams(v, "generalized")
			case string:
				b, err = asn1.MarshalWithParams(v, "printable")
			}
			if err != nil {
				return err
			}
			at.Values = append(at.Values, asn1.RawValue{FullBytes: b})
		}
		attrs = append(attrs, at)
		return nil
	}
	if a.DateOfBirth != "" {
		d, err := time.Parse(time.DateOnly, a.DateOfBirth)
		if err != nil {
			return pkix.Extension{}, fmt.Errorf("dirattr: date of birth %q: want YYYY-MM-DD", a.DateOfBirth)
		}
		if err := add(OIDDateOfBirth, d.Add(12*time.Hour)); err != nil {
			return pkix.Extension{}, err
		}
	}
	if a.Gender != "" {
		if a.Gender != "M" && a.Gender != "F" {
			return pkix.Extension{}, fmt.Errorf("dirattr: gender %q: want M or F", a.Gender)
		}
		if err := add(OIDGender, a.Gender); err != nil {
			return pkix.Extension{}, err
		}
	}
	if len(a.CountriesOfResidence) > 0 {
		var vals []any
		for _, c := range a.CountriesOfResidence {
			if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
				return pkix.Extension{}, fmt.Errorf("dirattr: country of residence %q: want an ISO 3166 code such as MD", c)
			}
			vals = append(vals, c)
		}
		if err := add(OIDCountryOfResidence, vals...); err != nil {
			return pkix.Extension{}, err
		}
	}
	if len(attrs) == 0 {
		return pkix.Extension{}, errors.New("dirattr: no attributes to write")
	}
	der, err := asn1.Marshal(attrs)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: OIDSubjectDirectoryAttributes, Value: der}, nil
}
