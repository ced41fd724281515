package mpower

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crewjam/saml/samlsp"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/semnat/semnat/i18n"
	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/internal/samlrp"
	msignclient "github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pades"
)

// MPower's pages for people, behind MPass login (MPower is a SAML relying
// service of MPass): the powers granted by me and to me, the grant wizard
// (for myself or for a company I administer in the register), and each
// power's page with its history, its signed acts and their verification,
// and the acts I may sign on it (accept, decline, revoke, renounce), each
// signed through MSign's integrator flow as the API's grant flow does.

// WebConfig turns the pages on.
type WebConfig struct {
	// PublicURL is MPower's URL as browsers see it: the SAML entity id is
	// PublicURL+PathPages+"/saml/metadata"; MSign sends signers back to
	// PublicURL+PathSigned (one of MPower's return URLs at MSign).
	PublicURL string
	// IdPMetadata is MPass's SAML metadata.
	IdPMetadata []byte
	// Key and Certificate sign the AuthnRequests and the session cookies
	// (instances behind one URL share them); register Metadata with MPass.
	Key         crypto.Signer
	Certificate *x509.Certificate
}

// Paths of the pages.
const (
	PathPages  = "/mpower"
	PathSigned = PathPages + "/semnat" // MSign's POST back (ReturnUrl)
	pathPower  = PathPages + "/procuri/"
)

//go:embed locales/*.toml
var localesFS embed.FS

//go:embed web
var webFS embed.FS

type web struct {
	sp     *samlsp.Middleware
	base   *url.URL
	pages  *i18n.Templates
	static http.Handler
	// msignOrigin is where the act forms may lead (CSP form-action).
	msignOrigin string
}

func newWeb(cfg *WebConfig, ms *msignclient.Client) (*web, error) {
	base, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("mpower: public URL %q: want http(s)://host[:port]", cfg.PublicURL)
	}
	if ms == nil {
		return nil, errors.New("mpower: the pages need MSign to sign acts: configure one")
	}
	sp, err := samlrp.New(samlrp.Options{Base: base, Prefix: PathPages, IdPMetadata: cfg.IdPMetadata, Key: cfg.Key, Certificate: cfg.Certificate,
		CookieName: "semnat_mpower", DefaultRedirect: PathPages + "/"})
	if err != nil {
		return nil, fmt.Errorf("mpower: %w", err)
	}
	cat, err := i18n.NewCatalog(localesFS, "locales")
	if err != nil {
		return nil, fmt.Errorf("mpower: messages: %w", err)
	}
	files := map[string][]string{}
	for _, n := range []string{"home", "new", "power", "error"} {
		files[n] = []string{"web/" + n + ".html", "web/layout.html"}
	}
	pages, err := cat.Templates(webFS, template.FuncMap{"typeName": typeName}, files)
	if err != nil {
		return nil, fmt.Errorf("mpower: pages: %w", err)
	}
	static, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, err
	}
	origin := ""
	if u, err := url.Parse(ms.RedirectURL("x")); err == nil {
		origin = u.Scheme + "://" + u.Host
	}
	return &web{sp: sp, base: base, pages: pages, static: http.StripPrefix(PathPages+"/static/", http.FileServerFS(static)), msignOrigin: origin}, nil
}

// Metadata is MPower's SAML metadata, to register with MPass (an error
// when the pages are off).
func (s *Service) Metadata() ([]byte, error) {
	if s.web == nil {
		return nil, errors.New("mpower: the pages for people are not configured")
	}
	return samlrp.Metadata(s.web.sp)
}

const webCSRF = "mpower.csrf"

