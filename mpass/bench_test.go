package mpass

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/semnat/semnat/mobileid"
)

// BenchmarkSSOResponse: Responses for an existing SSO session, end to end
// over loopback HTTP: the relying service signs an AuthnRequest (samlsp's
// RSA-2048 key), MPass checks it, records its id, opens and answers the
// login from the session (assertion and Response signed, the assertion
// encrypted for the service).
func BenchmarkSSOResponse(b *testing.B) {
	e := newEnv(b, nil)
	rp := e.newRP("shop.test", true)
	c := newBrowserClient(b)
	e.login(c, rp, mobileid.GeneratedUser(9))
	sp := rp.mw.ServiceProvider
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := sp.MakeAuthenticationRequest(e.url+PathSSO, saml.HTTPPostBinding, saml.HTTPPostBinding)
			if err != nil {
				b.Error(err)
				return
			}
			action, fields := form(b, req.Post(""))
			resp, err := c.PostForm(action, fields)
			if err != nil {
				b.Error(err)
				return
			}
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Contains(buf.Bytes(), []byte(`name="SAMLResponse"`)) {
				b.Errorf("no Response: %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "responses/s")
}
