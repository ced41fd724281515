package mpass

// Single logout across protocols and services that do not answer.
//
// A front-channel logout sends the browser to each SAML relying service of
// the session in turn; one whose single logout endpoint does not answer
// would leave the browser hanging there and the logout's initiator without
// an answer. So before the browser is sent anywhere, MPass asks each
// service's endpoint (concurrently, at most Config.SLOTimeout): a service
// that does not answer in time is skipped and counted as not logged out,
// and the initiator learns it: a relying service that sent a LogoutRequest
// gets a LogoutResponse with the second-level status PartialLogout, the
// person on the session page the list of services that did not confirm.
//
// RP-initiated OpenID Connect logout (end_session) ends the session and
// then sends the browser through the same front-channel logout of the
// session's SAML services (logoutPlan) before the client's post-logout
// redirect URI; a SAML logout reaches the OpenID Connect clients through
// back-channel logout (oidc_logout.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/crewjam/saml"
	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/store"
)

const (
	kindLogoutPlan   = "mpass.logout.plan"   // a front-channel logout to run after end_session, LogoutStateLifetime
	kindLogoutResult = "mpass.logout.result" // services that did not answer a logout in time, LogoutStateLifetime
	pathLogoutSAML   = "/logout/continue"    // runs a logoutPlan
)

// fanout is the state of one request that fans a logout out to a
// session's SAML services: the session (when it has ended already) and the
// services that did not answer in time. The logout goes on over several
// requests (each service answers through the browser): the services that
// did not answer are kept in the store, named by a cookie of the logout
// (cookieLogout), so that the later requests skip them too.
type fanout struct {
	w     http.ResponseWriter
	ended *ssoSession

	probed      string // the session index the services were asked for
	unreachable map[string]bool
	result      string // the id of the stored list of unreachable
}

type fanoutKey struct{}

// cookieLogout names the services of a logout under way that did not
// answer in time (their list in the store, kindLogoutResult).
const cookieLogout = "mpass_logout"

// unanswered is what kindLogoutResult holds.
type unanswered struct {
	Session string   `json:"session"`
	IDs     []string `json:"ids"`
}

// withFanout marks r as one that propagates a logout, with what earlier
// requests of the same logout found.
func (s *Service) withFanout(w http.ResponseWriter, r *http.Request, ended *ssoSession) (*http.Request, *fanout) {
	f := &fanout{w: w, ended: ended, unreachable: map[string]bool{}}
	if ck, err := r.Cookie(cookieLogout); err == nil {
		if u := s.unansweredOf(r.Context(), ck.Value); u != nil {
			f.probed, f.result = u.Session, ck.Value
			for _, id := range u.IDs {
				f.unreachable[id] = true
			}
		}
	}
	return r.WithContext(context.WithValue(r.Context(), fanoutKey{}, f)), f
}

func fanoutOf(r *http.Request) *fanout {
	f, _ := r.Context().Value(fanoutKey{}).(*fanout)
	return f
}

func (s *Service) unansweredOf(ctx context.Context, id string) *unanswered {
	if id == "" {
		return nil
	}
	b, err := s.cfg.Store.Get(ctx, kindLogoutResult, id)
	if err != nil {
		return nil
	}
	var u unanswered
	if json.Unmarshal(b, &u) != nil {
		return nil
	}
	return &u
}

