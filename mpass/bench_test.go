package mpass

import (
	"bytes"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/semnat/semnat/mobileid"
)

// BenchmarkSSOResponse: Responses for an existing SSO session, end to end
// over loopback HTTP at 32 concurrent clients (the #14 target: ≥ 1,000/s,
// p99 ≤ 50 ms). The relying service's signed AuthnRequests (samlsp's
// RSA-2048 key) are made before the clock starts, so that their signing
// does not take the server's CPU; MPass checks each, records its id,
// answers from the session and writes the audit entry. The service is
// registered as `semnat mpass sp add` does by default (the Response
// signed, the Assertion inside it neither signed nor encrypted);
// redirect-signed-encrypted registers it with --sign-assertion --encrypt
// (one more RSA signature, and an RSA-OAEP key transport, per Response);
// the -ecdsa variants register it for ecdsa-sha256 (MPass's P-256 key);
// redirect-ungated works on every request at once instead of a few at a
// time in arrival order (Config.MaxSAMLRequests, admit.go).
//
// post: HTTP-POST binding as a browser sends it cross-site: the session
// cookie (SameSite=Lax) is not on the POST, only on the login page the
// POST redirects to; Go's http.Client follows the redirect. redirect:
// HTTP-Redirect binding, a top-level GET that carries the cookie, sent by
// the light load generator of rawclient_bench_test.go (pre-encoded GETs on
// raw keep-alive connections, every reply checked for a signed successful
// Response to its request, every 256th fully by the relying service).
func BenchmarkSSOResponse(b *testing.B) {
	for _, variant := range []string{"post", "redirect", "redirect-ungated", "redirect-signed-encrypted", "post-ecdsa", "redirect-ecdsa"} {
		b.Run(variant, func(b *testing.B) {
			var mut func(*Config)
			opts := &SPOptions{}
			switch {
			case variant == "redirect-signed-encrypted":
				opts = &SPOptions{SignAssertion: true, Encrypt: true}
			case variant == "redirect-ungated": // every request worked on at once (admit.go)
				mut = func(c *Config) { c.MaxSAMLRequests = -1 }
			case strings.HasSuffix(variant, "-ecdsa"): // ecdsa.go
				key, cert, err := SelfSignedECDSA("mpass.test", time.Now(), 1)
				if err != nil {
					b.Fatal(err)
				}
				mut = func(c *Config) { c.ECDSAKey, c.ECDSACertificate = key, cert }
				opts = &SPOptions{SignatureAlgorithm: SigECDSASHA256}
			}
			e := newEnv(b, mut)
			rp := e.newRPWith("shop.test", opts, nil)
			binding, _, _ := strings.Cut(variant, "-")
			c := newBrowserClient(b)
			e.login(c, rp, mobileid.GeneratedUser(9))
			c.Transport = laxCookies{benchTransport()}
			sp := rp.mw.ServiceProvider
			if binding == "redirect" { // rawclient_bench_test.go
				reqs := redirectRequests(b, &sp, c, b.N)
				runRedirectClients(b, redirectHost(b, e.url), &sp, reqs, mobileid.GeneratedUser(9).IDNP)
				return
			}
			reqs := postRequests(b, e, &sp, b.N)
			var next atomic.Int64
			runClients(b, "responses/s", func() error {
				resp, err := c.Do(reqs[next.Add(1)-1])
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				buf.ReadFrom(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !bytes.Contains(buf.Bytes(), []byte(`name="SAMLResponse"`)) {
					return errStatus(resp.StatusCode, buf.Bytes())
				}
				return nil
			})
		})
	}
}

// laxCookies sends cookies as a browser does for SameSite=Lax ones (all of
// MPass's): not on a POST, which in the benchmark stands for a relying
// service's cross-site auto-posted form.
type laxCookies struct{ next http.RoundTripper }

func (l laxCookies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && r.Header.Get("Cookie") != "" {
		r = r.Clone(r.Context())
		r.Header.Del("Cookie")
	}
	return l.next.RoundTrip(r)
}

// postRequests are n AuthnRequests of sp in the HTTP-POST binding, as the
// browser posts them to MPass, made before the clock starts.
func postRequests(b *testing.B, e *env, sp *saml.ServiceProvider, n int) []*http.Request {
	reqs := make([]*http.Request, n)
	for i := range reqs {
		ar, err := sp.MakeAuthenticationRequest(e.url+PathSSO, saml.HTTPPostBinding, saml.HTTPPostBinding)
		if err != nil {
			b.Fatal(err)
		}
		action, fields := form(b, ar.Post(""))
		if reqs[i], err = http.NewRequest(http.MethodPost, action, strings.NewReader(fields.Encode())); err != nil {
			b.Fatal(err)
		}
		reqs[i].Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return reqs
}
