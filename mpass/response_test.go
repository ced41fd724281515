package mpass

import (
	"crypto"
	"crypto/x509"
	"html/template"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// TestResponseAsCrewjam: the Response makeResponse builds and signs is
// crewjam's MakeResponse's (the same elements and attributes in the same
// order, ds:Signature after the Issuer), up to its random ID and the
// signature values; its signature verifies with goxmldsig against the
// signing certificate, and writeResponse's page is crewjam's
// WriteResponse's, byte for byte. For both of MPass's keys.
func TestResponseAsCrewjam(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, alg := range []string{SigRSASHA256, SigECDSASHA256} {
		t.Run(alg, func(t *testing.T) {
			var key crypto.Signer
			var cert *x509.Certificate
			var err error
			if alg == SigECDSASHA256 {
				key, cert, err = SelfSignedECDSA("mpass.test", now, 1)
			} else {
				key, cert, err = SelfSigned("mpass.test", now, 1)
			}
			if err != nil {
				t.Fatal(err)
			}
			mu, _ := url.Parse("https://mpass.test/meta/saml")
			idp := &saml.IdentityProvider{Signer: key, Certificate: cert, MetadataURL: *mu,
				ResponseFormTemplate: template.Must(template.New("f").Parse(`<form action="{{.URL}}"><input name="SAMLResponse" value="{{.SAMLResponse}}"><input name="RelayState" value="{{.RelayState}}"></form>`))}
			newReq := func() *saml.IdpAuthnRequest {
				a := &saml.Assertion{ID: "id-assertion", IssueInstant: now, Version: "2.0",
					Issuer:              saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: mu.String()},
					Subject:             &saml.Subject{NameID: &saml.NameID{Value: "2000000000001"}},
					AttributeStatements: []saml.AttributeStatement{{Attributes: []saml.Attribute{attr("FirstName", "Ion"), attr("LastName", "Popescu")}}}}
				return &saml.IdpAuthnRequest{IDP: idp, Now: now, Request: saml.AuthnRequest{ID: "id-request"}, RelayState: "r&1",
					ACSEndpoint: &saml.IndexedEndpoint{Binding: saml.HTTPPostBinding, Location: "https://sp.test/acs"},
					Assertion:   a, AssertionEl: a.Element()}
			}
			theirs, ours := newReq(), newReq()
			if err := theirs.MakeResponse(); err != nil {
				t.Fatal(err)
			}
			if err := makeResponse(ours, true); err != nil {
				t.Fatal(err)
			}
			ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
			ctx.Clock = dsig.NewFakeClockAt(now)
			if _, err := ctx.Validate(ours.ResponseEl.Copy()); err != nil {
				t.Fatalf("the Response's signature: %v", err)
			}
			if got, want := normalised(t, ours.ResponseEl), normalised(t, theirs.ResponseEl); got != want {
				t.Errorf("the Response differs from crewjam's:\n ours   %s\n theirs %s", got, want)
			}
			wo, wt := httptest.NewRecorder(), httptest.NewRecorder()
			if err := writeResponse(wo, ours); err != nil {
				t.Fatal(err)
			}
			theirs.ResponseEl = ours.ResponseEl
			if err := theirs.WriteResponse(wt); err != nil {
				t.Fatal(err)
			}
			if wo.Body.String() != wt.Body.String() {
				t.Errorf("the page differs from crewjam's:\n ours   %s\n theirs %s", wo.Body, wt.Body)
			}
			for _, h := range []string{"Cache-Control", "Pragma"} {
				if wo.Header().Get(h) != wt.Header().Get(h) {
					t.Errorf("%s: %q, crewjam's %q", h, wo.Header().Get(h), wt.Header().Get(h))
				}
			}
		})
	}
}

var varying = regexp.MustCompile(`( ID="|URI="#)[^"]*|(<ds:(?:DigestValue|SignatureValue)>)[^<]*`)

// normalised is el's XML without its random ID and signature values.
func normalised(t *testing.T, el *etree.Element) string {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return varying.ReplaceAllString(s, "$1$2")
}
