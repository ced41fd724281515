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
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/semnat/semnat/i18n"
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

// The pages' words in Romanian, Russian and English (locales/*.toml).
//
//go:embed locales/*.toml
var localesFS embed.FS

type web struct {
	cat   *i18n.Catalog
	pages *i18n.Templates
}

var templateFuncs = template.FuncMap{
	"verdictClass": func(ind pades.Indication) string {
		switch ind {
		case pades.TotalPassed:
			return "passed"
		case pades.TotalFailed:
			return "failed"
		}
		return "indeterminate"
	},
	"inc": func(i int) int { return i + 1 },
}

// pageNames are the templates of web/templates, each drawn in layout.html.
var pageNames = []string{"home", "sign", "status", "verify", "report", "error", "request", "return", "agent"}

// newWeb loads the messages and parses the page templates in every
// language.
func newWeb() (*web, error) {
	cat, err := i18n.NewCatalog(localesFS, "locales")
	if err != nil {
		return nil, fmt.Errorf("msign: %w", err)
	}
	files := map[string][]string{}
	for _, name := range pageNames {
		files[name] = []string{"web/templates/layout.html", "web/templates/" + name + ".html"}
	}
	pages, err := cat.Templates(templateFS, templateFuncs, files)
	if err != nil {
		return nil, fmt.Errorf("msign: %w", err)
	}
	return &web{cat: cat, pages: pages}, nil
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
	g.GET("/agent", s.agentPage)
	g.GET("/sign", s.signPage)
	g.POST("/sign", s.signPost)
	g.GET("/sign/:id", s.statusPage)
	g.POST("/sign/:id/cancel", s.cancelPage)
	g.POST("/sign/:id/done", s.donePage)
	root.GET("/verify/wasm/:name", s.wasmFile)
	root.GET("/verify/trust.pem", s.trustPEM)
	root.POST(revocationPath, s.revocationProxy, revocationLimiter())
	g.GET("/verify", s.verifyPage)
	g.POST("/verify", s.verifyPost)
	g.GET("/verify/:id/report.json", s.reportJSON)
	g.GET("/verify/:id/report.pdf", s.reportPDF)
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
		l := s.loc(c)
		d := pageData{Title: l.T("error.title"), Problem: &p, Error: s.problemWords(l, &p)}
		if !internal {
			d.Detail = strings.TrimSuffix(p.Title+": "+p.Detail, ": ")
		}
		return s.render(c, p.Status, "error", d)
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
	Error    string // plain words in the page's language
	Detail   string // the technical detail behind Error, one click away
	AgentURL string
	Req      *statusView
	Report   *pades.Report
	ReportID string
	// SealedReport offers the report as a sealed PDF (the service has a seal key).
	SealedReport bool
	Form         map[string]string
	Refresh      bool
	Problem      *problem.Problem
	Sys          *sysPage     // a registered system's request
	Local        *localVerify // the verify page can verify in the browser
	Lang         string       // the page's language (set by render unless a page chose it)
	Langs        []i18n.LangLink
	JS           string // the script's words in Lang, JSON
	Minutes      int    // how long files are kept
	Origin       string // this site, for the agent's --origin
}

// langKey caches the request's language in its context.
const langKey = "msign.lang"

// lang is the language of the request's page (i18n.Choose, once).
func (s *Service) lang(c echo.Context) string {
	if l, ok := c.Get(langKey).(string); ok {
		return l
	}
	l := i18n.Choose(c.Response(), c.Request())
	c.Set(langKey, l)
	return l
}

// loc is the request's Localizer.
func (s *Service) loc(c echo.Context) *i18n.Localizer { return s.web.cat.Localizer(s.lang(c)) }

func (s *Service) render(c echo.Context, status int, page string, d pageData) error {
	if v, ok := c.Get(csrfContextKey).(string); ok {
		d.CSRF = v
	}
	if d.Lang == "" {
		d.Lang = s.lang(c)
	}
	d.Langs = i18n.Links(c.Request(), d.Lang)
	d.AgentURL = s.cfg.AgentURL
	d.Minutes = int(s.cfg.SignTTL / time.Minute)
	d.Origin = s.origin(c)
	d.JS = jsWords(s.web.cat.Localizer(d.Lang))
	var b bytes.Buffer
	if err := s.web.pages.Execute(&b, d.Lang, page, d); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Content-Language", d.Lang)
	return c.HTMLBlob(status, b.Bytes())
}

