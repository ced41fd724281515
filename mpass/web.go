package mpass

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/i18n"
)

//go:embed web/*.html web/static/*
var webFS embed.FS

// The pages' words in Romanian (the default), Russian and English
// (locales/*.toml, through the i18n package).
//
//go:embed locales/*.toml
var localesFS embed.FS

// catalog holds the pages' words; catalogErr fails newWeb when a message
// file is missing a word.
var catalog, catalogErr = i18n.NewCatalog(localesFS, "locales")

// pickLang is the page language: ?lang= if it is one of ours, else the
// first of ours the browser asks for, else Romanian.
func pickLang(param, acceptLanguage string) string {
	return i18n.PickFrom(param, "", acceptLanguage)
}

// pageLang is the language of a page the request opens: ?lang=, then the
// lang cookie, then Accept-Language (i18n.Pick).
func pageLang(c echo.Context) string { return i18n.Pick(c.Request()) }

// pageData is what the page templates read.
type pageData struct {
	Lang      string
	LangLinks []i18n.LangLink
	Tx        string
	SP        string // the relying service, as its host
	Phone     string
	AskIDNP   bool   // the Mobile-ID face: the login form asks for the IDNP too
	IDNP      string // as the person gave it
	Code      string
	Problem   string // message key after "problem."
	Detail    string // technical detail of a refused request
	Mobile    bool
	AgentURL  string   // the local token agent (token login offered)
	Self      string   // the page's own URL, to switch language
	Refresh   string   // reload the page at this URL
	Person    string   // the session's person (session page)
	Services  []string // the relying services of the session
	// Unconfirmed are the services that did not confirm the person's
	// logout (session page, after it).
	Unconfirmed []string
	Others      []otherSession // the person's other sessions (session_devices.go)
	CSRF        string         // the admin forms' token
	SPs         []adminSP      // the admin page's relying services
}

// T translates a message key into the page's language.
func (d pageData) T(key string) string {
	if catalog == nil {
		return key
	}
	return catalog.Localizer(d.Lang).T(key)
}

type web struct {
	pages    *i18n.Templates
	postForm *template.Template // a Response (or LogoutResponse) to a relying service
	postReq  *template.Template // a LogoutRequest to a relying service
	files    http.Handler
}

func newWeb() (*web, error) {
	if catalogErr != nil {
		return nil, fmt.Errorf("mpass: %w", catalogErr)
	}
	w := &web{}
	files := map[string][]string{}
	for _, name := range []string{"login", "wait", "error", "session", "admin"} {
		files[name] = []string{"web/" + name + ".html", "web/layout.html"}
	}
	pages, err := catalog.Templates(webFS, nil, files)
	if err != nil {
		return nil, fmt.Errorf("mpass: %w", err)
	}
	w.pages = pages
	pf, err := template.ParseFS(webFS, "web/autopost.html")
	if err != nil {
		return nil, fmt.Errorf("mpass: post form: %w", err)
	}
	w.postForm, w.postReq = pf.Lookup("response"), pf.Lookup("request")
	sub, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, err
	}
	w.files = http.StripPrefix(pathStatic, http.FileServer(http.FS(sub)))
	return w, nil
}

// page renders a page in lang.
func (w *web) page(c echo.Context, status int, name, lang string, d pageData) error {
	d.Lang = lang
	if d.Self != "" {
		if u, err := url.Parse(d.Self); err == nil {
			d.LangLinks = i18n.Links(&http.Request{URL: u}, lang)
		}
	}
	if i18n.FromQuery(c.Request()) == lang { // chosen on this page: remembered
		i18n.Choose(c.Response(), c.Request())
	}
	var b bytes.Buffer
	if err := w.pages.Execute(&b, lang, name, d); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Content-Language", lang)
	return c.HTMLBlob(status, b.Bytes())
}

func (w *web) static(c echo.Context) error {
	w.files.ServeHTTP(c.Response(), c.Request())
	return nil
}
