package msign

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/store"
)

// The pages' form tokens. A browser gets a session cookie minted by the
// server (a random id and its HMAC under a key kept in the store), and
// each form carries a token derived from that session (another HMAC). A
// post is accepted only when its token is the one of its cookie's session
// and the cookie was minted here: a cookie/token pair planted by another
// site (or by a sibling subdomain) is refused. Over HTTPS the cookie is
// Secure and named with the __Host- prefix, which browsers let only this
// origin set.

const (
	csrfCookie     = "semnat_csrf"
	csrfCookieTLS  = "__Host-semnat_csrf"
	csrfKeyKind    = "csrf-key"
	csrfKeyTTL     = 10 * 365 * 24 * time.Hour
	csrfContextKey = "csrf"
)

// csrfKey is the HMAC key of sessions and tokens, shared through the store
// by every instance (made by the first).
func csrfKey(ctx context.Context, st *store.Store) ([]byte, error) {
	k, err := st.Get(ctx, csrfKeyKind, "1")
	if err == nil && len(k) == 32 {
		return k, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExpired) {
		return nil, fmt.Errorf("msign: form token key: %w", err)
	}
	k = make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	// Of two instances starting at once, one makes the key; the other
	// takes it.
	if err := st.PutNew(ctx, csrfKeyKind, "1", k, csrfKeyTTL); errors.Is(err, store.ErrExists) {
		return st.Get(ctx, csrfKeyKind, "1")
	} else if err != nil {
		return nil, fmt.Errorf("msign: form token key: %w", err)
	}
	return k, nil
}

func (s *Service) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

// session is the session id of the request's cookie, when the cookie was
// minted here.
func (s *Service) session(c echo.Context) string {
	ck, err := c.Cookie(cookieName(c))
	if err != nil {
		return ""
	}
	id, sig, ok := strings.Cut(ck.Value, ".")
	if !ok || len(id) != 32 || !hmac.Equal([]byte(sig), []byte(s.mac("session", id))) {
		return ""
	}
	return id
}

func cookieName(c echo.Context) string {
	if c.IsTLS() {
		return csrfCookieTLS
	}
	return csrfCookie
}

// formToken is the form token of a session.
func (s *Service) formToken(session string) string { return s.mac("form", session) }

// csrf checks the form token of posts (see csrfHeader for where it is
// found) and gives pages theirs, minting a session cookie when the
// browser has none.
func (s *Service) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess := s.session(c)
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			if sess == "" {
				sess = newID()
				c.SetCookie(&http.Cookie{Name: cookieName(c), Value: sess + "." + s.mac("session", sess), Path: "/",
					HttpOnly: true, Secure: c.IsTLS(), SameSite: http.SameSiteStrictMode, MaxAge: 24 * 3600})
			}
			c.Set(csrfContextKey, s.formToken(sess))
			return next(c)
		}
		tok := c.Request().Header.Get(csrfHeaderName)
		if tok == "" {
			if mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); mt == echo.MIMEApplicationForm {
				tok = c.FormValue("_csrf") // the body is bounded by csrfHeader
			}
		}
		if sess == "" || tok == "" || !hmac.Equal([]byte(tok), []byte(s.formToken(sess))) {
			return errCSRF
		}
		c.Set(csrfContextKey, tok)
		return next(c)
	}
}
