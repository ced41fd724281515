package i18n

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func testCatalog(t *testing.T) *Catalog {
	t.Helper()
	c, err := NewCatalog(os.DirFS("testdata"), "locales")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCatalogMessages(t *testing.T) {
	c := testCatalog(t)
	for _, tc := range []struct {
		lang, title, hello string
		docs               map[int]string
	}{
		{"ro", "Semnează", "Bună ziua, Ion!", map[int]string{1: "1 document", 2: "2 documente", 19: "19 documente", 20: "20 de documente", 101: "101 documente", 120: "120 de documente"}},
		{"ru", "Подписать", "Здравствуйте, Ion!", map[int]string{1: "1 документ", 3: "3 документа", 5: "5 документов", 21: "21 документ", 11: "11 документов"}},
		{"en", "Sign", "Hello, Ion!", map[int]string{1: "1 document", 2: "2 documents"}},
	} {
		l := c.Localizer(tc.lang)
		if got := l.T("page.title"); got != tc.title {
			t.Errorf("%s title: %q, want %q", tc.lang, got, tc.title)
		}
		if got := l.T("page.hello", "Name", "Ion"); got != tc.hello {
			t.Errorf("%s hello: %q, want %q", tc.lang, got, tc.hello)
		}
		for n, want := range tc.docs {
			if got := l.N("docs", n); got != want {
				t.Errorf("%s docs %d: %q, want %q", tc.lang, n, got, want)
			}
		}
		if got := l.T("i18n.language"); got == "i18n.language" || got == "" {
			t.Errorf("%s: the shared messages are not loaded: %q", tc.lang, got)
		}
	}
	if got := c.Localizer("de").Lang; got != "ro" {
		t.Errorf("an unknown language gives %q, want ro", got)
	}
	if got := c.Localizer("en").T("no.such.id"); got != "no.such.id" {
		t.Errorf("an unknown id gives %q, want the id", got)
	}
	ids := c.IDs()
	for _, want := range []string{"page.title", "docs", "i18n.unit.min"} {
		if !strings.Contains(strings.Join(ids, " "), want) {
			t.Errorf("IDs lack %q: %v", want, ids)
		}
	}
}

// TestCatalogRefusesGaps: a message missing in a language, or a plural
// form a language needs, fails the catalog (and so the service's start).
func TestCatalogRefusesGaps(t *testing.T) {
	for dir, want := range map[string]string{
		"missing": `ru: "page.hello" is missing`,
		"plural":  `ru: plural "docs" has no "many" form`,
		"nothere": "ro.toml",
	} {
		_, err := NewCatalog(os.DirFS("testdata"), dir)
		if !errors.Is(err, ErrMessages) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrMessages naming %s", dir, err, want)
		}
	}
}

// TestSharedMessagesComplete checks this package's own files.
func TestSharedMessagesComplete(t *testing.T) {
	if _, err := NewCatalog(sharedFSWithout(), "."); err != nil {
		t.Fatal(err)
	}
}

// sharedFSWithout is an empty set of package messages.
func sharedFSWithout() fsMap {
	return fsMap{"ro.toml": "", "ru.toml": "", "en.toml": ""}
}

func TestPick(t *testing.T) {
	for _, tc := range []struct {
		query, cookie, accept, want string
	}{
		{"", "", "", "ro"},
		{"ru", "en", "en", "ru"},
		{"EN", "", "", "en"},
		{"de", "ru", "", "ru"},
		{"", "en", "ru", "en"},
		{"", "xx", "ru-RU,ru;q=0.9", "ru"},
		{"", "", "de-DE,en;q=0.5", "en"},
		{"", "", "ro-MD,ro;q=0.9,en;q=0.8", "ro"},
		{"", "", "fr", "ro"},
		{"", "", ";;;garbage", "ro"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/sign?lang="+tc.query, nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: Cookie, Value: tc.cookie})
		}
		r.Header.Set("Accept-Language", tc.accept)
		if got := Pick(r); got != tc.want {
			t.Errorf("?lang=%s cookie %s Accept-Language %q: %s, want %s", tc.query, tc.cookie, tc.accept, got, tc.want)
		}
	}
}

func TestChooseRemembers(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/verify?lang=ru", nil)
	if got := Choose(w, r); got != "ru" {
		t.Fatalf("Choose: %s", got)
	}
	res := w.Result()
	if len(res.Cookies()) != 1 || res.Cookies()[0].Value != "ru" || res.Cookies()[0].Path != "/" {
		t.Fatalf("cookie: %v", res.Cookies())
	}
	if res.Header.Get("Content-Language") != "ru" {
		t.Errorf("Content-Language: %q", res.Header.Get("Content-Language"))
	}
	// Without ?lang= nothing is set.
	w = httptest.NewRecorder()
	Choose(w, httptest.NewRequest(http.MethodGet, "/verify", nil))
	if len(w.Result().Cookies()) != 0 {
		t.Errorf("a cookie without ?lang=: %v", w.Result().Cookies())
	}
}

func TestLinks(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/login?tx=a%26b&lang=en", nil)
	links := Links(r, "en")
	if len(links) != 3 || links[0].URL != "/login?lang=ro&tx=a%26b" || links[1].Name != "Русский" || !links[2].Current || links[0].Current {
		t.Fatalf("links: %+v", links)
	}
}