func (s *Service) mountWeb(g *echo.Group) {
	w := s.web
	sp := echo.WrapHandler(w.sp)
	g.GET(PathPages+"/saml/metadata", sp)
	g.POST(PathPages+"/saml/acs", sp, middleware.BodyLimit("256KB"))
	g.GET(PathPages+"/static/*", echo.WrapHandler(w.static))
	// MSign sends the browser back with a cross-site POST: no form token,
	// no session cookie; the request is checked with MSign itself.
	g.POST(PathSigned, s.signedReturn, s.webErrors, middleware.BodyLimit("64KB"))
	csrf := middleware.CSRFWithConfig(middleware.CSRFConfig{TokenLookup: "form:_csrf", ContextKey: webCSRF,
		CookieName: "mpower_csrf", CookiePath: PathPages, CookieHTTPOnly: true, CookieSameSite: http.SameSiteStrictMode,
		CookieSecure: w.base.Scheme == "https",
		ErrorHandler: func(err error, c echo.Context) error {
			return s.errorPage(c, http.StatusForbidden, "form")
		}})
	a := g.Group(PathPages, s.webHeaders, s.webErrors, middleware.BodyLimit("64KB"), csrf, s.requirePerson)
	a.GET("", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, PathPages+"/") })
	a.GET("/", s.homePage)
	a.GET("/nou", s.newPage)
	a.POST("/nou", s.newPost)
	a.GET("/procuri/:code", s.powerPage)
	a.POST("/procuri/:code/act", s.actPost)
	a.GET("/procuri/:code/acte/:n", s.actPDF)
	a.POST("/iesire", echo.WrapHandler(http.HandlerFunc(w.sp.HandleStartLogout)))
}

// webHeaders: a strict policy (no script at all; forms go only here and
// to MSign), no caching of people's pages.
func (s *Service) webHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	csp := "default-src 'self'; script-src 'none'; form-action 'self' " + s.web.msignOrigin + "; frame-ancestors 'none'; base-uri 'none'"
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set(echo.HeaderContentSecurityPolicy, csp)
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

// requirePerson sends a visitor who is not logged in to MPass; samlsp
// brings them back to the page they asked for.
func (s *Service) requirePerson(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if samlrp.UserOf(s.web.sp, c.Request()) == nil {
			if c.Request().Method != http.MethodGet {
				return c.Redirect(http.StatusSeeOther, c.Request().URL.Path)
			}
			s.web.sp.HandleStartAuthFlow(c.Response(), c.Request())
			return nil
		}
		return next(c)
	}
}

// webPage is what every page template gets.
type webPage struct {
	Lang, Title, CSRF string
	Langs             []i18n.LangLink
	User              *samlrp.User
	Error, Notice     string // message ids

	ByMe, ToMe []powerRow

	Types  []*AuthType
	Behalf []Entity
	Form   wizardForm

	Power   *powerRow
	History []Change
	Acts    []actView
	Can     []Event
}

type powerRow struct {
	*Power
	Type       *AuthType
	Now        State
	NowReason  string
	Grantor    string // a name, when known: the company's, or the signer's from the acts
	Signer     string
	Represents string // the representative's name, when known
}

type wizardForm struct {
	Type, Behalf, Representative, From, To string
	MaxDays                                int
}

type actView struct {
	N        int
	Event    Event
	SignedAt time.Time
	Signer   i18n.Person
	SignerID string
	Passed   bool
	Result   string // the indication
	Reasons  []string
	Revoc    string
}

// typeName is a type's name in lang (ro when it has none there).
func typeName(t *AuthType, lang string) string {
	if t == nil {
		return ""
	}
	if n := t.Names[lang]; n != "" {
		return n
	}
	return t.Names["ro"]
}

func (s *Service) page(c echo.Context) *webPage {
	lang := i18n.Choose(c.Response(), c.Request())
	tok, _ := c.Get(webCSRF).(string)
	return &webPage{Lang: lang, CSRF: tok, Langs: i18n.Links(c.Request(), lang), User: samlrp.UserOf(s.web.sp, c.Request())}
}

func (s *Service) renderPage(c echo.Context, status int, name string, p *webPage) error {
	var b bytes.Buffer
	if err := s.web.pages.Execute(&b, p.Lang, name, p); err != nil {
		return fmt.Errorf("mpower: page %s: %w", name, err)
	}
	return c.HTMLBlob(status, b.Bytes())
}

