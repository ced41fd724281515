package mpass

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/semnat/semnat/mobileid"
)

// TestSSOAnsweredAtOnce: with the session cookie on the request (the
// HTTP-Redirect binding) /login/saml answers at once with a Response the
// relying service accepts (SubjectLocality, the session's SessionIndex);
// ForceAuthn still shows the login page; a cross-site POST (no cookie, as
// SameSite=Lax sends it) goes through the login page and is answered there.
func TestSSOAnsweredAtOnce(t *testing.T) {
	e := newEnv(t, nil)
	rp1, rp2 := e.newRP("shop.test", true), e.newRP("library.test", true)
	c := newBrowserClient(t)
	e.login(c, rp1, mobileid.GeneratedUser(1))
	sp := rp2.mw.ServiceProvider

	check := func(resp *http.Response, b []byte, wantPath string) {
		t.Helper()
		if resp.Request.URL.Path != wantPath {
			t.Fatalf("answered at %s, want %s", resp.Request.URL, wantPath)
		}
		action, fields := form(t, b)
		r, raw := samlResponse(t, fields)
		acs, _ := url.Parse(action)
		as, err := sp.ParseXMLResponse(raw, []string{r.InResponseTo}, *acs)
		if err != nil {
			t.Fatalf("the relying service refuses the Response: %+v", err.(*saml.InvalidResponseError).PrivateErr)
		}
		if as.Subject.NameID.Value != mobileid.GeneratedUser(1).IDNP || as.AuthnStatements[0].SubjectLocality == nil ||
			as.AuthnStatements[0].SubjectLocality.Address != "127.0.0.1" {
			t.Fatalf("assertion: %+v", as.AuthnStatements)
		}
	}
	u, err := sp.MakeRedirectAuthenticationRequest("")
	if err != nil {
		t.Fatal(err)
	}
	resp, b := e.get(c, u.String())
	check(resp, b, PathSSO)

	// A cross-site POST: through the login page, answered from the session.
	ar, err := sp.MakeAuthenticationRequest(e.url+PathSSO, saml.HTTPPostBinding, saml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	action, fields := form(t, ar.Post(""))
	lax := *c
	lax.Transport = laxCookies{http.DefaultTransport}
	resp, b = e.post(&lax, action, fields)
	check(resp, b, pathLogin)

	// ForceAuthn: the login page, not an answer.
	ar, err = sp.MakeAuthenticationRequest(e.url+PathSSO, saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	force := true
	ar.ForceAuthn = &force
	u, err = ar.Redirect("", &sp)
	if err != nil {
		t.Fatal(err)
	}
	resp, b = e.get(c, u.String())
	if resp.Request.URL.Path != pathLogin || !reTx.Match(b) || strings.Contains(string(b), "SAMLResponse") {
		t.Fatalf("ForceAuthn: %s\n%s", resp.Request.URL, b)
	}
}

// TestCheckedRequestsBounded: the kept requests are bounded in number and
// age.
func TestCheckedRequestsBounded(t *testing.T) {
	var c checkedRequests
	now := time.Now()
	req := &saml.IdpAuthnRequest{}
	for i := 0; i < maxChecked+10; i++ {
		c.put(newID(), req, now)
	}
	if len(c.m) != maxChecked {
		t.Fatalf("%d kept", len(c.m))
	}
	c.put("late", req, now.Add(checkedTTL)) // the old ones make room
	if len(c.m) != 1 || c.take("late", now.Add(checkedTTL)) != req || c.take("late", now) != nil {
		t.Fatalf("after expiry: %d kept", len(c.m))
	}
	c.put("x", req, now)
	if c.take("x", now.Add(checkedTTL)) != nil {
		t.Fatal("an expired request was handed out")
	}
}