func TestTimeInChisinau(t *testing.T) {
	c := testCatalog(t)
	winter := time.Date(2026, 12, 5, 11, 30, 2, 0, time.UTC)
	summer := time.Date(2026, 7, 1, 21, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		lang string
		t    any
		want string
	}{
		{"ro", winter, "05.12.2026 13:30:02 EET"},
		{"ru", &summer, "02.07.2026 00:05:00 EEST"},
		{"en", summer, "2 Jul 2026 00:05:00 EEST"},
		{"ro", time.Time{}, ""},
		{"ro", (*time.Time)(nil), ""},
	} {
		if got := c.Localizer(tc.lang).Time(tc.t); got != tc.want {
			t.Errorf("%s %v: %q, want %q", tc.lang, tc.t, got, tc.want)
		}
	}
	if got := c.Localizer("ro").Date(winter); got != "05.12.2026" {
		t.Errorf("date: %q", got)
	}
	for d, want := range map[time.Duration]string{-time.Second: "0 с", 65 * time.Second: "1 мин 05 с", 2*time.Hour + 3*time.Minute: "2 ч 03 мин"} {
		if got := c.Localizer("ru").Duration(d); got != want {
			t.Errorf("duration %v: %q, want %q", d, got, want)
		}
	}
}

func TestPersonOf(t *testing.T) {
	given := pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 42}, Value: "Ștefan"}
	surname := pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 4}, Value: "Țurcanu"}
	withNames := pkix.Name{CommonName: "Ștefan Țurcanu", SerialNumber: "2004001000032", Country: []string{"MD"},
		Organization: []string{"SRL Exemplu, Chișinău 1003600012344"}, ExtraNames: []pkix.AttributeTypeAndValue{given, surname}}
	for _, tc := range []struct {
		name    string
		subject any
		want    Person
	}{
		{"pkix.Name", withNames, Person{Name: "Ștefan Țurcanu", IDNP: "2004001000032", Organization: "SRL Exemplu, Chișinău", IDNO: "1003600012344"}},
		{"its RFC 4514 string", withNames.String(), Person{Name: "Ștefan Țurcanu", IDNP: "2004001000032", Organization: "SRL Exemplu, Chișinău", IDNO: "1003600012344"}},
		{"CN with a tag", "CN=Popescu Ion (IDNP: 2004001000010),C=MD", Person{Name: "Popescu Ion", IDNP: "2004001000010"}},
		{"CN with a glued tag", "CN=Ion Popescu IDNP:2004001000010", Person{Name: "Ion Popescu", IDNP: "2004001000010"}},
		{"ETSI semantics serial", "SERIALNUMBER=PNOMD-2004001000010,CN=Ion Popescu PNOMD-2004001000010", Person{Name: "Ion Popescu", IDNP: "2004001000010"}},
		{"escaped comma and hex", `CN=Rusu\, Maria,O=\C8\98coala nr. 1`, Person{Name: "Rusu, Maria", Organization: "Școala nr. 1"}},
		{"only a CN", "CN=semnat Test TSA (ECDSA),O=semnat test PKI", Person{Name: "semnat Test TSA (ECDSA)", Organization: "semnat test PKI"}},
		{"OpenSSL names", "GN=Ana, SN=Ciobanu, CN=ignored", Person{Name: "Ana Ciobanu"}},
		{"garbage", "=,,\\", Person{}},
		{"bad hex", "CN=#zz", Person{}},
		{"nil", nil, Person{}},
	} {
		if got := PersonOf(tc.subject); got != tc.want {
			t.Errorf("%s: %#v, want %#v", tc.name, got, tc.want)
		}
	}
	if s := (Person{Name: "Ion", Organization: "SRL X"}).String(); s != "Ion, SRL X" {
		t.Errorf("String: %q", s)
	}
}

func FuzzPersonOf(f *testing.F) {
	for _, s := range []string{"CN=Ion Popescu,SERIALNUMBER=2004001000010", `CN=a\,b+O=x 1003600012344`, "2.5.4.42=#0c03496f6e", "CN=\\", "CN=#0c", "O=\\zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dn string) {
		p := PersonOf(dn)
		for _, d := range []string{p.IDNP, p.IDNO} {
			if d != "" && len(d) != 13 {
				t.Fatalf("%q: number %q", dn, d)
			}
		}
	})
}

func TestTemplates(t *testing.T) {
	c := testCatalog(t)
	tpl, err := c.Templates(os.DirFS("testdata/pages"), nil, map[string][]string{"page": {"layout.html", "page.html"}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/p?x=1", nil)
	data := map[string]any{"Name": "<Ion>", "Count": 5, "When": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "Subject": "CN=Ion Popescu 2004001000010", "Langs": Links(r, "ru")}
	var b bytes.Buffer
	if err := tpl.Execute(&b, "ru", "page", data); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{`<html lang="ru">`, "Здравствуйте, &lt;Ion&gt;!", "5 документов", "02.01.2026 05:04:05 EET", ">Ion Popescu<", `aria-label="Язык"`, `href="/p?lang=en&amp;x=1"`, `aria-current="true">Русский`, ">page.nope<"} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q:\n%s", want, out)
		}
	}
	if _, err := c.Templates(os.DirFS("testdata/pages"), map[string]any{"T": strings.ToUpper}, map[string][]string{"page": {"page.html"}}); err == nil {
		t.Error("an extra function replaced T")
	}
}
