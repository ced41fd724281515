package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// TestDemoCatalog: the embedded demo loads, has about ten services with
// texts in the three languages, and every result template fills.
func TestDemoCatalog(t *testing.T) {
	c, err := Demo()
	if err != nil {
		t.Fatal(err)
	}
	list := c.Services()
	if len(list) < 10 {
		t.Fatalf("%d demo services, want about ten", len(list))
	}
	free := 0
	for _, s := range list {
		for _, l := range []string{"ro", "ru", "en"} {
			if s.Title[l] == "" || s.Description[l] == "" {
				t.Errorf("%s: no title or description in %s", s.Code, l)
			}
		}
		if s.Free() {
			free++
		}
		fields := map[string]string{}
		for _, f := range s.Fields {
			fields[f.Name] = "v-" + f.Name
		}
		txt, err := s.RenderResult("ru", ResultData{Code: "A1", Date: "2026-12-05", Fields: fields})
		if err != nil || !strings.Contains(txt, "A1") {
			t.Errorf("%s: result %q %v", s.Code, txt, err)
		}
	}
	if free == 0 || free == len(list) {
		t.Errorf("%d free services of %d: want both free and paid ones", free, len(list))
	}
	if len(c.Domains("ro")) < 5 || len(c.Providers("ro")) < 4 {
		t.Errorf("domains %d, providers %d", len(c.Domains("ro")), len(c.Providers("ro")))
	}
	s, err := c.Service("000104")
	if err != nil || s.Cost != 31000 || !s.Allows(Company) || s.Authorization != "AT-0000001" {
		t.Fatalf("000104: %+v %v", s, err)
	}
	if _, err := c.Service("999"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown service: %v", err)
	}
}

// TestSearch: words match in any language, without regard to case or
// diacritics; domain and provider narrow the list.
func TestSearch(t *testing.T) {
	c, err := Demo()
	if err != nil {
		t.Fatal(err)
	}
	codes := func(list []*Service) string {
		var out []string
		for _, s := range list {
			out = append(out, s.Code)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		q    Query
		want string
	}{
		{Query{Text: "INMATRICULARE"}, "000104"},
		{Query{Text: "înmatriculare vehicul"}, "000104"},
		{Query{Text: "cazier"}, "000101"},
		{Query{Text: "судимости"}, "000101"},
		{Query{Text: "legal entities"}, "000102"},
		{Query{Text: "Agentia Servicii Publice", Domain: "transport"}, "000104"},
		{Query{Provider: "1007601001282"}, "000108,000109"},
		{Query{Domain: "fiscal"}, "000105"},
		{Query{Text: "nimic-de-gasit"}, ""},
	} {
		if got := codes(c.Find(tc.q)); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.q, got, tc.want)
		}
	}
	if Fold("Șțăîâ ŞŢ") != "staia st" {
		t.Errorf("fold: %q", Fold("Șțăîâ ŞŢ"))
	}
}

const minimal = `code = "123"
domain = { id = "test", name = { ro = "Test" } }
provider = { idno = "1003600011118", name = { ro = "Prestator" } }
title = { ro = "Serviciu" }
description = { ro = "Descriere" }
result = { ro = "Rezultat {{.Code}}" }
`

// TestParseErrors: a bad file is refused with a message naming what is
// wrong and where.
func TestParseErrors(t *testing.T) {
	if s, err := Parse([]byte(minimal)); err != nil || s.OnBehalf[0] != Self || s.Delivery[0] != MCabinet {
		t.Fatalf("minimal: %+v %v", s, err)
	}
	for _, tc := range []struct{ name, src, want string }{
		{"syntax", "code = \"1\n", "line 1"},
		{"unknown key", minimal + "colour = \"red\"\n", "unknown keys colour"},
		{"no ro title", strings.Replace(minimal, `title = { ro = "Serviciu" }`, `title = { en = "Service" }`, 1), "title: the Romanian text (ro) is required"},
		{"bad language", strings.Replace(minimal, `title = { ro = "Serviciu" }`, `title = { ro = "S", de = "D" }`, 1), `language "de"`},
		{"bad idno", strings.Replace(minimal, "1003600011118", "1003600011119", 1), "provider.idno"},
		{"bad code", strings.Replace(minimal, `"123"`, `"12a"`, 1), "code \"12a\""},
		{"negative cost", minimal + "cost = -5\n", "cost -5"},
		{"person without power", minimal + "on_behalf = [\"self\", \"person\"]\n", "needs an authorization type"},
		{"bad auth type", minimal + "authorization = \"AT-12\"\n", "authorization \"AT-12\""},
		{"bad delivery", minimal + "delivery = [\"drone\"]\n", `delivery "drone"`},
		{"bad field type", minimal + "[[fields]]\nname = \"x\"\ntype = \"colour\"\nlabel = { ro = \"X\" }\n", `type "colour"`},
		{"field twice", minimal + "[[fields]]\nname = \"x\"\ntype = \"text\"\nlabel = { ro = \"X\" }\n[[fields]]\nname = \"x\"\ntype = \"text\"\nlabel = { ro = \"X\" }\n", "used twice"},
		{"select without options", minimal + "[[fields]]\nname = \"x\"\ntype = \"select\"\nlabel = { ro = \"X\" }\n", "needs options"},
		{"bad pattern", minimal + "[[fields]]\nname = \"x\"\ntype = \"text\"\npattern = \"(\"\nlabel = { ro = \"X\" }\n", "pattern"},
		{"bad prefill", minimal + "[[fields]]\nname = \"x\"\ntype = \"text\"\nprefill = \"Password\"\nlabel = { ro = \"X\" }\n", `prefill "Password"`},
		{"bad date bound", minimal + "[[fields]]\nname = \"x\"\ntype = \"date\"\nmax = \"tomorrow\"\nlabel = { ro = \"X\" }\n", `max "tomorrow"`},
		{"template field unknown", strings.Replace(minimal, "{{.Code}}", "{{.missing}}", 1), "result.ro"},
		{"template syntax", strings.Replace(minimal, "{{.Code}}", "{{.Code", 1), "result.ro"},
		{"not utf-8", minimal + "# \xff\n", "not UTF-8"},
		{"too large", minimal + "# " + strings.Repeat("x", MaxFile) + "\n", "at most"},
	} {
		_, err := Parse([]byte(tc.src))
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an ErrInvalid saying %q", tc.name, err, tc.want)
		}
	}
}

