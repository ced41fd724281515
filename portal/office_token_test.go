package portal

import (
	"net/http"
	"strings"
	"testing"

	"github.com/crewjam/saml/samlsp"

	"github.com/semnat/semnat/internal/samlrp"
	"github.com/semnat/semnat/mobileid"
)

// TestOfficeClerkNeedsToken: the back office wants the clerk's login to
// have been with the employee certificate on the USB token (MPass's
// authentication context SmartcardPKI). A person on the State Tax
// Service's list of clerks who logged in by phone is refused with a page
// telling them to log in again with the token; a session with the
// institution's IDNO and the clerk's IDNP but another authentication
// context is no clerk either.
func TestOfficeClerkNeedsToken(t *testing.T) {
	person := mobileid.GeneratedUser(0)
	const sfs = "1006601000439" // Serviciul Fiscal de Stat (catalog/demo/institutions.toml)
	e := newEnv(t, func(c *Config) {
		withOffice(c)
		c.Catalog.Institution(sfs).Clerks = append(c.Catalog.Institution(sfs).Clerks, person.IDNP)
	})
	b := newBrowser(t)
	resp, page := e.login(b, e.url+PathOffice, person)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, wording("ro")["e-clerk-token"]) {
		t.Fatalf("a clerk logged in by phone: %d\n%s", resp.StatusCode, page)
	}
	if _, page = b.get(e.url + "/portal/cereri"); strings.Contains(page, `id="office"`) {
		t.Fatal("the back office is offered to a clerk logged in by phone")
	}

	clerk := shared.pki.MustGet("clerk-sfs")
	attrs := func(ref string) *user {
		return &user{User: samlrp.User{IDNP: clerk.IDNP, Attrs: samlsp.Attributes{"IDNO": {sfs}, "NameIdentifier": {clerk.IDNP}, samlrp.AttrAuthnContext: {ref}}}}
	}
	if in := e.portal.institutionOf(attrs(samlrp.ACSmartcardPKI)); in == nil || in.IDNO != sfs {
		t.Fatalf("a token login of the clerk: %+v", in)
	}
	if in := e.portal.institutionOf(attrs("urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract")); in != nil {
		t.Fatalf("a phone login with the institution's IDNO is a clerk of %s", in.IDNO)
	}
}
