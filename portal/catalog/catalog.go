// Package catalog is the portal's catalogue of public services: each
// service is one TOML file (the format is documented in FORMAT.md beside
// this file) with its description, required documents, cost in bani,
// duration, provider, domain, the form an applicant fills, who may apply
// on whose behalf and the text of the result. The demo's services are
// embedded (Demo); an operator keeps their own in a directory (LoadDir).
//
// A catalogue is read-only once loaded: browse it by domain or provider,
// search it (diacritics and case do not matter), and check an applicant's
// form against a service's fields (Service.Validate).
package catalog

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"
	"unicode"

	"github.com/BurntSushi/toml"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/semnat/semnat/idn"
)

// Langs are the catalogue's languages, the default first.
var Langs = []string{"ro", "ru", "en"}

// ErrInvalid is wrapped by every error about a service file.
var ErrInvalid = errors.New("catalog: invalid service definition")

// ErrNotFound: no service of that code.
var ErrNotFound = errors.New("catalog: no such service")

// MaxFile bounds one service file.
const MaxFile = 256 << 10

// Text is a text in each language: ro is required, ru and en fall back
// to it.
type Text map[string]string

// In is t in lang, or in Romanian when it has none in lang.
func (t Text) In(lang string) string {
	if s := t[lang]; s != "" {
		return s
	}
	return t["ro"]
}

// Domain is a field of public life services are grouped by.
type Domain struct {
	ID   string `toml:"id"` // short, lower case: "justitie"
	Name Text   `toml:"name"`
}

// Provider is the public body that renders a service.
type Provider struct {
	IDNO string `toml:"idno"`
	Name Text   `toml:"name"`
}

// OnBehalf is for whom an applicant may apply.
type OnBehalf string

const (
	Self    OnBehalf = "self"    // for oneself
	Person  OnBehalf = "person"  // for another person: a power of the service's authorization type (MPower)
	Company OnBehalf = "company" // for a company: as its administrator, or with a power
)

// Delivery is how the result reaches the applicant.
type Delivery string

const (
	MCabinet Delivery = "mcabinet" // in the citizen's cabinet (electronic)
	Pickup   Delivery = "pickup"   // at the provider's office
	Courier  Delivery = "courier"  // by post or courier
)

// Service is one public service.
type Service struct {
	Code        string   `toml:"code"` // digits, as the file's name: "021001121"
	Title       Text     `toml:"title"`
	Description Text     `toml:"description"`
	Domain      Domain   `toml:"domain"`
	Provider    Provider `toml:"provider"`
	Documents   []Text   `toml:"documents"`     // the documents an applicant attaches
	Cost        int64    `toml:"cost"`          // bani (1 leu = 100 bani); 0: free
	Days        int      `toml:"duration_days"` // working days to the result
	// Authorization is the MPower authorization type that lets someone
	// apply on another's behalf ("AT-0000001"); required for "person".
	Authorization string     `toml:"authorization"`
	OnBehalf      []OnBehalf `toml:"on_behalf"` // default: self only
	Delivery      []Delivery `toml:"delivery"`  // default: mcabinet only
	Fields        []Field    `toml:"fields"`
	// Result is the text of the document issued (Go text/template over
	// the form's fields by name, .Applicant, .Beneficiary, .Code), by
	// language.
	Result Text `toml:"result"`

	results map[string]*template.Template
}

// Allows tells whether applying on behalf of ob is possible.
func (s *Service) Allows(ob OnBehalf) bool { return slices.Contains(s.OnBehalf, ob) }

// Offers tells whether the result can be delivered by d.
func (s *Service) Offers(d Delivery) bool { return slices.Contains(s.Delivery, d) }

// Free tells whether the service costs nothing.
func (s *Service) Free() bool { return s.Cost == 0 }

// Catalog is a loaded catalogue.
type Catalog struct {
	services []*Service // by code
	byCode   map[string]*Service
	folded   map[string][]string // code → the searchable words in each language
	// domains and providers by language, sorted once
	domains   map[string][]Domain
	providers map[string][]Provider
	// institutions are the providers with a back office (institutions.go)
	institutions map[string]*Institution
}

