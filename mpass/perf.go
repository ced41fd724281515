package mpass

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/crewjam/saml"
	"github.com/labstack/echo/v4"
)

// checkedRequests keeps, for a few seconds, the AuthnRequests sso checked
// (XML parsed, signature verified with the registered certificate, ACS URL
// resolved), so that the login page that answers right after from the SSO
// session on this instance does not read and check them a second time
// (Service.rebuild); on another instance, or later (a phone login), the
// request is read again from the login transaction as before. Bounded: at
// most maxChecked entries, none older than checkedTTL, so that thousands of
// logins waiting for phones keep no parsed requests in memory.
type checkedRequests struct {
	mu sync.Mutex
	m  map[string]checkedRequest
}

type checkedRequest struct {
	req *saml.IdpAuthnRequest
	at  time.Time
}

const (
	checkedTTL = 10 * time.Second
	maxChecked = 4096
)

func (c *checkedRequests) put(txID string, req *saml.IdpAuthnRequest, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]checkedRequest{}
	}
	if len(c.m) >= maxChecked {
		for id, e := range c.m {
			if now.Sub(e.at) >= checkedTTL {
				delete(c.m, id)
			}
		}
		if len(c.m) >= maxChecked {
			return
		}
	}
	c.m[txID] = checkedRequest{req: req, at: now}
}

// take returns the checked request of a login (and forgets it), or nil.
func (c *checkedRequests) take(txID string, now time.Time) *saml.IdpAuthnRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[txID]
	if !ok {
		return nil
	}
	delete(c.m, txID)
	if now.Sub(e.at) >= checkedTTL {
		return nil
	}
	return e.req
}

// detach points a checked request at a copy of its HTTP request that
// outlives the exchange, with the client address the login recorded (the
// assertion's SubjectLocality), as rebuild does.
func detach(req *saml.IdpAuthnRequest, r *http.Request, clientIP string) {
	hr := r.Clone(r.Context())
	hr.RemoteAddr = clientIP
	hr.Body = http.NoBody
	req.HTTPRequest = hr
}

// sessionTouch is how stale a session's LastUsed may be before a login
// through it writes it again: the idle timeout is then up to this much
// early, and a burst of logins to one service costs no session write each.
func sessionTouch(idle time.Duration) time.Duration { return min(time.Minute, idle/10) }

// dropTxCookie removes a finished login's browser cookie, so that a
// browser logging in to many services through its SSO session does not
// carry one cookie per login until they expire (the request headers grew
// past the server's limit after about 300 logins within LoginTTL).
func (s *Service) dropTxCookie(c echo.Context, txID string) {
	c.SetCookie(&http.Cookie{Name: txCookie(txID), Value: "", Path: pathLogin, MaxAge: -1,
		HttpOnly: true, Secure: s.base.Scheme == "https", SameSite: http.SameSiteLaxMode})
}

// spMemo is the registration a request read first: one SAML request reads
// its relying service's registration up to three times (the AuthnRequest's
// check, the stale-InResponseTo switch, the answer), each a store read;
// within one request they are the same registration.
type spMemo struct {
	sp *SP
	ed *saml.EntityDescriptor
}

type spMemoKey struct{}

// withSPMemo gives a request's context a place for its registration.
func withSPMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, spMemoKey{}, &spMemo{})
}

// memoSP is the registration of entityID the request read already, or nil.
func memoSP(ctx context.Context, entityID string) (*SP, *saml.EntityDescriptor) {
	if m, _ := ctx.Value(spMemoKey{}).(*spMemo); m != nil && m.sp != nil && m.sp.EntityID == entityID {
		return m.sp, m.ed
	}
	return nil, nil
}

// rememberSP keeps the registration read for the rest of the request.
func rememberSP(ctx context.Context, sp *SP, ed *saml.EntityDescriptor) {
	if m, _ := ctx.Value(spMemoKey{}).(*spMemo); m != nil && m.sp == nil {
		m.sp, m.ed = sp, ed
	}
}
