package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/mpass/demorp"
)

// TestMPassClientCommands: register OpenID Connect clients (the secret is
// printed once, never listed), list, remove; a redirect URI with a
// fragment and an unknown id are usage errors.
func TestMPassClientCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	var out, errb bytes.Buffer
	if code := runCLI([]string{"--json", "mpass", "client", "add", "--id", "shop", "--redirect-uri", "https://shop.example/cb",
		"--post-logout-uri", "https://shop.example/", "--backchannel-logout-uri", "https://shop.example/bcl", "--data", data}, &out, &errb); code != exitOK {
		t.Fatalf("add: %d %s", code, errb.String())
	}
	var added struct{ ClientID, ClientSecret, TokenEndpointAuthMethod string }
	if err := json.Unmarshal(out.Bytes(), &added); err != nil || added.ClientID != "shop" || len(added.ClientSecret) != 43 ||
		added.TokenEndpointAuthMethod != "client_secret_basic" {
		t.Fatalf("add: %v %s", err, out.String())
	}
	out.Reset()
	if code := runCLI([]string{"mpass", "clients", "add", "--redirect-uri", "https://app.example/cb", "--auth", "none", "--pairwise", "--data", data}, &out, &errb); code != exitOK ||
		!strings.HasPrefix(out.String(), "registered client oidc-") || strings.Contains(out.String(), "secret") {
		t.Fatalf("add public: %d %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := runCLI([]string{"--json", "mpass", "client", "list", "--data", data}, &out, &errb); code != exitOK {
		t.Fatalf("list: %d %s", code, errb.String())
	}
	var cls []mpass.OIDCClient
	if err := json.Unmarshal(out.Bytes(), &cls); err != nil || len(cls) != 2 || strings.Contains(out.String(), added.ClientSecret) ||
		!strings.Contains(out.String(), `"https://shop.example/bcl"`) ||
		strings.Contains(out.String(), "secretHash") {
		t.Fatalf("list: %v %s", err, out.String())
	}
	// private_key_jwt: the public key is registered; a private key is refused.
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, priv := filepath.Join(t.TempDir(), "pub.jwks"), filepath.Join(t.TempDir(), "priv.jwks")
	for path, key := range map[string]any{pub: &k.PublicKey, priv: k} {
		b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k1"}}})
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	if code := runCLI([]string{"--json", "mpass", "client", "add", "--id", "bank", "--redirect-uri", "https://bank.example/cb", "--jwks", pub, "--data", data}, &out, &errb); code != exitOK ||
		!strings.Contains(out.String(), `"tokenEndpointAuthMethod": "private_key_jwt"`) || strings.Contains(out.String(), "clientSecret") {
		t.Fatalf("add private_key_jwt: %d %s %s", code, out.String(), errb.String())
	}
	for _, bad := range [][]string{
		{"mpass", "client", "add", "--redirect-uri", "https://bank.example/cb", "--jwks", priv, "--data", data},
		{"mpass", "client", "add", "--redirect-uri", "https://bank.example/cb", "--jwks", filepath.Join(data, "none.jwks"), "--data", data},
		{"mpass", "client", "add", "--redirect-uri", "https://bank.example/cb", "--auth", "private_key_jwt", "--data", data},
		{"mpass", "client", "add", "--redirect-uri", "https://shop.example/cb#frag", "--data", data},
		{"mpass", "client", "add", "--redirect-uri", "javascript:alert(1)", "--data", data},
		{"mpass", "client", "add", "--data", data},
		{"mpass", "client", "add", "--redirect-uri", "https://a.example/", "--auth", "tls_client_auth", "--data", data},
		{"mpass", "client", "remove", "nobody", "--data", data},
	} {
		errb.Reset()
		if code := runCLI(bad, &out, &errb); code != exitUsage || errb.Len() == 0 {
			t.Errorf("%v: exit %d %s", bad, code, errb.String())
		}
	}
	out.Reset()
	if code := runCLI([]string{"mpass", "client", "remove", "shop", "--data", data}, &out, &errb); code != exitOK || out.String() != "removed client shop\n" {
		t.Fatalf("remove: %d %s %s", code, out.String(), errb.String())
	}
}

// demoOIDCLogin: the demo's OpenID Connect client logs the browser (which
// has an MPass session from the SAML login) in without the phone, shows
// the ID token's claims, and its logout ends the MPass session.
func demoOIDCLogin(t *testing.T, base string, c *http.Client) {
	t.Helper()
	resp, err := c.Get(base + demorp.OIDCPath + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Request.URL.String() != base+demorp.OIDCPath+"/" || !strings.Contains(string(b), "Bun venit, Andrei Ciobanu") ||
		!strings.Contains(string(b), "<td>MD") || !strings.Contains(string(b), "<th>amr</th>") {
		t.Fatalf("the demo OpenID Connect client shows (%s):\n%s", resp.Request.URL, b)
	}
	if resp, err = c.PostForm(base+demorp.OIDCPath+"/logout", nil); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp, err = c.Get(base + "/session"); err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "Nu sunteți autentificat") {
		t.Fatalf("after the client's logout MPass still has the session:\n%s", b)
	}
}
