package i18n

import (
	"fmt"
	"html/template"
	"time"
	_ "time/tzdata" // Europe/Chisinau without /usr/share/zoneinfo

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
)

// Zone is Europe/Chisinau, where the pages' times are shown.
var Zone = mustZone("Europe/Chisinau")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name) // falls back to the embedded database
	if err != nil {
		panic(fmt.Sprintf("i18n: time zone %s: %v", name, err)) // time/tzdata has it
	}
	return loc
}

// Localizer is a Catalog in one language.
type Localizer struct {
	Lang string // ro, ru or en
	cat  *Catalog
	loc  *goi18n.Localizer
}

// T is the message id in the localizer's language. args are the
// message's template data as name, value pairs: T("sign.max", "MB", 30)
// for a message "at most {{.MB}} MB". An unknown id gives the id itself
// (which the page tests look for).
func (l *Localizer) T(id string, args ...any) string {
	s, err := l.loc.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data(args, nil)})
	if err != nil {
		return id
	}
	return s
}

// N is the plural message id for the count n, in the form the language
// needs for n; the message sees n as {{.Count}}, and args as in T.
func (l *Localizer) N(id string, n int, args ...any) string {
	s, err := l.loc.Localize(&goi18n.LocalizeConfig{MessageID: id, PluralCount: n, TemplateData: data(args, &n)})
	if err != nil {
		return id
	}
	return s
}

func data(args []any, count *int) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(args); i += 2 {
		m[fmt.Sprint(args[i])] = args[i+1]
	}
	if count != nil {
		m["Count"] = *count
	}
	return m
}

// timeLayouts are the date and time layouts by language: day first, as
// written in Moldova; English writes the month as a word.
var timeLayouts = map[string][2]string{
	"ro": {"02.01.2006", "02.01.2006 15:04:05 MST"},
	"ru": {"02.01.2006", "02.01.2006 15:04:05 MST"},
	"en": {"2 Jan 2006", "2 Jan 2006 15:04:05 MST"},
}

// Time is t in Europe/Chisinau with the zone ("05.12.2026 13:30:02 EET");
// "" for a zero time. t may be a time.Time or a *time.Time.
func (l *Localizer) Time(t any) string { return l.format(t, 1) }

// Date is t's day in Europe/Chisinau ("05.12.2026").
func (l *Localizer) Date(t any) string { return l.format(t, 0) }

func (l *Localizer) format(t any, which int) string {
	var v time.Time
	switch x := t.(type) {
	case time.Time:
		v = x
	case *time.Time:
		if x != nil {
			v = *x
		}
	}
	if v.IsZero() {
		return ""
	}
	return v.In(Zone).Format(timeLayouts[l.Lang][which])
}

// Duration is d rounded to seconds in words of the language ("4 min 05 s",
// "1 h 02 min"); 0 and negative durations are "0 s".
func (l *Localizer) Duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d.Round(time.Second) / time.Second)
	h, m := s/3600, s/60%60
	s %= 60
	switch {
	case h > 0:
		return fmt.Sprintf("%d %s %02d %s", h, l.T("i18n.unit.h"), m, l.T("i18n.unit.min"))
	case m > 0:
		return fmt.Sprintf("%d %s %02d %s", m, l.T("i18n.unit.min"), s, l.T("i18n.unit.s"))
	}
	return fmt.Sprintf("%d %s", s, l.T("i18n.unit.s"))
}

// Funcs are the template functions bound to the localizer's language:
//
//	{{T "id"}}, {{T "id" "Name" .Value}}  a message, with template data
//	{{N "id" .Count}}                     a plural message ({{.Count}} in it)
//	{{time .When}}, {{date .When}}        Europe/Chisinau, with the zone
//	{{duration .Left}}                    "4 min 05 s"
//	{{person .Subject}}                   a Person (string DN, pkix.Name or *x509.Certificate)
//	{{lang}}                              ro, ru or en (for <html lang>)
func (l *Localizer) Funcs() template.FuncMap {
	return template.FuncMap{
		"T":        l.T,
		"N":        l.N,
		"time":     l.Time,
		"date":     l.Date,
		"duration": l.Duration,
		"person":   PersonOf,
		"lang":     func() string { return l.Lang },
	}
}