//go:embed demo/*.toml
var demoFS embed.FS

// Demo is the demo's catalogue (about ten services), embedded.
func Demo() (*Catalog, error) {
	sub, err := fs.Sub(demoFS, "demo")
	if err != nil {
		return nil, err
	}
	return Load(sub)
}

// LoadDir loads the *.toml files of an operator's directory.
func LoadDir(dir string) (*Catalog, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("catalog: %s is not a directory: give the directory of the service files (one NNN.toml per service)", dir)
	}
	return Load(os.DirFS(dir))
}

// Load reads every *.toml file at the top of fsys: one service each. All
// errors are reported together, each naming its file.
func Load(fsys fs.FS) (*Catalog, error) {
	names, err := fs.Glob(fsys, "*.toml")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no *.toml service file found", ErrInvalid)
	}
	var list []*Service
	var errs []error
	for _, n := range names {
		if n == InstitutionsFile {
			continue // the back office's clerks (institutions.go)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
			continue
		}
		s, err := Parse(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
			continue
		}
		if want := strings.TrimSuffix(path.Base(n), ".toml"); s.Code != want {
			errs = append(errs, fmt.Errorf("%s: %w: code %q differs from the file's name (name the file %s.toml)", n, ErrInvalid, s.Code, s.Code))
			continue
		}
		list = append(list, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c, err := New(list)
	if err != nil {
		return nil, err
	}
	return c, c.loadInstitutions(fsys)
}

// New makes a catalogue of services already parsed: codes must be unique,
// and a domain or provider must have the same names in every service.
func New(list []*Service) (*Catalog, error) {
	c := &Catalog{byCode: map[string]*Service{}, folded: map[string][]string{}, domains: map[string][]Domain{}, providers: map[string][]Provider{}}
	domains, providers := map[string]*Service{}, map[string]*Service{}
	var errs []error
	for _, s := range list {
		if _, dup := c.byCode[s.Code]; dup {
			errs = append(errs, fmt.Errorf("%w: service code %s is used twice", ErrInvalid, s.Code))
			continue
		}
		if o, ok := domains[s.Domain.ID]; ok && !sameText(o.Domain.Name, s.Domain.Name) {
			errs = append(errs, fmt.Errorf("%w: service %s names domain %q differently from service %s", ErrInvalid, s.Code, s.Domain.ID, o.Code))
		}
		if o, ok := providers[s.Provider.IDNO]; ok && !sameText(o.Provider.Name, s.Provider.Name) {
			errs = append(errs, fmt.Errorf("%w: service %s names provider %s differently from service %s", ErrInvalid, s.Code, s.Provider.IDNO, o.Code))
		}
		domains[s.Domain.ID], providers[s.Provider.IDNO] = s, s
		c.byCode[s.Code] = s
		c.services = append(c.services, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(c.services, func(i, j int) bool { return c.services[i].Code < c.services[j].Code })
	for _, l := range Langs {
		c.domains[l], c.providers[l] = c.sortedDomains(l), c.sortedProviders(l)
	}
	for _, s := range c.services {
		for _, l := range Langs {
			c.folded[s.Code] = append(c.folded[s.Code], Fold(strings.Join([]string{s.Code, s.Title.In(l), s.Description.In(l),
				s.Provider.Name.In(l), s.Domain.Name.In(l)}, " ")))
		}
	}
	return c, nil
}

func sameText(a, b Text) bool {
	for _, l := range Langs {
		if a[l] != b[l] {
			return false
		}
	}
	return true
}

// Services lists every service, by code.
func (c *Catalog) Services() []*Service { return slices.Clone(c.services) }

// Service is the service of code.
func (c *Catalog) Service(code string) (*Service, error) {
	s, ok := c.byCode[code]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, code)
	}
	return s, nil
}

// Domains lists the domains of the services, by their name in lang.
func (c *Catalog) Domains(lang string) []Domain {
	if d, ok := c.domains[lang]; ok {
		return slices.Clone(d)
	}
	return c.sortedDomains(lang)
}

func (c *Catalog) sortedDomains(lang string) []Domain {
	seen := map[string]bool{}
	var out []Domain
	for _, s := range c.services {
		if !seen[s.Domain.ID] {
			seen[s.Domain.ID] = true
			out = append(out, s.Domain)
		}
	}
	sort.Slice(out, func(i, j int) bool { return collate(out[i].Name.In(lang), out[j].Name.In(lang)) })
	return out
}

// Providers lists the providers of the services, by their name in lang.
func (c *Catalog) Providers(lang string) []Provider {
	if p, ok := c.providers[lang]; ok {
		return slices.Clone(p)
	}
	return c.sortedProviders(lang)
}

func (c *Catalog) sortedProviders(lang string) []Provider {
	seen := map[string]bool{}
	var out []Provider
	for _, s := range c.services {
		if !seen[s.Provider.IDNO] {
			seen[s.Provider.IDNO] = true
			out = append(out, s.Provider)
		}
	}
	sort.Slice(out, func(i, j int) bool { return collate(out[i].Name.In(lang), out[j].Name.In(lang)) })
	return out
}

func collate(a, b string) bool { return Fold(a) < Fold(b) }

// Query selects services: all of its non-empty parts must match.
type Query struct {
	Domain   string // a domain id
	Provider string // a provider's IDNO
	Text     string // words, each found in the code, title, description, provider or domain (any language)
}

// Find lists the services that match q, by code.
func (c *Catalog) Find(q Query) []*Service {
	words := strings.Fields(Fold(q.Text))
	var out []*Service
	for _, s := range c.services {
		if q.Domain != "" && s.Domain.ID != q.Domain || q.Provider != "" && s.Provider.IDNO != q.Provider {
			continue
		}
		if len(words) > 0 && !slices.ContainsFunc(c.folded[s.Code], func(f string) bool { return containsAll(f, words) }) {
			continue
		}
		out = append(out, s)
	}
	return out
}

func containsAll(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// Fold is s as search compares it: lower case, without diacritics
// ("Înmatriculare, ș" → "inmatriculare, s"), Cyrillic kept.
func Fold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return strings.ToLower(out)
}

var (
	reCode      = regexp.MustCompile(`^[0-9]{3,12}$`)
	reDomainID  = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)
	reFieldName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	reAuthType  = regexp.MustCompile(`^AT-[0-9]{7}$`)
)

