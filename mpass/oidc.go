package mpass

// The OpenID Connect face of MPass, modelled on Estonia's TARA: the
// authorization code flow only (PKCE with S256 required of every client),
// discovery, JWKS, ID token (sub = "MD" + IDNP or pairwise; given_name,
// family_name; amr per RFC 8176 and acr), userinfo and RP-initiated logout.
// The protocol is github.com/zitadel/oidc's op package (OpenID-certified);
// MPass gives it its storage (the store, shared by instances), the login
// (the same pages and SSO session as SAML) and the codes.

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/crewjam/saml"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/labstack/echo/v4"
	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/semnat/semnat/i18n"
	"github.com/semnat/semnat/store"
)

// OIDCOptions configure the OpenID Connect face.
type OIDCOptions struct {
	// Key signs ID tokens (nil: Config.Key, the SAML key, RS256). An ECDSA
	// P-256 key (ES256) signs some fifty times faster than RSA-2048.
	Key crypto.Signer
	// Retired are the public keys of earlier ID-token keys: the JWKS keeps
	// publishing them until the tokens they signed have expired, so a key
	// rotation breaks no issued token.
	Retired []crypto.PublicKey
	// CodeTTL bounds an authorization code's life (default 1 min);
	// AccessTokenTTL an access token's (default 10 min), IDTokenTTL an ID
	// token's (default 10 min).
	CodeTTL, AccessTokenTTL, IDTokenTTL time.Duration
}

// Paths of the OpenID Connect face: the issuer is PublicURL + PathOIDC,
// its discovery document PathOIDC + "/.well-known/openid-configuration".
const (
	PathOIDC       = "/oidc"
	pathOIDCLogin  = "/login/oidc"
	oidcSPPrefix   = "oidc:" // a client's name among a session's services
	oidcCallback   = "/authorize/callback"
	secretID       = "v1"
	acrHigh        = "high" // both instruments are qualified signature devices
	maxOIDCFormLen = 64 << 10
)

// oidcFace is the OpenID provider.
type oidcFace struct {
	s        *Service
	opts     OIDCOptions
	key      *signingKey
	retired  []publicKey
	pairwise []byte // HMAC key of pairwise subjects
	provider *op.Provider
	issuer   string
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return b, nil
}

// kidOf is a key's id: its RFC 7638 thumbprint.
func kidOf(pub crypto.PublicKey) (string, error) {
	t, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("mpass: ID-token key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}

// faceSecret is the secret the instances sharing a store share: made by
// the first, read by the others.
func faceSecret(st *store.Store) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := randomBytes(32)
	if err != nil {
		return nil, err
	}
	err = st.PutNew(ctx, kindSecret, secretID, b, store.Forever)
	if errors.Is(err, store.ErrExists) {
		b, err = st.Get(ctx, kindSecret, secretID)
	}
	if err != nil {
		return nil, fmt.Errorf("mpass: the OpenID Connect secret in the store: %w", err)
	}
	if len(b) != 32 {
		return nil, errors.New("mpass: the OpenID Connect secret in the store is damaged")
	}
	return b, nil
}

func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// newOIDC builds the OpenID provider of s.
func (s *Service) newOIDC() (*oidcFace, error) {
	o := s.cfg.OIDC
	if o.CodeTTL <= 0 {
		o.CodeTTL = time.Minute
	}
	if o.AccessTokenTTL <= 0 {
		o.AccessTokenTTL = 10 * time.Minute
	}
	if o.IDTokenTTL <= 0 {
		o.IDTokenTTL = 10 * time.Minute
	}
	priv := o.Key
	if priv == nil {
		priv = s.cfg.Key
	}
	f := &oidcFace{s: s, opts: o, issuer: s.urlString(PathOIDC)}
	alg, err := algOf(priv.Public())
	if err != nil {
		return nil, err
	}
	kid, err := kidOf(priv.Public())
	if err != nil {
		return nil, err
	}
	f.key = &signingKey{id: kid, alg: alg, priv: priv}
	for _, pub := range o.Retired {
		alg, err := algOf(pub)
		if err != nil {
			return nil, fmt.Errorf("retired key: %w", err)
		}
		kid, err := kidOf(pub)
		if err != nil {
			return nil, err
		}
		f.retired = append(f.retired, publicKey{id: kid, alg: alg, pub: pub})
	}
	secret, err := faceSecret(s.cfg.Store)
	if err != nil {
		return nil, err
	}
	f.pairwise = derive(secret, "pairwise subject")
	cfg := &op.Config{
		CodeMethodS256:             true,
		BackChannelLogoutSupported: true,
		// Every ID token and logout token carries the session's sid.
		BackChannelLogoutSessionSupported: true,
		AuthMethodPost:                    true,
		AuthMethodPrivateKeyJWT:           true, // checked by MPass itself (oidc_assertion.go)
		DefaultLogoutRedirectURI:          s.urlString(pathSession),
		SupportedUILocales:                []language.Tag{language.Romanian, language.Russian, language.English},
		SupportedScopes:                   []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopePhone},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr", "at_hash", "c_hash",
			"azp", "sid", "name", "given_name", "family_name", "locale", "birthdate", "gender", "phone_number", "phone_number_verified"},
	}
	copy(cfg.CryptoKey[:], derive(secret, "access token"))
	opts := []op.Option{
		op.WithCORSOptions(&cors.Options{AllowedOrigins: []string{"*"}, AllowedMethods: []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: []string{"Authorization", "Content-Type", "Accept"}}),
		op.WithHttpInterceptors(withExchange, f.clientAssertions),
	}
	if s.base.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	if f.provider, err = op.NewProvider(cfg, opStorage{f}, op.StaticIssuer(f.issuer), opts...); err != nil {
		return nil, fmt.Errorf("mpass: the OpenID provider: %w", err)
	}
	return f, nil
}

