// Package i18n gives the services' pages their languages: Romanian (the
// default), Russian and English, with messages in TOML files a translator
// can edit (github.com/nicksnyder/go-i18n/v2, CLDR plural forms).
//
// Each service package keeps its own messages: it embeds its
// locales/{ro,ru,en}.toml and builds a Catalog from them; the Catalog adds
// the shared messages of this package (ids starting "i18n.": the language
// switcher, units of time). A Catalog refuses message files where an id is
// missing in a language or a plural message lacks one of the language's
// forms, so a missing translation fails the service's start and its tests.
//
// The language of a request is chosen by ?lang=, then the "lang" cookie,
// then Accept-Language, then Romanian (Choose). Times are shown in
// Europe/Chisinau with the zone (the zone is embedded: time/tzdata), and a
// certificate's subject is shown as a person's name (PersonOf).
package i18n

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Default is the language of a request that asks for none of ours.
const Default = "ro"

// Langs are the pages' languages, the default first.
var Langs = []string{"ro", "ru", "en"}

var tags = []language.Tag{language.Romanian, language.Russian, language.English}

// pluralForms are the CLDR plural forms each language's plural messages
// must have (cardinal numbers).
var pluralForms = map[string][]string{
	"ro": {"one", "few", "other"},
	"ru": {"one", "few", "many", "other"},
	"en": {"one", "other"},
}

// sharedPrefix starts the ids of this package's own messages; a service's
// files may not use it.
const sharedPrefix = "i18n."

//go:embed locales/*.toml
var sharedFS embed.FS

// ErrMessages is wrapped by every error about a catalog's message files.
var ErrMessages = errors.New("i18n: message files")

// Catalog holds one package's messages in every language, with the shared
// ones. It is safe for concurrent use once built.
type Catalog struct {
	bundle *goi18n.Bundle
	ids    []string // sorted, shared ones included
	plural map[string]bool
}

// NewCatalog loads the message files dir/ro.toml, dir/ru.toml and
// dir/en.toml from fsys (usually the package's embedded locales
// directory) beside the shared messages. It fails, naming the file and the
// id, on a file that is missing or does not parse, an id missing in a
// language, a plural message without one of its language's forms, or an
// id starting "i18n.".
func NewCatalog(fsys fs.FS, dir string) (*Catalog, error) {
	c := &Catalog{bundle: goi18n.NewBundle(language.Romanian), plural: map[string]bool{}}
	c.bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	byLang := map[string]map[string]*goi18n.Message{}
	for _, lang := range Langs {
		byLang[lang] = map[string]*goi18n.Message{}
		for _, src := range []struct {
			fsys   fs.FS
			file   string
			shared bool
		}{{sharedFS, "locales/" + lang + ".toml", true}, {fsys, path.Join(dir, lang+".toml"), false}} {
			buf, err := fs.ReadFile(src.fsys, src.file)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrMessages, src.file, err)
			}
			mf, err := goi18n.ParseMessageFileBytes(buf, src.file, map[string]goi18n.UnmarshalFunc{"toml": toml.Unmarshal})
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrMessages, src.file, err)
			}
			for _, m := range mf.Messages {
				if strings.HasPrefix(m.ID, sharedPrefix) != src.shared {
					return nil, fmt.Errorf("%w: %s: id %q: the prefix %q is the shared messages' own", ErrMessages, src.file, m.ID, sharedPrefix)
				}
				if _, dup := byLang[lang][m.ID]; dup {
					return nil, fmt.Errorf("%w: %s: id %q twice", ErrMessages, src.file, m.ID)
				}
				byLang[lang][m.ID] = m
			}
			if err := c.bundle.AddMessages(tags[slices.Index(Langs, lang)], mf.Messages...); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrMessages, src.file, err)
			}
		}
	}
	var problems []string
	for id, m := range byLang[Default] {
		c.ids = append(c.ids, id)
		c.plural[id] = m.One != "" || m.Few != "" || m.Many != ""
	}
	sort.Strings(c.ids)
	for _, lang := range Langs {
		for id := range byLang[lang] {
			if _, ok := byLang[Default][id]; !ok {
				problems = append(problems, fmt.Sprintf("%s: %q is not in %s.toml", lang, id, Default))
			}
		}
		for _, id := range c.ids {
			m, ok := byLang[lang][id]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s: %q is missing", lang, id))
			case c.plural[id]:
				for _, f := range pluralForms[lang] {
					if form(m, f) == "" {
						problems = append(problems, fmt.Sprintf("%s: plural %q has no %q form", lang, id, f))
					}
				}
			case m.Other == "":
				problems = append(problems, fmt.Sprintf("%s: %q is empty", lang, id))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("%w under %s: %s", ErrMessages, dir, strings.Join(problems, "; "))
	}
	return c, nil
}

func form(m *goi18n.Message, f string) string {
	switch f {
	case "one":
		return m.One
	case "few":
		return m.Few
	case "many":
		return m.Many
	}
	return m.Other
}

// IDs are the catalog's message ids, sorted, the shared ones included
// (tests look for them in rendered pages: an id on a page is a message
// that was not found).
func (c *Catalog) IDs() []string { return slices.Clone(c.ids) }

// Localizer gives the messages, times and names in lang (one of Langs;
// anything else is the default).
func (c *Catalog) Localizer(lang string) *Localizer {
	if !slices.Contains(Langs, lang) {
		lang = Default
	}
	return &Localizer{Lang: lang, cat: c, loc: goi18n.NewLocalizer(c.bundle, lang)}
}