// errorPage shows a person what went wrong, in plain words (msg is a
// message id under mpower.e).
func (s *Service) errorPage(c echo.Context, status int, msg string) error {
	p := s.page(c)
	p.Error = msg
	return s.renderPage(c, status, "error", p)
}

// webErrors turns what a handler fails with into a page in plain words;
// the detail goes to the log.
func (s *Service) webErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		var he *echo.HTTPError
		switch {
		case errors.Is(err, ErrNotFound), errors.As(err, &he) && he.Code == http.StatusNotFound:
			return s.errorPage(c, http.StatusNotFound, "not-found")
		case errors.As(err, &he):
			return err
		}
		s.log.Error("mpower: page failed", "err", err, "path", c.Request().URL.Path)
		return s.errorPage(c, http.StatusInternalServerError, "internal")
	}
}

// row fills a power's row for the pages: its type, its state now and the
// names known.
func (s *Service) row(ctx context.Context, p *Power) (*powerRow, error) {
	t, err := s.reg.Type(ctx, p.TypeCode)
	if err != nil {
		return nil, err
	}
	r := &powerRow{Power: p, Type: t}
	r.Now, r.NowReason = p.StateAt(s.reg.Now())
	if p.AuthorizingBy == Legal {
		if e, err := s.reg.Entity(ctx, p.AuthorizingID); err == nil {
			r.Grantor = strings.TrimSpace(e.Name + " " + e.Form)
		}
	}
	return r, nil
}

func (s *Service) homePage(c echo.Context) error {
	p := s.page(c)
	ctx := c.Request().Context()
	me := p.User.IDNP
	by, _, err := s.reg.List(ctx, Filter{IDN: me, PageSize: MaxPageSize})
	if err != nil {
		return err
	}
	// And those of the companies the person administers, whoever signed.
	companies, err := s.administered(ctx, me)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, p := range by {
		seen[p.Code] = true
	}
	for _, e := range companies {
		list, _, err := s.reg.List(ctx, Filter{GrantedBy: e.IDNO, PageSize: MaxPageSize})
		if err != nil {
			return err
		}
		for _, p := range list {
			if !seen[p.Code] {
				seen[p.Code] = true
				by = append(by, p)
			}
		}
	}
	for i := range by {
		r, err := s.row(ctx, &by[i])
		if err != nil {
			return err
		}
		if by[i].RepresentedID == me {
			p.ToMe = append(p.ToMe, *r)
		} else {
			p.ByMe = append(p.ByMe, *r)
		}
	}
	return s.renderPage(c, http.StatusOK, "home", p)
}

// administered are the companies the person administers now.
func (s *Service) administered(ctx context.Context, idnp string) ([]Entity, error) {
	return s.reg.AdministeredBy(ctx, idnp, s.reg.Now())
}

func (s *Service) wizard(c echo.Context, p *webPage) error {
	ctx := c.Request().Context()
	types, err := s.reg.Types(ctx)
	if err != nil {
		return err
	}
	for i := range types {
		p.Types = append(p.Types, &types[i])
	}
	if p.Behalf, err = s.administered(ctx, p.User.IDNP); err != nil {
		return err
	}
	if p.Form.Type == "" && len(types) > 0 {
		p.Form.Type = types[0].Code
	}
	for _, t := range types {
		if t.Code == p.Form.Type {
			p.Form.MaxDays = t.MaxDays
		}
	}
	status := http.StatusOK
	if p.Error != "" {
		status = http.StatusUnprocessableEntity
	}
	return s.renderPage(c, status, "new", p)
}

func (s *Service) newPage(c echo.Context) error {
	p := s.page(c)
	today := s.reg.Now().In(i18n.Zone)
	p.Form = wizardForm{Type: c.QueryParam("type"), Behalf: c.QueryParam("for"), From: today.Format(time.DateOnly), To: today.AddDate(0, 1, 0).Format(time.DateOnly)}
	if p.Form.Behalf != "" {
		if msg := s.behalfRefused(c.Request().Context(), p.User.IDNP, p.Form.Behalf); msg != "" {
			return s.errorPage(c, http.StatusForbidden, msg)
		}
	}
	return s.wizard(c, p)
}

