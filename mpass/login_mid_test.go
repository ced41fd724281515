package mpass

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/mobileid"
)

// withMIDFace gives MPass a client of the simulator's Mobile-ID face.
func withMIDFace(t *testing.T) func(*Config) {
	return func(c *Config) {
		mc, err := mobileid.NewClient(shared.simURL+"/mid-api", mobileid.ClientOptions{Face: mobileid.FaceMID,
			Roots: shared.pki.RootPool(), Intermediates: shared.pki.IntermediatePool(), PollInterval: 10 * time.Millisecond,
			HTTPClient: &http.Client{Timeout: 30 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		c.Mobile = mc
	}
}

// TestLoginMobileIDFace: with an MSSP's Mobile-ID face (which identifies a
// person by phone number and IDNP together) the login form asks for the
// IDNP too: a malformed one is refused on the page before any phone is
// asked; another person's IDNP with this phone is refused by the service
// ("unknown-phone"); the person's own logs them in.
func TestLoginMobileIDFace(t *testing.T) {
	e := newEnv(t, withMIDFace(t))
	rp := e.newRP("shop.test", true)
	user, other := mobileid.GeneratedUser(2), mobileid.GeneratedUser(3)
	c := newBrowserClient(t)
	tx, page := e.startLogin(c, rp)
	if !strings.Contains(string(page), `name="idnp"`) {
		t.Fatalf("the login form asks no IDNP on the Mobile-ID face:\n%s", page)
	}
	enter := func(c *http.Client, tx, idnp string) (*http.Response, []byte) {
		return e.post(c, e.url+pathMobile, url.Values{"tx": {tx}, "phone": {user.MSISDN}, "idnp": {idnp}})
	}
	if resp, b := enter(c, tx, "20040010"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "cele 13 cifre ale IDNP") ||
		!strings.Contains(string(b), `value="20040010"`) {
		t.Fatalf("a malformed IDNP: %d\n%s", resp.StatusCode, b)
	}
	// Another person's IDNP with this phone: the service says no.
	c2 := newBrowserClient(t)
	tx2, _ := e.startLogin(c2, rp)
	resp, b := enter(c2, tx2, other.IDNP)
	if _, b = e.waitDone(c2, resp.Request.URL.String()); !strings.Contains(string(b), `id="problem"`) {
		t.Fatalf("another person's IDNP with this phone:\n%s", b)
	}
	for i := 0; auditReasons(t, e.store, "mpass.login-failed") == "" && i < 100; i++ {
		time.Sleep(50 * time.Millisecond) // the audit entry follows the page's answer
	}
	if r := auditReasons(t, e.store, "mpass.login-failed"); r != "unknown-phone" {
		t.Fatalf("audit reasons %q", r)
	}
	resp, b = enter(c, tx, user.IDNP)
	m := reCode.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no verification code: %d\n%s", resp.StatusCode, b)
	}
	approve(t, user.MSISDN, string(m[1]))
	_, b = e.waitDone(c, resp.Request.URL.String())
	if _, b = e.followForms(c, b); !strings.HasPrefix(string(b), "NameIdentifier="+user.IDNP) {
		t.Fatalf("login: %s", b)
	}
}
