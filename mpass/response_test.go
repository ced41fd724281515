package mpass

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
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
			theirs.ResponseEl = ours.ResponseEl
			samePage(t, ours, theirs)
		})
	}
}

// samePage: writeResponse's page for ours is crewjam's WriteResponse's for
// theirs (the same Response), byte for byte, with the same Cache-Control
// and Pragma.
func samePage(t *testing.T, ours, theirs *saml.IdpAuthnRequest) {
	t.Helper()
	wo, wt := httptest.NewRecorder(), httptest.NewRecorder()
	if err := writeResponse(wo, ours); err != nil {
		t.Fatal(err)
	}
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
	if got, want := wo.Header().Get("Content-Length"), fmt.Sprint(wo.Body.Len()); got != want {
		t.Errorf("Content-Length %q, the page has %s bytes", got, want)
	}
}

// TestResponsePageAsCrewjam: writeResponse writes crewjam's page whatever
// the form template and the RelayState: with MPass's own template and a
// plain one the SAMLResponse is escaped into a page rendered around a
// marker; a template that writes it in a script or a URL (escaped
// otherwise), and a page whose URL or RelayState has the marker, are
// rendered as crewjam does.
func TestResponsePageAsCrewjam(t *testing.T) {
	w, err := newWeb()
	if err != nil {
		t.Fatal(err)
	}
	key, cert, err := SelfSignedECDSA("mpass.test", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		tmpl   *template.Template
		splits bool
	}{
		{"mpass", w.postForm, true},
		{"plain", template.Must(template.New("f").Parse(`<form action="{{.URL}}"><input name="SAMLResponse" value="{{.SAMLResponse}}"><input name="RelayState" value="{{.RelayState}}"></form>`)), true},
		{"text", template.Must(template.New("f").Parse(`<p>{{.SAMLResponse}}</p>{{.RelayState}}`)), true},
		{"script", template.Must(template.New("f").Parse(`<script>var r = "{{.SAMLResponse}}";</script>`)), false},
		{"url", template.Must(template.New("f").Parse(`<a href="/acs?r={{.SAMLResponse}}">{{.URL}}</a>`)), false},
		{"twice", template.Must(template.New("f").Parse(`<i>{{.SAMLResponse}}</i><b>{{.SAMLResponse}}</b>`)), false},
		{"length", template.Must(template.New("f").Parse(`<i>{{.SAMLResponse}}</i>{{len .SAMLResponse}}`)), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := formSplits(c.tmpl); got != c.splits {
				t.Errorf("formSplits: %v, want %v", got, c.splits)
			}
			idp := &saml.IdentityProvider{Signer: key, Certificate: cert, ResponseFormTemplate: c.tmpl}
			for _, relay := range []string{"", "r&1", `+/="<>'&#43;` + formMarker} {
				for _, value := range []string{"", "+", "++a+", strings.Repeat("ab+/c=", 3000)} {
					el := etree.NewElement("samlp:Response")
					el.CreateAttr("V", value) // the base64 of the XML has + and / in various places
					for _, acs := range []string{"https://sp.test/acs?x=1&y=<2>", "https://sp.test/" + formMarker} {
						req := func() *saml.IdpAuthnRequest {
							return &saml.IdpAuthnRequest{IDP: idp, RelayState: relay, ResponseEl: el,
								ACSEndpoint: &saml.IndexedEndpoint{Binding: saml.HTTPPostBinding, Location: acs}}
						}
						samePage(t, req(), req())
					}
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

// BenchmarkResponseSignature: making and signing one Response of MPass's
// shape (13 attributes) as makeResponse does, with the ECDSA key so that
// the XML work (building, canonicalising, digesting) is what is measured;
// exc-c14n is what MPass and crewjam use (the SAML profile's
// recommendation, saml-core §5.4.3), as MPass runs it (excC14N) and as
// goxmldsig's canonicaliser does (exc-c14n-goxmldsig); c14n10 and c14n11 (inclusive, also
// standard XML-DSig) are measured beside it to see whether another
// canonicalisation would be cheaper.
func BenchmarkResponseSignature(b *testing.B) {
	key, cert, err := SelfSignedECDSA("mpass.test", time.Now(), 1)
	if err != nil {
		b.Fatal(err)
	}
	mu, _ := url.Parse("https://mpass.test/meta/saml")
	idp := &saml.IdentityProvider{Signer: key, Certificate: cert, MetadataURL: *mu}
	var attrs []saml.Attribute
	for _, n := range AttributeNames {
		attrs = append(attrs, attr(n, "value of "+n))
	}
	for _, c14n := range []struct {
		name string
		c    dsig.Canonicalizer
	}{
		{"exc-c14n", excC14N{}}, // MPass's: goxmldsig's transform, serialised from the element
		{"exc-c14n-goxmldsig", dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")},
		{"c14n10", dsig.MakeC14N10RecCanonicalizer()},
		{"c14n11", dsig.MakeC14N11Canonicalizer()},
	} {
		b.Run(c14n.name, func(b *testing.B) {
			sc, err := idpSigningContext(idp)
			if err != nil {
				b.Fatal(err)
			}
			sc.Canonicalizer = c14n.c
			b.ReportAllocs()
			for b.Loop() {
				a := &saml.Assertion{ID: "id-assertion", IssueInstant: time.Now(), Version: "2.0",
					Issuer:              saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: mu.String()},
					Subject:             &saml.Subject{NameID: &saml.NameID{Value: "2000000000001"}},
					AttributeStatements: []saml.AttributeStatement{{Attributes: attrs}}}
				r := &saml.Response{ID: "id-response", IssueInstant: time.Now(), Version: "2.0", Destination: "https://sp.test/acs",
					Issuer: &saml.Issuer{Value: mu.String()}, Status: saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}}}
				el := r.Element()
				el.AddChild(a.Element())
				if _, err := sc.ConstructSignature(el, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// c14nSamples are documents whose exclusive canonical form has something
// to get wrong: namespaces declared, unused, redeclared and default,
// attribute order, characters escaped in text and attribute values,
// comments, xml: attributes, empty elements.
var c14nSamples = []string{
	`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_1" Version="2.0"><saml:Issuer>https://mpass.test</saml:Issuer><saml:Assertion><saml:AttributeValue xsi:type="xs:string">Ion &amp; Maria</saml:AttributeValue></saml:Assertion></samlp:Response>`,
	`<a xmlns="urn:x" xmlns:u="urn:unused" z="1" b="2" a="3"><b xmlns="" c="&lt;&quot;&#9;&#10;&#13;&gt;">t&#13;&lt;&gt;&amp;"'</b><!-- c --><c/><d xml:lang="ro"></d></a>`,
	`<p:a xmlns:p="urn:p" xmlns:q="urn:q" q:x="1"><p:b xmlns:p="urn:p2"><q:c/></p:b><r:d xmlns:r="urn:r" r:y="y"/></p:a>`,
	// A prefix bound again to the same name and to another, a default
	// namespace undone and done again, siblings that each declare.
	`<p:a xmlns:p="urn:p"><p:b xmlns:p="urn:p"><p:c/></p:b></p:a>`,
	`<a xmlns="urn:d" xmlns:p="urn:p"><p:b xmlns:p="urn:p"><p:c xmlns:p="urn:p3" p:k="v"><d xmlns=""><e xmlns="urn:d"/></d></p:c></p:b><p:f/><p:g/></a>`,
	// Errors: an undeclared prefix, a reserved one rebound, the xmlns
	// name as the default namespace, xml bound to another name.
	`<a><u:b/></a>`,
	`<a xmlns:xmlns="urn:x"/>`,
	`<a xmlns="http://www.w3.org/2000/xmlns/"/>`,
	`<a xmlns:xml="urn:not-xml"/>`,
	`<a xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:space="preserve"><b xml:lang="ru"/></a>`,
}

// TestExcC14NAsGoxmldsig: excC14N writes the bytes of goxmldsig's
// exclusive canonicaliser, for the samples and for a signed element's
// subtree (the canonical form of an element inside a document).
func TestExcC14NAsGoxmldsig(t *testing.T) {
	for i, s := range c14nSamples {
		if err := sameC14N(s); err != nil {
			t.Errorf("sample %d: %v", i, err)
		}
	}
}

// FuzzExcC14N: excC14N and goxmldsig's exclusive canonicaliser agree on
// any document etree reads, for the root and for its first child.
func FuzzExcC14N(f *testing.F) {
	for _, s := range c14nSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := sameC14N(s); err != nil {
			t.Fatal(err)
		}
	})
}

// sameC14N canonicalises the root of the document s and its first child
// element both ways and says how they differ (nil when s is not XML).
func sameC14N(s string) error {
	doc := etree.NewDocument()
	if doc.ReadFromString(s) != nil || doc.Root() == nil {
		return nil
	}
	els := []*etree.Element{doc.Root()}
	if cs := doc.Root().ChildElements(); len(cs) > 0 {
		els = append(els, cs[0])
	}
	for _, el := range els {
		a, b := etree.NewDocument(), etree.NewDocument()
		a.SetRoot(doc.Root().Copy())
		b.SetRoot(doc.Root().Copy())
		ea, eb := a.Root(), b.Root()
		if el != doc.Root() {
			ea, eb = ea.ChildElements()[0], eb.ChildElements()[0]
		}
		ours, err1 := excC14N{}.Canonicalize(ea)
		theirs, err2 := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(eb)
		if (err1 == nil) != (err2 == nil) || string(ours) != string(theirs) {
			return fmt.Errorf("ours (%v)\n%s\ngoxmldsig's (%v)\n%s", err1, ours, err2, theirs)
		}
	}
	return nil
}

// BenchmarkResponsePage: the page of a signed Response of MPass's shape
// (13 attributes) with MPass's form template, as writeResponse writes it
// (mpass) and as crewjam's WriteResponse does (crewjam).
func BenchmarkResponsePage(b *testing.B) {
	w, err := newWeb()
	if err != nil {
		b.Fatal(err)
	}
	key, cert, err := SelfSigned("mpass.test", time.Now(), 1)
	if err != nil {
		b.Fatal(err)
	}
	mu, _ := url.Parse("https://mpass.test/meta/saml")
	idp := &saml.IdentityProvider{Signer: key, Certificate: cert, MetadataURL: *mu, ResponseFormTemplate: w.postForm}
	var attrs []saml.Attribute
	for _, n := range AttributeNames {
		attrs = append(attrs, attr(n, "value of "+n))
	}
	a := &saml.Assertion{ID: "id-assertion", IssueInstant: time.Now(), Version: "2.0",
		Issuer:              saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: mu.String()},
		Subject:             &saml.Subject{NameID: &saml.NameID{Value: "2000000000001"}},
		AttributeStatements: []saml.AttributeStatement{{Attributes: attrs}}}
	req := &saml.IdpAuthnRequest{IDP: idp, Now: time.Now(), Request: saml.AuthnRequest{ID: "id-request"},
		ACSEndpoint: &saml.IndexedEndpoint{Binding: saml.HTTPPostBinding, Location: "https://sp.test/acs"},
		Assertion:   a, AssertionEl: a.Element()}
	if err := makeResponse(req, true); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		write func(http.ResponseWriter, *saml.IdpAuthnRequest) error
	}{
		{"mpass", writeResponse},
		{"crewjam", func(w http.ResponseWriter, r *saml.IdpAuthnRequest) error { return r.WriteResponse(w) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				if err := c.write(rec, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
