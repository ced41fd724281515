package mpass

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mobileid"
)

// TestInstancesShareState: two MPass instances on one PostgreSQL store
// (behind one public URL, as behind a load balancer) serve the same logins
// and sessions: a login opened on the first goes on at the second (phone
// step) and ends at the first; the second then answers another relying
// service from the SSO session the first opened.
func TestInstancesShareState(t *testing.T) {
	e := newEnvOn(t, testtool.PostgresSchema(t), nil)
	other := e.second(nil)
	rp1, rp2 := e.newRP("shop.test", true), e.newRP("library.test", true)
	c := newBrowserClient(t)
	user := mobileid.GeneratedUser(5)
	tx, _ := e.startLogin(c, rp1) // on the first instance
	resp, b := e.post(c, other+pathMobile, url.Values{"tx": {tx}, "phone": {user.MSISDN}})
	m := reCode.FindSubmatch(b)
	if m == nil || !strings.HasPrefix(resp.Request.URL.String(), other) {
		t.Fatalf("phone step on the second instance: %d %s\n%s", resp.StatusCode, resp.Request.URL, b)
	}
	approve(t, user.MSISDN, string(m[1]))
	_, b = e.waitDone(c, e.url+pathWait+"?tx="+tx) // back on the first
	if _, b = e.followForms(c, b); !strings.HasPrefix(string(b), "NameIdentifier="+user.IDNP) {
		t.Fatalf("login: %s", b)
	}
	// The second relying service's login: opened at the first instance,
	// answered from the session by the second. (The request comes without
	// the session cookie, as a cross-site POST would: with it the first
	// instance would answer at once.)
	noFollow := *c
	noFollow.Transport = noCookieAt{PathSSO}
	noFollow.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == pathLogin {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, _ = e.get(&noFollow, rp2.url+"/app")
	loc, err := resp.Location()
	if err != nil || loc.Path != pathLogin {
		t.Fatalf("no redirect to the login page: %v %v", resp.Status, err)
	}
	_, b = e.get(c, other+loc.RequestURI())
	if _, b = e.followForms(c, b); !strings.HasPrefix(string(b), "NameIdentifier="+user.IDNP) {
		t.Fatalf("SSO through the second instance: %s", b)
	}
	checkAudit(t, e, "mpass.login", "mpass.login-sso")
}

// TestPhoneWaitTakenOver: the instance waiting for a phone stops; another
// instance on the same store sees its heartbeat go stale, resumes the same
// phone transaction, and the login ends there.
func TestPhoneWaitTakenOver(t *testing.T) {
	fast := func(c *Config) { c.Heartbeat = 50 * time.Millisecond }
	e := newEnv(t, fast)
	other := e.second(fast)
	rp := e.newRP("shop.test", true)
	c := newBrowserClient(t)
	user := mobileid.GeneratedUser(2)
	tx, _ := e.startLogin(c, rp)
	_, _, code := e.phoneLogin(c, tx, user.MSISDN)
	if code == "" {
		t.Fatal("no verification code")
	}
	e.srv.Close() // the first instance stops waiting
	approve(t, user.MSISDN, code)
	_, b := e.waitDone(c, other+pathWait+"?tx="+tx)
	if _, b = e.followForms(c, b); !strings.HasPrefix(string(b), "NameIdentifier="+user.IDNP) {
		t.Fatalf("after the takeover: %s", b)
	}
}

// noCookieAt sends no cookies to one path.
type noCookieAt struct{ path string }

func (n noCookieAt) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == n.path {
		r = r.Clone(r.Context())
		r.Header.Del("Cookie")
	}
	return http.DefaultTransport.RoundTrip(r)
}
