package mpower

import (
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/semnat/semnat/i18n"
	"github.com/semnat/semnat/internal/textpdf"
)

// TextData is what a legal text template is filled with.
type TextData struct {
	Code            string // the authorization code
	TypeCode        string
	TypeName        string // in the act's language
	AuthorizingIdn  string // IDNP or IDNO
	AuthorizingName string // the company's name (empty for a person)
	SignerIdn       string // who signs for the authorizing party
	RepresentedIdn  string
	From, To        string // dates, YYYY-MM-DD
}

// sampleText checks templates at definition.
var sampleText = TextData{Code: "1000000000000000", TypeCode: "AT-0000000", TypeName: "x", AuthorizingIdn: "1", AuthorizingName: "x",
	SignerIdn: "2", RepresentedIdn: "2", From: "2026-01-01", To: "2026-12-31"}

func fillText(src string, d TextData) (string, error) {
	t, err := template.New("act").Option("missingkey=error").Parse(src)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// actTitles head the act, by language.
var actTitles = map[string]string{"ro": "Procură (împuternicire de reprezentare)", "ru": "Доверенность", "en": "Power of representation"}

// RenderAct is the act of p as a one-page A4 PDF: a title, the legal text
// of its type in the power's language (ro when the type has none in it),
// filled with the parties, type and dates, and the authorization code.
// The text is set by textpdf (the embedded Go font: Romanian ș ț with
// comma below, Cyrillic); a text too long for the page is an error.
func RenderAct(t *AuthType, p *Power, authorizingName string) ([]byte, error) {
	lang := p.Lang
	src, ok := t.LegalText[lang]
	if !ok {
		lang, src = "ro", t.LegalText["ro"]
	}
	name := t.Names[lang]
	if name == "" {
		name = t.Names["ro"]
	}
	text, err := fillText(src, TextData{Code: p.Code, TypeCode: t.Code, TypeName: name, AuthorizingIdn: p.AuthorizingID,
		AuthorizingName: authorizingName, SignerIdn: p.SignedBy, RepresentedIdn: p.RepresentedID,
		From: p.From.In(i18n.Zone).Format(time.DateOnly), To: p.To.In(i18n.Zone).Format(time.DateOnly)})
	if err != nil {
		return nil, fmt.Errorf("mpower: legal text of %s (%s): %w", t.Code, lang, err)
	}
	lines := []string{actTitles[lang], "", t.Code + " — " + name, ""}
	lines = append(lines, strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")...)
	lines = append(lines, "", "Cod / Код / Code: "+p.Code)
	pdf, err := textpdf.Page(lines)
	if err != nil {
		return nil, fmt.Errorf("mpower: setting the act of %s: %w", p.Code, err)
	}
	return pdf, nil
}
