package mpass

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/semnat/semnat/store"
)

// Store kinds of the OpenID Connect face.
const (
	kindAuthReq = "mpass.oidc.request" // authorization requests waiting for a login, LoginTTL
	kindCode    = "mpass.oidc.code"    // authorization codes (by digest) with their login, CodeTTL
	kindToken   = "mpass.oidc.revoked" // revoked access tokens (by digest of their jti), until they expire
	kindSecret  = "mpass.oidc.secret"  // the face's secret (access-token encryption, pairwise subjects)
)

// authRequest is an authorization request (op.AuthRequest) as stored: the
// client's parameters, and once the person logged in, who they are.
type authRequest struct {
	ID                  string                   `json:"id"`
	ClientID            string                   `json:"clientId"`
	RedirectURI         string                   `json:"redirectUri"`
	State               string                   `json:"state,omitempty"`
	Nonce               string                   `json:"nonce,omitempty"`
	Scopes              []string                 `json:"scopes"`
	ResponseType        oidc.ResponseType        `json:"responseType"`
	ResponseMode        oidc.ResponseMode        `json:"responseMode,omitempty"`
	CodeChallenge       string                   `json:"codeChallenge"`
	CodeChallengeMethod oidc.CodeChallengeMethod `json:"codeChallengeMethod"`
	Prompt              []string                 `json:"prompt,omitempty"`
	MaxAge              *uint                    `json:"maxAge,omitempty"`
	UILocales           []string                 `json:"uiLocales,omitempty"`
	Created             time.Time                `json:"created"`

	// After the login:
	Subject  string    `json:"sub,omitempty"`
	Identity *Identity `json:"identity,omitempty"`
	AMR      []string  `json:"amr,omitempty"`
	ACR      string    `json:"acr,omitempty"`
	AuthTime time.Time `json:"authTime,omitzero"`
	Session  string    `json:"session,omitempty"` // the SSO session's index
	Lang     string    `json:"lang,omitempty"`
	IsDone   bool      `json:"done,omitempty"`
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                      { return a.ID }
func (a *authRequest) GetACR() string                     { return a.ACR }
func (a *authRequest) GetAMR() []string                   { return a.AMR }
func (a *authRequest) GetAudience() []string              { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time             { return a.AuthTime }
func (a *authRequest) GetClientID() string                { return a.ClientID }
func (a *authRequest) GetNonce() string                   { return a.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a *authRequest) GetScopes() []string                { return a.Scopes }
func (a *authRequest) GetState() string                   { return a.State }
func (a *authRequest) GetSubject() string                 { return a.Subject }
func (a *authRequest) Done() bool                         { return a.IsDone }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.ResponseMode }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: a.CodeChallengeMethod}
}

// accessToken is an issued access token's record: enough for userinfo.
type accessToken struct {
	ID       string    `json:"jti"`
	Subject  string    `json:"sub"`
	ClientID string    `json:"clientId"`
	Scopes   []string  `json:"scopes"`
	Identity Identity  `json:"identity"`
	Lang     string    `json:"lang,omitempty"`
	Expires  time.Time `json:"expires"`
}

// opClient is a registered client as zitadel's provider reads it.
type opClient struct {
	*OIDCClient
	login   string // the login page's URL, before the request id
	idTTL   time.Duration
	allowed []string
	// asserted: the request's client assertion was accepted for this client.
	asserted bool
}

var _ op.Client = opClient{}

