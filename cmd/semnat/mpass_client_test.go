package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/mpass"
)

// TestMPassClientCommands: register OpenID Connect clients (the secret is
// printed once, never listed), list, remove; a redirect URI with a
// fragment and an unknown id are usage errors.
func TestMPassClientCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	var out, errb bytes.Buffer
	if code := runCLI([]string{"--json", "mpass", "client", "add", "--id", "shop", "--redirect-uri", "https://shop.example/cb",
		"--post-logout-uri", "https://shop.example/", "--data", data}, &out, &errb); code != exitOK {
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
		strings.Contains(out.String(), "secretHash") {
		t.Fatalf("list: %v %s", err, out.String())
	}
	for _, bad := range [][]string{
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
