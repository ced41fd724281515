package portal

import (
	"embed"
	"fmt"
	"strconv"
	"strings"

	"github.com/semnat/semnat/i18n"
	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/portal/catalog"
)

// Every word the portal's pages and documents show is in locales/ro.toml
// (Romanian, the default), ru.toml and en.toml, under [portal]; the i18n
// catalogue refuses a file that lacks one.
//
//go:embed locales/*.toml
var localesFS embed.FS

// messages is the portal's catalogue of words.
var messages = func() *i18n.Catalog {
	c, err := i18n.NewCatalog(localesFS, "locales")
	if err != nil {
		panic(err) // the embedded files are fixed at build time; TestTexts reads them
	}
	return c
}()

// words are the portal's texts by language and key (the id less
// "portal."), made once.
var words = func() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, lang := range i18n.Langs {
		loc := messages.Localizer(lang)
		out[lang] = map[string]string{}
		for _, id := range messages.IDs() {
			if k, ok := strings.CutPrefix(id, "portal."); ok {
				out[lang][k] = loc.T(id)
			}
		}
	}
	return out
}()

// wording is the texts in lang (Romanian for another language).
func wording(lang string) map[string]string {
	if w, ok := words[lang]; ok {
		return w
	}
	return words[i18n.Default]
}

// problemText words a form field's problem in lang.
func problemText(lang string, e catalog.FieldError) string {
	id := "portal.p-" + e.Code
	if _, ok := wording(lang)["p-"+e.Code]; !ok {
		return e.Code
	}
	return messages.Localizer(lang).T(id, "N", e.Param)
}

// money shows bani as lei: 17600 → "176,00 lei".
func money(w map[string]string, bani int64) string {
	if bani == 0 {
		return w["Free"]
	}
	return strconv.FormatInt(bani/100, 10) + "," + fmt.Sprintf("%02d", bani%100) + " " + w["Lei"]
}

// stateText words a state with its reason.
func stateText(w map[string]string, st application.State, reason string) string {
	s := w[string(st)]
	if reason != "" {
		s += " (" + w[reason] + ")"
	}
	return s
}