// behalfRefused is why the person may not grant for the company idno (a
// message id), or "".
func (s *Service) behalfRefused(ctx context.Context, me, idno string) string {
	if idn.KindOf(idno) != idn.Entity {
		return "idno"
	}
	e, err := s.reg.Entity(ctx, idno)
	if err != nil {
		return "no-entity"
	}
	if !e.AdministeredBy(me, s.reg.Now()) {
		return "not-admin"
	}
	return ""
}

// dayStart is the start of the day d (YYYY-MM-DD) in Chisinau.
func dayStart(d string) (time.Time, bool) {
	t, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(d), i18n.Zone)
	return t, err == nil
}

// checkWizard is what is wrong with the form (a message id), or "".
func (s *Service) checkWizard(ctx context.Context, me string, f *wizardForm) (string, *AuthType, time.Time, time.Time) {
	var zero time.Time
	t, err := s.reg.Type(ctx, f.Type)
	if err != nil {
		return "type", nil, zero, zero
	}
	f.MaxDays = t.MaxDays
	if f.Behalf != "" {
		if msg := s.behalfRefused(ctx, me, f.Behalf); msg != "" {
			return msg, t, zero, zero
		}
	}
	rep := strings.TrimSpace(f.Representative)
	f.Representative = rep
	switch {
	case len(rep) != 13 || strings.Trim(rep, "0123456789") != "":
		return "idnp-digits", t, zero, zero
	case idn.Check(rep) != nil:
		return "idnp-check", t, zero, zero
	case idn.KindOf(rep) != idn.Person:
		return "idnp-person", t, zero, zero
	case rep == me:
		return "self", t, zero, zero
	}
	from, ok1 := dayStart(f.From)
	last, ok2 := dayStart(f.To)
	today, _ := dayStart(s.reg.Now().In(i18n.Zone).Format(time.DateOnly))
	switch {
	case !ok1 || !ok2:
		return "dates", t, zero, zero
	case last.Before(from):
		return "dates-order", t, zero, zero
	case last.Before(today):
		return "dates-past", t, zero, zero
	case int(last.Sub(from).Hours()/24+0.5)+1 > t.MaxDays:
		return "dates-long", t, zero, zero
	}
	// In force from the first day's start to the last day's end.
	return "", t, from, last.AddDate(0, 0, 1).Add(-time.Second)
}

func (s *Service) newPost(c echo.Context) error {
	p := s.page(c)
	ctx := c.Request().Context()
	me := p.User.IDNP
	p.Form = wizardForm{Type: c.FormValue("type"), Behalf: c.FormValue("behalf"), Representative: c.FormValue("representative"),
		From: c.FormValue("from"), To: c.FormValue("to")}
	msg, t, from, to := s.checkWizard(ctx, me, &p.Form)
	if msg == "not-admin" || msg == "no-entity" {
		return s.errorPage(c, http.StatusForbidden, msg)
	}
	if msg != "" {
		p.Error = msg
		return s.wizard(c, p)
	}
	by := me
	if p.Form.Behalf != "" {
		by = p.Form.Behalf
	}
	pw, err := s.reg.Grant(ctx, me, GrantRequest{TypeCode: t.Code, AuthorizingID: by, SignedBy: me, RepresentedID: p.Form.Representative,
		From: from, To: to, Lang: p.Lang})
	if errors.Is(err, ErrInvalid) || errors.Is(err, ErrWrongSigner) {
		s.log.Info("mpower: grant refused", "err", err)
		p.Error = "grant"
		return s.wizard(c, p)
	}
	if err != nil {
		return err
	}
	return s.toMSign(c, p.Lang, me, pw.Code, EvSign)
}

