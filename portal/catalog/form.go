package catalog

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/semnat/semnat/idn"
)

// FieldType is what a form field holds.
type FieldType string

const (
	TypeText     FieldType = "text"     // one line
	TypeTextarea FieldType = "textarea" // several lines
	TypeIDNP     FieldType = "idnp"     // a person's IDNP, check digit checked
	TypeIDNO     FieldType = "idno"     // a legal entity's IDNO, check digit checked
	TypeIDN      FieldType = "idn"      // either: a person's IDNP or a company's IDNO (a tax code)
	TypeDate     FieldType = "date"     // YYYY-MM-DD
	TypeNumber   FieldType = "number"   // an integer
	TypeSelect   FieldType = "select"   // one of Options
	TypeEmail    FieldType = "email"
	TypePhone    FieldType = "phone" // +373 and 8 digits, or 0 and 8 digits
	TypeCheckbox FieldType = "checkbox"
)

var fieldTypes = []FieldType{TypeText, TypeTextarea, TypeIDNP, TypeIDNO, TypeIDN, TypeDate, TypeNumber, TypeSelect, TypeEmail, TypePhone, TypeCheckbox}

// Prefills are the MPass attributes a field may be prefilled from
// (egov-flows §2.4).
var Prefills = []string{"NameIdentifier", "FirstName", "LastName", "BirthDate", "EmailAddress", "MobilePhone", "HomePhone"}

// Field is one field of a service's form.
type Field struct {
	Name     string    `toml:"name"` // the key the value is kept under
	Type     FieldType `toml:"type"`
	Label    Text      `toml:"label"`
	Help     Text      `toml:"help"`
	Required bool      `toml:"required"`
	// Prefill names the MPass attribute the field starts with when the
	// applicant applies for themselves (FirstName, BirthDate, ...).
	Prefill string   `toml:"prefill"`
	Options []Option `toml:"options"` // select
	// MaxLen bounds text (default 200, textarea 2000).
	MaxLen int `toml:"max_len"`
	// Pattern is a regular expression a text must match whole.
	Pattern string `toml:"pattern"`
	// Min and Max bound a number; for a date they are "past" (not after
	// today) or "future" (not before today) or a YYYY-MM-DD date.
	Min string `toml:"min"`
	Max string `toml:"max"`

	re *regexp.Regexp
}

// Option is a choice of a select field.
type Option struct {
	Value string `toml:"value"`
	Label Text   `toml:"label"`
}

// check fills defaults and lists what is wrong with f's definition.
func (f *Field) check() []string {
	var out []string
	if !slices.Contains(fieldTypes, f.Type) {
		out = append(out, fmt.Sprintf("type %q: want one of %v", f.Type, fieldTypes))
	}
	if f.Prefill != "" && !slices.Contains(Prefills, f.Prefill) {
		out = append(out, fmt.Sprintf("prefill %q: want one of %v", f.Prefill, Prefills))
	}
	if f.MaxLen < 0 || f.MaxLen > 10000 {
		out = append(out, fmt.Sprintf("max_len %d: want 1 to 10000", f.MaxLen))
	}
	if f.MaxLen == 0 {
		f.MaxLen = 200
		if f.Type == TypeTextarea {
			f.MaxLen = 2000
		}
	}
	if f.Pattern != "" {
		re, err := regexp.Compile(`^(?:` + f.Pattern + `)$`)
		if err != nil {
			out = append(out, fmt.Sprintf("pattern: %v", err))
		}
		f.re = re
	}
	if f.Type == TypeSelect {
		if len(f.Options) == 0 {
			out = append(out, "a select needs options")
		}
		seen := map[string]bool{}
		for i, o := range f.Options {
			if o.Value == "" || seen[o.Value] {
				out = append(out, fmt.Sprintf("options[%d]: the value is empty or used twice", i))
			}
			seen[o.Value] = true
			if strings.TrimSpace(o.Label["ro"]) == "" {
				out = append(out, fmt.Sprintf("options[%d]: the Romanian label (ro) is required", i))
			}
		}
	} else if len(f.Options) > 0 {
		out = append(out, "options are for select fields only")
	}
	for _, b := range []struct{ k, v string }{{"min", f.Min}, {"max", f.Max}} {
		if b.v == "" {
			continue
		}
		switch f.Type {
		case TypeNumber:
			if _, err := strconv.ParseInt(b.v, 10, 64); err != nil {
				out = append(out, fmt.Sprintf("%s %q: want an integer", b.k, b.v))
			}
		case TypeDate:
			if b.v != "past" && b.v != "future" {
				if _, err := time.Parse(time.DateOnly, b.v); err != nil {
					out = append(out, fmt.Sprintf("%s %q: want past, future or YYYY-MM-DD", b.k, b.v))
				}
			}
		default:
			out = append(out, fmt.Sprintf("%s is for number and date fields only", b.k))
		}
	}
	return out
}

