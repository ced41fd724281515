package mpass

import (
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzParseClientJWKS: a registered JWK set never panics the parser, and
// one it accepts holds public signature keys only.
func FuzzParseClientJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"a"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AAAA"}]}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		set, err := parseClientJWKS(b)
		if err != nil {
			return
		}
		for _, k := range set.Keys {
			if !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
				t.Fatalf("accepted %+v", k)
			}
		}
		if _, err := json.Marshal(set); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzAssertionClaims: the claims of a client assertion never panic their
// reader (aud as a string or an array; dates as numbers).
func FuzzAssertionClaims(f *testing.F) {
	f.Add([]byte(`{"iss":"a","sub":"a","aud":"x","exp":1e9,"iat":1.5,"jti":"j"}`))
	f.Add([]byte(`{"aud":["x","y"],"exp":"soon"}`))
	f.Add([]byte(`{"exp":1e300}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c assertionClaims
		_ = json.Unmarshal(b, &c)
		_, _ = jose.ParseSigned(string(b), assertionAlgs)
	})
}
