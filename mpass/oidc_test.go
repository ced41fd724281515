package mpass

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mobileid"
)

// oidcRP is a relying party made of independent parts: coreos/go-oidc
// (discovery, JWKS, ID-token checks) and golang.org/x/oauth2 (the code
// flow, PKCE), with a callback page on a loopback server of its own.
type oidcRP struct {
	e        *env
	callback string
	client   *OIDCClient
	secret   string
	provider *gooidc.Provider
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
}

// withOIDCKey gives the OpenID Connect face an ECDSA P-256 key (ES256).
func withOIDCKey(t testing.TB) func(*Config) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) { c.OIDC.Key = k }
}

func (e *env) newOIDCRP(spec OIDCClientSpec) *oidcRP {
	e.t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "callback") }))
	e.t.Cleanup(hs.Close)
	rp := &oidcRP{e: e, callback: hs.URL + "/callback"}
	if spec.RedirectURIs == nil {
		spec.RedirectURIs = []string{rp.callback}
		spec.PostLogoutRedirectURIs = []string{hs.URL + "/bye"}
	}
	cl, secret, err := e.srv.Registry().AddClient(context.Background(), spec, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	rp.client, rp.secret = cl, secret
	if rp.provider, err = gooidc.NewProvider(context.Background(), e.url+PathOIDC); err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	style := oauth2.AuthStyleInHeader
	if spec.AuthMethod == AuthSecretPost {
		style = oauth2.AuthStyleInParams
	}
	rp.oauth = oauth2.Config{ClientID: cl.ID, ClientSecret: secret, RedirectURL: rp.callback,
		Endpoint: oauth2.Endpoint{AuthURL: rp.provider.Endpoint().AuthURL, TokenURL: rp.provider.Endpoint().TokenURL, AuthStyle: style},
		Scopes:   []string{gooidc.ScopeOpenID, "profile", "phone"}}
	rp.verifier = rp.provider.Verifier(&gooidc.Config{ClientID: cl.ID, SupportedSigningAlgs: []string{"ES256", "RS256"}})
	return rp
}

// authorize sends the browser to MPass with a fresh state, nonce and PKCE
// verifier; it returns the page reached, and the three values.
func (rp *oidcRP) authorize(c *http.Client, extra ...oauth2.AuthCodeOption) (*http.Response, []byte, string, string, string) {
	rp.e.t.Helper()
	state, nonce, verifier := newID(), newID(), oauth2.GenerateVerifier()
	opts := append([]oauth2.AuthCodeOption{gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}, extra...)
	resp, b := rp.e.get(c, rp.oauth.AuthCodeURL(state, opts...))
	return resp, b, state, nonce, verifier
}

// codeOf reads the code of the callback the browser reached, checking the state.
func (rp *oidcRP) codeOf(resp *http.Response, state string) string {
	rp.e.t.Helper()
	u := resp.Request.URL
	if !strings.HasPrefix(u.String(), rp.callback+"?") {
		rp.e.t.Fatalf("the browser is at %s, not the client's callback", u)
	}
	q := u.Query()
	if q.Get("state") != state || q.Get("code") == "" {
		rp.e.t.Fatalf("callback: %s (state sent %s)", u, state)
	}
	return q.Get("code")
}

// phoneLoginOIDC completes the login page the browser is on with the phone.
func (e *env) phoneLoginOIDC(c *http.Client, page []byte, user mobileid.User) *http.Response {
	e.t.Helper()
	resp, _ := e.loginOnPage(c, page, user)
	return resp
}

// mpassClaims are the ID token's claims MPass sets.
type mpassClaims struct {
	Subject    string   `json:"sub"`
	Nonce      string   `json:"nonce"`
	AMR        []string `json:"amr"`
	ACR        string   `json:"acr"`
	AtHash     string   `json:"at_hash"`
	GivenName  string   `json:"given_name"`
	FamilyName string   `json:"family_name"`
	Phone      string   `json:"phone_number"`
	AuthTime   int64    `json:"auth_time"`
}

