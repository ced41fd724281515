package mpass

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/semnat/semnat/mobileid"
)

// TestLogoutRequestXSW: signature-wrapping variants on a LogoutRequest
// (the AuthnRequest ones of TestHostileRequests and more), each made from a
// genuine LogoutRequest of the relying service for another person's
// session, are refused with 400 and a page that says the request cannot be
// trusted; they end no session, and the audit log records each refusal.
// The genuine request then ends the session.
func TestLogoutRequestXSW(t *testing.T) {
	e := newEnv(t, nil)
	rp := e.newRP("shop.test", true)
	c := newBrowserClient(t)
	user, victim := mobileid.GeneratedUser(6), mobileid.GeneratedUser(7)
	e.login(c, rp, user)
	sp := rp.mw.ServiceProvider
	signed := func() *etree.Element {
		req, err := sp.MakeLogoutRequest(e.url+PathLogout, user.IDNP)
		if err != nil {
			t.Fatal(err)
		}
		return req.Element()
	}
	// forge is an unsigned copy of el naming the victim, with id.
	forge := func(el *etree.Element, id string) *etree.Element {
		f := el.Copy()
		f.CreateAttr("ID", id)
		f.FindElement("//NameID").SetText(victim.IDNP)
		f.RemoveChild(signatureOf(t, f))
		return f
	}
	variants := map[string]func() *etree.Element{
		// The signed request inside a forged one's Extensions.
		"wrapped in Extensions": func() *etree.Element {
			g := signed()
			f := forge(g, "_forged")
			f.CreateElement("samlp:Extensions").AddChild(g)
			return f
		},
		// The genuine signature on a forged root, still naming the genuine ID.
		"signature moved to a forged root": func() *etree.Element {
			g := signed()
			f := forge(g, "_evil")
			f.InsertChildAt(1, signatureOf(t, g).Copy())
			return f
		},
		// The forged root takes the genuine ID; the genuine request sits
		// inside, so an ID lookup may find either.
		"same ID on a forged root": func() *etree.Element {
			g := signed()
			f := forge(g, g.SelectAttrValue("ID", ""))
			f.InsertChildAt(1, signatureOf(t, g).Copy())
			f.CreateElement("samlp:Extensions").AddChild(g)
			return f
		},
		// The genuine request inside the signature's ds:Object (XSW 3/4).
		"signed request in ds:Object": func() *etree.Element {
			g := signed()
			f := forge(g, "_obj")
			sig := signatureOf(t, g).Copy()
			sig.CreateElement("ds:Object").AddChild(g)
			f.InsertChildAt(1, sig)
			return f
		},
		// The NameID changed after signing.
		"NameID changed after signing": func() *etree.Element {
			g := signed()
			g.FindElement("//NameID").SetText(victim.IDNP)
			return g
		},
		// A second NameID added after signing.
		"second NameID after signing": func() *etree.Element {
			g := signed()
			n := g.FindElement("//NameID").Copy()
			n.SetText(victim.IDNP)
			g.AddChild(n)
			return g
		},
	}
	for name, make := range variants {
		resp, b := e.post(c, e.url+PathLogout, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xmlOf(t, make()))}})
		if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(b, []byte(`id="problem"`)) {
			t.Errorf("%s: %d, want 400 with the reason:\n%s", name, resp.StatusCode, b)
		}
		if _, b := e.get(c, e.url+pathSession); !bytes.Contains(b, []byte(user.IDNP)) {
			t.Fatalf("%s ended the session", name)
		}
	}
	if got := auditReasons(t, e.store, "mpass.request-refused"); strings.Count(got, "bad-signature") < len(variants) {
		t.Errorf("audit log: %s", got)
	}
	e.post(c, e.url+PathLogout, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xmlOf(t, signed()))}})
	if _, b := e.get(c, e.url+pathSession); !bytes.Contains(b, []byte(`id="no-session"`)) {
		t.Fatalf("the genuine LogoutRequest did not end the session:\n%s", b)
	}
}