// probe asks each participant's single logout endpoint once, all at the
// same time, and records those that do not answer within
// Config.SLOTimeout (any HTTP answer counts: the endpoint is there). It
// asks once per logout: the later requests of the logout read the result.
func (s *Service) probe(ctx context.Context, f *fanout, ss *ssoSession, participants []saml.SessionParticipant) {
	if f.probed == ss.Index {
		return
	}
	f.probed, f.unreachable = ss.Index, map[string]bool{}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.SLOTimeout)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range participants {
		_, ed, err := s.sps.Get(pctx, p.ServiceProviderID)
		if err != nil {
			continue // crewjam counts it as failed itself
		}
		loc := sloLocation(ed)
		if loc == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ping(pctx, s.cfg.HTTPClient, loc); err != nil {
				mu.Lock()
				f.unreachable[p.ServiceProviderID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(f.unreachable) == 0 {
		return
	}
	u := unanswered{Session: ss.Index}
	for id := range f.unreachable {
		u.IDs = append(u.IDs, id)
	}
	slices.Sort(u.IDs)
	s.audit(ctx, auditEvent("mpass.logout-partial", ss.Identity.IDNP, "mpass", map[string]string{
		"session": ss.Index, "unanswered": strings.Join(u.IDs, " "), "timeout": s.cfg.SLOTimeout.String()}))
	b, err := json.Marshal(u)
	if err != nil {
		return
	}
	id := newID()
	if err := s.cfg.Store.Put(ctx, kindLogoutResult, id, b, saml.LogoutStateLifetime); err != nil {
		s.cfg.Log.Warn("mpass: recording the services that did not answer a logout", "err", err)
		return
	}
	f.result = id
	// SameSite=None over https: a LogoutResponse may come back in a
	// cross-site POST, which must carry it (as crewjam's state cookie).
	same := http.SameSiteLaxMode
	if s.base.Scheme == "https" {
		same = http.SameSiteNoneMode
	}
	http.SetCookie(f.w, &http.Cookie{Name: cookieLogout, Value: id, Path: "/", MaxAge: int(saml.LogoutStateLifetime / time.Second),
		HttpOnly: true, Secure: s.base.Scheme == "https", SameSite: same})
}

// sloLocation is where crewjam sends the browser with a LogoutRequest: the
// first HTTP-Redirect single logout service, else the first HTTP-POST one.
func sloLocation(ed *saml.EntityDescriptor) string {
	for _, b := range []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding} {
		for _, d := range ed.SPSSODescriptors {
			for _, ep := range d.SingleLogoutServices {
				if ep.Binding == b && ep.Location != "" {
					return ep.Location
				}
			}
		}
	}
	return ""
}

// ping is one GET of u: nil when it answers at all.
func ping(ctx context.Context, c *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := cc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// spProvider is the registry as crewjam's identity provider reads it:
// while a logout fans out, a service that did not answer in time has no
// metadata, so crewjam skips it and counts it as not logged out.
type spProvider struct{ r *Registry }

var errUnanswered = errors.New("mpass: the service's single logout endpoint did not answer in time")

func (p spProvider) GetServiceProvider(r *http.Request, entityID string) (*saml.EntityDescriptor, error) {
	if f := fanoutOf(r); f != nil && f.unreachable[entityID] {
		return nil, fmt.Errorf("%w: %s", errUnanswered, entityID)
	}
	return p.r.GetServiceProvider(r, entityID)
}

// logoutPlan is a front-channel logout of an ended session's SAML
// services, to run in the browser, then end at Return.
type logoutPlan struct {
	Session ssoSession `json:"session"`
	Return  string     `json:"return"`
}

// planLogout records the front-channel logout of the SAML services of the
// ended session ss and returns the URL that runs it, then goes to ret; ret
// itself when ss has no SAML service.
func (s *Service) planLogout(ctx context.Context, ss *ssoSession, ret string) (string, error) {
	if !slices.ContainsFunc(ss.SPs, func(sp string) bool { return !strings.HasPrefix(sp, oidcSPPrefix) }) {
		return ret, nil
	}
	b, err := json.Marshal(logoutPlan{Session: *ss, Return: ret})
	if err != nil {
		return "", err
	}
	id := newID()
	if err := s.cfg.Store.Put(ctx, kindLogoutPlan, id, b, saml.LogoutStateLifetime); err != nil {
		return "", err
	}
	return s.urlString(pathLogoutSAML) + "?id=" + id, nil
}

// runLogoutPlan runs a recorded front-channel logout (once: the plan is
// taken).
func (s *Service) runLogoutPlan(c echo.Context) error {
	b, err := s.cfg.Store.Take(c.Request().Context(), kindLogoutPlan, c.QueryParam("id"))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
			return c.Redirect(http.StatusSeeOther, pathSession)
		}
		return err
	}
	var p logoutPlan
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	r, _ := s.withFanout(c.Response(), c.Request(), &p.Session)
	s.logoutIdP(c.Response(), r, p.Session.SPs).StartLogout(c.Response(), r, p.Session.samlSession(s.cfg.SessionTTL), p.Return) // logout_sig.go
	return nil
}

// unconfirmedReturn is where the person's own logout ends: the session
// page, naming the services that did not answer in time (by the id of the
// stored list, so that nobody can put words on the page by a link).
func unconfirmedReturn(f *fanout) string {
	if f.result != "" {
		return pathSession + "?logout=" + url.QueryEscape(f.result)
	}
	return pathSession
}

// unconfirmed names the services of a logout result (none if there is no
// such result).
func (s *Service) unconfirmed(ctx context.Context, id string) []string {
	u := s.unansweredOf(ctx, id)
	if u == nil {
		return nil
	}
	names := make([]string, 0, len(u.IDs))
	for _, id := range u.IDs {
		names = append(names, hostOf(id))
	}
	return names
}

// defaultSLOTimeout bounds the wait for the session's services' single
// logout endpoints.
const defaultSLOTimeout = 3 * time.Second

// checkLogoutRequest checks a LogoutRequest as ServeSLO will (signature by
// the relying service's registered key, the signed element being the
// request itself, its fields), without using up its ID, so that a refusal
// gets a page saying why rather than a bare 400. It returns the relying
// service that sent it.
func (s *Service) checkLogoutRequest(r *http.Request) (string, error) {
	idp := *s.idp
	idp.ReplayCache = nil // ServeSLO records the ID
	req, err := saml.NewIdpLogoutRequest(&idp, r)
	if err != nil {
		return "", err
	}
	if err := req.Validate(); err != nil {
		return "", err
	}
	return req.ServiceProviderMetadata.EntityID, nil
}

// logoutProblem is the message key of a LogoutRequest that failed Validate.
func logoutProblem(err error) string {
	if k := requestProblem(err); k != "bad-request" {
		return k
	}
	if strings.Contains(err.Error(), "signature") || strings.Contains(err.Error(), "signed logout request") {
		return "bad-signature"
	}
	return "bad-request"
}
