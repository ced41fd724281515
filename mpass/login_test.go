package mpass

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/testcerts"
)

// TestLoginByPhone: an independent relying service (crewjam/saml's samlsp,
// AuthnRequests signed over HTTP-Redirect) sends the person to MPass, who
// logs in with a local phone number; the phone shows the page's code and
// the person approves; the relying service accepts our signed Response and
// sees the MPass attributes. A second relying service then logs the same
// browser in from the SSO session, without the phone. Both logins are in
// the audit log.
func TestLoginByPhone(t *testing.T) {
	e := newEnv(t, nil)
	rp := e.newRP("shop.test", true)
	c := newBrowserClient(t)
	tx, page := e.startLogin(c, rp)
	if !bytes.Contains(page, []byte(`lang="ro"`)) || !bytes.Contains(page, []byte("Autentificare cu semnătura mobilă")) {
		t.Fatalf("the login page is not in Romanian by default:\n%s", page)
	}
	user := mobileid.GeneratedUser(1)
	local := "0" + strings.TrimPrefix(user.MSISDN, "+373") // 069000001
	resp, b, code := e.phoneLogin(c, tx, local)
	if code == "" {
		t.Fatalf("no verification code: %d\n%s", resp.StatusCode, b)
	}
	approve(t, user.MSISDN, code)
	_, b = e.waitDone(c, resp.Request.URL.String())
	action, fields := form(t, b)
	if action != rp.url+"/saml/acs" {
		t.Fatalf("the Response goes to %s:\n%s", action, b)
	}
	r, raw := samlResponse(t, fields)
	if r.Status.StatusCode.Value != saml.StatusSuccess || r.Signature == nil || r.EncryptedAssertion == nil {
		t.Fatalf("response (signed, the assertion encrypted for the relying service):\n%s", raw)
	}
	acs, _ := url.Parse(action)
	as, err := rp.mw.ServiceProvider.ParseXMLResponse(raw, []string{r.InResponseTo}, *acs)
	if err != nil {
		t.Fatalf("the relying service refuses our Response: %+v", err.(*saml.InvalidResponseError).PrivateErr)
	}
	if as.Subject.NameID.Value != user.IDNP || len(as.AuthnStatements) != 1 || as.AuthnStatements[0].SessionIndex == "" ||
		as.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value != ACMobile ||
		as.AuthnStatements[0].SubjectLocality == nil || as.AuthnStatements[0].SubjectLocality.Address != "127.0.0.1" {
		t.Fatalf("assertion: %+v", as)
	}
	// The relying service checks the Response itself and shows what it got.
	resp, b = e.post(c, action, fields)
	want := "NameIdentifier=" + user.IDNP + "\nFirstName=" + user.GivenName + "\nLastName=" + user.Surname + "\nMobilePhone=" + user.MSISDN + "\nLanguage=ro\n"
	if resp.StatusCode != 200 || string(b) != want {
		t.Fatalf("relying service: %d %s\n%s", resp.StatusCode, resp.Request.URL, b)
	}

	// SSO: a second relying service, the same browser, no phone.
	rp2 := e.newRP("library.test", true)
	resp, b = e.get(c, rp2.url+"/app")
	action, fields = form(t, b)
	r2, raw2 := samlResponse(t, fields)
	acs2, _ := url.Parse(action)
	as2, err := rp2.mw.ServiceProvider.ParseXMLResponse(raw2, []string{r2.InResponseTo}, *acs2)
	if err != nil || action != rp2.url+"/saml/acs" || as2.AuthnStatements[0].SessionIndex != as.AuthnStatements[0].SessionIndex {
		t.Fatalf("SSO: %s %v\n%s", action, err, b)
	}
	if resp, b = e.post(c, action, fields); resp.StatusCode != 200 || !strings.HasPrefix(string(b), "NameIdentifier="+user.IDNP) {
		t.Fatalf("second relying service: %d\n%s", resp.StatusCode, b)
	}
	checkAudit(t, e, "mpass.login", "mpass.login-sso")
}

// checkAudit: the audit log verifies and holds the actions, in order.
func checkAudit(t *testing.T, e *env, actions ...string) {
	t.Helper()
	n, err := e.store.VerifyAudit(context.Background())
	if err != nil || n < int64(len(actions)) {
		t.Fatalf("audit: %d %v", n, err)
	}
	got := auditActions(t, e)
	i := 0
	for _, a := range got {
		if i < len(actions) && a == actions[i] {
			i++
		}
	}
	if i != len(actions) {
		t.Fatalf("audit log %v lacks %v", got, actions)
	}
}

func auditActions(t *testing.T, e *env) []string {
	rows, err := e.store.AuditEntries(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.Action)
	}
	return out
}

