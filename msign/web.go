package msign

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
	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/service"
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

// newWeb parses the page templates.
func newWeb() (*web, error) {
	w := &web{pages: map[string]*template.Template{}}
	for _, name := range []string{"home", "sign", "status", "verify", "report", "error", "request", "return"} {
		t, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFS, "web/templates/layout.html", "web/templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("msign: template %s: %w", name, err)
		}
		w.pages[name] = t
	}
	return w, nil
}

// mountWeb adds the pages; their form posts are rate-limited per client.
func (s *Service) mountWeb(root *echo.Group) {
	static, err := fs.Sub(staticFS, "web/static")
	if err != nil {
		panic(err) // the embedded tree has web/static
	}
	root.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticHandler(http.FileServerFS(static)))))
	// Cheap checks first (see intake.go): the rate limit, the size, the
	// form token from its header or the form's first part, and only then
	// the body.
	g := root.Group("", s.errorPages, unsafeOnly(s.limiter), middleware.BodyLimit(fmt.Sprintf("%dB", s.cfg.MaxUpload)), csrfHeader, s.csrf)
	home := s.cfg.HomePath
	if home == "" {
		home = "/"
	}
	g.GET(home, s.homePage)
	g.GET("/sign", s.signPage)
	g.POST("/sign", s.signPost)
	g.GET("/sign/:id", s.statusPage)
	g.GET("/verify", s.verifyPage)
	g.POST("/verify", s.verifyPost)
	g.GET("/verify/:id/report.json", s.reportJSON)
	// A registered system's request: the browser arrives (POST from
	// another site: no form token), then signs or cancels on our page.
	g.GET("/:id", s.arrive)
	root.POST("/:id", s.arrive, s.errorPages, middleware.BodyLimit("64KB"))
	g.POST("/:id/sign", s.systemSign)
	g.POST("/:id/cancel", s.systemCancel)
	g.POST("/:id/token", s.systemToken)
	g.GET("/:id/documents/:n", s.documentToSign)
}

// errorPages shows a browser (Accept: text/html) an error page instead of
// a problem document; everything else goes to the host's problem handler.
func (s *Service) errorPages(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil || c.Response().Committed || !strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/html") {
			return err
		}
		p, internal := service.ProblemOf(err)
		if internal {
			s.cfg.Log.Error("request failed", "err", err, "path", c.Path())
		}
		p.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
		return s.render(c, p.Status, "error", pageData{Title: p.Title, Problem: &p})
	}
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
	Problem  *problem.Problem
	Sys      *sysPage // a registered system's request
}

func (s *Service) render(c echo.Context, status int, page string, d pageData) error {
	if v, ok := c.Get(csrfContextKey).(string); ok {
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

func (s *Service) homePage(c echo.Context) error {
	return s.render(c, http.StatusOK, "home", pageData{Title: "semnat"})
}

// signCSP lets the sign page talk to the local token agent.
func (s *Service) signCSP(c echo.Context) {
	c.Response().Header().Set(echo.HeaderContentSecurityPolicy, "default-src 'self'; connect-src 'self' "+s.cfg.AgentURL)
}

func (s *Service) signPage(c echo.Context) error {
	s.signCSP(c)
	return s.render(c, http.StatusOK, "sign", pageData{Title: "Semnare / Sign", Form: map[string]string{"level": "B-T", "method": "mobile"}})
}

// signPost is the form POST of the sign page (mobile; works without
// JavaScript): it starts the request and shows its status page.
func (s *Service) signPost(c echo.Context) error {
	r, _, err := s.startSignRequest(c)
	if err != nil {
		var pe *problem.Error
		msg := "Something went wrong; try again."
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, errTooLarge):
			msg, status = fmt.Sprintf("The files are too large (at most %d MB).", s.cfg.MaxUpload>>20), http.StatusRequestEntityTooLarge
		case errors.Is(err, errBodyTimeout):
			msg, status = "The files came too slowly; try again.", http.StatusRequestTimeout
		case errors.As(err, &pe):
			msg, status = pe.Title+": "+pe.Detail, pe.Status
		default:
			s.cfg.Log.Error("sign form failed", "err", err)
		}
		s.signCSP(c)
		form := map[string]string{}
		if sf, ok := c.Get(formKey).(*spooledForm); ok {
			for _, k := range []string{"reason", "level", "method", "phone", "idnp", "page", "corner", "visible"} {
				form[k] = sf.value(k)
			}
		}
		return s.render(c, status, "sign", pageData{Title: "Semnare / Sign", Error: msg, Form: form})
	}
	return c.Redirect(http.StatusSeeOther, "/sign/"+r.ID)
}

func (s *Service) statusPage(c echo.Context) error {
	r, err := s.citizenRequest(c.Request().Context(), c.Param("id"))
	if err != nil {
		var pe *problem.Error
		if errors.As(err, &pe) {
			return s.render(c, pe.Status, "status", pageData{Title: pe.Title, Error: pe.Detail})
		}
		return err
	}
	v := s.view(r, nil)
	return s.render(c, http.StatusOK, "status", pageData{Title: "Semnare / Sign", Req: &v, Refresh: r.Status == statusPending})
}

func (s *Service) verifyPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "verify", pageData{Title: "Verificare / Verify"})
}

// verifyPost verifies the uploaded PDF and shows the report; the JSON stays
// downloadable for the request TTL.
func (s *Service) verifyPost(c echo.Context) error {
	fail := func(status int, msg string) error {
		return s.render(c, status, "verify", pageData{Title: "Verificare / Verify", Error: msg})
	}
	u, done, err := s.acquireUpload(c)
	if err != nil {
		var pe *problem.Error
		switch {
		case errors.Is(err, errTooLarge):
			return fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("The file is too large (at most %d MB).", s.cfg.MaxUpload>>20))
		case errors.Is(err, errBodyTimeout):
			return fail(http.StatusRequestTimeout, "The file came too slowly; try again.")
		case errors.As(err, &pe) && pe.Status == http.StatusServiceUnavailable:
			return fail(http.StatusServiceUnavailable, "The server is busy; try again in a moment.")
		case errors.As(err, &pe):
			return fail(pe.Status, "Choose a PDF file to verify.")
		}
		return err
	}
	defer done()
	rep, err := s.verifyDoc(c.Request().Context(), u.f, u.n)
	if err != nil {
		if errors.Is(err, pades.ErrNotPDF) {
			return fail(http.StatusUnprocessableEntity, "This file is not a PDF.")
		}
		if errors.Is(err, pades.ErrPasswordRequired) {
			return fail(http.StatusUnprocessableEntity, "This PDF is protected by a password, which this page does not take. Verify it with semnat verify --password-file.")
		}
		return fail(http.StatusUnprocessableEntity, "This PDF cannot be read: "+err.Error())
	}
	if u.name != "" {
		rep.File = safeName(u.name)
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

func (s *Service) reportJSON(c echo.Context) error {
	b, err := s.cfg.Store.Get(c.Request().Context(), kindReport, c.Param("id"))
	if err != nil {
		return problem.New(http.StatusNotFound, "unknown-report", "Unknown report", "the report has expired; verify the file again")
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="verification-report.json"`)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}
