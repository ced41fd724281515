package portal

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/semnat/semnat/portal/catalog"
)

const csrfKey = "portal.csrf"

// Mount adds the portal's pages, its SAML endpoints and MSign's way back.
func (s *Service) Mount(g *echo.Group) {
	sp := echo.WrapHandler(s.sp) // metadata and the assertion consumer
	g.GET(PathMetadata, sp)
	g.POST(PathACS, sp, middleware.BodyLimit("256KB"))
	g.GET(pathStatic+"*", echo.WrapHandler(s.web.static))
	// MSign sends the browser back with a cross-site POST: no form token
	// and no session cookie; the request id is checked with MSign itself.
	g.POST(PathSigned, s.signedReturn, s.pageErrors, middleware.BodyLimit("64KB"))
	if s.cfg.MPaySP != nil {
		s.mountMPay(g)
	}

	csrf := middleware.CSRFWithConfig(middleware.CSRFConfig{TokenLookup: "form:_csrf", ContextKey: csrfKey,
		CookieName: "portal_csrf", CookiePath: "/", CookieHTTPOnly: true, CookieSameSite: http.SameSiteStrictMode,
		CookieSecure: s.base.Scheme == "https",
		ErrorHandler: func(err error, c echo.Context) error {
			return s.errorPage(c, http.StatusForbidden, "CSRF: "+err.Error())
		}})
	w := g.Group("", s.pageErrors, middleware.BodyLimit(fmt.Sprintf("%dB", s.cfg.MaxAttachment+64<<10)), csrf)
	w.GET(PathHome, s.home)
	w.GET(PathPrefix, s.home)
	w.GET(PathPrefix+"/servicii", s.home)
	w.GET(PathPrefix+"/servicii/:code", s.serviceCard)
	w.POST(PathPrefix+"/iesire", echo.WrapHandler(http.HandlerFunc(s.sp.HandleStartLogout)))

	a := w.Group("", s.requireUser)
	a.GET(PathPrefix+"/intrare", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, PathPrefix+"/cereri") })
	a.GET(PathPrefix+"/servicii/:code/aplica", s.behalfPage)
	a.POST(PathPrefix+"/servicii/:code/aplica", s.behalfPost)
	a.GET(PathPrefix+"/cereri", s.myApps)
	a.GET(PathPrefix+"/cereri/:id", s.appPage)
	a.GET(PathPrefix+"/cereri/:id/formular", s.formPage)
	a.POST(PathPrefix+"/cereri/:id/formular", s.formPost)
	a.GET(PathPrefix+"/cereri/:id/documente", s.attachPage)
	a.POST(PathPrefix+"/cereri/:id/documente", s.attachPost)
	a.GET(PathPrefix+"/cereri/:id/documente/:att", s.attachment)
	a.POST(PathPrefix+"/cereri/:id/documente/:att/sterge", s.attachDelete)
	a.GET(PathPrefix+"/cereri/:id/livrare", s.deliveryPage)
	a.POST(PathPrefix+"/cereri/:id/livrare", s.deliveryPost)
	a.GET(PathPrefix+"/cereri/:id/confirmare", s.confirmPage)
	a.POST(PathPrefix+"/cereri/:id/semneaza", s.signStart)
	a.POST(PathPrefix+"/cereri/:id/anuleaza", s.cancel)
	a.GET(PathPrefix+"/cereri/:id/cerere.pdf", s.applicationPDF)
	a.GET(PathPrefix+"/cereri/:id/chitanta.pdf", s.receipt)
	s.mountCabinet(a, w)
	s.mountOffice(g, w)
}

// requireUser sends a visitor who is not logged in to MPass; samlsp
// brings them back to the page they asked for.
func (s *Service) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u := s.currentUser(c.Request())
		if u == nil {
			if c.Request().Method != http.MethodGet {
				return c.Redirect(http.StatusSeeOther, c.Request().URL.Path)
			}
			s.sp.HandleStartAuthFlow(c.Response(), c.Request())
			return nil
		}
		r := c.Request()
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
		return next(c)
	}
}

// home is the catalogue: by domain or provider, or what a search finds.
func (s *Service) home(c echo.Context) error {
	p := s.newPage(c, "")
	p.Title = p.T["Portal"]
	p.Query = catalog.Query{Domain: c.QueryParam("domain"), Provider: c.QueryParam("provider"), Text: c.QueryParam("q")}
	p.Services = s.cfg.Catalog.Find(p.Query)
	p.Domains, p.Providers = s.cfg.Catalog.Domains(p.Lang), s.cfg.Catalog.Providers(p.Lang)
	p.Heading = p.T["AllServices"]
	if p.Query != (catalog.Query{}) {
		p.Heading = p.T["Results"]
	}
	return s.render(c, http.StatusOK, "home", p)
}

// serviceCard is a service's card.
func (s *Service) serviceCard(c echo.Context) error {
	svc, err := s.cfg.Catalog.Service(c.Param("code"))
	if err != nil {
		return echo.ErrNotFound
	}
	p := s.newPage(c, "")
	p.Service, p.Title = svc, svc.Title.In(p.Lang)
	p.PaymentsUnavailable = !svc.Free() && s.cfg.Payments == nil
	return s.render(c, http.StatusOK, "service", p)
}
