package server

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/semnat/semnat/pades"
)

// The web pages: server-rendered templates, one small script and one style
// sheet, all embedded; no inline script or style, so the CSP stays strict.
//
//go:embed web/templates/*.html
var templateFS embed.FS

//go:embed web/static
var staticFS embed.FS

const kindReport = "report" // id → a verification report (JSON) for its download link

type web struct {
	pages map[string]*template.Template
}

var templateFuncs = template.FuncMap{
	"cn": func(dn string) string { // the CN of an RFC 4514 subject, for people
		for _, part := range strings.Split(dn, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "CN="); ok {
				return v
			}
		}
		return dn
	},
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return ""
	},
	"verdictClass": func(ind pades.Indication) string {
		switch ind {
		case pades.TotalPassed:
			return "passed"
		case pades.TotalFailed:
			return "failed"
		}
		return "indeterminate"
	},
	"verdictWords": verdictWords,
	"inc":          func(i int) int { return i + 1 },
}

func verdictWords(ind pades.Indication) string {
	switch ind {
	case pades.TotalPassed:
		return "Valid signature"
	case pades.TotalFailed:
		return "Invalid signature"
	}
	return "Cannot be confirmed"
}

// mountWeb adds the pages; limiter bounds their form posts per client.
func (s *Server) mountWeb(limiter echo.MiddlewareFunc) error {
	w := &web{pages: map[string]*template.Template{}}
	for _, name := range []string{"home", "sign", "status", "verify", "report", "error"} {
		t, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFS, "web/templates/layout.html", "web/templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("server: template %s: %w", name, err)
		}
		w.pages[name] = t
	}
	s.web = w
	static, err := fs.Sub(staticFS, "web/static")
	if err != nil {
		return err
	}
	s.e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticHandler(http.FileServerFS(static)))))
	g := s.e.Group("", middleware.BodyLimit(fmt.Sprintf("%dB", s.cfg.MaxUpload)), middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup: "form:_csrf,header:X-CSRF-Token", CookieName: "semnat_csrf", CookiePath: "/", CookieHTTPOnly: true,
		CookieSameSite: http.SameSiteStrictMode,
		ErrorHandler: func(err error, c echo.Context) error {
			return newProblem(http.StatusForbidden, "csrf", "Form expired", "the form's security token is missing or stale; reload the page and try again")
		},
	}))
	g.GET("/", s.homePage)
	g.GET("/sign", s.signPage)
	g.POST("/sign", s.signPost, limiter)
	g.GET("/sign/:id", s.statusPage)
	g.GET("/verify", s.verifyPage)
	g.POST("/verify", s.verifyPost, limiter)
	g.GET("/verify/:id/report.json", s.reportJSON)
	return nil
}

func staticHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		h.ServeHTTP(w, r)
	})
}

// pageData is what every template gets.
type pageData struct {
	Title    string
	CSRF     string
	Error    string
	AgentURL string
	Req      *signRequestView
	Report   *pades.Report
	ReportID string
	Form     map[string]string
	Refresh  bool
	Problem  *Problem
}

// wantsPage tells whether an error should be an HTML page: a browser
// (Accept: text/html) on a page, not the API or a service.
func (s *Server) wantsPage(c echo.Context) bool {
	path := c.Request().URL.Path
	if s.web == nil || strings.HasPrefix(path, "/api/") || !strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/html") {
		return false
	}
	for _, p := range []string{"/", "/sign", "/sign/", "/verify", "/verify/"} {
		if path == p || strings.HasSuffix(p, "/") && p != "/" && strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func (s *Server) render(c echo.Context, status int, page string, d pageData) error {
	if v, ok := c.Get("csrf").(string); ok {
		d.CSRF = v
	}
	d.AgentURL = s.cfg.AgentURL
	var b bytes.Buffer
	if err := s.web.pages[page].Execute(&b, d); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, b.Bytes())
}

func (s *Server) homePage(c echo.Context) error {
	return s.render(c, http.StatusOK, "home", pageData{Title: "semnat"})
}