// jsIDs are the messages the page script says (js.* in locales), with the
// placeholders it fills in.
var jsIDs = []string{"looking", "agent_missing", "no_certs", "valid_until", "choose_cert", "confirm_batch", "confirm_doc",
	"agent_stopped", "refused", "pin_incorrect", "pin_locked", "token_failed", "finishing", "preparing", "choose_first",
	"failed", "more_pages", "preview_failed", "page_of"}

// jsWords is the script's words in l's language as JSON: {"looking": …,
// "unit_min": …}; {n}, {total}, {name} and {date} are left for the script.
func jsWords(l *i18n.Localizer) string {
	m := map[string]string{}
	for _, id := range jsIDs {
		m[id] = l.T("js." + id)
	}
	for _, u := range []string{"h", "min", "s"} {
		m["unit_"+u] = l.T("i18n.unit." + u)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// problemWords are plain words in l's language for a problem: its type's
// message (problem.<slug> in locales), or a general one.
func (s *Service) problemWords(l *i18n.Localizer, p *problem.Problem) string {
	slug := strings.TrimPrefix(p.Type, problem.Prefix)
	if id := "problem." + slug; slug != "" && l.Has(id) {
		return l.T(id, "MB", s.cfg.MaxUpload>>20, "Max", maxDocuments)
	}
	if p.Status >= 500 || p.Status == 0 {
		return l.T("error.generic", "Status", p.Status)
	}
	return l.T("problem.generic")
}

// problemOf is the problem document of a page's error, and its words.
func (s *Service) errorWords(l *i18n.Localizer, err error) (status int, words, detail string) {
	p, internal := service.ProblemOf(err)
	if internal {
		s.cfg.Log.Error("page failed", "err", err)
	}
	detail = p.Title
	if p.Detail != "" && !internal {
		detail += ": " + p.Detail
	}
	return p.Status, s.problemWords(l, &p), detail
}

func (s *Service) homePage(c echo.Context) error {
	return s.render(c, http.StatusOK, "home", pageData{Title: s.loc(c).T("home.title")})
}

// agentPage says how to install and start the token agent.
func (s *Service) agentPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "agent", pageData{Title: s.loc(c).T("agent.title")})
}

// signCSP lets the sign page talk to the local token agent.
func (s *Service) signCSP(c echo.Context) {
	c.Response().Header().Set(echo.HeaderContentSecurityPolicy, "default-src 'self'; connect-src 'self' "+s.cfg.AgentURL)
}

func (s *Service) signPage(c echo.Context) error {
	s.signCSP(c)
	return s.render(c, http.StatusOK, "sign", pageData{Title: s.loc(c).T("sign.title"), Form: map[string]string{"level": "B-T", "method": "mobile"}})
}

// signPost is the form POST of the sign page (mobile; works without
// JavaScript): it starts the request and shows its status page.
func (s *Service) signPost(c echo.Context) error {
	r, _, err := s.startSignRequest(c)
	if err != nil {
		l := s.loc(c)
		status, words, detail := s.errorWords(l, err)
		s.signCSP(c)
		form := map[string]string{}
		if sf, ok := c.Get(formKey).(*spooledForm); ok {
			for _, k := range []string{"reason", "level", "method", "phone", "idnp", "page", "corner", "visible", "x", "y"} {
				form[k] = sf.value(k)
			}
		}
		return s.render(c, status, "sign", pageData{Title: l.T("sign.title"), Error: words, Detail: detail, Form: form})
	}
	return c.Redirect(http.StatusSeeOther, "/sign/"+r.ID)
}

// statusView is a citizen's request as its page shows it.
type statusView struct {
	signRequestView
	Message   string        // the status in the page's words
	Detail    string        // why it failed, technically
	Left      time.Duration // pending: the time left to answer
	KeptUntil time.Time     // signed: the files are kept until then
	Cancel    bool          // the page offers to cancel
	Done      bool          // the page offers to delete the signed files
}

