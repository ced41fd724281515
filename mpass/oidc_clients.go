package mpass

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/semnat/semnat/store"
)

// kindClient holds the registered OpenID Connect clients, by client id.
const kindClient = "mpass.oidc.client"

// Errors of the OpenID Connect client register.
var (
	ErrUnknownClient = errors.New("mpass: no OpenID Connect client is registered under that id")
	ErrBadClient     = errors.New("mpass: the OpenID Connect client registration is not usable")
)

// Client authentication methods at the token endpoint.
const (
	AuthSecretBasic = string(oidc.AuthMethodBasic) // client_secret_basic (the default, as TARA)
	AuthSecretPost  = string(oidc.AuthMethodPost)  // client_secret_post
	AuthNone        = string(oidc.AuthMethodNone)  // a public client: PKCE only
)

// OIDCClient is a registered OpenID Connect client (relying party).
type OIDCClient struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// SecretHash is the hex SHA-256 of the client secret (the secret is 32
	// random bytes, shown once at registration and never stored).
	SecretHash string `json:"secretHash,omitempty"`
	AuthMethod string `json:"authMethod"`
	// RedirectURIs are compared with the request's redirect_uri exactly.
	RedirectURIs           []string `json:"redirectUris"`
	PostLogoutRedirectURIs []string `json:"postLogoutRedirectUris,omitempty"`
	// BackchannelLogoutURI receives a logout token when a session the
	// client logged in through ends (oidc_logout.go).
	BackchannelLogoutURI string `json:"backchannelLogoutUri,omitempty"`
	// BackchannelLogoutSessionRequired: the client needs the sid claim in
	// its logout tokens (MPass always sends it, and sub).
	BackchannelLogoutSessionRequired bool `json:"backchannelLogoutSessionRequired,omitempty"`
	// Pairwise: the client gets a subject of its own per person instead of
	// "MD" + IDNP (OpenID Connect Core §8.1).
	Pairwise bool `json:"pairwise,omitempty"`
	// JWKS are the public keys of a private_key_jwt client (a JWK set).
	JWKS  json.RawMessage `json:"jwks,omitempty"`
	Added time.Time       `json:"added"`
}

// OIDCClientSpec is what a registration asks for.
type OIDCClientSpec struct {
	ID                     string   // empty: one is made
	Name                   string   // shown on the login page's title, optional
	RedirectURIs           []string // at least one
	PostLogoutRedirectURIs []string
	BackchannelLogoutURI   string // optional
	// BackchannelLogoutSessionRequired is recorded (sid is always sent);
	// it needs BackchannelLogoutURI.
	BackchannelLogoutSessionRequired bool
	AuthMethod                       string // AuthSecretBasic (default), AuthSecretPost, AuthPrivateKeyJWT or AuthNone
	// JWKS is the JWK set of the public keys a private_key_jwt client signs
	// its assertions with (required for that method, refused otherwise).
	JWKS     []byte
	Pairwise bool
}

var reClientID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// maxRedirectURIs bounds a client's redirect URIs of each kind.
const maxRedirectURIs = 16

// checkRedirectURI: an absolute http(s) URL without a fragment (RFC 6749
// §3.1.2) or user info, compared exactly when a request names it.
func checkRedirectURI(flag, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %s %q: %v", ErrBadClient, flag, raw, err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%w: %s %q: want an https:// (or http://) URL", ErrBadClient, flag, raw)
	case u.Host == "":
		return fmt.Errorf("%w: %s %q: the URL has no host", ErrBadClient, flag, raw)
	case u.Fragment != "" || u.RawFragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%w: %s %q: a redirect URI has no fragment", ErrBadClient, flag, raw)
	case u.User != nil:
		return fmt.Errorf("%w: %s %q: a redirect URI has no user name or password", ErrBadClient, flag, raw)
	}
	return nil
}