// signCSP lets the sign page talk to the local token agent.
func (s *Server) signCSP(c echo.Context) {
	c.Response().Header().Set(echo.HeaderContentSecurityPolicy, "default-src 'self'; connect-src 'self' "+s.cfg.AgentURL)
}

func (s *Server) signPage(c echo.Context) error {
	s.signCSP(c)
	return s.render(c, http.StatusOK, "sign", pageData{Title: "Semnare / Sign", Form: map[string]string{"level": "B-T", "method": "mobile"}})
}

// signPost is the form POST of the sign page (mobile; works without
// JavaScript): it starts the request and shows its status page.
func (s *Server) signPost(c echo.Context) error {
	r, _, err := s.startSignRequest(c)
	if err != nil {
		var pe *problem
		var he *echo.HTTPError
		msg := "Something went wrong; try again."
		status := http.StatusInternalServerError
		switch {
		case errors.As(err, &pe):
			msg, status = pe.title+": "+pe.detail, pe.status
		case errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge:
			msg, status = fmt.Sprintf("The files are too large (at most %d MB).", s.cfg.MaxUpload>>20), he.Code
		default:
			s.cfg.Log.Error("sign form failed", "err", err)
		}
		s.signCSP(c)
		form := map[string]string{}
		for _, k := range []string{"reason", "level", "method", "phone", "idnp", "page", "corner", "visible"} {
			form[k] = c.FormValue(k)
		}
		return s.render(c, status, "sign", pageData{Title: "Semnare / Sign", Error: msg, Form: form})
	}
	return c.Redirect(http.StatusSeeOther, "/sign/"+r.ID)
}

func (s *Server) statusPage(c echo.Context) error {
	r, err := s.current(c.Request().Context(), c.Param("id"))
	if err != nil {
		var pe *problem
		if errors.As(err, &pe) {
			return s.render(c, pe.status, "status", pageData{Title: pe.title, Error: pe.detail})
		}
		return err
	}
	v := s.view(r, nil)
	return s.render(c, http.StatusOK, "status", pageData{Title: "Semnare / Sign", Req: &v, Refresh: r.Status == statusPending})
}

func (s *Server) verifyPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "verify", pageData{Title: "Verificare / Verify"})
}

// verifyPost verifies the uploaded PDF and shows the report; the JSON stays
// downloadable for the request TTL.
func (s *Server) verifyPost(c echo.Context) error {
	fail := func(status int, msg string) error {
		return s.render(c, status, "verify", pageData{Title: "Verificare / Verify", Error: msg})
	}
	release, err := s.acquire(c.Request().Context())
	if err != nil {
		return fail(http.StatusServiceUnavailable, "The server is busy; try again in a moment.")
	}
	defer release()
	f, n, cleanup, err := upload(c)
	if err != nil {
		var pe *problem
		var he *echo.HTTPError
		switch {
		case errors.As(err, &pe):
			return fail(pe.status, "Choose a PDF file to verify.")
		case errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge:
			return fail(he.Code, fmt.Sprintf("The file is too large (at most %d MB).", s.cfg.MaxUpload>>20))
		}
		return err
	}
	defer cleanup()
	rep, err := pades.Verify(c.Request().Context(), f, n, &pades.VerifyOptions{Roots: s.cfg.Roots, Cache: s.cache, Online: s.cfg.VerifyOnline})
	if err != nil {
		if errors.Is(err, pades.ErrNotPDF) {
			return fail(http.StatusUnprocessableEntity, "This file is not a PDF.")
		}
		return fail(http.StatusUnprocessableEntity, "This PDF cannot be read: "+err.Error())
	}
	if fh, err := c.FormFile("file"); err == nil {
		rep.File = safeName(fh.Filename)
	}
	id := newID()
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.Put(c.Request().Context(), kindReport, id, b, s.cfg.SignTTL); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "report", pageData{Title: "Raport / Report", Report: rep, ReportID: id})
}

func (s *Server) reportJSON(c echo.Context) error {
	b, err := s.cfg.Store.Get(c.Request().Context(), kindReport, c.Param("id"))
	if err != nil {
		return newProblem(http.StatusNotFound, "unknown-report", "Unknown report", "the report has expired; verify the file again")
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="verification-report.json"`)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}
