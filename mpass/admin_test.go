package mpass

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/store"
)

var reCSRF = regexp.MustCompile(`name="csrf" value="([0-9a-f]{32})"`)

// adminLogin logs browser c in through the admin page with user's phone
// and returns the page it ends on.
func (e *env) adminLogin(c *http.Client, user mobileid.User) (*http.Response, []byte) {
	e.t.Helper()
	_, b := e.post(c, e.url+pathAdminLogin, url.Values{})
	return e.loginOnPage(c, b, user)
}

// TestAdminPage: an administrator (IDNP in Config.Admins) logs in with
// the phone, sees the relying services with their switches, and turns a
// fault on; the change is in the registration and the audit log. Someone
// else logged in, a form without the token, and a browser without a
// session change nothing.
func TestAdminPage(t *testing.T) {
	admin, other := mobileid.GeneratedUser(6), mobileid.GeneratedUser(7)
	e := newEnv(t, func(c *Config) { c.Admins = []string{admin.IDNP} })
	rp := e.newRP("shop.test", true)
	entity := rp.mw.ServiceProvider.Metadata().EntityID

	c := newBrowserClient(t)
	if _, b := e.get(c, e.url+pathAdmin); !strings.Contains(string(b), `id="admin-login"`) {
		t.Fatalf("no login offered:\n%s", b)
	}
	resp, b := e.adminLogin(c, admin)
	if resp.Request.URL.Path != pathAdmin || !strings.Contains(string(b), entity) || !strings.Contains(string(b), `value="`+FaultExpired+`"`) {
		t.Fatalf("admin page: %s\n%s", resp.Request.URL, b)
	}
	m := reCSRF.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no token:\n%s", b)
	}
	csrf := string(m[1])
	// Without the token, or from a browser without the session: refused.
	if resp, _ := e.post(c, e.url+pathAdminFaults, url.Values{"sp": {entity}, "fault": {FaultExpired}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	if resp, _ := e.post(newBrowserClient(t), e.url+pathAdminFaults, url.Values{"sp": {entity}, "fault": {FaultExpired}, "csrf": {csrf}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another browser: %d", resp.StatusCode)
	}
	sp, _, _ := e.srv.Registry().Get(context.Background(), entity)
	if len(sp.Options.Faults) != 0 {
		t.Fatalf("a refused change was made: %v", sp.Options.Faults)
	}
	resp, b = e.post(c, e.url+pathAdminFaults, url.Values{"sp": {entity}, "fault": {FaultExpired, FaultNoDestination}, "csrf": {csrf}})
	if resp.StatusCode != 200 || !strings.Contains(string(b), `value="`+FaultExpired+`" checked`) {
		t.Fatalf("set faults: %d\n%s", resp.StatusCode, b)
	}
	sp, _, _ = e.srv.Registry().Get(context.Background(), entity)
	if !slices.Equal(sp.Options.Faults, []string{FaultExpired, FaultNoDestination}) {
		t.Fatalf("faults %v", sp.Options.Faults)
	}
	if got := auditActors(t, e, "mpass.faults-set"); got != admin.IDNP {
		t.Errorf("audit of the change: %q", got)
	}
	if got := auditActors(t, e, "mpass.admin-refused"); !strings.Contains(got, admin.IDNP) {
		t.Errorf("audit of the refusals: %q", got)
	}

	// Someone who is not an administrator.
	c2 := newBrowserClient(t)
	if resp, b := e.adminLogin(c2, other); resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), other.IDNP) || strings.Contains(string(b), entity) {
		t.Fatalf("not an administrator: %d\n%s", resp.StatusCode, b)
	}
}

// auditActors lists the actors of the audit entries of action.
func auditActors(t *testing.T, e *env, action string) string {
	t.Helper()
	var out []string
	if err := e.store.WalkAudit(context.Background(), func(ev *store.Entry) error {
		if ev.Action == action {
			out = append(out, ev.Actor)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}
