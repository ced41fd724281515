package portal

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/i18n"
	"github.com/semnat/semnat/internal/samlrp"
	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/portal/catalog"
)

//go:embed web
var webFS embed.FS

type web struct {
	pages  *i18n.Templates
	static http.Handler
}

var pageNames = append([]string{"home", "service", "behalf", "form", "attach", "delivery", "confirm", "app", "apps", "error"}, append(officePages, cabinetPages...)...)

func newWeb() (*web, error) {
	funcs := template.FuncMap{
		"in":     func(t catalog.Text, lang string) string { return t.In(lang) },
		"div100": func(n int64) int64 { return n / 100 },
		"mod100": func(n int64) int64 { return n % 100 },
	}
	files := map[string][]string{}
	for _, n := range pageNames {
		files[n] = []string{"web/layout.html", "web/sigcards.html", "web/" + n + ".html"}
	}
	pages, err := messages.Templates(webFS, funcs, files)
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	static, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, err
	}
	return &web{pages: pages, static: http.StripPrefix(pathStatic, http.FileServerFS(static))}, nil
}

// user is who is logged in, as MPass said.
type user struct {
	samlrp.User
	Clerk bool // of an institution's back office (office.go)
}

// prefill is the value of an MPass attribute.
func (u *user) prefill(attr string) string {
	switch attr {
	case "NameIdentifier":
		return u.IDNP
	case "BirthDate":
		// MPass sends yyyy-MM-dd; anything else is not used.
		if _, err := time.Parse(time.DateOnly, u.Attrs.Get(attr)); err != nil {
			return ""
		}
	}
	return u.Attrs.Get(attr)
}

// userKey keeps, in a request's context, the user requireUser found: the
// session cookie (a signed JWT) is then checked once a request, not at
// each of the handler's questions.
type userKey struct{}

// currentUser is the logged-in user, or nil.
func (s *Service) currentUser(r *http.Request) *user {
	if u, ok := r.Context().Value(userKey{}).(*user); ok {
		return u
	}
	u := samlrp.UserOf(s.sp, r)
	if u == nil {
		return nil
	}
	res := &user{User: *u}
	res.Clerk = s.cfg.Office != nil && s.institutionOf(res) != nil
	return res
}

// page is what every page template gets.
type page struct {
	Lang, Title, CSRF, Path string
	T                       map[string]string // the words in Lang, for what the handlers word
	Langs                   []i18n.LangLink
	User                    *user
	Error                   string
	Step                    int // the wizard's step, 1-5 (0: not in the wizard)

	// The catalogue.
	Query               catalog.Query
	Services            []*catalog.Service
	Domains             []catalog.Domain
	Providers           []catalog.Provider
	Service             *catalog.Service
	Heading             string
	PaymentsUnavailable bool

	// An application.
	App     *application.Application
	Apps    []*application.Application
	History []application.Change
	Fields  []formField
	Summary []labelValue
	Docs    []docSlot
	Choices []choice
	Max     string
	Pay     *payForm // the form that sends the payer to MPay
	Receipt bool     // MPay's receipt can be fetched

	Office  *officeData  // the back office (office.go)
	Cabinet *cabinetData // the cabinet's documents, payments, inbox (cabinet.go)
	Verify  *verifyData  // the public verification of a document (verifydoc.go)
}

type payForm struct {
	Action string
	Fields []labelValue
}

type formField struct {
	Name, Label, Help, Input, Value, Error string
	Required, Textarea, Select, Checkbox   bool
	Options                                []choice
}

type choice struct {
	Value, Label string
	Selected     bool
}

type labelValue struct{ Label, Value string }

type docSlot struct {
	Index int
	Label string
	Files []application.Attachment
}

// langOf is the page language: ?lang=, the cookie, Accept-Language or
// ro (i18n.Choose; a ?lang= is remembered).
func langOf(c echo.Context) string {
	return i18n.Choose(c.Response(), c.Request())
}

// newPage starts a page's data.
func (s *Service) newPage(c echo.Context, title string) *page {
	lang := langOf(c)
	tok, _ := c.Get(csrfKey).(string)
	return &page{Lang: lang, T: wording(lang), Langs: i18n.Links(c.Request(), lang), User: s.currentUser(c.Request()), CSRF: tok, Title: title, Path: c.Request().URL.Path}
}

func (s *Service) render(c echo.Context, status int, name string, p *page) error {
	var b bytes.Buffer
	if err := s.web.pages.Execute(&b, p.Lang, name, p); err != nil {
		return fmt.Errorf("portal: page %s: %w", name, err)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, b.Bytes())
}

// errorPage shows a person what went wrong, in their language.
func (s *Service) errorPage(c echo.Context, status int, msg string) error {
	p := s.newPage(c, "")
	p.Title, p.Error = p.T["Error"], msg
	return s.render(c, status, "error", p)
}

// pageErrors shows a browser an error page for an error a handler
// returns; a problem with a status of its own keeps it.
func (s *Service) pageErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		var he *echo.HTTPError
		switch {
		case errors.As(err, &he) && he.Code == http.StatusNotFound:
			return s.errorPage(c, http.StatusNotFound, "404")
		case errors.Is(err, application.ErrNotFound):
			return s.errorPage(c, http.StatusNotFound, "404")
		case errors.As(err, &he):
			return err
		}
		s.cfg.Log.Error("portal: request failed", "err", err, "path", c.Path())
		return s.errorPage(c, http.StatusInternalServerError, "500")
	}
}