// TestOIDCLoginGoOIDC: an OpenID Connect client made of coreos/go-oidc and
// x/oauth2 logs a person in by phone (code flow, PKCE S256, nonce, state),
// checks the ID token against the JWKS and reads userinfo; the same SSO
// session then logs the browser in to a SAML relying service and to the
// client again without the phone; RP-initiated logout with id_token_hint
// ends the session.
func TestOIDCLoginGoOIDC(t *testing.T) {
	e := newEnv(t, withOIDCKey(t))
	rp := e.newOIDCRP(OIDCClientSpec{ID: "shop", Name: "Shop"})
	c := newBrowserClient(t)
	ctx := context.Background()
	user := mobileid.GeneratedUser(2)

	resp, page, state, nonce, verifier := rp.authorize(c)
	if !strings.HasPrefix(resp.Request.URL.String(), e.url+pathLogin+"?") {
		t.Fatalf("authorize led to %s:\n%s", resp.Request.URL, page)
	}
	code := rp.codeOf(e.phoneLoginOIDC(c, page, user), state)
	tok, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc refuses our ID token: %v", err)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	var cl mpassClaims
	if err := idt.Claims(&cl); err != nil {
		t.Fatal(err)
	}
	if cl.Subject != "MD"+user.IDNP || cl.Nonce != nonce || cl.ACR != "high" || !slices.Equal(cl.AMR, []string{"mca", "hwk", "pin", "mfa"}) ||
		cl.GivenName != user.GivenName || cl.FamilyName != user.Surname || cl.AtHash == "" || cl.AuthTime == 0 {
		t.Fatalf("ID token claims: %+v", cl)
	}
	ui, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var uc mpassClaims
	if err := ui.Claims(&uc); err != nil || uc.Subject != cl.Subject || uc.GivenName != user.GivenName || uc.Phone != user.MSISDN {
		t.Fatalf("userinfo: %+v %v", uc, err)
	}

	// SSO: a SAML relying service, then the client again, without the phone.
	sp := e.newRP("library.test", true)
	if _, b := e.followForms(c, must(e.getBody(c, sp.url+"/app"))); !strings.HasPrefix(string(b), "NameIdentifier="+user.IDNP) {
		t.Fatalf("SAML login from the OpenID Connect session:\n%s", b)
	}
	resp, _, state, _, verifier = rp.authorize(c)
	code = rp.codeOf(resp, state)
	if _, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("SSO code: %v", err)
	}

	// RP-initiated logout: the session ends, the browser lands on the
	// registered post-logout URI with the state.
	var disc struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := rp.provider.Claims(&disc); err != nil || disc.EndSession == "" {
		t.Fatalf("no end_session_endpoint in discovery: %v", err)
	}
	bye := rp.client.PostLogoutRedirectURIs[0]
	// The session's SAML service is logged out through the browser first.
	resp, b := e.get(c, disc.EndSession+"?"+url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {bye}, "state": {"s1"}}.Encode())
	if resp, _ = e.followForms(c, b); resp == nil || resp.Request.URL.String() != bye+"?state=s1" {
		t.Fatalf("after logout the browser is at %v", resp)
	}
	if resp, _ := e.get(c, sp.url+"/app"); !strings.HasPrefix(resp.Request.URL.String(), e.url+pathLogin+"?") {
		t.Fatalf("the SAML service still has the person logged in: %s", resp.Request.URL)
	}
	if resp, page, _, _, _ = rp.authorize(c); !strings.HasPrefix(resp.Request.URL.String(), e.url+pathLogin+"?") || !reTx.Match(page) {
		t.Fatalf("after logout, authorize went to %s", resp.Request.URL)
	}
	checkAudit(t, e, "mpass.login", "mpass.login-sso", "mpass.login-sso", "mpass.logout")
}

func (e *env) getBody(c *http.Client, u string) ([]byte, error) {
	_, b := e.get(c, u)
	return b, nil
}

