package mpass

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/mpower"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
)

// ssoAnswer is one relying service's login of a browser: the id of the
// AuthnRequest it sent, and MPass's Response (raw and as the post form).
type ssoAnswer struct {
	requestID string
	action    string
	fields    url.Values
	resp      *saml.Response
	raw       []byte
}

// answerOf follows rp's login for browser c up to MPass's post form: the
// browser has an SSO session with MPass (login was called first); its
// cookies of relying services are left out (a fresh login each time).
func (e *env) answerOf(c *http.Client, rp *relyingParty) ssoAnswer {
	e.t.Helper()
	var reqID string
	cc := *c
	jar, _ := cookiejar.New(nil)
	mu, _ := url.Parse(e.url)
	for _, ck := range c.Jar.Cookies(mu) { // cookies do not tell ports apart
		if !strings.HasPrefix(ck.Name, "token-") && !strings.HasPrefix(ck.Name, "saml_") {
			jar.SetCookies(mu, []*http.Cookie{ck})
		}
	}
	cc.Jar = jar
	cc.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		if q := r.URL.Query().Get("SAMLRequest"); q != "" && reqID == "" {
			reqID = authnRequestID(e.t, q)
		}
		return nil
	}
	_, b := e.get(&cc, rp.url+"/app")
	action, fields := form(e.t, b)
	r, raw := samlResponse(e.t, fields)
	return ssoAnswer{requestID: reqID, action: action, fields: fields, resp: r, raw: raw}
}

// authnRequestID reads the ID of an HTTP-Redirect SAMLRequest.
func authnRequestID(t testing.TB, q string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(q)
	if err != nil {
		t.Fatal(err)
	}
	x, err := io.ReadAll(flate.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(x); err != nil {
		t.Fatal(err)
	}
	return doc.Root().SelectAttrValue("ID", "")
}

// accept is rp's own check of an answer (crewjam's service provider).
func (a ssoAnswer) accept(rp *relyingParty) (*saml.Assertion, error) {
	acs, _ := url.Parse(a.action)
	as, err := rp.mw.ServiceProvider.ParseXMLResponse(a.raw, []string{a.requestID}, *acs)
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) {
		err = ire.PrivateErr
	}
	return as, err
}

func attrMap(as *saml.Assertion) map[string][]string {
	out := map[string][]string{}
	for _, st := range as.AttributeStatements {
		for _, a := range st.Attributes {
			for _, v := range a.Values {
				out[a.Name] = append(out[a.Name], v.Value)
			}
		}
	}
	return out
}