// TestLoadDir: an operator's directory; each bad file is named, a code
// that differs from the file name or is used twice is refused, and a
// domain named two ways is refused.
func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "123.toml"), []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a service"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadDir(dir)
	if err != nil || len(c.Services()) != 1 {
		t.Fatalf("load: %v", err)
	}
	if _, err := LoadDir(filepath.Join(dir, "123.toml")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("a file as the directory: %v", err)
	}
	if _, err := LoadDir(t.TempDir()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty directory: %v", err)
	}
	_, err = Load(fstest.MapFS{
		"123.toml": {Data: []byte(minimal)},
		"124.toml": {Data: []byte(minimal)},
		"125.toml": {Data: []byte("code = 1")},
	})
	if err == nil || !strings.Contains(err.Error(), "124.toml") || !strings.Contains(err.Error(), "differs from the file's name") || !strings.Contains(err.Error(), "125.toml") {
		t.Fatalf("two bad files: %v", err)
	}
	other := strings.Replace(strings.Replace(minimal, `"123"`, `"124"`, 1), `name = { ro = "Test" }`, `name = { ro = "Altul" }`, 1)
	_, err = Load(fstest.MapFS{"123.toml": {Data: []byte(minimal)}, "124.toml": {Data: []byte(other)}})
	if err == nil || !strings.Contains(err.Error(), "names domain \"test\" differently") {
		t.Fatalf("a domain named two ways: %v", err)
	}
}

// TestValidate: each field type's checks, with the form kept as typed.
func TestValidate(t *testing.T) {
	src := minimal + `
[[fields]]
name = "idnp"
type = "idnp"
required = true
label = { ro = "IDNP" }
[[fields]]
name = "idno"
type = "idno"
label = { ro = "IDNO" }
[[fields]]
name = "tax"
type = "idn"
label = { ro = "Cod fiscal" }
[[fields]]
name = "born"
type = "date"
max = "past"
label = { ro = "Născut" }
[[fields]]
name = "valid_until"
type = "date"
min = "future"
label = { ro = "Valabil" }
[[fields]]
name = "year"
type = "number"
min = "1999"
max = "2026"
label = { ro = "An" }
[[fields]]
name = "kind"
type = "select"
label = { ro = "Fel" }
options = [{ value = "a", label = { ro = "A" } }]
[[fields]]
name = "mail"
type = "email"
label = { ro = "E-mail" }
[[fields]]
name = "phone"
type = "phone"
label = { ro = "Telefon" }
[[fields]]
name = "plate"
type = "text"
max_len = 7
pattern = "[A-Z]{3} ?[0-9]{3}"
label = { ro = "Număr" }
[[fields]]
name = "note"
type = "textarea"
label = { ro = "Notă" }
[[fields]]
name = "ok"
type = "checkbox"
required = true
label = { ro = "De acord" }
`
	s, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	today := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	good := map[string]string{"idnp": " 2006022048426 ", "idno": "1003600096694", "tax": "1003600096694", "born": "1990-02-28",
		"valid_until": "2026-12-05", "year": "2026", "kind": "a", "mail": "ion@example.md", "phone": "+373 69 123 456",
		"plate": "ABC 123", "note": "rândul 1\nrândul 2", "ok": "on"}
	clean, errs := s.Validate(good, today)
	if len(errs) != 0 {
		t.Fatalf("a good form: %v", errs)
	}
	if clean["idnp"] != "2006022048426" || clean["phone"] != "+37369123456" || clean["ok"] != "true" {
		t.Fatalf("clean: %v", clean)
	}
	bad := map[string]string{"idnp": "2006022048427", "idno": "2006022048426", "tax": "1234567890123", "born": "2026-12-06",
		"valid_until": "2026-12-04", "year": "1998", "kind": "b", "mail": "Ion <ion@example.md>", "phone": "12345",
		"plate": "AB-1234", "note": "a\x00b", "ok": ""}
	clean, errs = s.Validate(bad, today)
	got := map[string]string{}
	for _, e := range errs {
		got[e.Field] = e.Code
	}
	want := map[string]string{"idnp": ProblemIDNP, "idno": ProblemIDNO, "tax": ProblemIDN, "born": ProblemPast, "valid_until": ProblemFuture,
		"year": ProblemMin, "kind": ProblemOption, "mail": ProblemEmail, "phone": ProblemPhone, "plate": ProblemPattern,
		"note": ProblemText, "ok": ProblemRequired}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if clean["idnp"] != "2006022048427" {
		t.Errorf("a bad value is kept to show again: %v", clean)
	}
	if _, errs := s.Validate(map[string]string{"idnp": "2006022048426", "ok": "1", "plate": "ABCD 1234"}, today); len(errs) != 1 || errs[0].Code != ProblemTooLong || errs[0].Param != "7" {
		t.Errorf("too long: %v", errs)
	}
	if _, errs := s.Validate(map[string]string{"idnp": "2006022048426", "ok": "1", "born": "2026-02-30"}, today); len(errs) != 1 || errs[0].Code != ProblemDate {
		t.Errorf("no such date: %v", errs)
	}
}

