package mpass

import (
	"errors"
	"net/http"
	"strings"

	"github.com/crewjam/saml"
	"github.com/labstack/echo/v4"
)

// sessions is what crewjam's identity provider asks about SSO sessions
// when it serves single logout (/logout/saml): it ends the browser's
// session and names the other relying services it was used for, to which
// the logout is then carried front-channel, each answering in turn.
type sessions struct{ s *Service }

var (
	_ saml.SessionInvalidator        = sessions{}
	_ saml.SessionParticipantTracker = sessions{}
)

// GetSession is never asked: MPass runs its logins itself (Service.sso),
// not through the identity provider's ServeSSO.
func (p sessions) GetSession(w http.ResponseWriter, _ *http.Request, _ *saml.IdpAuthnRequest) *saml.Session {
	http.Error(w, "log in through "+PathSSO, http.StatusBadRequest)
	return nil
}

// InvalidateSession ends the browser's SSO session if the LogoutRequest
// names it (its NameID and SessionIndex), and records the logout.
func (p sessions) InvalidateSession(w http.ResponseWriter, r *http.Request, req *saml.IdpLogoutRequest) error {
	ss, key := p.s.currentSession(r)
	if ss == nil || !req.MatchesSession(ss.samlSession(p.s.cfg.SessionTTL)) {
		return nil // already logged out, or another session: nothing to end here
	}
	p.s.expireSessionCookie(w)
	err := p.s.endSession(r.Context(), key, ss, auditEvent("mpass.logout", ss.Identity.IDNP, req.ServiceProviderMetadata.EntityID,
		map[string]string{"session": ss.Index, "services": strings.Join(ss.SPs, " ")}))
	if errors.Is(err, ErrSessionEnded) {
		return nil
	}
	return err
}

// AddSessionParticipant is not asked either: Service.finish records the
// relying services in the session.
func (sessions) AddSessionParticipant(*http.Request, *saml.Session, saml.SessionParticipant) error {
	return nil
}

// SessionParticipants lists the relying services the browser's session,
// if match selects it, logged into.
func (p sessions) SessionParticipants(r *http.Request, match func(*saml.Session) bool) ([]saml.SessionParticipant, error) {
	f := fanoutOf(r)
	ss := (*ssoSession)(nil)
	if f != nil && f.ended != nil {
		ss = f.ended // an ended session's logout (logoutPlan)
	} else {
		ss, _ = p.s.currentSession(r)
	}
	if ss == nil || !match(ss.samlSession(p.s.cfg.SessionTTL)) {
		return nil, nil
	}
	out := make([]saml.SessionParticipant, 0, len(ss.SPs))
	for _, sp := range ss.SPs {
		if strings.HasPrefix(sp, oidcSPPrefix) {
			continue // an OpenID Connect client: no SAML logout
		}
		out = append(out, saml.SessionParticipant{ServiceProviderID: sp, SessionIndex: ss.Index,
			NameID: saml.NameID{Format: string(saml.UnspecifiedNameIDFormat), Value: ss.Identity.IDNP}})
	}
	if f != nil {
		p.s.probe(r.Context(), f, ss, out)
	}
	return out, nil
}

// Paths of the person's own session page and of IdP-initiated logout.
const (
	pathSession   = "/session"
	pathLogoutAll = "/logout"
)

// sessionPage shows who the browser is logged in as and to which
// services, with a button that logs out of all of them.
func (s *Service) sessionPage(c echo.Context) error {
	lang := pageLang(c)
	d := pageData{Self: pathSession + "?"}
	if ss, key := s.currentSession(c.Request()); ss != nil {
		others, err := s.otherSessions(c.Request().Context(), ss, key)
		if err != nil {
			return err
		}
		d.Others = others
		d.Person = strings.TrimSpace(ss.Identity.GivenName+" "+ss.Identity.Surname) + " (" + ss.Identity.IDNP + ")"
		for _, sp := range ss.SPs {
			d.Services = append(d.Services, s.serviceName(c.Request().Context(), sp))
		}
	}
	d.Unconfirmed = s.unconfirmed(c.Request().Context(), c.QueryParam("logout"))
	return s.web.page(c, http.StatusOK, "session", lang, d)
}

// logoutAll ends the browser's session at the person's wish: every relying
// service of the session is sent a LogoutRequest through the browser, one
// after the other, then the person is back on the session page. (A
// cross-site POST carries no session cookie: it logs nobody out.)
func (s *Service) logoutAll(c echo.Context) error {
	ss, key := s.currentSession(c.Request())
	if ss == nil {
		return c.Redirect(http.StatusSeeOther, pathSession)
	}
	s.expireSessionCookie(c.Response())
	// StartLogout reads the session's services (SessionParticipants):
	// the session ends after it.
	r, f := s.withFanout(c.Response(), c.Request(), nil)
	if _, err := (sessions{s}).SessionParticipants(r, func(*saml.Session) bool { return true }); err != nil {
		return err
	}
	s.logoutIdP(c.Response(), r, ss.SPs).StartLogout(c.Response(), r, ss.samlSession(s.cfg.SessionTTL), unconfirmedReturn(f)) // logout_sig.go
	err := s.endSession(c.Request().Context(), key, ss, auditEvent("mpass.logout", ss.Identity.IDNP, "mpass",
		map[string]string{"session": ss.Index, "services": strings.Join(ss.SPs, " "), "initiator": "person"}))
	if errors.Is(err, ErrSessionEnded) {
		return nil
	}
	return err
}

func (s *Service) expireSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.base.Scheme == "https", SameSite: http.SameSiteLaxMode})
}
