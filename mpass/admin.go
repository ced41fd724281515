package mpass

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// The admin page: the registered relying services, their options and
// fault-injection switches, which an administrator turns on and off. An
// administrator is a person whose IDNP is in Config.Admins, logged in to
// MPass like anyone else (token or phone: no password exists).
const (
	pathAdmin       = "/admin"
	pathAdminLogin  = "/admin/login"
	pathAdminFaults = "/admin/faults"
)

// adminSP is one relying service on the admin page.
type adminSP struct {
	SPInfo
	Switches []adminSwitch
}

type adminSwitch struct {
	Name string
	On   bool
}

// csrfToken is the admin forms' token: derived from the session's secret
// cookie, so that another site cannot know it.
func csrfToken(cookie string) string { return digest("mpass-admin-csrf\n" + cookie)[:32] }

// admin returns the browser's session if its person is an administrator
// (nil, false: no session; session, false: not an administrator).
func (s *Service) admin(r *http.Request) (*ssoSession, bool) {
	ss, _ := s.currentSession(r)
	if ss == nil {
		return nil, false
	}
	return ss, slices.Contains(s.cfg.Admins, ss.Identity.IDNP)
}

// adminPage shows the relying services and their switches, or asks to log
// in.
func (s *Service) adminPage(c echo.Context) error {
	lang := pickLang(c.QueryParam("lang"), c.Request().Header.Get("Accept-Language"))
	d := pageData{Self: pathAdmin + "?"}
	ss, ok := s.admin(c.Request())
	switch {
	case ss == nil:
		return s.web.page(c, http.StatusOK, "admin", lang, d)
	case !ok:
		d.Person = personOf(ss)
		d.Problem = "not-admin"
		s.audit(c.Request().Context(), auditEvent("mpass.admin-refused", ss.Identity.IDNP, "mpass", map[string]string{"ip": c.RealIP()}))
		return s.web.page(c, http.StatusForbidden, "admin", lang, d)
	}
	infos, err := s.sps.List(c.Request().Context())
	if err != nil {
		return err
	}
	ck, _ := c.Cookie(cookieSession)
	d.Person, d.CSRF = personOf(ss), csrfToken(ck.Value)
	for _, in := range infos {
		a := adminSP{SPInfo: in}
		for _, f := range Faults {
			a.Switches = append(a.Switches, adminSwitch{Name: f, On: slices.Contains(in.Options.Faults, f)})
		}
		d.SPs = append(d.SPs, a)
	}
	return s.web.page(c, http.StatusOK, "admin", lang, d)
}

func personOf(ss *ssoSession) string {
	return strings.TrimSpace(ss.Identity.GivenName+" "+ss.Identity.Surname) + " (" + ss.Identity.IDNP + ")"
}

// adminLogin starts a login whose end is the admin page (no relying
// service asked for it).
func (s *Service) adminLogin(c echo.Context) error {
	lang := pickLang(c.QueryParam("lang"), c.Request().Header.Get("Accept-Language"))
	admin := s.url(pathAdmin)
	tx := &loginTx{ID: newID(), Admin: true, ReceivedAt: s.cfg.Now().UTC(), SP: "mpass-admin", ACS: admin.String(),
		Lang: lang, ClientIP: c.RealIP(), ForceAuthn: true}
	tx.Browser = s.bindBrowser(c, tx.ID)
	if err := s.putTx(c, tx); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, s.loginURL(tx))
}

// adminFaults sets a relying service's fault-injection switches from the
// admin page.
func (s *Service) adminFaults(c echo.Context) error {
	ss, ok := s.admin(c.Request())
	ck, cerr := c.Cookie(cookieSession)
	if !ok || cerr != nil || subtle.ConstantTimeCompare([]byte(c.FormValue("csrf")), []byte(csrfToken(ck.Value))) != 1 {
		actor := ""
		if ss != nil {
			actor = ss.Identity.IDNP
		}
		s.audit(c.Request().Context(), auditEvent("mpass.admin-refused", actor, c.FormValue("sp"), map[string]string{"ip": c.RealIP(), "change": "faults"}))
		return s.web.page(c, http.StatusForbidden, "admin", pickLang(c.QueryParam("lang"), c.Request().Header.Get("Accept-Language")),
			pageData{Problem: "not-admin"})
	}
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	faults := form["fault"]
	sp := c.FormValue("sp")
	if err := s.sps.SetFaults(c.Request().Context(), sp, faults); err != nil {
		return s.refuse(c, "en", sp, "bad-request", err)
	}
	if _, err := s.cfg.Store.Append(c.Request().Context(), auditEvent("mpass.faults-set", ss.Identity.IDNP, sp,
		map[string]string{"faults": strings.Join(faults, " "), "via": "admin page", "ip": c.RealIP()})); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, pathAdmin)
}
