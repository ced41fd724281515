package mpass

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/semnat/semnat/mobileid"
)

// TestECDSALogout: the logout messages of relying services registered for
// ecdsa-sha256 are signed with MPass's ECDSA key. The services are
// crewjam's, and their copy of MPass's metadata has the ECDSA certificate
// only, so they refuse anything signed otherwise: a logout one of them
// asks for (the other gets MPass's LogoutRequest, the first its
// LogoutResponse) and the person's logout of both on the session page
// each end with both services logged out. A logout that also reaches a
// service registered for rsa-sha256 is signed with the RSA key throughout
// (logout_sig.go), which its services check with the RSA certificate.
func TestECDSALogout(t *testing.T) {
	ecKey, ecCert, err := SelfSignedECDSA("mpass.test ecdsa", time.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.ECDSAKey, c.ECDSACertificate = ecKey, ecCert })
	ecOnly := func(name string) *relyingParty {
		rp := e.newRPWith(name, &SPOptions{SignatureAlgorithm: SigECDSASHA256}, nil)
		d := &rp.mw.ServiceProvider.IDPMetadata.IDPSSODescriptors[0]
		ec := base64.StdEncoding.EncodeToString(ecCert.Raw)
		d.KeyDescriptors = slices.DeleteFunc(d.KeyDescriptors, func(k saml.KeyDescriptor) bool {
			return k.Use != "signing" || k.KeyInfo.X509Data.X509Certificates[0].Data != ec
		})
		if len(d.KeyDescriptors) != 1 {
			t.Fatalf("%d ECDSA signing certificates in the metadata, want 1", len(d.KeyDescriptors))
		}
		return rp
	}
	loggedOut := func(t *testing.T, c *http.Client, rps ...*relyingParty) {
		t.Helper()
		for _, rp := range rps {
			if resp, _ := e.get(c, rp.url+"/app"); !strings.HasPrefix(resp.Request.URL.String(), e.url+pathLogin+"?") {
				t.Fatalf("%s still logged in: %s", rp.url, resp.Request.URL)
			}
		}
	}
	loginBoth := func(t *testing.T, c *http.Client, rp1, rp2 *relyingParty, n int) {
		t.Helper()
		user := mobileid.GeneratedUser(n)
		if page := e.login(c, rp1, user); !strings.HasPrefix(page, "NameIdentifier="+user.IDNP) {
			t.Fatalf("login: %s", page)
		}
		_, b := e.get(c, rp2.url+"/app")
		if _, b = e.followForms(c, b); !strings.HasPrefix(string(b), "NameIdentifier="+user.IDNP) {
			t.Fatalf("SSO: %s", b)
		}
	}

	// serviceLogout: rp2 asks for the logout; it must end at rp2's page
	// (where crewjam's service goes after a good LogoutResponse) with
	// both services logged out.
	serviceLogout := func(t *testing.T, c *http.Client, rp1, rp2 *relyingParty) {
		t.Helper()
		_, b := e.get(c, rp2.url+"/logout")
		resp, b := e.followForms(c, b)
		if resp == nil || resp.Request.URL.String() != rp2.url+"/" {
			t.Fatalf("the logout did not end well at the service that asked: %v\n%s", resp, b)
		}
		loggedOut(t, c, rp1, rp2)
	}
	t.Run("service", func(t *testing.T) {
		rp1, rp2 := ecOnly("ec1.test"), ecOnly("ec2.test")
		c := newBrowserClient(t)
		loginBoth(t, c, rp1, rp2, 1)
		serviceLogout(t, c, rp1, rp2)
	})
	t.Run("person", func(t *testing.T) {
		rp1, rp2 := ecOnly("ec3.test"), ecOnly("ec4.test")
		c := newBrowserClient(t)
		loginBoth(t, c, rp1, rp2, 2)
		resp, b := e.post(c, e.url+pathLogoutAll, nil)
		resp, b = e.followForms(c, b)
		if resp == nil || resp.Request.URL.Path != pathSession || !strings.Contains(string(b), `id="no-session"`) ||
			strings.Contains(string(b), "ec3.test") || strings.Contains(string(b), "ec4.test") {
			t.Fatalf("after the logout: %v\n%s", resp, b)
		}
		loggedOut(t, c, rp1, rp2)
	})
	t.Run("mixed", func(t *testing.T) {
		rp1, rp2 := e.newRPWith("rsa5.test", &SPOptions{}, nil), e.newRPWith("ec5.test", &SPOptions{SignatureAlgorithm: SigECDSASHA256}, nil)
		c := newBrowserClient(t)
		loginBoth(t, c, rp1, rp2, 3)
		serviceLogout(t, c, rp1, rp2)
	})
}
