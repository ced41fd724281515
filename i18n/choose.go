package i18n

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

// Param is the query parameter and Cookie the cookie that choose a
// language.
const (
	Param  = "lang"
	Cookie = "lang"
)

var matcher = language.NewMatcher(tags)

// Pick is the request's language: ?lang= when it is one of Langs, then
// the lang cookie, then the best of Accept-Language, then Default.
func Pick(r *http.Request) string {
	if l := strings.ToLower(r.URL.Query().Get(Param)); slices.Contains(Langs, l) {
		return l
	}
	if c, err := r.Cookie(Cookie); err == nil && slices.Contains(Langs, c.Value) {
		return c.Value
	}
	if al := r.Header.Get("Accept-Language"); al != "" {
		if want, _, err := language.ParseAcceptLanguage(al); err == nil && len(want) > 0 {
			if _, i, conf := matcher.Match(want...); conf != language.No {
				return Langs[i]
			}
		}
	}
	return Default
}

// Choose is Pick, and when ?lang= chose the language it is remembered in
// the lang cookie (a year, the whole site) so that the next pages keep it.
// It also sets Content-Language and adds Vary for caches.
func Choose(w http.ResponseWriter, r *http.Request) string {
	lang := Pick(r)
	if l := strings.ToLower(r.URL.Query().Get(Param)); l == lang {
		if c, err := r.Cookie(Cookie); err != nil || c.Value != lang {
			http.SetCookie(w, &http.Cookie{Name: Cookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
		}
	}
	h := w.Header()
	h.Set("Content-Language", lang)
	h.Add("Vary", "Accept-Language, Cookie")
	return lang
}

// LangLink is one entry of the language switcher.
type LangLink struct {
	Lang    string // ro, ru, en
	Name    string // the language's own name: Română, Русский, English
	URL     string // this page in that language
	Current bool
}

var langNames = map[string]string{"ro": "Română", "ru": "Русский", "en": "English"}

// Links are the language switcher's entries for the page r asked for:
// the same path and query with lang set to each language.
func Links(r *http.Request, current string) []LangLink {
	out := make([]LangLink, 0, len(Langs))
	for _, l := range Langs {
		q := r.URL.Query()
		q.Set(Param, l)
		u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		out = append(out, LangLink{Lang: l, Name: langNames[l], URL: u.String(), Current: l == current})
	}
	return out
}
