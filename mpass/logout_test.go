package mpass

import (
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/mobileid"
)

// TestSingleLogout: logged in to two relying services (the second by SSO),
// the person logs out at the second; MPass ends the SSO session, carries
// the logout to the first (front-channel, its LogoutResponse comes back),
// then answers the second. Both services and MPass then ask for a new login.
func TestSingleLogout(t *testing.T) {
	e := newEnv(t, nil)
	rp1, rp2 := e.newRP("shop.test", true), e.newRP("library.test", true)
	c := newBrowserClient(t)
	user := mobileid.GeneratedUser(4)
	if page := e.login(c, rp1, user); !strings.HasPrefix(page, "NameIdentifier="+user.IDNP) {
		t.Fatalf("login: %s", page)
	}
	_, b := e.get(c, rp2.url+"/app")
	if _, b = e.followForms(c, b); !strings.HasPrefix(string(b), "NameIdentifier="+user.IDNP) {
		t.Fatalf("SSO: %s", b)
	}
	resp, b := e.get(c, rp2.url+"/logout")
	resp, b = e.followForms(c, b)
	if resp == nil || !strings.HasPrefix(resp.Request.URL.String(), rp2.url) {
		t.Fatalf("logout did not end at the second service: %v\n%s", resp, b)
	}
	// Everything asks for a login again: no session at MPass or at either service.
	for _, rp := range []*relyingParty{rp1, rp2} {
		resp, b := e.get(c, rp.url+"/app")
		if !strings.HasPrefix(resp.Request.URL.String(), e.url+pathLogin+"?") || !reTx.Match(b) {
			t.Fatalf("%s after logout: %s\n%s", rp.url, resp.Request.URL, b)
		}
	}
	checkAudit(t, e, "mpass.login", "mpass.login-sso", "mpass.logout")
}

// TestSessionIdle: an SSO session not used for SessionIdle is over: the
// next relying service gets the login page, not an assertion.
func TestSessionIdle(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SessionIdle = 300 * time.Millisecond })
	rp1, rp2 := e.newRP("shop.test", true), e.newRP("library.test", true)
	c := newBrowserClient(t)
	e.login(c, rp1, mobileid.GeneratedUser(8))
	time.Sleep(400 * time.Millisecond)
	resp, b := e.get(c, rp2.url+"/app")
	if !strings.HasPrefix(resp.Request.URL.String(), e.url+pathLogin+"?") || !reTx.Match(b) {
		t.Fatalf("after the idle time: %s\n%s", resp.Request.URL, b)
	}
}

// TestLogoutByPerson: the session page shows who is logged in and where;
// "log out of every service" sends each relying service a LogoutRequest
// through the browser and comes back to the page, now logged out.
func TestLogoutByPerson(t *testing.T) {
	e := newEnv(t, nil)
	rp1, rp2 := e.newRP("shop.test", true), e.newRP("library.test", true)
	c := newBrowserClient(t)
	user := mobileid.GeneratedUser(0)
	e.login(c, rp1, user)
	_, b := e.get(c, rp2.url+"/app")
	e.followForms(c, b)
	_, b = e.get(c, e.url+pathSession)
	page := string(b)
	if !strings.Contains(page, user.IDNP) || !strings.Contains(page, strings.TrimPrefix(rp1.url, "http://")) ||
		!strings.Contains(page, strings.TrimPrefix(rp2.url, "http://")) {
		t.Fatalf("session page:\n%s", page)
	}
	resp, b := e.post(c, e.url+pathLogoutAll, nil)
	resp, b = e.followForms(c, b)
	if resp == nil || resp.Request.URL.Path != pathSession || !strings.Contains(string(b), `id="no-session"`) {
		t.Fatalf("after logout: %v\n%s", resp, b)
	}
	for _, rp := range []*relyingParty{rp1, rp2} {
		if resp, _ := e.get(c, rp.url+"/app"); !strings.HasPrefix(resp.Request.URL.String(), e.url+pathLogin+"?") {
			t.Fatalf("%s still logged in: %s", rp.url, resp.Request.URL)
		}
	}
	checkAudit(t, e, "mpass.login", "mpass.login-sso", "mpass.logout")
}