// exchange is the HTTP exchange op is serving, for the storage calls that
// need the browser's cookies (end_session).
type exchange struct {
	w       http.ResponseWriter
	r       *http.Request
	clients map[string]*OIDCClient // registrations read during the exchange (op asks twice per token request)
}

type exchangeKey struct{}

func withExchange(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := &exchange{w: w}
		r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x))
		x.r = r
		next.ServeHTTP(w, r)
	})
}

// opClient is a registration as op reads it.
func (f *oidcFace) opClient(cl *OIDCClient) opClient {
	return opClient{OIDCClient: cl, login: f.s.urlString(pathOIDCLogin) + "?id=", idTTL: f.opts.IDTokenTTL}
}

// mount adds the provider's endpoints below PathOIDC, and the login entry.
func (f *oidcFace) mount(g *echo.Group) {
	h := http.StripPrefix(PathOIDC, f.provider)
	g.Any(PathOIDC+"/*", func(c echo.Context) error {
		r := c.Request()
		if strings.TrimPrefix(r.URL.Path, PathOIDC) == oidcCallback {
			// MPass answers logins itself (oidcRespond): op's callback,
			// which would hand out a code to whoever knows a request id,
			// is not served.
			return echo.ErrNotFound
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, maxOIDCFormLen)
		h.ServeHTTP(c.Response(), r)
		return nil
	})
	g.GET(pathOIDCLogin, f.login)
}

// login starts MPass's login for an authorization request op validated
// (client, exact redirect URI, scopes, PKCE): the same login transaction,
// pages and SSO session as a SAML AuthnRequest.
func (f *oidcFace) login(c echo.Context) error {
	s := f.s
	ctx := c.Request().Context()
	b, err := s.cfg.Store.Get(ctx, kindAuthReq, c.QueryParam("id"))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
			return s.noTx(c, errNoTx)
		}
		return err
	}
	var a authRequest
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	lang := ""
	for _, l := range a.UILocales {
		base, _, _ := strings.Cut(l, "-")
		for _, ours := range i18n.Langs {
			if lang == "" && strings.EqualFold(base, ours) {
				lang = ours
			}
		}
	}
	if lang == "" {
		lang = pickLang(c.QueryParam("lang"), c.Request().Header.Get("Accept-Language"))
	}
	tx := &loginTx{ID: newID(), OIDC: a.ID, ReceivedAt: s.cfg.Now().UTC(), SP: oidcSPPrefix + a.ClientID, ACS: a.RedirectURI,
		Lang: lang, ClientIP: c.RealIP()}
	for _, p := range a.Prompt {
		switch p {
		case oidc.PromptNone:
			tx.IsPassive = true
		case oidc.PromptLogin:
			tx.ForceAuthn = true
		}
	}
	if a.MaxAge != nil {
		if ss, _ := s.currentSession(c.Request()); ss != nil && s.cfg.Now().Sub(ss.AuthnInstant) > time.Duration(*a.MaxAge)*time.Second {
			tx.ForceAuthn = true
		}
	}
	tx.Browser = s.bindBrowser(c, tx.ID)
	if err := s.putTx(c, tx); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, s.loginURL(tx))
}

// amrOf is the RFC 8176 amr of a login method: the mobile signature is a
// hardware key (the SIM) unlocked with a PIN over a second channel (the
// phone); the USB token a smart card unlocked with a PIN.
func amrOf(method string) []string {
	switch method {
	case "mobile":
		return []string{"mca", "hwk", "pin", "mfa"}
	case "token":
		return []string{"sc", "hwk", "pin", "mfa"}
	}
	return []string{method}
}