// AddClient registers an OpenID Connect client (or replaces the
// registration of the same id) and returns it with its new secret (empty
// for a public client). The secret is shown once: only its digest is kept.
func (r *Registry) AddClient(ctx context.Context, spec OIDCClientSpec, now time.Time) (*OIDCClient, string, error) {
	if spec.ID == "" {
		spec.ID = "oidc-" + newID()[:16]
	}
	if !reClientID.MatchString(spec.ID) {
		return nil, "", fmt.Errorf("%w: client id %q: letters, digits and . _ : - only, at most 64", ErrBadClient, spec.ID)
	}
	if len(spec.RedirectURIs) == 0 {
		return nil, "", fmt.Errorf("%w: at least one redirect URI is required (--redirect-uri)", ErrBadClient)
	}
	if len(spec.RedirectURIs) > maxRedirectURIs || len(spec.PostLogoutRedirectURIs) > maxRedirectURIs {
		return nil, "", fmt.Errorf("%w: at most %d redirect URIs of each kind", ErrBadClient, maxRedirectURIs)
	}
	for _, u := range spec.RedirectURIs {
		if err := checkRedirectURI("redirect URI", u); err != nil {
			return nil, "", err
		}
	}
	for _, u := range spec.PostLogoutRedirectURIs {
		if err := checkRedirectURI("post-logout redirect URI", u); err != nil {
			return nil, "", err
		}
	}
	if spec.BackchannelLogoutURI != "" {
		if err := checkRedirectURI("back-channel logout URI", spec.BackchannelLogoutURI); err != nil {
			return nil, "", err
		}
	}
	if spec.BackchannelLogoutSessionRequired && spec.BackchannelLogoutURI == "" {
		return nil, "", fmt.Errorf("%w: back-channel logout session required without a back-channel logout URI (--backchannel-logout-uri)", ErrBadClient)
	}
	if spec.AuthMethod == "" && len(spec.JWKS) > 0 {
		spec.AuthMethod = AuthPrivateKeyJWT
	}
	if spec.AuthMethod == "" {
		spec.AuthMethod = AuthSecretBasic
	}
	if !slices.Contains([]string{AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT, AuthNone}, spec.AuthMethod) {
		return nil, "", fmt.Errorf("%w: authentication method %q: want %s, %s, %s or %s", ErrBadClient, spec.AuthMethod,
			AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT, AuthNone)
	}
	var jwks json.RawMessage
	switch {
	case spec.AuthMethod == AuthPrivateKeyJWT && len(spec.JWKS) == 0:
		return nil, "", fmt.Errorf("%w: %s needs the client's public keys (--jwks FILE)", ErrBadClient, AuthPrivateKeyJWT)
	case spec.AuthMethod != AuthPrivateKeyJWT && len(spec.JWKS) > 0:
		return nil, "", fmt.Errorf("%w: a JWK set is for --auth %s only", ErrBadClient, AuthPrivateKeyJWT)
	case len(spec.JWKS) > 0:
		set, err := parseClientJWKS(spec.JWKS)
		if err != nil {
			return nil, "", err
		}
		if jwks, err = json.Marshal(set); err != nil { // public parts only, as parsed
			return nil, "", err
		}
	}
	cl := OIDCClient{ID: spec.ID, Name: spec.Name, AuthMethod: spec.AuthMethod, RedirectURIs: slices.Clone(spec.RedirectURIs),
		PostLogoutRedirectURIs: slices.Clone(spec.PostLogoutRedirectURIs), BackchannelLogoutURI: spec.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired: spec.BackchannelLogoutSessionRequired,
		Pairwise:                         spec.Pairwise, JWKS: jwks, Added: now.UTC()}
	var secret string
	if spec.AuthMethod != AuthNone && spec.AuthMethod != AuthPrivateKeyJWT {
		b, err := randomBytes(32)
		if err != nil {
			return nil, "", err
		}
		secret = base64.RawURLEncoding.EncodeToString(b)
		cl.SecretHash = secretHash(secret)
	}
	b, err := json.Marshal(cl)
	if err != nil {
		return nil, "", err
	}
	if err := r.Store.Put(ctx, kindClient, cl.ID, b, store.Forever); err != nil {
		return nil, "", err
	}
	return &cl, secret, nil
}

func secretHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// checkSecret compares a presented client secret with the registered one
// in constant time.
func (cl *OIDCClient) checkSecret(secret string) bool {
	if cl.SecretHash == "" || secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(secretHash(secret)), []byte(cl.SecretHash)) == 1
}

// Client returns a registration (ErrUnknownClient when there is none).
func (r *Registry) Client(ctx context.Context, id string) (*OIDCClient, error) {
	b, err := r.Store.Get(ctx, kindClient, id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownClient, id)
	}
	if err != nil {
		return nil, err
	}
	var cl OIDCClient
	if err := json.Unmarshal(b, &cl); err != nil {
		return nil, fmt.Errorf("mpass: the registration of client %q is damaged: %w", id, err)
	}
	return &cl, nil
}

// Clients lists the registered OpenID Connect clients.
func (r *Registry) Clients(ctx context.Context) ([]OIDCClient, error) {
	items, err := r.Store.List(ctx, kindClient)
	if err != nil {
		return nil, err
	}
	out := make([]OIDCClient, 0, len(items))
	for _, it := range items {
		var cl OIDCClient
		if err := json.Unmarshal(it.Value, &cl); err != nil {
			return nil, fmt.Errorf("mpass: the registration of client %q is damaged: %w", it.ID, err)
		}
		cl.SecretHash = ""
		out = append(out, cl)
	}
	return out, nil
}

// RemoveClient deletes a registration (ErrUnknownClient when there is none).
func (r *Registry) RemoveClient(ctx context.Context, id string) error {
	if _, err := r.Store.Take(ctx, kindClient, id); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
			return fmt.Errorf("%w: %q", ErrUnknownClient, id)
		}
		return err
	}
	return nil
}

// serviceName is how the session page names a service of a session: an
// OpenID Connect client by its registered name (its id when it has none
// or is no longer registered), a SAML relying service by its host.
func (s *Service) serviceName(ctx context.Context, sp string) string {
	id, ok := strings.CutPrefix(sp, oidcSPPrefix)
	if !ok {
		return hostOf(sp)
	}
	if cl, err := s.sps.Client(ctx, id); err == nil && cl.Name != "" {
		return cl.Name
	}
	return id
}