// toMSign asks MSign for the act of ev on the power of code and sends the
// browser there.
func (s *Service) toMSign(c echo.Context, lang, me, code string, ev Event) error {
	st, err := s.StartSigning(c.Request().Context(), me, code, ev)
	if err != nil {
		s.log.Warn("mpower: MSign refused the sign request", "power", code, "err", err)
		return s.errorPage(c, http.StatusServiceUnavailable, "msign")
	}
	q := url.Values{msignclient.ParamReturnURL: {strings.TrimRight(s.web.base.String(), "/") + PathSigned},
		msignclient.ParamRelayState: {code}, msignclient.ParamLang: {lang}}
	return c.Redirect(http.StatusSeeOther, st.RedirectURL+"?"+q.Encode())
}

// visibleTo is the power of code when the person is a party to it (the
// grantor, its signer, the representative, or an administrator in office
// of the company that grants it); ErrNotFound otherwise.
func (s *Service) visibleTo(ctx context.Context, me, code string) (*Power, error) {
	if idn.CheckAuthCode(code) != nil {
		return nil, fmt.Errorf("%w: no power %s", ErrNotFound, code)
	}
	p, err := s.reg.Power(ctx, code)
	if err != nil {
		return nil, err
	}
	if p.AuthorizingID == me || p.SignedBy == me || p.RepresentedID == me {
		return p, nil
	}
	if p.AuthorizingBy == Legal {
		if e, err := s.reg.Entity(ctx, p.AuthorizingID); err == nil && e.AdministeredBy(me, s.reg.Now()) {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: no power %s", ErrNotFound, code)
}

// acts are what the person may sign on p now: the grantor's signer signs
// the grant and revokes; the representative accepts, declines or
// renounces, as the state allows.
func (s *Service) acts(p *Power, me string) []Event {
	now := s.reg.Now()
	var evs []Event
	for _, ev := range []Event{EvSign, EvAccept, EvDecline, EvRevoke, EvRenounce} {
		who := signedEvents[ev]
		if who == "authorizing" && p.SignedBy != me || who == "representative" && p.RepresentedID != me {
			continue
		}
		q := *p
		if q.Apply(ev, now) == nil {
			evs = append(evs, ev)
		}
	}
	return evs
}

func (s *Service) powerPage(c echo.Context) error {
	p := s.page(c)
	ctx := c.Request().Context()
	pw, err := s.visibleTo(ctx, p.User.IDNP, c.Param("code"))
	if err != nil {
		return err
	}
	if p.Power, err = s.row(ctx, pw); err != nil {
		return err
	}
	if p.History, err = s.reg.History(ctx, pw.Code); err != nil {
		return err
	}
	acts, err := s.reg.Acts(ctx, pw.Code)
	if err != nil {
		return err
	}
	for i, a := range acts {
		v := s.verifyAct(ctx, a)
		v.N = i + 1
		p.Acts = append(p.Acts, v)
		switch {
		case a.Signer == pw.SignedBy && v.Signer.Name != "":
			p.Power.Signer = v.Signer.Name
		case a.Signer == pw.RepresentedID && v.Signer.Name != "":
			p.Power.Represents = v.Signer.Name
		}
	}
	if pw.AuthorizingBy == Natural && p.Power.Grantor == "" {
		p.Power.Grantor = p.Power.Signer
	}
	if pw.RepresentedID == p.User.IDNP && p.Power.Represents == "" {
		p.Power.Represents = p.User.Name()
	}
	p.Can = s.acts(pw, p.User.IDNP)
	switch c.QueryParam("n") {
	case "signed", "not-signed", "refused":
		p.Notice = "n." + c.QueryParam("n")
	}
	return s.renderPage(c, http.StatusOK, "power", p)
}

// verifyAct verifies a signed act now (pades.Verify with the service's
// options) and reports its own signature, the last one.
func (s *Service) verifyAct(ctx context.Context, a SignedAct) actView {
	v := actView{Event: a.Event, SignedAt: a.SignedAt, SignerID: a.Signer, Result: "unknown"}
	opts := s.cfg.Verify
	opts.At = time.Time{}
	rep, err := pades.Verify(ctx, bytes.NewReader(a.PDF), int64(len(a.PDF)), &opts)
	if err != nil || len(rep.Signatures) == 0 {
		v.Result = "unreadable"
		return v
	}
	sig := rep.Signatures[len(rep.Signatures)-1]
	for i := len(rep.Signatures) - 1; i >= 0; i-- {
		if rep.Signatures[i].Kind == "signature" {
			sig = rep.Signatures[i]
			break
		}
	}
	v.Passed, v.Result, v.Reasons = sig.Indication == pades.TotalPassed, string(sig.Indication), sig.Reasons
	if sig.Signer != nil {
		v.Signer = i18n.PersonOf(sig.Signer.Subject)
	}
	if sig.Revocation != nil {
		v.Revoc = sig.Revocation.Status
	}
	return v
}

var webActs = map[string]Event{"sign": EvSign, "accept": EvAccept, "decline": EvDecline, "revoke": EvRevoke, "renounce": EvRenounce}

func (s *Service) actPost(c echo.Context) error {
	p := s.page(c)
	ctx := c.Request().Context()
	pw, err := s.visibleTo(ctx, p.User.IDNP, c.Param("code"))
	if err != nil {
		return err
	}
	ev, ok := webActs[c.FormValue("act")]
	allowed := false
	for _, e := range s.acts(pw, p.User.IDNP) {
		allowed = allowed || ok && e == ev
	}
	if !allowed {
		return s.errorPage(c, http.StatusConflict, "act")
	}
	return s.toMSign(c, p.Lang, p.User.IDNP, pw.Code, ev)
}

func (s *Service) actPDF(c echo.Context) error {
	ctx := c.Request().Context()
	pw, err := s.visibleTo(ctx, samlrp.UserOf(s.web.sp, c.Request()).IDNP, c.Param("code"))
	if err != nil {
		return err
	}
	acts, err := s.reg.Acts(ctx, pw.Code)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(strings.TrimSuffix(c.Param("n"), ".pdf"))
	if err != nil || n < 1 || n > len(acts) {
		return echo.ErrNotFound
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="procura-%s-%d.pdf"`, pw.Code, n))
	return c.Blob(http.StatusOK, "application/pdf", acts[n-1].PDF)
}

// signedReturn is where MSign sends the browser back (RequestID,
// RelayState = the power's code): the result is fetched from MSign and,
// once signed by the right person, applied (FinishSigning).
func (s *Service) signedReturn(c echo.Context) error {
	code, reqID := c.FormValue(msignclient.ParamRelayState), c.FormValue(msignclient.ParamRequestID)
	if idn.CheckAuthCode(code) != nil || reqID == "" || len(reqID) > 64 {
		return s.errorPage(c, http.StatusBadRequest, "return")
	}
	ctx := c.Request().Context()
	pending, err := s.cfg.Store.Get(ctx, signKind, reqID)
	if err != nil {
		// Came back twice, or the request is not ours: the power's page
		// says where it stands.
		return c.Redirect(http.StatusSeeOther, pathPower+code)
	}
	if !bytes.Contains(pending, []byte(`"code":"`+code+`"`)) {
		return s.errorPage(c, http.StatusBadRequest, "return")
	}
	_, err = s.FinishSigning(ctx, reqID)
	var te *TransitionError
	switch {
	case err == nil:
		return c.Redirect(http.StatusSeeOther, pathPower+code+"?n=signed")
	case errors.Is(err, ErrNotSigned):
		return c.Redirect(http.StatusSeeOther, pathPower+code+"?n=not-signed")
	case errors.Is(err, ErrWrongSigner), errors.Is(err, ErrWrongDocument), errors.Is(err, ErrInvalid), errors.As(err, &te):
		s.log.Info("mpower: a signed act was refused", "power", code, "err", err)
		return c.Redirect(http.StatusSeeOther, pathPower+code+"?n=refused")
	}
	return err
}