// startMPower serves a real MPower with one legal entity that person
// administers, and returns a client of it for MPass (API key).
func startMPower(t *testing.T, admin string) *mpowerclient.Client {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "mpower.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := mpower.New(mpower.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := mpower.AddSystem(ctx, st, "test", mpower.NewSystem{Name: "mpass", APIKey: []byte("mpass-key-0123456789abcdef")}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []mpower.Entity{
		{IDNO: "1003600011118", Name: "Exemplu SRL", Form: "SRL", Administrators: []mpower.Administrator{{IDNP: admin, From: time.Now().AddDate(-1, 0, 0)}}},
		{IDNO: "1010600034203", Name: "Alt SRL", Form: "SRL", Administrators: []mpower.Administrator{{IDNP: admin, From: time.Now().AddDate(-1, 0, 0)}}},
	} {
		if err := svc.Registry().PutEntity(ctx, "test", e); err != nil {
			t.Fatal(err)
		}
	}
	host := service.NewHost(service.HostOptions{Ready: st})
	host.Mount(svc)
	srv := httptest.NewServer(host)
	t.Cleanup(func() { srv.Close(); host.Close() })
	c, err := mpowerclient.New(srv.URL, mpowerclient.Options{APIKey: "mpass-key-0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSPOptions: each registration option changes the Response as the
// issue says, and the relying service (crewjam's) still accepts it: a
// signed Response with a plain Assertion by default; the Assertion signed;
// encrypted for the metadata's certificate or for a registered one; the
// attributes listed, or those the metadata requests; the Role per
// relying service; AdministeredLegalEntity from MPower's register over its
// API; the eIDAS profile's attribute URIs and LoA.
func TestSPOptions(t *testing.T) {
	user := mobileid.GeneratedUser(4)
	mp := startMPower(t, user.IDNP)
	e := newEnv(t, func(c *Config) { c.MPower = mp })
	c := newBrowserClient(t)
	plain := e.newRPWith("plain.test", &SPOptions{}, nil)
	if page := e.login(c, plain, user); !strings.Contains(page, "AdministeredLegalEntity=Exemplu SRL 1003600011118|Alt SRL 1010600034203") &&
		!strings.Contains(page, "AdministeredLegalEntity=Alt SRL 1010600034203|Exemplu SRL 1003600011118") {
		t.Fatalf("the relying service got:\n%s", page)
	}
	a := e.answerOf(c, plain)
	if a.resp.Signature == nil || a.resp.Assertion == nil || a.resp.Assertion.Signature != nil || a.resp.EncryptedAssertion != nil {
		t.Fatalf("default: a signed Response, a plain Assertion:\n%s", a.raw)
	}
	if _, err := a.accept(plain); err != nil {
		t.Fatal(err)
	}

	signed := e.newRPWith("signed.test", &SPOptions{SignAssertion: true}, nil)
	a = e.answerOf(c, signed)
	if a.resp.Signature == nil || a.resp.Assertion == nil || a.resp.Assertion.Signature == nil {
		t.Fatalf("sign-assertion:\n%s", a.raw)
	}
	if _, err := a.accept(signed); err != nil {
		t.Fatal(err)
	}

	// Encryption for a certificate registered apart from the metadata
	// (which publishes none): the relying service's key decrypts it.
	var encRP *relyingParty
	encRP = e.newRPWith("enc.test", nil, nil)
	encOpts := SPOptions{EncryptionCert: encRP.mw.ServiceProvider.Certificate.Raw}
	noEnc := func(ed *saml.EntityDescriptor) {
		d := &ed.SPSSODescriptors[0]
		var keep []saml.KeyDescriptor
		for _, k := range d.KeyDescriptors {
			if k.Use == "signing" {
				keep = append(keep, k)
			}
		}
		d.KeyDescriptors = keep
	}
	if _, err := e.srv.Registry().Add(context.Background(), rpMetadata(t, encRP, noEnc), SPOptions{Encrypt: true}, time.Now()); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("encrypt without a certificate: %v", err)
	}
	if _, err := e.srv.Registry().Add(context.Background(), rpMetadata(t, encRP, noEnc), encOpts, time.Now()); err != nil {
		t.Fatal(err)
	}
	a = e.answerOf(c, encRP)
	if a.resp.EncryptedAssertion == nil || a.resp.Assertion != nil {
		t.Fatalf("encrypt:\n%s", a.raw)
	}
	as, err := a.accept(encRP)
	if err != nil || as.Signature == nil {
		t.Fatalf("encrypted assertion: %v (signed: %v)", err, as != nil && as.Signature != nil)
	}

	// Attributes: those listed at registration; those the metadata requests.
	listed := e.newRPWith("listed.test", &SPOptions{Attributes: []string{"NameIdentifier", "LastName"}}, nil)
	as, err = e.answerOf(c, listed).accept(listed)
	if got := attrMap(as); err != nil || len(got) != 2 || got["LastName"][0] != user.Surname || got["NameIdentifier"][0] != user.IDNP {
		t.Fatalf("listed attributes: %v %v", got, err)
	}
	requested := e.newRPWith("requested.test", &SPOptions{}, func(ed *saml.EntityDescriptor) {
		ed.SPSSODescriptors[0].AttributeConsumingServices = []saml.AttributeConsumingService{{Index: 1,
			ServiceNames:        []saml.LocalizedName{{Lang: "ro", Value: "Biblioteca"}},
			RequestedAttributes: []saml.RequestedAttribute{{Attribute: saml.Attribute{Name: "FirstName"}}}}}
	})
	as, err = e.answerOf(c, requested).accept(requested)
	if got := attrMap(as); err != nil || len(got) != 1 || got["FirstName"][0] != user.GivenName {
		t.Fatalf("requested attributes: %v %v", got, err)
	}

	// Role, per relying service.
	roles := e.newRPWith("roles.test", &SPOptions{}, nil)
	if err := e.srv.Registry().SetRoles(context.Background(), roles.mw.ServiceProvider.Metadata().EntityID, user.IDNP, []string{"editor", "admin"}); err != nil {
		t.Fatal(err)
	}
	as, err = e.answerOf(c, roles).accept(roles)
	if got := attrMap(as); err != nil || strings.Join(got["Role"], ",") != "editor,admin" {
		t.Fatalf("roles: %v %v", got, err)
	}
	if got := attrMap(mustAccept(t, e.answerOf(c, plain), plain)); len(got["Role"]) != 0 {
		t.Fatalf("another relying service sees the roles: %v", got)
	}

	// eIDAS profile.
	eidas := e.newRPWith("eidas.test", &SPOptions{EIDAS: true}, nil)
	as, err = e.answerOf(c, eidas).accept(eidas)
	if err != nil {
		t.Fatal(err)
	}
	got := attrMap(as)
	if got[EIDASPersonIdentifier][0] != "MD/MD/"+user.IDNP || got[EIDASFamilyName][0] != user.Surname || got[EIDASGivenName][0] != user.GivenName ||
		len(got["NameIdentifier"]) != 0 || as.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value != EIDASLoAHigh {
		t.Fatalf("eIDAS: %v %s", got, as.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value)
	}
	for _, at := range as.AttributeStatements[0].Attributes {
		if at.NameFormat != "urn:oasis:names:tc:SAML:2.0:attrname-format:uri" || at.FriendlyName == "" {
			t.Errorf("eIDAS attribute %+v", at)
		}
	}

	// Refused options.
	for name, o := range map[string]SPOptions{
		"unknown fault":          {Faults: []string{"slow"}},
		"unknown attribute":      {Attributes: []string{"Salary"}},
		"MPass name under eIDAS": {EIDAS: true, Attributes: []string{"FirstName"}},
		"bad certificate":        {EncryptionCert: []byte("not DER")},
	} {
		if _, err := e.srv.Registry().Add(context.Background(), rpMetadata(t, plain, nil), o, time.Now()); !errors.Is(err, ErrBadOptions) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := e.srv.Registry().SetRoles(context.Background(), "https://nobody.test", user.IDNP, []string{"x"}); !errors.Is(err, ErrUnknownSP) {
		t.Errorf("roles of an unknown relying service: %v", err)
	}
}

func mustAccept(t *testing.T, a ssoAnswer, rp *relyingParty) *saml.Assertion {
	t.Helper()
	as, err := a.accept(rp)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// rpMetadata is rp's metadata, changed by mut.
func rpMetadata(t *testing.T, rp *relyingParty, mut func(*saml.EntityDescriptor)) []byte {
	t.Helper()
	ed := rp.mw.ServiceProvider.Metadata()
	if mut != nil {
		mut(ed)
	}
	b, err := xml.Marshal(ed)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
