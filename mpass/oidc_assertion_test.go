package mpass

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mobileid"
)

// signAssertion is a client assertion made with go-jose, as a client
// library makes it: iss = sub = client, aud, iat, exp in one minute, a
// random jti; mut changes the claims first.
func signAssertion(t *testing.T, key crypto.Signer, kid, client, aud string, mut func(*jwt.Claims)) string {
	t.Helper()
	alg := jose.ES256
	if _, ok := key.(*rsa.PrivateKey); ok {
		alg = jose.PS256
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := jwt.Claims{Issuer: client, Subject: client, Audience: jwt.Audience{aud}, IssuedAt: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: newID()}
	if mut != nil {
		mut(&c)
	}
	s, err := jwt.Signed(sig).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tokenRequest posts a code exchange with a client assertion to the token
// endpoint at base; it returns the status and the OAuth error.
func tokenRequest(t *testing.T, base, code, verifier, redirect, assertion string) (int, string) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirect}}
	if assertion != "" {
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
	} else {
		form.Set("client_id", "bank")
	}
	resp, err := http.PostForm(base+PathOIDC+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error + ": " + e.Description
}

// TestOIDCPrivateKeyJWT: a client registered with its public key (JWK set)
// authenticates at the token endpoint with assertions it signs with
// go-jose, aimed at the token endpoint or at the issuer; its ID token is
// then checked by go-oidc. Refused, each as invalid_client and audited:
// a replayed assertion (also on a second instance sharing the store), one
// signed by another key, for another audience, expired, without jti, with
// sub other than iss, and the client's request without an assertion.
func TestOIDCPrivateKeyJWT(t *testing.T) {
	e := newEnv(t, withOIDCKey(t))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Use: "sig", Algorithm: "ES256"}}})
	rp := e.newOIDCRP(OIDCClientSpec{ID: "bank", AuthMethod: AuthPrivateKeyJWT, JWKS: jwks})
	if rp.secret != "" {
		t.Fatal("a private_key_jwt client got a secret")
	}
	rp.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	var disc struct {
		Methods []string `json:"token_endpoint_auth_methods_supported"`
		Algs    []string `json:"token_endpoint_auth_signing_alg_values_supported"`
		Token   string   `json:"token_endpoint"`
		Issuer  string   `json:"issuer"`
	}
	if err := rp.provider.Claims(&disc); err != nil || !strings.Contains(strings.Join(disc.Methods, " "), "private_key_jwt") ||
		!strings.Contains(strings.Join(disc.Algs, " "), "ES256") {
		t.Fatalf("discovery: %+v %v", disc, err)
	}
	c := newBrowserClient(t)
	ctx := context.Background()
	user := mobileid.GeneratedUser(1)
	first := true
	code := func() (string, string) {
		t.Helper()
		resp, page, state, _, verifier := rp.authorize(c)
		if first {
			resp, first = e.phoneLoginOIDC(c, page, user), false
		}
		return rp.codeOf(resp, state), verifier
	}
	exchange := func(assertion string) error {
		cd, v := code()
		tok, err := rp.oauth.Exchange(ctx, cd, oauth2.VerifierOption(v),
			oauth2.SetAuthURLParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
			oauth2.SetAuthURLParam("client_assertion", assertion))
		if err != nil {
			return err
		}
		raw, _ := tok.Extra("id_token").(string)
		_, err = rp.verifier.Verify(ctx, raw)
		return err
	}

	good := signAssertion(t, key, "k1", "bank", disc.Token, nil)
	if err := exchange(good); err != nil {
		t.Fatalf("assertion for the token endpoint: %v", err)
	}
	if err := exchange(signAssertion(t, key, "k1", "bank", disc.Issuer, nil)); err != nil {
		t.Fatalf("assertion for the issuer: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	second := e.second(withOIDCKey(t))
	fresh := signAssertion(t, key, "k1", "bank", disc.Token, nil)
	if err := exchange(fresh); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, base, assertion, want string
	}{
		{"replay", e.url, good, "used already"},
		{"replay on another instance", second, fresh, "used already"},
		{"another key", e.url, signAssertion(t, other, "k1", "bank", disc.Token, nil), "not by a key registered"},
		{"another audience", e.url, signAssertion(t, key, "k1", "bank", "https://elsewhere.example/token", nil), "aud must be"},
		{"expired", e.url, signAssertion(t, key, "k1", "bank", disc.Token, func(c *jwt.Claims) {
			c.IssuedAt, c.Expiry = jwt.NewNumericDate(time.Now().Add(-5*time.Minute)), jwt.NewNumericDate(time.Now().Add(-2*time.Minute))
		}), "expired"},
		{"not yet valid", e.url, signAssertion(t, key, "k1", "bank", disc.Token, func(c *jwt.Claims) {
			c.NotBefore = jwt.NewNumericDate(time.Now().Add(5 * time.Minute))
		}), "not valid before"},
		{"too long a life", e.url, signAssertion(t, key, "k1", "bank", disc.Token, func(c *jwt.Claims) {
			c.Expiry = jwt.NewNumericDate(time.Now().Add(time.Hour))
		}), "more than"},
		{"no jti", e.url, signAssertion(t, key, "k1", "bank", disc.Token, func(c *jwt.Claims) { c.ID = "" }), "jti is missing"},
		{"sub is not iss", e.url, signAssertion(t, key, "k1", "bank", disc.Token, func(c *jwt.Claims) { c.Subject = "someone" }), "iss and sub"},
		{"not a JWT", e.url, "abc.def.ghi", "not a JWS"},
	} {
		if status, got := tokenRequest(t, tc.base, "unused", "v", rp.callback, tc.assertion); status != http.StatusUnauthorized ||
			!strings.HasPrefix(got, "invalid_client: ") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %d %s", tc.name, status, got)
		}
	}
	// Without an assertion, the client is not authenticated.
	cd, v := code()
	if status, got := tokenRequest(t, e.url, cd, v, rp.callback, ""); status < 400 || !strings.Contains(got, "invalid_client") {
		t.Errorf("no assertion: %d %s", status, got)
	}
	reasons := auditReasons(t, e.store, "mpass.oidc-client-refused")
	for _, r := range []string{"assertion-replayed", "assertion-signature", "assertion-audience", "assertion-expired", "assertion-jti", "assertion-subject"} {
		if !strings.Contains(reasons, r) {
			t.Errorf("audit log: no %s in %s", r, reasons)
		}
	}
}