// subject is the person's sub for a client: "MD" + IDNP, or a pairwise
// value of the client's sector (the host of its first redirect URI).
func (f *oidcFace) subject(cl *OIDCClient, idnp string) string {
	if !cl.Pairwise {
		return "MD" + idnp
	}
	sector := hostOf(cl.RedirectURIs[0])
	m := hmac.New(sha256.New, f.pairwise)
	m.Write([]byte(sector + "\x00" + idnp))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// oidcRespond answers the client of an OpenID Connect login: a code for
// the session's person, or the error (access_denied when the person
// cancelled or failed, login_required for prompt=none without a session).
// The authorization request is taken: it is answered once.
func (s *Service) oidcRespond(c echo.Context, tx *loginTx, sess *ssoSession, status *saml.StatusError) error {
	f := s.oidc
	ctx := op.ContextWithIssuer(c.Request().Context(), f.issuer)
	r := c.Request().WithContext(ctx)
	b, err := s.cfg.Store.Take(ctx, kindAuthReq, tx.OIDC)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
			return s.noTx(c, errNoTx)
		}
		return err
	}
	var a authRequest
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	cl, err := s.sps.Client(ctx, a.ClientID)
	if err != nil {
		return s.refuse(c, tx.Lang, tx.SP, "unknown-sp", err)
	}
	if sess == nil {
		e := oidc.ErrAccessDenied().WithDescription("%s", status.Message)
		if status.SecondLevel == saml.StatusNoPassive {
			e = oidc.ErrLoginRequired().WithDescription("%s", status.Message)
		}
		op.AuthRequestError(c.Response(), r, &a, e, f.provider)
		return nil
	}
	id := sess.Identity
	a.Subject, a.Identity, a.AMR, a.ACR = f.subject(cl, id.IDNP), &id, amrOf(sess.Method), acrHigh
	a.AuthTime, a.Session, a.Lang, a.IsDone = sess.AuthnInstant, sess.Index, sess.Lang, true
	code := base64.RawURLEncoding.EncodeToString(must(randomBytes(32)))
	if b, err = json.Marshal(&a); err != nil {
		return err
	}
	if err := s.cfg.Store.Put(ctx, kindCode, digest(code), b, f.opts.CodeTTL); err != nil {
		return err
	}
	resp := &op.CodeResponseType{Code: code, State: a.State}
	if a.ResponseMode == oidc.ResponseModeFormPost {
		return op.AuthResponseFormPost(c.Response(), a.RedirectURI, resp, f.provider.Encoder())
	}
	to, err := op.AuthResponseURL(a.RedirectURI, a.ResponseType, a.ResponseMode, resp, f.provider.Encoder())
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, to)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return v
}

// endSession serves RP-initiated logout: with an id_token_hint naming the
// browser's session's person, that session ends; without one nothing
// ends here (a logout link anyone can send must not log people out), and
// the person is sent to their session page, where they can end it.
func (f *oidcFace) endSession(ctx context.Context, r *op.EndSessionRequest) (string, error) {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	if x == nil || r.IDTokenHintClaims == nil {
		return f.s.urlString(pathSession), nil
	}
	ss, key := f.s.currentSession(x.r)
	if ss == nil {
		return r.RedirectURI, nil
	}
	cl, err := f.s.sps.Client(ctx, r.ClientID)
	if err != nil {
		return "", err
	}
	if f.subject(cl, ss.Identity.IDNP) != r.UserID {
		return r.RedirectURI, nil // another person's token: this session stays
	}
	f.s.expireSessionCookie(x.w)
	err = f.s.endSession(ctx, key, ss, auditEvent("mpass.logout", ss.Identity.IDNP, oidcSPPrefix+r.ClientID,
		map[string]string{"session": ss.Index, "services": strings.Join(ss.SPs, " "), "initiator": oidcSPPrefix + r.ClientID}))
	if errors.Is(err, ErrSessionEnded) {
		return r.RedirectURI, nil
	}
	if err != nil {
		return "", err
	}
	// The session's SAML services are logged out through the browser
	// before it reaches the client's post-logout URI.
	return f.s.planLogout(ctx, ss, r.RedirectURI)
}

// languageTag is a page language as a BCP 47 tag.
func languageTag(lang string) language.Tag {
	t, err := language.Parse(lang)
	if err != nil {
		return language.Romanian
	}
	return t
}

// urlString is the public URL of a path of the service, as a string.
func (s *Service) urlString(path string) string {
	u := s.url(path)
	return u.String()
}

// Issuer is the OpenID Connect issuer (PublicURL + PathOIDC).
func (s *Service) Issuer() string { return s.oidc.issuer }