func (s *Service) statusView(l *i18n.Localizer, r *signRequest) *statusView {
	v := &statusView{signRequestView: s.view(r, nil), Message: statusWords(l, r)}
	switch r.Status {
	case statusPending, statusAwaiting:
		v.Left, v.Cancel = time.Until(r.Expires).Round(time.Second), true
	case statusSigned:
		v.KeptUntil = r.keepUntil()
		v.Done = slices.ContainsFunc(v.Documents, func(d docView) bool { return d.Download != "" })
	case statusRefused, statusExpired, statusFailed:
		v.Detail = r.Message
	}
	return v
}

// statusWords is a request's status in l's language.
func statusWords(l *i18n.Localizer, r *signRequest) string {
	switch r.Status {
	case statusPending:
		if r.Code != "" {
			return l.T("status.pending_code", "Code", r.Code, "N", r.Current, "Total", len(r.Docs))
		}
		return l.T("status.starting")
	case statusAwaiting:
		return l.T("status.awaiting")
	case statusSigned:
		if !slices.ContainsFunc(r.Docs, func(d signDoc) bool { return !d.Deleted }) {
			return l.T("status.deleted")
		}
		return l.N("status.signed", len(r.Docs))
	case statusRefused, statusExpired, statusFailed:
		if r.Failure != "" && l.Has("outcome."+r.Failure) {
			return l.T("outcome." + r.Failure)
		}
		return l.T("status." + r.Status)
	}
	return ""
}

func (s *Service) statusPage(c echo.Context) error {
	l := s.loc(c)
	r, err := s.citizenRequest(c.Request().Context(), c.Param("id"))
	if err != nil {
		var pe *problem.Error
		if errors.As(err, &pe) {
			_, words, detail := s.errorWords(l, err)
			return s.render(c, pe.Status, "status", pageData{Title: l.T("status.title"), Error: words, Detail: detail})
		}
		return err
	}
	return s.render(c, http.StatusOK, "status", pageData{Title: l.T("status.title"), Req: s.statusView(l, r), Refresh: r.Status == statusPending})
}

// verifyPage verifies in the browser when the module is built in (the
// file is not uploaded), else on the server.
func (s *Service) verifyPage(c echo.Context) error {
	s.verifyCSP(c)
	l := s.loc(c)
	return s.render(c, http.StatusOK, "verify", pageData{Title: l.T("verify.title"), Local: s.localVerify(l)})
}

// verifyPost verifies the uploaded PDF and shows the report; the JSON stays
// downloadable for the request TTL.
func (s *Service) verifyPost(c echo.Context) error {
	l := s.loc(c)
	fail := func(err error) error {
		status, words, detail := s.errorWords(l, err)
		s.verifyCSP(c)
		return s.render(c, status, "verify", pageData{Title: l.T("verify.title"), Error: words, Detail: detail, Local: s.localVerify(l)})
	}
	u, done, err := s.acquireUpload(c)
	if err != nil {
		var pe *problem.Error
		if errors.Is(err, errTooLarge) || errors.Is(err, errBodyTimeout) || errors.As(err, &pe) {
			return fail(err)
		}
		return err
	}
	defer done()
	rep, err := s.verifyDoc(c.Request().Context(), u.f, u.n)
	if err != nil {
		switch {
		case errors.Is(err, pades.ErrNotPDF):
			err = problem.New(http.StatusUnprocessableEntity, "not-a-pdf", "Not a PDF", err.Error())
		case errors.Is(err, pades.ErrPasswordRequired):
			err = problem.New(http.StatusUnprocessableEntity, "encrypted-pdf", "Encrypted PDF", err.Error())
		default:
			err = problem.New(http.StatusUnprocessableEntity, "unreadable-pdf", "Unreadable PDF", err.Error())
		}
		return fail(err)
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
	sum, err := fileSHA256(u.f, u.n)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.Put(c.Request().Context(), kindReportSum, id, sum, s.cfg.SignTTL); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "report", pageData{Title: l.T("report.title"), Report: rep, ReportID: id, SealedReport: s.cfg.Seal != nil})
}

func (s *Service) reportJSON(c echo.Context) error {
	b, err := s.cfg.Store.Get(c.Request().Context(), kindReport, c.Param("id"))
	if err != nil {
		return problem.New(http.StatusNotFound, "unknown-report", "Unknown report", "the report has expired; verify the file again")
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="verification-report.json"`)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}