// TestClientJWKSRegistration: a JWK set with a private key, a short RSA
// key, keys without kids, or a JWK set for another method is refused.
func TestClientJWKSRegistration(t *testing.T) {
	e := newEnv(t, nil)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	set := func(keys ...jose.JSONWebKey) []byte { b, _ := json.Marshal(jose.JSONWebKeySet{Keys: keys}); return b }
	for _, tc := range []struct {
		name string
		spec OIDCClientSpec
		want string
	}{
		{"private key", OIDCClientSpec{AuthMethod: AuthPrivateKeyJWT, JWKS: set(jose.JSONWebKey{Key: k, KeyID: "a"})}, "private key"},
		{"small RSA", OIDCClientSpec{AuthMethod: AuthPrivateKeyJWT, JWKS: set(jose.JSONWebKey{Key: &small.PublicKey, KeyID: "a"})}, "2048"},
		{"no kids", OIDCClientSpec{AuthMethod: AuthPrivateKeyJWT, JWKS: set(jose.JSONWebKey{Key: &k.PublicKey}, jose.JSONWebKey{Key: &k2.PublicKey})}, "distinct kids"},
		{"encryption key", OIDCClientSpec{AuthMethod: AuthPrivateKeyJWT, JWKS: set(jose.JSONWebKey{Key: &k.PublicKey, Use: "enc"})}, "not signatures"},
		{"no keys", OIDCClientSpec{AuthMethod: AuthPrivateKeyJWT}, "--jwks"},
		{"keys for a secret", OIDCClientSpec{AuthMethod: AuthSecretBasic, JWKS: set(jose.JSONWebKey{Key: &k.PublicKey})}, "only"},
		{"not JSON", OIDCClientSpec{AuthMethod: AuthPrivateKeyJWT, JWKS: []byte("-----BEGIN")}, "not valid JSON"},
	} {
		tc.spec.RedirectURIs = []string{"https://bank.example/cb"}
		_, _, err := e.srv.Registry().AddClient(context.Background(), tc.spec, time.Now())
		if !errors.Is(err, ErrBadClient) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestOIDCAssertionReplayPostgres: two instances on one PostgreSQL: an
// assertion presented to one (its jti recorded, whatever became of the
// code) is refused as a replay by the other.
func TestOIDCAssertionReplayPostgres(t *testing.T) {
	key := withOIDCKey(t)
	e := newEnvOn(t, testtool.PostgresSchema(t), key)
	other := e.second(key)
	ck, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ck.PublicKey, KeyID: "k1"}}})
	rp := e.newOIDCRP(OIDCClientSpec{ID: "bank", JWKS: jwks})
	a := signAssertion(t, ck, "k1", "bank", e.url+PathOIDC, nil)
	if status, got := tokenRequest(t, e.url, "unknown-code", "v", rp.callback, a); status == http.StatusUnauthorized || !strings.HasPrefix(got, "invalid_grant") {
		t.Fatalf("first instance: %d %s (want the assertion accepted and the code refused)", status, got)
	}
	if status, got := tokenRequest(t, other, "unknown-code", "v", rp.callback, a); status != http.StatusUnauthorized || !strings.Contains(got, "used already") {
		t.Fatalf("second instance: %d %s", status, got)
	}
}
