package mpass

// private_key_jwt client authentication (OpenID Connect Core §9, RFC 7523
// §2.2 and §3): a client registered with a JWK set of public keys proves
// itself at the token and revocation endpoints with a JWT it signed:
// iss = sub = its client id, aud = the token endpoint or the issuer, exp
// (and iat, nbf) within a small skew, and a jti used once. op checks the
// signature, aud (the issuer only), exp and iat, but keeps no record of the
// jti, so a replay within the assertion's life would pass: MPass checks the
// assertion itself, records its jti in the store until the assertion
// expires (PutNew: one of several instances sharing a database wins), and
// hands op the request as one of an authenticated client.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/semnat/semnat/store"
)

// AuthPrivateKeyJWT is the private_key_jwt client authentication method.
const AuthPrivateKeyJWT = string(oidc.AuthMethodPrivateKeyJWT)

const (
	kindJTI = "mpass.oidc.jti" // client assertions' jti (by digest), until the assertion expires
	// assertionSkew is the clock difference allowed for exp, nbf and iat.
	assertionSkew = 30 * time.Second
	// maxAssertionLife bounds how far in the future an assertion's exp may
	// be (so that the jti record is short-lived).
	maxAssertionLife = 10 * time.Minute
	maxClientKeys    = 8
	maxJWKSLen       = 64 << 10
)

// assertionAlgs are the signature algorithms accepted in client assertions.
var assertionAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

// ErrBadAssertion: a client assertion that is refused (errors.Is).
var ErrBadAssertion = errors.New("mpass: the client assertion is refused")

// parseClientJWKS reads a client's JWK set: public signature keys only
// (RSA of at least 2048 bits, EC, Ed25519), at most maxClientKeys, each with
// a distinct kid when there are several.
func parseClientJWKS(b []byte) (*jose.JSONWebKeySet, error) {
	if len(b) > maxJWKSLen {
		return nil, fmt.Errorf("%w: the JWK set is larger than %d bytes", ErrBadClient, maxJWKSLen)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("%w: the JWK set is not valid JSON ({\"keys\": [...]}): %v", ErrBadClient, err)
	}
	if len(set.Keys) == 0 || len(set.Keys) > maxClientKeys {
		return nil, fmt.Errorf("%w: the JWK set must have 1 to %d keys, it has %d", ErrBadClient, maxClientKeys, len(set.Keys))
	}
	kids := map[string]bool{}
	for i, k := range set.Keys {
		if !k.IsPublic() {
			return nil, fmt.Errorf("%w: key %d of the JWK set is a private key: register the public keys only, and keep the private key with the client", ErrBadClient, i+1)
		}
		if k.Use != "" && k.Use != "sig" {
			return nil, fmt.Errorf("%w: key %d of the JWK set is for %q, not signatures", ErrBadClient, i+1, k.Use)
		}
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < 2048 {
				return nil, fmt.Errorf("%w: key %d of the JWK set is RSA of %d bits: at least 2048 are needed", ErrBadClient, i+1, pub.N.BitLen())
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			return nil, fmt.Errorf("%w: key %d of the JWK set is %T: want an RSA, EC or Ed25519 public key", ErrBadClient, i+1, k.Key)
		}
		if len(set.Keys) > 1 && (k.KeyID == "" || kids[k.KeyID]) {
			return nil, fmt.Errorf("%w: the keys of a JWK set of several keys need distinct kids", ErrBadClient)
		}
		kids[k.KeyID] = true
	}
	return &set, nil
}

// assertedKey is the context value of a request whose client assertion
// MPass accepted: the client id.
type assertedKey struct{}

func assertedClient(ctx context.Context) string {
	id, _ := ctx.Value(assertedKey{}).(string)
	return id
}

// assertionClaims are the claims of a client assertion.
type assertionClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jsonStrings      `json:"aud"`
	Expiry    *jsonNumericDate `json:"exp"`
	NotBefore *jsonNumericDate `json:"nbf"`
	IssuedAt  *jsonNumericDate `json:"iat"`
	ID        string           `json:"jti"`
}

// jsonStrings is a JWT aud: one string or an array of them.
type jsonStrings []string

func (s *jsonStrings) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*s = many
	return nil
}

// jsonNumericDate is a JWT NumericDate (seconds, possibly fractional).
type jsonNumericDate struct{ time.Time }

func (d *jsonNumericDate) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return errors.New("a date is not a number of seconds")
	}
	d.Time = time.Unix(0, int64(f*1e9))
	return nil
}

// assertionError is a refusal with the audit log's reason.
type assertionError struct {
	reason string
	err    error
}

func (e *assertionError) Error() string { return e.err.Error() }
func (e *assertionError) Unwrap() error { return e.err }

func refuseAssertion(reason, format string, a ...any) error {
	return &assertionError{reason: reason, err: fmt.Errorf("%w: "+format, append([]any{ErrBadAssertion}, a...)...)}
}

