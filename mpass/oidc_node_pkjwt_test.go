package mpass

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/semnat/semnat/mobileid"
)

// TestOIDCOpenIDClientPrivateKeyJWT: npm openid-client (an independent
// implementation) authenticates at the token endpoint with private_key_jwt,
// signing its own client assertions with the key whose public half the
// client registered; its code exchange succeeds and it checks the ID token
// against MPass's JWKS. Its next assertion carries the first one's jti
// again (openid-client's modifyAssertion hook): MPass refuses it with
// invalid_client and records why. Then openid-client's RP-initiated logout
// (its end-session URL with the ID token as hint) ends the MPass session
// and brings the browser back to the client with its state.
func TestOIDCOpenIDClientPrivateKeyJWT(t *testing.T) {
	dir := openidClientDir(t)
	e := newEnv(t, withOIDCKey(t))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "node-k1", Use: "sig", Algorithm: "ES256"}}})
	rp := e.newOIDCRP(OIDCClientSpec{ID: "node-bank", AuthMethod: AuthPrivateKeyJWT, JWKS: jwks})
	private, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "node-k1", Algorithm: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	bye := rp.client.PostLogoutRedirectURIs[0]
	cmd, stdin, lines, stderr := startNode(t, "testdata/openid-client-private-key-jwt.mjs",
		[]string{"OPENID_CLIENT_DIR=" + dir, "CLIENT_JWK=" + string(private), "CLIENT_KID=node-k1"},
		e.url+PathOIDC, rp.client.ID, rp.callback, bye)
	type result struct {
		Authorize  string
		EndSession string
		Claims     map[string]any
		Error      string
		Status     int
		Message    string
	}
	read := func(v *result) {
		t.Helper()
		*v = result{}
		if !lines.Scan() || json.Unmarshal(lines.Bytes(), v) != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("openid-client: %s\n%s", lines.Bytes(), stderr.String())
		}
	}
	c := newBrowserClient(t)
	user := mobileid.GeneratedUser(1) // not 7: TestLoginRefusals revokes its certificate

	// The first code exchange, with openid-client's own assertion.
	var r result
	read(&r)
	_, page := e.get(c, r.Authorize)
	io.WriteString(stdin, e.phoneLoginOIDC(c, page, user).Request.URL.String()+"\n")
	read(&r)
	if r.Error != "" || r.Claims["sub"] != "MD"+user.IDNP || !slices.Contains(r.Claims["aud"].([]any), any(rp.client.ID)) {
		t.Fatalf("private_key_jwt exchange: %+v\n%s", r, stderr.String())
	}
	if got := ends(t, e.store, "mpass.oidc-client-refused"); len(got) != 0 {
		t.Fatalf("refusals before the replay: %v", got)
	}

	// The second (the SSO session answers at once): its jti is the first's.
	read(&r)
	resp, _ := e.get(c, r.Authorize)
	io.WriteString(stdin, resp.Request.URL.String()+"\n")
	read(&r)
	if r.Error != "invalid_client" || r.Claims != nil {
		t.Fatalf("a replayed jti: %+v\n%s", r, stderr.String())
	}
	if got := ends(t, e.store, "mpass.oidc-client-refused"); len(got) != 1 || got[0]["reason"] != "assertion-replayed" {
		t.Fatalf("audit of the refusal: %v", got)
	}

	// RP-initiated logout, as openid-client builds it.
	read(&r)
	if r.EndSession == "" {
		t.Fatalf("no end-session URL: %+v", r)
	}
	if resp, _ = e.get(c, r.EndSession); resp.Request.URL.String() != bye+"?state=bye-1" {
		t.Fatalf("after logout the browser is at %s", resp.Request.URL)
	}
	if got := ends(t, e.store, "mpass.logout"); len(got) != 1 {
		t.Fatalf("audit of the logout: %v", got)
	}
	if resp, page, _, _, _ := rp.authorize(c); !strings.HasPrefix(resp.Request.URL.String(), e.url+pathLogin+"?") || !reTx.Match(page) {
		t.Fatalf("after logout, authorize went to %s", resp.Request.URL)
	}
}