// TestLoginRefusals: what a person is told when the phone refuses, the
// number has no mobile signature, the certificate is revoked; after a
// refusal, returning to the service answers it with a signed non-success
// Status.
func TestLoginRefusals(t *testing.T) {
	e := newEnv(t, nil)
	rp := e.newRP("shop.test", true)
	// A revoked authentication certificate: OCSP says so at login.
	revokedUser := mobileid.GeneratedUser(7)
	_, auth, _, err := shared.sim.Certificates(revokedUser.MSISDN)
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.svc.Registry.Revoke(shared.pki.MobileCA.Cert, auth.SerialNumber, time.Now().Add(-time.Hour), testcerts.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		phone, problem, words string
		approve               string
	}{
		{"+37300000010", "refused", "Ați refuzat cererea pe telefon", ""},
		{"+373 0000 0030", "unknown-phone", "Acest număr nu are semnătură mobilă", ""},
		{"069 000 007", "revoked", "Certificatul semnăturii mobile este revocat", revokedUser.MSISDN},
		{"12", "bad-phone", "Numărul de telefon nu este scris corect", ""},
	} {
		t.Run(tc.problem, func(t *testing.T) {
			c := newBrowserClient(t)
			tx, _ := e.startLogin(c, rp)
			resp, b, code := e.phoneLogin(c, tx, tc.phone)
			if code != "" {
				if tc.approve != "" {
					approve(t, tc.approve, code)
				}
				resp, b = e.waitDone(c, resp.Request.URL.String())
			}
			if !bytes.Contains(b, []byte(tc.words)) {
				t.Fatalf("%s: page does not say %q:\n%s", tc.phone, tc.words, b)
			}
			// Back to the service: a signed Response with a non-success Status.
			resp, b = e.post(c, e.url+pathCancel, url.Values{"tx": {tx}})
			action, fields := form(t, b)
			r, raw := samlResponse(t, fields)
			if action != rp.url+"/saml/acs" || r.Status.StatusCode.Value != saml.StatusResponder || r.Status.StatusCode.StatusCode == nil ||
				r.Status.StatusCode.StatusCode.Value != saml.StatusAuthnFailed || r.Assertion != nil || r.Signature == nil {
				t.Fatalf("cancel: %d %s\n%s", resp.StatusCode, action, raw)
			}
			// The transaction is over: the page says so.
			if resp, b = e.get(c, e.url+pathLogin+"?tx="+tx); resp.StatusCode != http.StatusNotFound || !bytes.Contains(b, []byte("nu mai există")) {
				t.Fatalf("after cancel: %d\n%s", resp.StatusCode, b)
			}
		})
	}
	checkAudit(t, e, "mpass.login-failed", "mpass.login-cancelled")
}

// TestLoginPageLanguages: ?lang= on the SSO URL chooses the page's
// language, Accept-Language when there is none; Romanian otherwise.
func TestLoginPageLanguages(t *testing.T) {
	for _, tc := range []struct{ param, accept, want string }{
		{"", "", "ro"}, {"ru", "", "ru"}, {"en", "ru", "en"}, {"", "en-GB,en;q=0.9", "en"}, {"xx", "de", "ro"},
	} {
		if got := pickLang(tc.param, tc.accept); got != tc.want {
			t.Errorf("pickLang(%q, %q) = %q, want %q", tc.param, tc.accept, got, tc.want)
		}
	}
	e := newEnv(t, nil)
	rp := e.newRP("shop.test", true)
	c := newBrowserClient(t)
	tx, _ := e.startLogin(c, rp)
	_, b := e.get(c, e.url+pathLogin+"?tx="+tx+"&lang=ru")
	if !bytes.Contains(b, []byte(`lang="ru"`)) || !bytes.Contains(b, []byte("Войти с мобильной подписью")) {
		t.Fatalf("Russian page:\n%s", b)
	}
	// Another browser cannot continue this login.
	other := newBrowserClient(t)
	if resp, _ := e.get(other, e.url+pathLogin+"?tx="+tx); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another browser got the login: %d", resp.StatusCode)
	}
}

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"069123456": "+37369123456", "69123456": "+37369123456", "+373 69 123 456": "+37369123456",
		"(069) 12-34-56": "+37369123456", "0037369123456": "+37369123456", "37369123456": "+37369123456",
		"+40712345678": "+40712345678", "+37300000010": "+37300000010",
	} {
		if got, err := NormalizePhone(in); err != nil || got != want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "12", "069-12345", "+3736912345678", "abc", "0691234567", "+0123456789", "06912345a"} {
		if got, err := NormalizePhone(bad); err == nil {
			t.Errorf("NormalizePhone(%q) = %q, want an error", bad, got)
		}
	}
}