// checkAssertion verifies a client assertion and returns the client id. The
// jti is recorded only once everything else holds.
func (f *oidcFace) checkAssertion(ctx context.Context, raw, formClientID string) (string, error) {
	jws, err := jose.ParseSigned(raw, assertionAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return "", refuseAssertion("assertion-malformed", "not a JWS compact serialisation signed once with %v", assertionAlgs)
	}
	var c assertionClaims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		return "", refuseAssertion("assertion-malformed", "its claims: %v", err)
	}
	if c.Issuer == "" || c.Issuer != c.Subject {
		return "", refuseAssertion("assertion-subject", "iss and sub must both be the client id")
	}
	if formClientID != "" && formClientID != c.Issuer {
		return "", refuseAssertion("assertion-subject", "client_id %q is not the assertion's iss", formClientID)
	}
	cl, err := f.s.sps.Client(ctx, c.Issuer)
	if errors.Is(err, ErrUnknownClient) {
		return "", refuseAssertion("assertion-client", "no client %q is registered", c.Issuer)
	}
	if err != nil {
		return "", err
	}
	if cl.AuthMethod != AuthPrivateKeyJWT || len(cl.JWKS) == 0 {
		return "", refuseAssertion("assertion-client", "client %q is not registered for private_key_jwt", cl.ID)
	}
	set, err := parseClientJWKS(cl.JWKS)
	if err != nil {
		return "", err
	}
	keys := set.Keys
	if kid := jws.Signatures[0].Header.KeyID; kid != "" {
		keys = set.Key(kid)
	}
	var verified []byte
	for _, k := range keys {
		if p, err := jws.Verify(k); err == nil {
			verified = p
			break
		}
	}
	if verified == nil || !bytes.Equal(verified, jws.UnsafePayloadWithoutVerification()) {
		return "", refuseAssertion("assertion-signature", "the signature is not by a key registered for client %q", cl.ID)
	}
	now := f.s.cfg.Now()
	tokenURL := f.provider.TokenEndpoint().Absolute(f.issuer)
	switch {
	case !slices.ContainsFunc(c.Audience, func(a string) bool { return a == tokenURL || a == f.issuer }):
		return "", refuseAssertion("assertion-audience", "aud must be the token endpoint %s or the issuer %s", tokenURL, f.issuer)
	case c.Expiry == nil:
		return "", refuseAssertion("assertion-time", "exp is missing")
	case !now.Before(c.Expiry.Add(assertionSkew)):
		return "", refuseAssertion("assertion-expired", "it expired at %s", c.Expiry.UTC().Format(time.RFC3339))
	case c.Expiry.After(now.Add(maxAssertionLife + assertionSkew)):
		return "", refuseAssertion("assertion-time", "exp is more than %s ahead", maxAssertionLife)
	case c.NotBefore != nil && c.NotBefore.After(now.Add(assertionSkew)):
		return "", refuseAssertion("assertion-time", "it is not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	case c.IssuedAt != nil && c.IssuedAt.After(now.Add(assertionSkew)):
		return "", refuseAssertion("assertion-time", "iat is in the future")
	case c.ID == "" || len(c.ID) > 256:
		return "", refuseAssertion("assertion-jti", "jti is missing (or longer than 256 characters)")
	}
	ttl := c.Expiry.Add(assertionSkew).Sub(now)
	err = f.s.cfg.Store.PutNew(ctx, kindJTI, digest(cl.ID+"\x00"+c.ID), []byte{1}, ttl)
	if errors.Is(err, store.ErrExists) {
		return "", refuseAssertion("assertion-replayed", "its jti was used already")
	}
	if err != nil {
		return "", err
	}
	return cl.ID, nil
}

// clientAssertions is op's interceptor for private_key_jwt: a POST with a
// client assertion is checked (checkAssertion) and passed on without it,
// as the request of client_id, which op then takes for an authenticated
// client (opClient.asserted). A refusal is invalid_client, in the audit
// log with its reason. It also completes the discovery document with the
// algorithms accepted.
func (f *oidcFace) clientAssertions(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, oidc.DiscoveryEndpoint) {
			f.discovery(next, w, r)
			return
		}
		if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("client_assertion") == "" && r.PostForm.Get("client_assertion_type") == "" {
			next.ServeHTTP(w, r)
			return
		}
		if t := r.PostForm.Get("client_assertion_type"); t != oidc.ClientAssertionTypeJWTAssertion {
			writeInvalidClient(w, fmt.Sprintf("client_assertion_type must be %s", oidc.ClientAssertionTypeJWTAssertion))
			return
		}
		id, err := f.checkAssertion(r.Context(), r.PostForm.Get("client_assertion"), r.PostForm.Get("client_id"))
		var ae *assertionError
		if errors.As(err, &ae) {
			who := r.PostForm.Get("client_id")
			f.s.audit(r.Context(), auditEvent("mpass.oidc-client-refused", "client:"+who, oidcSPPrefix+who,
				map[string]string{"reason": ae.reason, "error": ae.Error()}))
			writeInvalidClient(w, ae.Error())
			return
		}
		if err != nil {
			f.s.cfg.Log.Error("mpass: checking a client assertion", "err", err)
			http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
			return
		}
		for _, v := range []url.Values{r.Form, r.PostForm} {
			v.Del("client_assertion")
			v.Del("client_assertion_type")
			v.Set("client_id", id)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), assertedKey{}, id)))
	})
}

func writeInvalidClient(w http.ResponseWriter, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": desc})
}

// discovery serves op's discovery document with the client assertion
// algorithms MPass accepts (op names RS256 only).
func (f *oidcFace) discovery(next http.Handler, w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	var doc map[string]any
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &doc) != nil {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	algs := make([]string, len(assertionAlgs))
	for i, a := range assertionAlgs {
		algs[i] = string(a)
	}
	doc["token_endpoint_auth_signing_alg_values_supported"] = algs
	doc["revocation_endpoint_auth_signing_alg_values_supported"] = algs
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	json.NewEncoder(w).Encode(doc)
}