// FuzzParse: no input makes the parser panic; what it accepts is a
// service with a code and a Romanian title.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	entries, _ := demoFS.ReadDir("demo")
	for _, e := range entries {
		b, _ := demoFS.ReadFile("demo/" + e.Name())
		f.Add(b)
	}
	f.Add([]byte("code = \"1\"\n[[fields]]\nname = 1\n"))
	f.Add([]byte("[fields]\n[[fields]]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("an error that is not ErrInvalid: %v", err)
			}
			return
		}
		if s.Code == "" || s.Title["ro"] == "" || len(s.OnBehalf) == 0 {
			t.Fatalf("accepted an incomplete service: %+v", s)
		}
		_, _ = s.Validate(map[string]string{"x": "y"}, time.Now())
	})
}

// TestInstitutions: the demo's back offices, and every problem of an
// institutions.toml named.
func TestInstitutions(t *testing.T) {
	c, err := Demo()
	if err != nil {
		t.Fatal(err)
	}
	sfs := c.Institution("1006601000439")
	if sfs == nil || !sfs.HasClerk("2004001000168") || sfs.HasClerk("2004001000157") || sfs.Name.In("en") != "State Tax Service" ||
		len(c.Institutions()) != 2 || c.Institution("1002600000515") != nil || len(c.ServicesOf("1006601000439")) != 1 {
		t.Fatalf("demo institutions: %+v", c.Institutions())
	}
	svc := "code = \"123\"\ndomain = { id = \"test\", name = { ro = \"T\" } }\nprovider = { idno = \"1003600011118\", name = { ro = \"P\" } }\n" +
		"title = { ro = \"S\" }\ndescription = { ro = \"D\" }\nresult = { ro = \"R\" }\n"
	for _, tc := range []struct{ file, want string }{
		{"[[institution]]\nidno = \"1006601000439\"\nclerks = [\"2004001000168\"]\n", "no service of the catalogue"},
		{"[[institution]]\nidno = \"1003600011118\"\nclerks = [\"2004001000160\"]\n", `clerk "2004001000160" is not a valid IDNP`},
		{"[[institution]]\nidno = \"1003600011118\"\nclerks = [\"1003600011118\"]\n", "not a valid IDNP"},
		{"[[institution]]\nidno = \"1003600011118\"\n", "no clerks"},
		{"[[institution]]\nidno = \"1003600011118\"\nclerks = [\"2004001000157\"]\n[[institution]]\nidno = \"1003600011118\"\nclerks = [\"2004001000168\"]\n", "named twice"},
		{"[[institution]]\nidno = \"1003600011118\"\nclerks = [\"2004001000157\", \"2004001000157\"]\n", "also works for"},
		{"[[institution]]\nidno = \"1003600011118\"\nclerks = [\"2004001000157\"]\nseal = { key = \"k.pem\" }\n", "needs both key and cert"},
		{"[[institution]]\nidno = \"1003600011118\"\nclerk = [\"2004001000157\"]\n", "unknown keys"},
		{"[[institution]\n", "institutions.toml"},
	} {
		_, err := Load(fstest.MapFS{"123.toml": {Data: []byte(svc)}, InstitutionsFile: {Data: []byte(tc.file)}})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), InstitutionsFile) {
			t.Errorf("%q: %v; want %q", tc.file, err, tc.want)
		}
	}
}