// Problem codes of a form value: the pages word them in each language.
const (
	ProblemRequired = "required" // empty and required
	ProblemTooLong  = "too-long" // Param: the most characters
	ProblemIDNP     = "idnp"     // not a valid IDNP
	ProblemIDNO     = "idno"     // not a valid IDNO
	ProblemIDN      = "idn"      // neither a valid IDNP nor a valid IDNO
	ProblemDate     = "date"     // not YYYY-MM-DD
	ProblemPast     = "past"     // a date after today where one not after it is wanted
	ProblemFuture   = "future"   // a date before today where one not before it is wanted
	ProblemMin      = "min"      // below Param
	ProblemMax      = "max"      // above Param
	ProblemNumber   = "number"   // not an integer
	ProblemOption   = "option"   // not one of the choices
	ProblemEmail    = "email"
	ProblemPhone    = "phone"
	ProblemPattern  = "pattern" // does not have the form wanted
	ProblemText     = "text"    // control characters
)

// FieldError is what is wrong with one field's value.
type FieldError struct {
	Field string
	Code  string // a Problem* code
	Param string // the bound, for too-long, min, max
}

func (e FieldError) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Field, e.Code, e.Param)
	}
	return e.Field + ": " + e.Code
}

var rePhone = regexp.MustCompile(`^(\+373|0)[0-9]{8}$`)

// Validate checks the form values of s (by field name; other names are
// ignored) on the day today: the clean values (trimmed; a date as
// YYYY-MM-DD; a checkbox "true" or "") and the problems, in the fields'
// order. Values are kept whatever their problems, so that the form can be
// shown again with them.
func (s *Service) Validate(values map[string]string, today time.Time) (map[string]string, []FieldError) {
	clean := map[string]string{}
	var errs []FieldError
	day := today.Format(time.DateOnly)
	for i := range s.Fields {
		f := &s.Fields[i]
		v := strings.TrimSpace(values[f.Name])
		if f.Type == TypePhone {
			v = strings.NewReplacer(" ", "", "-", "").Replace(v)
		}
		if f.Type == TypeCheckbox {
			if v != "" && v != "false" {
				v = "true"
			} else {
				v = ""
			}
		}
		clean[f.Name] = v
		fail := func(code, param string) { errs = append(errs, FieldError{Field: f.Name, Code: code, Param: param}) }
		if v == "" {
			if f.Required {
				fail(ProblemRequired, "")
			}
			continue
		}
		if n := utf8.RuneCountInString(v); n > f.MaxLen {
			fail(ProblemTooLong, strconv.Itoa(f.MaxLen))
			continue
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && (f.Type != TypeTextarea || r != '\n' && r != '\r' && r != '\t') }) {
			fail(ProblemText, "")
			continue
		}
		switch f.Type {
		case TypeIDNP:
			if idn.KindOf(v) != idn.Person {
				fail(ProblemIDNP, "")
			}
		case TypeIDNO:
			if idn.KindOf(v) != idn.Entity {
				fail(ProblemIDNO, "")
			}
		case TypeIDN:
			if idn.KindOf(v) == idn.Unknown {
				fail(ProblemIDN, "")
			}
		case TypeDate:
			d, err := time.Parse(time.DateOnly, v)
			if err != nil {
				fail(ProblemDate, "")
				continue
			}
			v = d.Format(time.DateOnly)
			clean[f.Name] = v
			if lo := dateBound(f.Min, day); lo != "" && v < lo {
				fail(dateProblem(f.Min, ProblemMin), lo)
			} else if hi := dateBound(f.Max, day); hi != "" && v > hi {
				fail(dateProblem(f.Max, ProblemMax), hi)
			}
		case TypeNumber:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				fail(ProblemNumber, "")
				continue
			}
			if lo, err := strconv.ParseInt(f.Min, 10, 64); err == nil && f.Min != "" && n < lo {
				fail(ProblemMin, f.Min)
			} else if hi, err := strconv.ParseInt(f.Max, 10, 64); err == nil && f.Max != "" && n > hi {
				fail(ProblemMax, f.Max)
			}
		case TypeSelect:
			if !slices.ContainsFunc(f.Options, func(o Option) bool { return o.Value == v }) {
				fail(ProblemOption, "")
			}
		case TypeEmail:
			if a, err := mail.ParseAddress(v); err != nil || a.Address != v || a.Name != "" {
				fail(ProblemEmail, "")
			}
		case TypePhone:
			if !rePhone.MatchString(v) {
				fail(ProblemPhone, "")
			}
		}
		if f.re != nil && !f.re.MatchString(v) {
			fail(ProblemPattern, "")
		}
	}
	return clean, errs
}

// dateBound is the date a min or max stands for on day.
func dateBound(b, day string) string {
	switch b {
	case "past", "future":
		return day
	}
	return b
}

// dateProblem words a date out of bounds: "past" and "future" say so.
func dateProblem(bound, plain string) string {
	switch bound {
	case "past":
		return ProblemPast
	case "future":
		return ProblemFuture
	}
	return plain
}

// Label is the label of the field called name in lang ("" when there is
// no such field).
func (s *Service) Label(name, lang string) string {
	for _, f := range s.Fields {
		if f.Name == name {
			return f.Label.In(lang)
		}
	}
	return ""
}
