package mpass

import (
	"errors"
	"net/url"
	"testing"
)

// FuzzRedirectURI: a redirect URI a client may register is an absolute
// http(s) URL with a host, without fragment or user info; anything else is
// ErrBadClient, never a panic.
func FuzzRedirectURI(f *testing.F) {
	for _, s := range []string{"https://shop.example/cb", "http://127.0.0.1:8080/cb?x=1", "https://a.example/#f", "https://u:p@a.example/",
		"javascript:alert(1)", "//a.example/cb", "https:///cb", "https://a.example/cb?", "HTTPS://A.EXAMPLE/%zz", "https://[::1]:443/x#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkRedirectURI("redirect URI", s)
		if err != nil {
			if !errors.Is(err, ErrBadClient) {
				t.Fatalf("%q: %v is not ErrBadClient", s, err)
			}
			return
		}
		u, perr := url.Parse(s)
		if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || u.User != nil {
			t.Fatalf("%q accepted: %+v %v", s, u, perr)
		}
	})
}

// FuzzAccessTokenID: a token id op hands back after decrypting a bearer
// value (ours only in practice, but read defensively) gives a record or
// errTokenInvalid, never a panic.
func FuzzAccessTokenID(f *testing.F) {
	for _, s := range []string{"t1.", "t1.e30", "t1.eyJqdGkiOiJ4In0", "x", "t1.!!", "t1.eyJqdGkiOiJ4IiwiZXhwaXJlcyI6IjI5OTktMDEtMDFUMDA6MDA6MDBaIn0"} {
		f.Add(s)
	}
	e := newEnv(f, nil)
	st := opStorage{e.srv.oidc}
	f.Fuzz(func(t *testing.T, id string) {
		tok, err := st.token(t.Context(), id)
		if err != nil {
			return
		}
		if tok.ID == "" || !e.srv.cfg.Now().Before(tok.Expires) {
			t.Fatalf("%q accepted: %+v", id, tok)
		}
	})
}
