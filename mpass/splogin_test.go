package mpass

import (
	"net/http"
	"time"

	"github.com/semnat/semnat/mobileid"
)

// loginOnPage completes, by phone, the MPass login page the browser is on
// (page): the page MPass ends on when the person approved.
func (e *env) loginOnPage(c *http.Client, page []byte, user mobileid.User) (*http.Response, []byte) {
	e.t.Helper()
	m := reTx.FindSubmatch(page)
	if m == nil {
		e.t.Fatalf("not the login page:\n%s", page)
	}
	resp, b, code := e.phoneLogin(c, string(m[1]), user.MSISDN)
	if code == "" {
		e.t.Fatalf("no verification code: %d\n%s", resp.StatusCode, b)
	}
	approve(e.t, user.MSISDN, code)
	return e.waitDone(c, resp.Request.URL.String())
}

// registerSP registers at MPass, with opts, the SAML relying service
// whose metadata is at mdURL.
func (e *env) registerSP(mdURL string, opts SPOptions) {
	e.t.Helper()
	resp, md := e.get(nil, mdURL)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("metadata at %s: %d\n%s", mdURL, resp.StatusCode, md)
	}
	if _, err := e.srv.Registry().Add(e.t.Context(), md, opts, time.Now()); err != nil {
		e.t.Fatalf("registering the metadata of %s: %v\n%s", mdURL, err, md)
	}
}

// loginAtSP opens start at a SAML relying service, which sends the
// browser to MPass; the person logs in by phone, and the browser posts
// MPass's answer back: the relying service's page after it.
func (e *env) loginAtSP(c *http.Client, start string, user mobileid.User) (*http.Response, []byte) {
	e.t.Helper()
	_, page := e.get(c, start)
	_, b := e.loginOnPage(c, page, user)
	return e.followForms(c, b)
}