// oauthError is the OAuth error code of a failed exchange.
func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// TestOIDCRefusals: each misuse is refused with its OAuth error: an
// unregistered redirect URI (an error page, nothing sent there), no PKCE,
// a wrong PKCE verifier, a code used twice, a wrong client secret, the
// person cancelling (access_denied with a description), prompt=none
// without a session (login_required); a pairwise client gets its own sub.
func TestOIDCRefusals(t *testing.T) {
	e := newEnv(t, withOIDCKey(t))
	rp := e.newOIDCRP(OIDCClientSpec{ID: "shop", AuthMethod: AuthSecretPost})
	c := newBrowserClient(t)
	ctx := context.Background()

	// prompt=none without a session: login_required, at the callback.
	resp, _, state, _, _ := rp.authorize(c, oauth2.SetAuthURLParam("prompt", "none"))
	if q := resp.Request.URL.Query(); !strings.HasPrefix(resp.Request.URL.String(), rp.callback) || q.Get("error") != "login_required" || q.Get("state") != state {
		t.Fatalf("prompt=none: %s", resp.Request.URL)
	}
	// The person cancels: access_denied with a description.
	_, page, state, _, _ := rp.authorize(c)
	m := reTx.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no login page:\n%s", page)
	}
	resp, _ = e.post(c, e.url+pathCancel, url.Values{"tx": {string(m[1])}})
	if q := resp.Request.URL.Query(); q.Get("error") != "access_denied" || q.Get("error_description") == "" || q.Get("state") != state {
		t.Fatalf("cancel: %s", resp.Request.URL)
	}
	// An unregistered redirect URI: refused on MPass's page, no redirect.
	bad := rp.oauth
	bad.RedirectURL = rp.callback + "/other"
	resp, b := e.get(c, bad.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if resp.StatusCode < 400 || !strings.HasPrefix(resp.Request.URL.String(), e.url) || !strings.Contains(string(b), "redirect_uri") {
		t.Fatalf("wrong redirect URI: %d %s\n%s", resp.StatusCode, resp.Request.URL, b)
	}
	// No PKCE: invalid_request at the callback.
	resp, _ = e.get(c, rp.oauth.AuthCodeURL("s2"))
	if q := resp.Request.URL.Query(); q.Get("error") != "invalid_request" || !strings.Contains(q.Get("error_description"), "PKCE") {
		t.Fatalf("no PKCE: %s", resp.Request.URL)
	}

	// A login, then codes from the SSO session.
	user := mobileid.GeneratedUser(3)
	_, page, state, _, verifier := rp.authorize(c)
	code := rp.codeOf(e.phoneLoginOIDC(c, page, user), state)
	// A wrong verifier: invalid_grant, and the code is spent.
	if _, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); oauthError(err) != "invalid_grant" {
		t.Fatalf("wrong PKCE verifier: %v", err)
	}
	if _, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier)); oauthError(err) != "invalid_grant" {
		t.Fatalf("a code after a failed exchange: %v", err)
	}
	// A wrong client secret: invalid_client.
	resp, _, state, _, verifier = rp.authorize(c)
	code = rp.codeOf(resp, state)
	wrong := rp.oauth
	wrong.ClientSecret = "not-the-secret"
	if _, err := wrong.Exchange(ctx, code, oauth2.VerifierOption(verifier)); oauthError(err) != "invalid_client" {
		t.Fatalf("wrong client secret: %v", err)
	}
	// A code used twice: the second time invalid_grant.
	resp, _, state, _, verifier = rp.authorize(c)
	code = rp.codeOf(resp, state)
	if _, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if _, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier)); oauthError(err) != "invalid_grant" {
		t.Fatalf("code reuse: %v", err)
	}
	// The code's redirect_uri must be the authorization request's.
	resp, _, state, _, verifier = rp.authorize(c)
	code = rp.codeOf(resp, state)
	if _, err := bad.Exchange(ctx, code, oauth2.VerifierOption(verifier)); oauthError(err) != "invalid_grant" {
		t.Fatalf("another redirect_uri at the token endpoint: %v", err)
	}

	// A pairwise client: a sub of its own, stable, not the IDNP.
	pw := e.newOIDCRP(OIDCClientSpec{ID: "library", Pairwise: true})
	subOf := func() string {
		resp, _, state, _, verifier := pw.authorize(c)
		tok, err := pw.oauth.Exchange(ctx, pw.codeOf(resp, state), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := pw.verifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		return idt.Subject
	}
	if s1, s2 := subOf(), subOf(); s1 != s2 || strings.Contains(s1, user.IDNP) || len(s1) < 40 {
		t.Fatalf("pairwise subjects %q %q", s1, s2)
	}
	if !slices.Contains(auditActions(t, e), "mpass.oidc-client-refused") {
		t.Error("the wrong client secret is not in the audit log")
	}
}

