package samlrp

import (
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/store"
)

func TestUserAdministers(t *testing.T) {
	u := &User{FirstName: " Ion", LastName: "Popescu ", Attrs: samlsp.Attributes{"AdministeredLegalEntity": {"SRL Exemplu Nou 1010600034203", "x", "ÎI Alt 1003600011118"}}}
	if u.Name() != "Ion Popescu" {
		t.Errorf("name %q", u.Name())
	}
	if n, ok := u.Administers("1010600034203"); !ok || n != "SRL Exemplu Nou" {
		t.Errorf("administers: %q %v", n, ok)
	}
	if _, ok := u.Administers("1003600011119"); ok {
		t.Error("an IDNO MPass did not name is administered")
	}
}

// TestNew: a relying service at a prefix publishes its ACS below it and
// sees nobody without a session; missing settings are refused.
func TestNew(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("no settings: no error")
	}
	key, cert, err := mpass.SelfSigned("idp.test", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse("https://svc.example.md")
	if _, err := New(Options{Base: base, Prefix: "/x", IdPMetadata: []byte("<not metadata"), Key: key, Certificate: cert}); err == nil {
		t.Fatal("bad metadata: no error")
	}
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "mpass.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	idp, err := mpass.New(mpass.Config{PublicURL: "https://mpass.example.md", Key: key, Certificate: cert, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := idp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	sp, err := New(Options{Base: base, Prefix: "/x", IdPMetadata: meta, Key: key, Certificate: cert, CookieName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	md, err := Metadata(sp)
	if err != nil || !strings.Contains(string(md), "https://svc.example.md/x/saml/acs") {
		t.Fatalf("metadata: %v\n%s", err, md)
	}
	if u := UserOf(sp, httptest.NewRequest("GET", "/x/", nil)); u != nil {
		t.Fatalf("a user without a session: %+v", u)
	}

	// The session keeps how the person logged in (the assertion's
	// AuthnContextClassRef), in place of an attribute of that name.
	codec := sp.Session.(samlsp.CookieSessionProvider).Codec
	for ref, token := range map[string]bool{ACSmartcardPKI: true, "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract": false} {
		now := time.Now()
		a := &saml.Assertion{Subject: &saml.Subject{NameID: &saml.NameID{Value: "2000000000004"}},
			AuthnStatements: []saml.AuthnStatement{{AuthnInstant: now, SessionIndex: "_s", AuthnContext: saml.AuthnContext{
				AuthnContextClassRef: &saml.AuthnContextClassRef{Value: ref}}}},
			AttributeStatements: []saml.AttributeStatement{{Attributes: []saml.Attribute{
				{Name: AttrAuthnContext, Values: []saml.AttributeValue{{Value: ACSmartcardPKI}}}, // not MPass's word on how
				{Name: "NameIdentifier", Values: []saml.AttributeValue{{Value: "2000000000004"}}}}}}}
		sess, err := codec.New(a)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := codec.Encode(sess)
		if err != nil {
			t.Fatal(err)
		}
		back, err := codec.Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		u := &User{Attrs: back.(samlsp.SessionWithAttributes).GetAttributes()}
		if got := u.Attrs[AttrAuthnContext]; len(got) != 1 || got[0] != ref || u.ByCertificate() != token {
			t.Errorf("login %s: the session says %v, by certificate %v", ref, got, u.ByCertificate())
		}
	}
	if (&User{}).ByCertificate() {
		t.Error("a session without an authentication context is by certificate")
	}
}
