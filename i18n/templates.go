package i18n

import (
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"path"
)

// switcher is the language switcher partial every page set gets:
// {{template "lang-switcher" .Langs}} with .Langs from Links.
const switcher = `{{define "lang-switcher"}}<nav class="langs" aria-label="{{T "i18n.language"}}">` +
	`{{range .}}<a href="{{.URL}}" hreflang="{{.Lang}}" lang="{{.Lang}}"{{if .Current}} aria-current="true"{{end}}>{{.Name}}</a> {{end}}</nav>{{end}}`

// Templates are a package's pages parsed once per language, each set's
// functions (Localizer.Funcs) bound to its language.
type Templates struct {
	sets map[string]map[string]*template.Template // lang → page → template
}

// Templates parses pages (a page's name → its files in fsys, the first
// being the one executed, the others its layouts and partials) once per
// language, with the functions of Localizer.Funcs, the extra ones (which
// may not replace those) and the "lang-switcher" partial.
func (c *Catalog) Templates(fsys fs.FS, extra template.FuncMap, pages map[string][]string) (*Templates, error) {
	t := &Templates{sets: map[string]map[string]*template.Template{}}
	for _, lang := range Langs {
		funcs := c.Localizer(lang).Funcs()
		for k, f := range extra {
			if _, taken := funcs[k]; taken {
				return nil, fmt.Errorf("i18n: template function %q is the package's own", k)
			}
			funcs[k] = f
		}
		t.sets[lang] = map[string]*template.Template{}
		for name, files := range pages {
			if len(files) == 0 {
				return nil, fmt.Errorf("i18n: page %s has no files", name)
			}
			tpl, err := template.New(path.Base(files[0])).Funcs(funcs).ParseFS(fsys, files...)
			if err == nil {
				_, err = tpl.New("lang-switcher").Parse(switcher)
			}
			if err != nil {
				return nil, fmt.Errorf("i18n: page %s: %w", name, err)
			}
			t.sets[lang][name] = tpl.Lookup(path.Base(files[0]))
		}
	}
	return t, nil
}

// Execute writes page in lang (the default for another) with data.
func (t *Templates) Execute(w io.Writer, lang, page string, data any) error {
	set, ok := t.sets[lang]
	if !ok {
		set = t.sets[Default]
	}
	tpl, ok := set[page]
	if !ok {
		return fmt.Errorf("i18n: no page %q", page)
	}
	return tpl.Execute(w, data)
}

// Lookup is page's template in lang, nil when there is none (for a
// template executed on its own, such as a fragment).
func (t *Templates) Lookup(lang, page string) *template.Template {
	return t.sets[lang][page]
}