// TestOIDCCodeExpires: a code past its life is refused (invalid_grant).
func TestOIDCCodeExpires(t *testing.T) {
	key := withOIDCKey(t)
	e := newEnv(t, func(c *Config) { key(c); c.OIDC.CodeTTL = 300 * time.Millisecond })
	rp := e.newOIDCRP(OIDCClientSpec{ID: "shop"})
	c := newBrowserClient(t)
	_, page, state, _, verifier := rp.authorize(c)
	code := rp.codeOf(e.phoneLoginOIDC(c, page, mobileid.GeneratedUser(4)), state)
	time.Sleep(400 * time.Millisecond)
	if _, err := rp.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); oauthError(err) != "invalid_grant" {
		t.Fatalf("expired code: %v", err)
	}
}

// TestOIDCTwoInstances: two instances on one store are one provider: the
// authorization starts on one, the code is exchanged and the access token
// used on the other (PostgreSQL).
func TestOIDCTwoInstances(t *testing.T) {
	key := withOIDCKey(t)
	e := newEnvOn(t, testtool.PostgresSchema(t), key)
	other := e.second(key)
	rp := e.newOIDCRP(OIDCClientSpec{ID: "shop"})
	c := newBrowserClient(t)
	_, page, state, _, verifier := rp.authorize(c)
	code := rp.codeOf(e.phoneLoginOIDC(c, page, mobileid.GeneratedUser(5)), state)
	// The token endpoint of the other instance (same issuer, same key).
	o := rp.oauth
	o.Endpoint.TokenURL = strings.Replace(o.Endpoint.TokenURL, e.url, other, 1)
	tok, err := o.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("token at the other instance: %v", err)
	}
	if _, err := rp.verifier.Verify(context.Background(), tok.Extra("id_token").(string)); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, other+PathOIDC+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ui map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&ui); err != nil || ui["sub"] != "MD"+mobileid.GeneratedUser(5).IDNP {
		t.Fatalf("userinfo at the other instance: %d %v %v", resp.StatusCode, ui, err)
	}
}

// TestOIDCAccessToken: the access token works at userinfo until it is
// revoked (RFC 7009, by its client); a changed token and one past its life
// never work.
func TestOIDCAccessToken(t *testing.T) {
	key := withOIDCKey(t)
	e := newEnv(t, func(c *Config) { key(c); c.OIDC.AccessTokenTTL = 2 * time.Second })
	rp := e.newOIDCRP(OIDCClientSpec{ID: "shop"})
	c := newBrowserClient(t)
	ctx := context.Background()
	_, page, state, _, verifier := rp.authorize(c)
	code := rp.codeOf(e.phoneLoginOIDC(c, page, mobileid.GeneratedUser(8)), state)
	tok, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	// op answers 401 to a bearer value it cannot decrypt, 403 to one whose
	// record the storage refuses.
	refused := func(code int) bool { return code == http.StatusUnauthorized || code == http.StatusForbidden }
	userinfo := func(bearer string) int {
		req, _ := http.NewRequest(http.MethodGet, e.url+PathOIDC+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := userinfo(tok.AccessToken); got != http.StatusOK {
		t.Fatalf("userinfo: %d", got)
	}
	changed := []byte(tok.AccessToken)
	changed[len(changed)/2] ^= 1
	if got := userinfo(string(changed)); !refused(got) {
		t.Fatalf("a changed token: %d", got)
	}
	// A second token, revoked by its client.
	resp, _, state, _, verifier := rp.authorize(c)
	tok2, err := rp.oauth.Exchange(ctx, rp.codeOf(resp, state), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, e.url+PathOIDC+"/revoke",
		strings.NewReader(url.Values{"token": {tok2.AccessToken}, "token_type_hint": {"access_token"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(rp.client.ID, rp.secret)
	rr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rr.Body.Close()
	if rr.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", rr.StatusCode)
	}
	if got := userinfo(tok2.AccessToken); !refused(got) {
		t.Fatalf("a revoked token: %d", got)
	}
	if got := userinfo(tok.AccessToken); got != http.StatusOK {
		t.Fatalf("revoking one token touched another: %d", got)
	}
	time.Sleep(2100 * time.Millisecond)
	if got := userinfo(tok.AccessToken); !refused(got) {
		t.Fatalf("an expired token: %d", got)
	}
}
