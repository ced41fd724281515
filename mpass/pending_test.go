package mpass

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/mobileid"
)

// TestLoginCookiesDropped: each login has a browser cookie of its own;
// once the login is answered the cookie goes. Before, a browser logging in
// to many services through its session kept them all until LoginTTL, and
// after about 300 logins its requests were refused (headers too large).
func TestLoginCookiesDropped(t *testing.T) {
	e := newEnv(t, nil)
	c := newBrowserClient(t)
	e.login(c, e.newRP("first.test", true), mobileid.GeneratedUser(3))
	// The AuthnRequest without cookies (a cross-site POST): a login
	// transaction, answered by the login page from the session.
	c.Transport = noCookieAt{PathSSO}
	for _, name := range []string{"a.test", "b.test", "c.test"} {
		rp := e.newRP(name, true)
		_, b := e.get(c, rp.url+"/app")
		if _, b = e.followForms(c, b); !strings.HasPrefix(string(b), "NameIdentifier=") {
			t.Fatalf("SSO to %s: %s", name, b)
		}
	}
	u, _ := url.Parse(e.url + pathLogin)
	for _, ck := range c.Jar.Cookies(u) {
		if strings.HasPrefix(ck.Name, "mpass_tx_") {
			t.Errorf("a finished login's cookie is still there: %s", ck.Name)
		}
	}
}

// TestLiveWaitNotTakenOver: a login waits for its phone longer than three
// heartbeats on a live instance; another instance's wait page does not
// take the wait over (the owner's instance heartbeat is fresh), and the
// login ends on the first instance once the phone answers.
func TestLiveWaitNotTakenOver(t *testing.T) {
	fast := func(c *Config) { c.Heartbeat = 50 * time.Millisecond }
	e := newEnv(t, fast)
	other := e.second(fast)
	rp := e.newRP("shop.test", true)
	c := newBrowserClient(t)
	user := mobileid.GeneratedUser(4)
	tx, _ := e.startLogin(c, rp)
	_, _, code := e.phoneLogin(c, tx, user.MSISDN)
	if code == "" {
		t.Fatal("no verification code")
	}
	owner := func() string {
		b, err := e.store.Get(context.Background(), kindLogin, tx)
		if err != nil {
			t.Fatal(err)
		}
		var l loginTx
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatal(err)
		}
		return l.Owner
	}
	first := owner()
	time.Sleep(300 * time.Millisecond) // six beats: the login's own Beat is stale
	if _, b := e.get(c, other+pathWait+"?tx="+tx); !reCode.Match(b) {
		t.Fatalf("not the wait page: %s", b)
	}
	if now := owner(); now != first {
		t.Fatalf("the other instance took over a live instance's wait (%s → %s)", first, now)
	}
	approve(t, user.MSISDN, code)
	_, b := e.waitDone(c, e.url+pathWait+"?tx="+tx)
	if _, b = e.followForms(c, b); !strings.HasPrefix(string(b), "NameIdentifier="+user.IDNP) {
		t.Fatalf("after the phone answered: %s", b)
	}
}
