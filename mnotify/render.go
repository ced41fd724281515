package mnotify

import (
	"fmt"
	"html"
	"strings"

	"github.com/semnat/semnat/mnotify/client"
)

// render fills the {{Name}} placeholders of text from vars (AGE's template
// syntax: a name of letters, digits, '_' and '.', spaces around it
// allowed). A placeholder without a variable, or "{{" without its "}}", is
// an error: a notification is not sent with a hole in it. In an HTML text
// the values are escaped. With vars nil only the syntax is checked.
func render(text string, vars map[string]string, escapeHTML bool) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(text, "{{")
		if i < 0 {
			b.WriteString(text)
			return b.String(), nil
		}
		b.WriteString(text[:i])
		rest := text[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return "", fmt.Errorf("a {{ without its }} at %q", clip(text[i:]))
		}
		name := strings.TrimSpace(rest[:j])
		if !placeholderName(name) {
			return "", fmt.Errorf("placeholder {{%s}}: a name is letters, digits, '_' and '.'", clip(rest[:j]))
		}
		v, ok := vars[name]
		if !ok && vars != nil {
			return "", fmt.Errorf("no variable %s for the placeholder {{%s}}", name, name)
		}
		if escapeHTML {
			v = html.EscapeString(v)
		}
		b.WriteString(v)
		text = rest[j+2:]
	}
}

func placeholderName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func isHTML(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "<") }

// renderTemplate fills every text of t in every language.
func renderTemplate(t *client.Template, vars map[string]string) (*client.Rendered, error) {
	var out client.Rendered
	var err error
	fill := func(field string, in client.Texts, dst *client.Texts, html bool) {
		in.Each(func(lang, s string) {
			if err != nil || s == "" {
				return
			}
			r, e := render(s, vars, html && isHTML(s))
			if e != nil {
				err = client.Invalid("template %s, %s.%s: %v", t.ID, field, lang, e)
				return
			}
			dst.Set(lang, r)
		})
	}
	fill("subject", t.Subject, &out.Subject, false)
	fill("body", t.Body, &out.Body, true)
	fill("bodyShort", t.BodyShort, &out.BodyShort, false)
	if err != nil {
		return nil, err
	}
	if err := client.CheckTexts(out.Subject, out.Body, out.BodyShort); err != nil {
		return nil, err
	}
	return &out, nil
}
