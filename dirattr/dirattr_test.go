package dirattr

import (
	"encoding/asn1"
	"errors"
	"slices"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	in := Attributes{DateOfBirth: "1990-03-14", Gender: "F", CountriesOfResidence: []string{"MD", "RO"}}
	ext, err := Extension(in)
	if err != nil {
		t.Fatal(err)
	}
	if !ext.Id.Equal(OIDSubjectDirectoryAttributes) || ext.Critical {
		t.Fatalf("extension %v critical=%v", ext.Id, ext.Critical)
	}
	out, err := Parse(ext.Value)
	if err != nil {
		t.Fatal(err)
	}
	if out.DateOfBirth != in.DateOfBirth || out.Gender != in.Gender || !slices.Equal(out.CountriesOfResidence, in.CountriesOfResidence) {
		t.Fatalf("read back %+v", out)
	}
	if r, known := out.ResidentOf("MD"); !r || !known {
		t.Error("not resident of MD")
	}
	if r, known := out.ResidentOf("UA"); r || !known {
		t.Error("resident of UA")
	}
	// Only a date of birth: the rest stays unknown.
	ext, _ = Extension(Attributes{DateOfBirth: "1985-07-02"})
	out, err = Parse(ext.Value)
	if err != nil || out.DateOfBirth != "1985-07-02" || out.Gender != "" || out.CountriesOfResidence != nil {
		t.Fatalf("%+v %v", out, err)
	}
	if _, known := out.ResidentOf("MD"); known {
		t.Error("residence known without countryOfResidence")
	}
}

// TestRefused: bad values are errors (ErrMalformed), never guesses; other
// attribute types are skipped.
func TestRefused(t *testing.T) {
	enc := func(attrs ...attribute) []byte {
		b, err := asn1.Marshal(attrs)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	val := func(v any, params string) asn1.RawValue {
		b, err := asn1.MarshalWithParams(v, params)
		if err != nil {
			t.Fatal(err)
		}
		return asn1.RawValue{FullBytes: b}
	}
	gender := func(s string) attribute {
		return attribute{Type: OIDGender, Values: []asn1.RawValue{val(s, "printable")}}
	}
	for name, der := range map[string][]byte{
		"empty sequence":  enc(),
		"not DER":         {0x30, 0x80},
		"trailing bytes":  append(enc(gender("M")), 0),
		"gender X":        enc(gender("X")),
		"gender long":     enc(gender("MF")),
		"gender UTF8":     enc(attribute{Type: OIDGender, Values: []asn1.RawValue{val("M", "utf8")}}),
		"gender twice":    enc(gender("M"), gender("F")),
		"no values":       enc(attribute{Type: OIDGender}),
		"date as string":  enc(attribute{Type: OIDDateOfBirth, Values: []asn1.RawValue{val("19900314", "printable")}}),
		"country lower":   enc(attribute{Type: OIDCountryOfResidence, Values: []asn1.RawValue{val("md", "printable")}}),
		"country 3 chars": enc(attribute{Type: OIDCountryOfResidence, Values: []asn1.RawValue{val("MDA", "printable")}}),
		"two dates":       enc(attribute{Type: OIDDateOfBirth, Values: []asn1.RawValue{val("19900314120000Z", "printable"), val("19900314120000Z", "printable")}}),
	} {
		if _, err := Parse(der); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	other := attribute{Type: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 9, 4}, Values: []asn1.RawValue{val("MD", "printable")}} // countryOfCitizenship
	if a, err := Parse(enc(other, gender("m"))); err != nil || a.Gender != "M" || a.DateOfBirth != "" {
		t.Errorf("other attribute types: %+v %v", a, err)
	}
	for _, bad := range []Attributes{{}, {DateOfBirth: "14.03.1990"}, {Gender: "X"}, {CountriesOfResidence: []string{"Moldova"}}} {
		if _, err := Extension(bad); err == nil {
			t.Errorf("Extension(%+v) accepted", bad)
		}
	}
}

// FuzzParse: no input panics; whatever is accepted is well-formed and
// written back the same.
func FuzzParse(f *testing.F) {
	for _, a := range []Attributes{{DateOfBirth: "1990-03-14", Gender: "F", CountriesOfResidence: []string{"MD"}}, {Gender: "M"}, {CountriesOfResidence: []string{"MD", "RO"}}} {
		ext, err := Extension(a)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ext.Value)
	}
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		a, err := Parse(der)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error without ErrMalformed: %v", err)
			}
			return
		}
		if a.Gender != "" && a.Gender != "M" && a.Gender != "F" {
			t.Fatalf("gender %q", a.Gender)
		}
		if a.Empty() {
			return // only attribute types we skip
		}
		ext, err := Extension(a)
		if err != nil {
			t.Fatalf("accepted %+v cannot be written: %v", a, err)
		}
		b, err := Parse(ext.Value)
		// DER sorts a SET OF: the countries come back as a set.
		slices.Sort(a.CountriesOfResidence)
		slices.Sort(b.CountriesOfResidence)
		if err != nil || b.DateOfBirth != a.DateOfBirth || b.Gender != a.Gender || !slices.Equal(b.CountriesOfResidence, a.CountriesOfResidence) {
			t.Fatalf("%+v → %+v %v", a, b, err)
		}
	})
}