func (c opClient) GetID() string                    { return c.ID }
func (c opClient) RedirectURIs() []string           { return c.OIDCClient.RedirectURIs }
func (c opClient) PostLogoutRedirectURIs() []string { return c.OIDCClient.PostLogoutRedirectURIs }
func (c opClient) ApplicationType() op.ApplicationType {
	if c.OIDCClient.AuthMethod == AuthNone {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}
func (c opClient) AuthMethod() oidc.AuthMethod {
	if c.asserted {
		return oidc.AuthMethodNone // authenticated already by its assertion (oidc_assertion.go)
	}
	return oidc.AuthMethod(c.OIDCClient.AuthMethod)
}
func (c opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c opClient) GrantTypes() []oidc.GrantType         { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c opClient) LoginURL(id string) string            { return c.login + id }
func (c opClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c opClient) IDTokenLifetime() time.Duration       { return c.idTTL }
func (c opClient) DevMode() bool                        { return false }
func (c opClient) IsScopeAllowed(scope string) bool     { return slices.Contains(c.allowed, scope) }
func (c opClient) IDTokenUserinfoClaimsAssertion() bool { return true } // the person's claims in the ID token, as TARA
func (c opClient) ClockSkew() time.Duration             { return 0 }
func (c opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// opStorage is the OpenID Connect face's op.Storage: everything in the
// store, so that instances sharing one database serve the same requests,
// codes and tokens.
type opStorage struct{ f *oidcFace }

var (
	_ op.Storage                        = opStorage{}
	_ op.CanSetUserinfoFromRequest      = opStorage{}
	_ op.CanTerminateSessionFromRequest = opStorage{}
)

var errNotOffered = errors.New("mpass: not offered by this OpenID provider")

func (s opStorage) st() *store.Store { return s.f.s.cfg.Store }

// CreateAuthRequest records a validated authorization request. PKCE with
// S256 is required of every client.
func (s opStorage) CreateAuthRequest(ctx context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if r.CodeChallenge == "" || r.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method=S256")
	}
	if r.ResponseType != oidc.ResponseTypeCode {
		return nil, oidc.ErrInvalidRequest().WithDescription("only the authorization code flow (response_type=code) is offered")
	}
	a := &authRequest{ID: newID(), ClientID: r.ClientID, RedirectURI: r.RedirectURI, State: r.State, Nonce: r.Nonce,
		Scopes: r.Scopes, ResponseType: r.ResponseType, ResponseMode: r.ResponseMode, CodeChallenge: r.CodeChallenge,
		CodeChallengeMethod: r.CodeChallengeMethod, Prompt: r.Prompt, MaxAge: r.MaxAge, Created: s.f.s.cfg.Now().UTC()}
	for _, t := range r.UILocales {
		a.UILocales = append(a.UILocales, t.String())
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	if err := s.st().Put(ctx, kindAuthReq, a.ID, b, s.f.s.cfg.LoginTTL); err != nil {
		return nil, err
	}
	return a, nil
}

// AuthRequestByID reads a waiting authorization request. MPass answers
// them itself (Service.oidcRespond): one read here is never done, so the
// provider's own callback can never hand out a code.
func (s opStorage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	b, err := s.st().Get(ctx, kindAuthReq, id)
	if err != nil {
		return nil, fmt.Errorf("authorization request: %w", err)
	}
	var a authRequest
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, err
	}
	a.IsDone = false
	return &a, nil
}

// AuthRequestByCode takes the code's login: a code is used once, whatever
// the outcome of the request that presents it (RFC 6749 §4.1.2).
func (s opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	b, err := s.st().Take(ctx, kindCode, digest(code))
	if err != nil {
		return nil, fmt.Errorf("authorization code: %w", err)
	}
	var a authRequest
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// SaveAuthCode is not asked: oidcRespond makes the codes.
func (s opStorage) SaveAuthCode(context.Context, string, string) error { return errNotOffered }

// DeleteAuthRequest is asked when a code's tokens are issued: there is
// nothing left to delete (oidcRespond took the request when it made the
// code, AuthRequestByCode took the code), so it costs no store write.
func (s opStorage) DeleteAuthRequest(context.Context, string) error { return nil }

// CreateAccessToken issues an access token. The token carries its record
// (who, for which client, which scopes, until when) inside the bearer
// value op encrypts and authenticates with the face's key (AES-256-GCM,
// shared by the instances through the store): issuing one writes nothing,
// which keeps the token endpoint at one store write (the code's). Revoked
// tokens are listed in the store until they expire.
func (s opStorage) CreateAccessToken(_ context.Context, tr op.TokenRequest) (string, time.Time, error) {
	a, ok := tr.(*authRequest)
	if !ok || a.Identity == nil {
		return "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("only the authorization code grant is offered")
	}
	exp := s.f.s.cfg.Now().Add(s.f.opts.AccessTokenTTL).UTC()
	b, err := json.Marshal(accessToken{ID: newID(), Subject: a.Subject, ClientID: a.ClientID, Scopes: a.Scopes, Identity: *a.Identity,
		Lang: a.Lang, Expires: exp})
	if err != nil {
		return "", time.Time{}, err
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b), exp, nil
}

// tokenPrefix starts the token ids of CreateAccessToken (a version).
const tokenPrefix = "t1."

func (s opStorage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("refresh tokens are not offered")
}

func (s opStorage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithDescription("refresh tokens are not offered")
}

// TerminateSession is not asked (TerminateSessionFromRequest is).
func (s opStorage) TerminateSession(context.Context, string, string) error { return nil }

// TerminateSessionFromRequest ends the browser's SSO session for
// RP-initiated logout: see oidcFace.endSession.
func (s opStorage) TerminateSessionFromRequest(ctx context.Context, r *op.EndSessionRequest) (string, error) {
	return s.f.endSession(ctx, r)
}

// RevokeToken lists a token as revoked until it would have expired.
func (s opStorage) RevokeToken(ctx context.Context, tokenID, _, clientID string) *oidc.Error {
	t, err := s.token(ctx, tokenID)
	if err != nil {
		return nil // RFC 7009 §2.2: an invalid token is no error
	}
	if t.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("the token was issued to another client")
	}
	if ttl := t.Expires.Sub(s.f.s.cfg.Now()); ttl > 0 {
		if err := s.st().Put(ctx, kindToken, digest(t.ID), []byte{1}, ttl+time.Minute); err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
	}
	return nil
}

func (s opStorage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s opStorage) SigningKey(context.Context) (op.SigningKey, error) { return s.f.key, nil }

func (s opStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{s.f.key.alg}, nil
}

// KeySet is the JWKS: the signing key, and the retired keys whose tokens
// may still be presented.
func (s opStorage) KeySet(context.Context) ([]op.Key, error) {
	out := []op.Key{s.f.key.public()}
	for _, k := range s.f.retired {
		out = append(out, k)
	}
	return out, nil
}

// client reads a registration, once per HTTP exchange.
func (s opStorage) client(ctx context.Context, id string) (*OIDCClient, error) {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	if x != nil {
		if cl, ok := x.clients[id]; ok {
			return cl, nil
		}
	}
	cl, err := s.f.s.sps.Client(ctx, id)
	if err == nil && x != nil {
		if x.clients == nil {
			x.clients = map[string]*OIDCClient{}
		}
		x.clients[id] = cl
	}
	return cl, err
}

func (s opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	cl, err := s.client(ctx, id)
	if err != nil {
		if errors.Is(err, ErrUnknownClient) {
			return nil, err
		}
		return nil, oidc.ErrServerError().WithParent(err)
	}
	oc := s.f.opClient(cl)
	oc.asserted = assertedClient(ctx) == cl.ID && cl.AuthMethod == AuthPrivateKeyJWT
	return oc, nil
}

func (s opStorage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	cl, err := s.client(ctx, id)
	if err != nil {
		if errors.Is(err, ErrUnknownClient) {
			return err
		}
		return oidc.ErrServerError().WithParent(err)
	}
	if !cl.checkSecret(secret) {
		s.f.s.audit(ctx, auditEvent("mpass.oidc-client-refused", "client:"+id, "oidc:"+id, map[string]string{"reason": "wrong client secret"}))
		return fmt.Errorf("mpass: client %q: wrong client secret", id)
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest fills
// the ID token.
func (s opStorage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s opStorage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	a, ok := r.(*authRequest)
	if !ok || a.Identity == nil {
		return oidc.ErrServerError().WithDescription("the login is not known")
	}
	fillUserinfo(ui, a.Subject, a.Identity, a.Lang, scopes)
	if a.Session != "" {
		ui.AppendClaims("sid", a.Session) // Back-Channel Logout 1.0 §2.1: the logout token names it too
	}
	return nil
}

func (s opStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	t, err := s.token(ctx, tokenID)
	if err != nil || t.Subject != subject {
		return oidc.ErrAccessDenied().WithDescription("the access token is not valid (expired or revoked)")
	}
	fillUserinfo(ui, t.Subject, &t.Identity, t.Lang, t.Scopes)
	return nil
}

// errTokenInvalid: an access token that is expired, revoked or not ours.
var errTokenInvalid = errors.New("mpass: the access token is not valid (expired, revoked or not issued here)")

// token reads the record of a token id op decrypted from a bearer value,
// and checks that it has not expired nor been revoked.
func (s opStorage) token(ctx context.Context, id string) (*accessToken, error) {
	raw, ok := strings.CutPrefix(id, tokenPrefix)
	if !ok {
		return nil, errTokenInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil, errTokenInvalid
	}
	var t accessToken
	if err := json.Unmarshal(b, &t); err != nil || t.ID == "" {
		return nil, errTokenInvalid
	}
	if !s.f.s.cfg.Now().Before(t.Expires) {
		return nil, errTokenInvalid
	}
	if _, err := s.st().Get(ctx, kindToken, digest(t.ID)); err == nil {
		return nil, errTokenInvalid // revoked
	} else if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExpired) {
		return nil, err
	}
	return &t, nil
}

func (s opStorage) SetIntrospectionFromToken(ctx context.Context, ir *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.token(ctx, tokenID)
	if err != nil || t.Subject != subject || t.ClientID != clientID {
		return oidc.ErrAccessDenied().WithDescription("the access token is not valid for this client")
	}
	ir.Active, ir.Scope, ir.ClientID, ir.Subject = true, t.Scopes, t.ClientID, t.Subject
	ir.Expiration = oidc.FromTime(t.Expires)
	return nil
}

func (s opStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s opStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotOffered
}

func (s opStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNotOffered
}

func (s opStorage) Health(ctx context.Context) error { return s.st().Ping(ctx) }

// fillUserinfo sets the person's claims the scopes allow: sub always;
// profile: given_name, family_name, name, locale, and birthdate and gender
// when the certificate says; phone: phone_number.
func fillUserinfo(ui *oidc.UserInfo, sub string, id *Identity, lang string, scopes []string) {
	ui.Subject = sub
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			ui.GivenName, ui.FamilyName = id.GivenName, id.Surname
			ui.Name = strings.TrimSpace(id.GivenName + " " + id.Surname)
			personalClaims(ui, id.Personal)
			if lang != "" {
				ui.Locale = oidc.NewLocale(languageTag(lang))
			}
		case oidc.ScopePhone:
			if id.Phone != "" {
				ui.PhoneNumber, ui.PhoneNumberVerified = id.Phone, true
			}
		}
	}
}

// signingKey is the key that signs ID tokens (op.SigningKey, op.Key).
type signingKey struct {
	id   string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) ID() string                                  { return k.id }

// Key is what go-jose signs with: the private key itself when go-jose
// knows its type, else the crypto.Signer behind an opaque signer (a key in
// a token or an HSM).
func (k *signingKey) Key() any {
	switch p := k.priv.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return p
	}
	return cryptosigner.Opaque(k.priv)
}

// public is the key as the JWKS publishes it.
func (k *signingKey) public() publicKey { return publicKey{id: k.id, alg: k.alg, pub: k.priv.Public()} }

// publicKey is a key of the JWKS.
type publicKey struct {
	id  string
	alg jose.SignatureAlgorithm
	pub crypto.PublicKey
}

func (k publicKey) ID() string                         { return k.id }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return k.alg }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.pub }

// algOf is the JWS algorithm of a public key: RS256, ES256/384/512, EdDSA.
func algOf(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return jose.RS256, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		case elliptic.P521():
			return jose.ES512, nil
		}
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	}
	return "", fmt.Errorf("mpass: an ID-token key of type %T cannot sign JWS (want RSA, ECDSA P-256/384/521 or Ed25519)", pub)
}