// Parse reads one service file and checks it whole; the error lists every
// problem found, each with where it is.
func Parse(data []byte) (*Service, error) {
	if len(data) > MaxFile {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrInvalid, len(data), MaxFile)
	}
	if !utfValid(data) {
		return nil, fmt.Errorf("%w: not UTF-8 text", ErrInvalid)
	}
	var s Service
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&s)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: line %d: %s", ErrInvalid, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var keys []string
		for _, k := range und {
			keys = append(keys, k.String())
		}
		return nil, fmt.Errorf("%w: unknown keys %s (see FORMAT.md)", ErrInvalid, strings.Join(keys, ", "))
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

func utfValid(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }

// check fills the defaults and reports every problem of s.
func (s *Service) check() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if !reCode.MatchString(s.Code) {
		bad("code %q: want 3 to 12 digits", s.Code)
	}
	checkText := func(where string, t Text, required bool) {
		if required && strings.TrimSpace(t["ro"]) == "" {
			bad("%s: the Romanian text (ro) is required", where)
		}
		for l := range t {
			if !slices.Contains(Langs, l) {
				bad("%s: language %q: want ro, ru or en", where, l)
			}
		}
	}
	checkText("title", s.Title, true)
	checkText("description", s.Description, true)
	if !reDomainID.MatchString(s.Domain.ID) {
		bad("domain.id %q: want a short lower-case id (letters, digits, -)", s.Domain.ID)
	}
	checkText("domain.name", s.Domain.Name, true)
	if idn.KindOf(s.Provider.IDNO) != idn.Entity {
		bad("provider.idno %q: not a valid IDNO (13 digits starting with 1, with its check digit)", s.Provider.IDNO)
	}
	checkText("provider.name", s.Provider.Name, true)
	for i, d := range s.Documents {
		checkText(fmt.Sprintf("documents[%d]", i), d, true)
	}
	if s.Cost < 0 || s.Cost > 100_000_000 {
		bad("cost %d: want bani from 0 (free) to 100000000", s.Cost)
	}
	if s.Days < 0 || s.Days > 365 {
		bad("duration_days %d: want 0 to 365", s.Days)
	}
	if s.Authorization != "" && !reAuthType.MatchString(s.Authorization) {
		bad("authorization %q: want an MPower authorization type, AT- and 7 digits", s.Authorization)
	}
	if len(s.OnBehalf) == 0 {
		s.OnBehalf = []OnBehalf{Self}
	}
	for _, ob := range s.OnBehalf {
		switch ob {
		case Self, Company:
		case Person:
			if s.Authorization == "" {
				bad("on_behalf \"person\" needs an authorization type (the power MPower checks)")
			}
		default:
			bad("on_behalf %q: want self, person or company", ob)
		}
	}
	if len(s.Delivery) == 0 {
		s.Delivery = []Delivery{MCabinet}
	}
	for _, d := range s.Delivery {
		if d != MCabinet && d != Pickup && d != Courier {
			bad("delivery %q: want mcabinet, pickup or courier", d)
		}
	}
	names := map[string]bool{}
	for i := range s.Fields {
		f := &s.Fields[i]
		where := fmt.Sprintf("fields[%d] (%s)", i, f.Name)
		if !reFieldName.MatchString(f.Name) {
			bad("%s: name: want lower-case letters, digits and _ (at most 32)", where)
		}
		if names[f.Name] {
			bad("%s: the name is used twice", where)
		}
		names[f.Name] = true
		checkText(where+".label", f.Label, true)
		checkText(where+".help", f.Help, false)
		for _, p := range f.check() {
			bad("%s: %s", where, p)
		}
	}
	checkText("result", s.Result, true)
	s.results = map[string]*template.Template{}
	for l, src := range s.Result {
		t, err := template.New(l).Option("missingkey=error").Parse(src)
		if err != nil {
			bad("result.%s: %v", l, err)
			continue
		}
		if err := t.Execute(discard{}, s.sampleResultData()); err != nil {
			bad("result.%s: %v (the template may use .Code, .Applicant, .Beneficiary, .Date and the fields by name)", l, err)
			continue
		}
		s.results[l] = t
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// ResultData is what a result template is filled with.
type ResultData struct {
	Code        string            // the application's number
	Applicant   string            // name and IDNP
	Beneficiary string            // name and IDNP/IDNO of whom it is for
	Date        string            // of issue, YYYY-MM-DD
	Fields      map[string]string // the form, by field name
}

func (s *Service) sampleResultData() map[string]any {
	m := map[string]any{"Code": "X", "Applicant": "X", "Beneficiary": "X", "Date": "2026-01-01"}
	for _, f := range s.Fields {
		m[f.Name] = "x"
	}
	return m
}

// RenderResult is the result's text in lang for d.
func (s *Service) RenderResult(lang string, d ResultData) (string, error) {
	t := s.results[lang]
	if t == nil {
		t = s.results["ro"]
	}
	if t == nil {
		return "", fmt.Errorf("catalog: service %s has no result text", s.Code)
	}
	m := map[string]any{"Code": d.Code, "Applicant": d.Applicant, "Beneficiary": d.Beneficiary, "Date": d.Date}
	for _, f := range s.Fields {
		m[f.Name] = d.Fields[f.Name]
	}
	var b strings.Builder
	if err := t.Execute(&b, m); err != nil {
		return "", fmt.Errorf("catalog: result of %s: %w", s.Code, err)
	}
	return b.String(), nil
}
