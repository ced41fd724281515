package mpay

import (
	"embed"
	"fmt"
	"html/template"

	"github.com/semnat/semnat/i18n"
)

// The words of MPay's pages and receipts, Romanian first, are in
// locales/{ro,ru,en}.toml; NewCatalog refuses a message missing in a
// language.
//
//go:embed locales/*.toml
var localesFS embed.FS

//go:embed web
var webFS embed.FS

var catalog, pages = func() (*i18n.Catalog, *i18n.Templates) {
	cat, err := i18n.NewCatalog(localesFS, "locales")
	if err != nil {
		panic(fmt.Sprintf("mpay: messages: %v", err))
	}
	layout := "web/templates/layout.html"
	t, err := cat.Templates(webFS, template.FuncMap{
		"deref": func(p *int64) int64 { return *p },
		"money": FormatAmount,
	}, map[string][]string{
		"start":    {"web/templates/start.html", layout},
		"error":    {"web/templates/error.html", layout},
		"invoice":  {"web/templates/invoice.html", layout},
		"payment":  {"web/templates/payment.html", layout},
		"bank":     {"web/templates/bank.html", layout},
		"terminal": {"web/templates/terminal.html", layout},
		"mine":     {"web/templates/mine.html", layout},
		"staff":    {"web/templates/staff.html", layout},
	})
	if err != nil {
		panic(fmt.Sprintf("mpay: templates: %v", err))
	}
	return cat, t
}()

// text is the message id in lang (Romanian for an unknown language).
func text(lang, id string) string { return catalog.Localizer(lang).T(id) }
