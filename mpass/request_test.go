package mpass

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/semnat/semnat/mobileid"
)

// postRequest sends an AuthnRequest made by sp over HTTP-POST, as a
// browser would; mut changes it before it is signed.
func (e *env) postRequest(c *http.Client, sp saml.ServiceProvider, relayState string, mut func(*saml.AuthnRequest)) (*http.Response, []byte, *saml.AuthnRequest) {
	e.t.Helper()
	req, err := sp.MakeAuthenticationRequest(e.url+PathSSO, saml.HTTPPostBinding, saml.HTTPPostBinding)
	if err != nil {
		e.t.Fatal(err)
	}
	if mut != nil {
		mut(req)
		req.Signature = nil
		if sp.SignatureMethod != "" {
			if err := sp.SignAuthnRequest(req); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	action, fields := form(e.t, req.Post(relayState))
	resp, b := e.post(c, action, fields)
	return resp, b, req
}

// TestRequestRefused: MPass answers only signed AuthnRequests of
// registered relying services, checked with the certificate registered
// for them, to a registered ACS URL, once, with a short RelayState. Each
// refusal says why, and is in the audit log.
func TestRequestRefused(t *testing.T) {
	e := newEnv(t, nil)
	rp := e.newRP("shop.test", true)
	sp := rp.mw.ServiceProvider
	c := newBrowserClient(t)

	// The good request over HTTP-POST opens a login: the test can pass.
	resp, b, good := e.postRequest(c, sp, "state-1", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.Path, pathLogin) || !reTx.Match(b) {
		t.Fatalf("signed POST request: %d %s\n%s", resp.StatusCode, resp.Request.URL, b)
	}

	unsigned, impostor := badSigners(t, sp)
	unregistered := e.newRP("unknown.test", false).mw.ServiceProvider

	for _, tc := range []struct {
		name, words string
		sp          saml.ServiceProvider
		relay       string
		mut         func(*saml.AuthnRequest)
	}{
		{"unsigned", "Semnătura cererii serviciului nu este validă", unsigned, "", nil},
		{"wrong key", "Semnătura cererii serviciului nu este validă", impostor, "", nil},
		{"tampered after signing", "Semnătura cererii serviciului nu este validă", sp, "", nil},
		{"unregistered service", "nu este înregistrat la MPass", unregistered, "", nil},
		{"unregistered ACS URL", "Adresa de revenire cerută nu este înregistrată", sp, "",
			func(r *saml.AuthnRequest) { r.AssertionConsumerServiceURL = "https://evil.test/acs" }},
		{"replayed", "a fost deja folosită", sp, "", func(r *saml.AuthnRequest) { r.ID = good.ID }},
		{"RelayState of 81 bytes", "RelayState prea lung", sp, strings.Repeat("r", 81), nil},
		{"stale", "Cererea serviciului a expirat", sp, "",
			func(r *saml.AuthnRequest) { r.IssueInstant = time.Now().Add(-10 * time.Minute) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			var b []byte
			if tc.name == "tampered after signing" {
				req, err := sp.MakeAuthenticationRequest(e.url+PathSSO, saml.HTTPPostBinding, saml.HTTPPostBinding)
				if err != nil {
					t.Fatal(err)
				}
				req.AssertionConsumerServiceURL = "https://evil.test/acs" // after the signature
				action, fields := form(t, req.Post(""))
				resp, b = e.post(c, action, fields)
			} else {
				resp, b, _ = e.postRequest(c, tc.sp, tc.relay, tc.mut)
			}
			if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(b, []byte(tc.words)) || reTx.Match(b) {
				t.Fatalf("%d, want 400 saying %q:\n%s", resp.StatusCode, tc.words, b)
			}
		})
	}
	// 80 bytes of RelayState are fine, and come back unchanged.
	relay := strings.Repeat("r", MaxRelayState)
	resp, b, _ = e.postRequest(c, sp, relay, nil)
	tx := string(reTx.FindSubmatch(b)[1])
	_, b = e.post(c, e.url+pathCancel, url.Values{"tx": {tx}})
	if _, fields := form(t, b); fields.Get("RelayState") != relay {
		t.Fatalf("RelayState came back as %q", fields.Get("RelayState"))
	}
	refused := 0
	for _, a := range auditActions(t, e) {
		if a == "mpass.request-refused" {
			refused++
		}
	}
	if refused != 8 {
		t.Fatalf("%d refusals in the audit log, want 8", refused)
	}
}

// TestPassiveAndForceAuthn: a passive request without a session gets a
// NoPassive Response at once; with a session it gets the assertion at once;
// ForceAuthn shows the login page even with a session.
func TestPassiveAndForceAuthn(t *testing.T) {
	e := newEnv(t, nil)
	rp := e.newRP("shop.test", true)
	sp := rp.mw.ServiceProvider
	yes := true
	passive := func(r *saml.AuthnRequest) { r.IsPassive = &yes }
	c := newBrowserClient(t)
	_, b, _ := e.postRequest(c, sp, "", passive)
	_, fields := form(t, b)
	r, raw := samlResponse(t, fields)
	if r.Status.StatusCode.Value != saml.StatusResponder || r.Status.StatusCode.StatusCode == nil ||
		r.Status.StatusCode.StatusCode.Value != saml.StatusNoPassive {
		t.Fatalf("passive without a session:\n%s", raw)
	}
	e.login(c, rp, mobileid.GeneratedUser(6))
	_, b, _ = e.postRequest(c, sp, "", passive)
	_, fields = form(t, b)
	if r, raw = samlResponse(t, fields); r.Status.StatusCode.Value != saml.StatusSuccess || r.EncryptedAssertion == nil {
		t.Fatalf("passive with a session:\n%s", raw)
	}
	resp, b, _ := e.postRequest(c, sp, "", func(r *saml.AuthnRequest) { r.ForceAuthn = &yes })
	if !strings.HasPrefix(resp.Request.URL.Path, pathLogin) || !bytes.Contains(b, []byte(`id="login-form"`)) {
		t.Fatalf("ForceAuthn with a session: %s\n%s", resp.Request.URL, b)
	}
}

// badSigners are sp without a signing method, and sp signing with a key
// other than the registered one.
func badSigners(t *testing.T, sp saml.ServiceProvider) (unsigned, impostor saml.ServiceProvider) {
	t.Helper()
	unsigned, impostor = sp, sp
	unsigned.SignatureMethod = ""
	key, cert, err := SelfSigned("impostor", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	impostor.Key, impostor.Certificate = key, cert
	return unsigned, impostor
}
