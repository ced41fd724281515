package mpass

// A person's other SSO sessions (other browsers, other devices): the
// session page lists them, with when and how each began and the services
// it logged into, and ends any of them at the person's wish. Ending one
// is a logout like any other (endSession): its OpenID Connect clients get
// their back-channel logout and the audit log names its services. Its
// SAML services cannot be told, as no browser of that session is at hand
// (front-channel logout only); their sessions end at the assertion's
// SessionNotOnOrAfter.
//
// The sessions of a person are found through an index item per session
// (kindPersonSession, digest(IDNP) + digest(SessionIndex), hex only, so
// that a range of the primary key finds a person's whatever the database's
// collation → the session's store key), written with the session; one
// whose session is gone is removed when it is next read.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/store"
)

const (
	kindPersonSession = "mpass.person-session" // a person's sessions: digest(IDNP)+digest(Index) → session key
	pathSessionEnd    = "/session/end"         // POST: end another session of the person
)

// otherSession is one of the person's other sessions, as the page shows it.
type otherSession struct {
	Index    string
	Since    time.Time
	Method   string // "mobile" or "token"
	Services []string
}

// personSessionID is the index item's id of a session.
func personSessionID(idnp, index string) string { return digest(idnp) + digest(index)[:32] }

// personSessionItem is the index item of session ss stored under key.
func (s *Service) personSessionItem(key string, ss *ssoSession) store.ItemPut {
	return store.ItemPut{Kind: kindPersonSession, ID: personSessionID(ss.Identity.IDNP, ss.Index), Value: []byte(key),
		TTL: s.cfg.SessionTTL + sessionGrace}
}

// otherSessions lists the live sessions of ss's person other than the one
// stored under ownKey, oldest first.
func (s *Service) otherSessions(ctx context.Context, ss *ssoSession, ownKey string) ([]otherSession, error) {
	prefix := digest(ss.Identity.IDNP) // every id of the person: prefix + hex digits, below prefix + "g"
	rows, err := s.cfg.Store.Query(ctx, `SELECT id, value FROM items WHERE kind = ? AND id >= ? AND id < ? AND expires > ? ORDER BY id`,
		kindPersonSession, prefix, prefix+"g", s.cfg.Store.Now().UnixNano())
	if err != nil {
		return nil, err
	}
	type ref struct{ id, key string }
	var refs []ref
	for rows.Next() {
		var r ref
		var key []byte
		if err := rows.Scan(&r.id, &key); err != nil {
			rows.Close()
			return nil, err
		}
		r.key = string(key)
		refs = append(refs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []otherSession
	for _, r := range refs {
		if r.key == ownKey {
			continue
		}
		other, ok := s.liveSession(ctx, r.key, ss.Identity.IDNP)
		if !ok {
			_ = s.cfg.Store.Delete(ctx, kindPersonSession, r.id) // its session has ended
			continue
		}
		o := otherSession{Index: other.Index, Since: other.AuthnInstant, Method: other.Method}
		for _, sp := range other.SPs {
			o.Services = append(o.Services, s.serviceName(ctx, sp))
		}
		out = append(out, o)
	}
	return out, nil
}

// liveSession reads the session stored under key if it is idnp's and not
// over.
func (s *Service) liveSession(ctx context.Context, key, idnp string) (*ssoSession, bool) {
	b, err := s.cfg.Store.Get(ctx, kindSession, key)
	if err != nil {
		return nil, false
	}
	var ss ssoSession
	if json.Unmarshal(b, &ss) != nil || ss.Identity.IDNP != idnp {
		return nil, false
	}
	if _, over := s.sessionOver(&ss); over {
		return nil, false
	}
	return &ss, true
}

// endOtherSession ends another session of the browser's person (the form's
// "session", its SessionIndex). Only the person's own browser can: the
// request must carry its session cookie (SameSite=Lax: a cross-site POST
// carries none).
func (s *Service) endOtherSession(c echo.Context) error {
	ctx := c.Request().Context()
	ss, _ := s.currentSession(c.Request())
	if ss == nil {
		return c.Redirect(http.StatusSeeOther, pathSession)
	}
	index := c.FormValue("session")
	key, err := s.cfg.Store.Get(ctx, kindPersonSession, personSessionID(ss.Identity.IDNP, index))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
			return c.Redirect(http.StatusSeeOther, pathSession) // ended already, or not the person's
		}
		return err
	}
	if other, ok := s.liveSession(ctx, string(key), ss.Identity.IDNP); ok {
		err = s.endSession(ctx, string(key), other, auditEvent("mpass.logout", ss.Identity.IDNP, "mpass",
			map[string]string{"session": other.Index, "services": strings.Join(other.SPs, " "), "initiator": "person", "from": ss.Index}))
		if err != nil && !errors.Is(err, ErrSessionEnded) {
			return err
		}
	}
	_ = s.cfg.Store.Delete(ctx, kindPersonSession, personSessionID(ss.Identity.IDNP, index))
	return c.Redirect(http.StatusSeeOther, pathSession)
}