// TestXMLSec1 verifies our signed metadata and a signed Response with
// xmlsec1, an independent XML-DSig implementation, under the certificate
// the metadata publishes.
func TestXMLSec1(t *testing.T) {
	xmlsec := testtool.Require(t, "xmlsec1")
	e := newEnv(t, nil)
	dir := t.TempDir()
	pem := filepath.Join(dir, "idp.pem")
	os.WriteFile(pem, testcerts.PEM(e.cert), 0o644)
	_, meta := e.get(nil, e.url+PathMetadata)
	os.WriteFile(filepath.Join(dir, "meta.xml"), meta, 0o644)
	verify := func(file, idAttr string, more ...string) error {
		args := append([]string{"--verify", "--pubkey-cert-pem", pem, "--id-attr:ID", idAttr}, more...)
		out, err := exec.Command(xmlsec, append(args, filepath.Join(dir, file))...).CombinedOutput()
		if err != nil {
			return &xmlsecError{err, string(out)}
		}
		return nil
	}
	if err := verify("meta.xml", "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"); err != nil {
		t.Fatalf("metadata: %v", err)
	}
	// A Response: the cancelled login's is enough to check the Response
	// signature (the successful one is checked by samlsp above).
	rp := e.newRP("shop.test", true)
	c := newBrowserClient(t)
	tx, _ := e.startLogin(c, rp)
	_, b := e.post(c, e.url+pathCancel, url.Values{"tx": {tx}})
	_, fields := form(t, b)
	_, raw := samlResponse(t, fields)
	os.WriteFile(filepath.Join(dir, "resp.xml"), raw, 0o644)
	if err := verify("resp.xml", "urn:oasis:names:tc:SAML:2.0:protocol:Response"); err != nil {
		t.Fatalf("response: %v\n%s", err, raw)
	}
	// The check can fail: a changed Response does not verify.
	os.WriteFile(filepath.Join(dir, "bad.xml"), bytes.Replace(raw, []byte(rp.url), []byte("http://evil.test"), 1), 0o644)
	if err := verify("bad.xml", "urn:oasis:names:tc:SAML:2.0:protocol:Response"); err == nil {
		t.Fatal("xmlsec1 verified a changed Response")
	}

	// A successful login's Response, saved, its Assertion signed too
	// (registered so): xmlsec1 verifies both signatures, and refuses
	// either once the person's name is changed.
	signed := e.newRPWith("signed.test", &SPOptions{SignAssertion: true}, nil)
	user := mobileid.GeneratedUser(9)
	c = newBrowserClient(t)
	e.login(c, e.newRP("first.test", true), user)
	a := e.answerOf(c, signed)
	os.WriteFile(filepath.Join(dir, "login.xml"), a.raw, 0o644)
	assertionSig := []string{"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
		"--node-xpath", "//*[local-name()='Assertion']/*[local-name()='Signature']"}
	if err := verify("login.xml", "urn:oasis:names:tc:SAML:2.0:protocol:Response"); err != nil {
		t.Fatalf("login Response: %v\n%s", err, a.raw)
	}
	if err := verify("login.xml", "urn:oasis:names:tc:SAML:2.0:protocol:Response", assertionSig...); err != nil {
		t.Fatalf("login Assertion: %v\n%s", err, a.raw)
	}
	changed := bytes.Replace(a.raw, []byte(">"+user.Surname+"<"), []byte(">Impostor<"), 1)
	if bytes.Equal(changed, a.raw) {
		t.Fatal("the Response does not name the person")
	}
	os.WriteFile(filepath.Join(dir, "changed.xml"), changed, 0o644)
	if verify("changed.xml", "urn:oasis:names:tc:SAML:2.0:protocol:Response") == nil ||
		verify("changed.xml", "urn:oasis:names:tc:SAML:2.0:protocol:Response", assertionSig...) == nil {
		t.Fatal("xmlsec1 verified a Response whose Assertion was changed")
	}
	// The second check is the Assertion's own signature: a change outside
	// the Assertion breaks only the Response's.
	outside := bytes.Replace(a.raw, []byte(`Destination="`+a.action+`"`), []byte(`Destination="http://evil.test/acs"`), 1)
	os.WriteFile(filepath.Join(dir, "outside.xml"), outside, 0o644)
	if verify("outside.xml", "urn:oasis:names:tc:SAML:2.0:protocol:Response") == nil {
		t.Fatal("xmlsec1 verified a Response whose Destination was changed")
	}
	if err := verify("outside.xml", "urn:oasis:names:tc:SAML:2.0:protocol:Response", assertionSig...); err != nil {
		t.Fatalf("the Assertion's signature: %v", err)
	}
}

type xmlsecError struct {
	err error
	out string
}

func (e *xmlsecError) Error() string { return e.err.Error() + ": " + e.out }
