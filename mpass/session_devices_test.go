package mpass

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mobileid"
)

var reOtherSession = regexp.MustCompile(`name="session" value="([^"]+)"`)

// TestEndOtherSession: a person logged in on two browsers sees, on each
// one's session page, the other session (when, how, which services) and
// ends it from there: the other browser is logged out, the OpenID Connect
// client of that session gets its back-channel logout for that session
// (not for this one), and the audit log says who ended it from where.
// Another person, or a request without the session cookie, ends nothing.
func TestEndOtherSession(t *testing.T) {
	endOtherSession(t, newEnv(t, func(c *Config) { withOIDCKey(t)(c); withFastJobs(c) }))
}

// TestEndOtherSessionPostgres: the same on PostgreSQL (its collation
// orders the person index's range as SQLite does: hex ids only).
func TestEndOtherSessionPostgres(t *testing.T) {
	endOtherSession(t, newEnvOn(t, testtool.PostgresSchema(t), func(c *Config) { withOIDCKey(t)(c); withFastJobs(c) }))
}

func endOtherSession(t *testing.T, e *env) {
	lr := e.newLogoutReceiver(0)
	rp := e.newOIDCRP(OIDCClientSpec{ID: "shop", Name: "Magazinul", BackchannelLogoutURI: lr.uri(e, "shop")})
	user := mobileid.GeneratedUser(8)
	login := func(u mobileid.User) (string, func() string, *http.Client) {
		c := newBrowserClient(t)
		_, page, state, _, verifier := rp.authorize(c)
		sid := rp.sidOf(e.phoneLoginOIDC(c, page, u), state, verifier)
		return sid, func() string { _, b := e.get(c, e.url+pathSession+"?lang=en"); return string(b) }, c
	}
	laptop := newBrowserClient(t)
	_, page, state, _, verifier := rp.authorize(laptop)
	laptopSid := rp.sidOf(e.phoneLoginOIDC(laptop, page, user), state, verifier)
	phoneSid, phonePage, _ := login(user)

	_, b := e.get(laptop, e.url+pathSession+"?lang=en")
	m := reOtherSession.FindAllStringSubmatch(string(b), -1)
	if len(m) != 1 || m[0][1] != phoneSid || !strings.Contains(string(b), "with mobile signature: Magazinul") {
		t.Fatalf("the laptop's session page does not show the phone's session %s:\n%s", phoneSid, b)
	}
	if p := phonePage(); !strings.Contains(p, laptopSid) {
		t.Fatalf("the phone's session page does not show the laptop's session:\n%s", p)
	}

	// Neither another person nor a request without the cookie ends it.
	_, strangerPage, stranger := login(mobileid.GeneratedUser(9))
	e.post(stranger, e.url+pathSessionEnd, url.Values{"session": {phoneSid}})
	e.post(newBrowserClient(t), e.url+pathSessionEnd, url.Values{"session": {phoneSid}})
	if p := phonePage(); !strings.Contains(p, user.IDNP) {
		t.Fatal("a request without a session ended the phone's session")
	}
	if strings.Contains(strangerPage(), phoneSid) {
		t.Fatal("another person's page lists the session")
	}

	// The person ends the phone's session from the laptop.
	e.post(laptop, e.url+pathSessionEnd, url.Values{"session": {phoneSid}})
	if lc := lr.waitFor(30 * time.Second); lc.Sid != phoneSid {
		t.Fatalf("logout token for %q, want the phone's session %q", lc.Sid, phoneSid)
	}
	if p := phonePage(); strings.Contains(p, user.IDNP) {
		t.Fatalf("the phone is still logged in:\n%s", p)
	}
	_, b = e.get(laptop, e.url+pathSession+"?lang=en")
	if !strings.Contains(string(b), user.IDNP) || reOtherSession.Match(b) {
		t.Fatalf("the laptop's session after ending the other:\n%s", b)
	}
	got := ends(t, e.store, "mpass.logout")
	if len(got) != 1 || got[0]["session"] != phoneSid || got[0]["from"] != laptopSid || got[0]["initiator"] != "person" {
		t.Fatalf("audit: %v", got)
	}
}
