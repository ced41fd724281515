package mpass

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/semnat/semnat/mobileid"
)

// stalledSP is a SAML relying service (samlsp) whose single logout
// endpoint, on a server of its own, accepts connections and never answers.
func (e *env) stalledSP(name string) *relyingParty {
	e.t.Helper()
	done := make(chan struct{})
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	e.t.Cleanup(stall.Close)
	e.t.Cleanup(func() { close(done) }) // runs first: the handlers return, then the server closes
	return e.newRPWith(name, &SPOptions{SignAssertion: true, Encrypt: true}, func(ed *saml.EntityDescriptor) {
		for i := range ed.SPSSODescriptors {
			for j := range ed.SPSSODescriptors[i].SingleLogoutServices {
				ed.SPSSODescriptors[i].SingleLogoutServices[j].Location = stall.URL + "/saml/slo"
			}
		}
	})
}

// logoutResponseTo follows the logout's pages in the browser c until a
// LogoutResponse is sent to the relying service at rpURL (by a form or a
// redirect), and returns it without delivering it.
func (e *env) logoutResponseTo(c *http.Client, rpURL string, b []byte) *saml.LogoutResponse {
	e.t.Helper()
	var raw []byte
	cc := *c
	cc.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), rpURL) && r.URL.Query().Get("SAMLResponse") != "" {
			z, err := base64.StdEncoding.DecodeString(r.URL.Query().Get("SAMLResponse"))
			if err != nil {
				return err
			}
			if raw, err = io.ReadAll(flate.NewReader(bytes.NewReader(z))); err != nil {
				return err
			}
			return http.ErrUseLastResponse
		}
		return nil
	}
	for i := 0; raw == nil && i < 10; i++ {
		action, fields := form(e.t, b)
		if strings.HasPrefix(action, rpURL) && fields.Get("SAMLResponse") != "" {
			var err error
			if raw, err = base64.StdEncoding.DecodeString(fields.Get("SAMLResponse")); err != nil {
				e.t.Fatal(err)
			}
			break
		}
		_, b = e.post(&cc, action, fields)
	}
	if raw == nil {
		e.t.Fatalf("no LogoutResponse reached %s", rpURL)
	}
	var lr saml.LogoutResponse
	if err := xml.Unmarshal(raw, &lr); err != nil {
		e.t.Fatalf("LogoutResponse: %v\n%s", err, raw)
	}
	return &lr
}

// TestPartialLogout: logged in to three SAML services and an OpenID Connect
// client, the person logs out at the first service. The second's single
// logout endpoint stalls: MPass does not wait for it beyond SLOTimeout,
// logs the third out through the browser, and answers the first with
// Success / PartialLogout; the OpenID Connect client gets its logout token
// (a SAML logout reaches it through back-channel logout). Then, from the
// session page, the person's own logout ends on the session page, which
// names the service that did not answer.
func TestPartialLogout(t *testing.T) {
	e := newEnv(t, func(c *Config) { withOIDCKey(t)(c); withFastJobs(c); c.SLOTimeout = time.Second })
	rp1, stalled, rp3 := e.newRP("shop.test", true), e.stalledSP("stalled.test"), e.newRP("library.test", true)
	lr := e.newLogoutReceiver(0)
	orp := e.newOIDCRP(OIDCClientSpec{ID: "forum", BackchannelLogoutURI: lr.uri(e, "forum")})
	user := mobileid.GeneratedUser(3)
	loginAll := func(c *http.Client) {
		t.Helper()
		e.login(c, rp1, user)
		for _, rp := range []*relyingParty{stalled, rp3} {
			_, b := e.get(c, rp.url+"/app")
			if _, b = e.followForms(c, b); !strings.HasPrefix(string(b), "NameIdentifier="+user.IDNP) {
				t.Fatalf("SSO into %s: %s", rp.url, b)
			}
		}
		resp, _, state, _, _ := orp.authorize(c)
		orp.codeOf(resp, state)
	}

	c := newBrowserClient(t)
	loginAll(c)
	_, b := e.get(c, rp1.url+"/logout")
	start := time.Now()
	resp := e.logoutResponseTo(c, rp1.url, b)
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("the logout waited %s for the stalled service", took)
	}
	if resp.Status.StatusCode.Value != saml.StatusSuccess || resp.Status.StatusCode.StatusCode == nil ||
		resp.Status.StatusCode.StatusCode.Value != saml.StatusPartialLogout {
		t.Fatalf("LogoutResponse status: %+v", resp.Status.StatusCode)
	}
	if lc := lr.wait(); lc.Sub != "MD"+user.IDNP {
		t.Fatalf("logout token after SAML logout: %+v", lc)
	}
	// The third service was logged out; MPass's session is over.
	if r, _ := e.get(c, rp3.url+"/app"); !strings.HasPrefix(r.Request.URL.String(), e.url+pathLogin+"?") {
		t.Fatalf("%s still logged in: %s", rp3.url, r.Request.URL)
	}
	if got := strings.Join(auditOf(t, e.store, "mpass.logout-partial"), "|"); got == "" {
		t.Fatal("no mpass.logout-partial in the audit log")
	}

	// The person's own logout, from the session page.
	c = newBrowserClient(t)
	loginAll(c)
	_, b = e.post(c, e.url+pathLogoutAll, nil)
	r, b := e.followForms(c, b)
	if r == nil || r.Request.URL.Path != pathSession || !strings.Contains(string(b), `id="unconfirmed"`) ||
		!strings.Contains(string(b), "<li>"+strings.TrimPrefix(stalled.url, "http://")+"</li>") ||
		strings.Contains(string(b), strings.TrimPrefix(rp1.url, "http://")) {
		t.Fatalf("after the logout: %v\n%s", r, b)
	}
	if r, _ := e.get(c, rp1.url+"/app"); !strings.HasPrefix(r.Request.URL.String(), e.url+pathLogin+"?") {
		t.Fatalf("%s still logged in: %s", rp1.url, r.Request.URL)
	}
	// A made-up result id shows nothing.
	if _, b := e.get(c, e.url+pathSession+"?"+url.Values{"logout": {"nothing"}}.Encode()); strings.Contains(string(b), `id="unconfirmed"`) {
		t.Fatalf("session page with a made-up result:\n%s", b)
	}
}
