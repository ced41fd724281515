package mpass

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/semnat/semnat/mobileid"
)

// TestHostileRequests: AuthnRequests built to fool an XML-DSig check or to
// exhaust the server are refused with 400 and no login: a signature
// wrapped inside a forged request (XSW), a document type with entities, a
// Redirect-binding request that inflates past the limit, a body over the
// limit.
func TestHostileRequests(t *testing.T) {
	e := newEnv(t, nil)
	rp := e.newRP("shop.test", true)
	sp := rp.mw.ServiceProvider
	c := newBrowserClient(t)
	signed := func() *etree.Element {
		req, err := sp.MakeAuthenticationRequest(e.url+PathSSO, saml.HTTPPostBinding, saml.HTTPPostBinding)
		if err != nil {
			t.Fatal(err)
		}
		return req.Element()
	}
	postXML := func(doc []byte) (*http.Response, []byte) {
		return e.post(c, e.url+PathSSO, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(doc)}})
	}

	// forge is an unsigned copy of el with the attacker's ID and ACS URL.
	forge := func(el *etree.Element, id string) *etree.Element {
		f := el.Copy()
		f.CreateAttr("ID", id)
		f.CreateAttr("AssertionConsumerServiceURL", "https://evil.test/acs")
		f.RemoveChild(signatureOf(t, f))
		return f
	}
	// XSW: a forged root that carries the genuine signed request in its
	// Extensions.
	orig := signed()
	forged := forge(orig, "_forged")
	forged.CreateElement("samlp:Extensions").AddChild(orig)
	// A signature moved to a forged root, still pointing at the genuine ID.
	moved := signed()
	evil := forge(moved, "_evil")
	evil.AddChild(signatureOf(t, moved).Copy())

	// A deflated Redirect request of 2 MiB of blanks (the limit is 1 MiB).
	var bomb bytes.Buffer
	fw, _ := flate.NewWriter(&bomb, flate.BestCompression)
	fw.Write([]byte(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_b" Version="2.0"`))
	fw.Write(bytes.Repeat([]byte(" "), 2<<20))
	fw.Write([]byte(`/>`))
	fw.Close()

	for _, tc := range []struct {
		name string
		send func() (*http.Response, []byte)
	}{
		{"XSW: signed request wrapped in a forged one", func() (*http.Response, []byte) { return postXML(xmlOf(t, forged)) }},
		{"XSW: signature moved to a forged request", func() (*http.Response, []byte) { return postXML(xmlOf(t, evil)) }},
		{"DTD with entities", func() (*http.Response, []byte) {
			b := xmlOf(t, signed())
			return postXML(append([]byte(`<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>`), b...))
		}},
		{"deflate bomb over HTTP-Redirect", func() (*http.Response, []byte) {
			return e.get(c, e.url+PathSSO+"?SAMLRequest="+url.QueryEscape(base64.StdEncoding.EncodeToString(bomb.Bytes())))
		}},
		{"comment inside the signed Issuer", func() (*http.Response, []byte) {
			return postXML(xmlOf(t, withComment(t, signed(), "Issuer")))
		}},
		{"body over the limit", func() (*http.Response, []byte) {
			return e.post(c, e.url+PathSSO, url.Values{"SAMLRequest": {strings.Repeat("A", maxSAMLBody+1)}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := tc.send()
			if resp.StatusCode < 400 || resp.StatusCode >= 500 || reTx.Match(b) {
				t.Fatalf("%d, want a refusal:\n%s", resp.StatusCode, b)
			}
		})
	}
	// The genuine request still works: the refusals were for the forgeries.
	if resp, b := postXML(xmlOf(t, signed())); resp.StatusCode != 200 || !reTx.Match(b) {
		t.Fatalf("genuine request: %d\n%s", resp.StatusCode, b)
	}
}

// TestHostileLogoutRequests: a LogoutRequest that is unsigned, signed with
// another key, wrapped in a forged one (XSW) or carries a DTD ends no
// session; the genuine one does.
func TestHostileLogoutRequests(t *testing.T) {
	e := newEnv(t, nil)
	rp := e.newRP("shop.test", true)
	c := newBrowserClient(t)
	user := mobileid.GeneratedUser(6)
	e.login(c, rp, user)
	sp := rp.mw.ServiceProvider
	logoutXML := func(sp saml.ServiceProvider) *etree.Element {
		req, err := sp.MakeLogoutRequest(e.url+PathLogout, user.IDNP)
		if err != nil {
			t.Fatal(err)
		}
		return req.Element()
	}
	unsigned, impostor := badSigners(t, sp)
	genuine := logoutXML(sp)
	wrapper := genuine.Copy()
	wrapper.CreateAttr("ID", "_forged")
	wrapper.RemoveChild(signatureOf(t, wrapper))
	wrapper.CreateElement("samlp:Extensions").AddChild(logoutXML(sp))
	for name, doc := range map[string][]byte{
		"unsigned":          xmlOf(t, logoutXML(unsigned)),
		"another key":       xmlOf(t, logoutXML(impostor)),
		"XSW wrapper":       xmlOf(t, wrapper),
		"DTD":               append([]byte(`<!DOCTYPE r [<!ENTITY a "a">]>`), xmlOf(t, logoutXML(sp))...),
		"comment in NameID": xmlOf(t, withComment(t, logoutXML(sp), "NameID")),
		"comment in Issuer": xmlOf(t, withComment(t, logoutXML(sp), "Issuer")),
	} {
		resp, b := e.post(c, e.url+PathLogout, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(doc)}})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400:\n%s", name, resp.StatusCode, b)
		}
		if _, b := e.get(c, e.url+pathSession); !bytes.Contains(b, []byte(user.IDNP)) {
			t.Fatalf("%s ended the session", name)
		}
	}
	// The genuine request ends it: the test can fail.
	e.post(c, e.url+PathLogout, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xmlOf(t, genuine))}})
	if _, b := e.get(c, e.url+pathSession); !bytes.Contains(b, []byte(`id="no-session"`)) {
		t.Fatalf("the genuine LogoutRequest did not end the session:\n%s", b)
	}
}

// withComment puts a comment in the middle of the text of el's child
// element tag, after el was signed: exclusive canonicalisation drops it, so
// the signature still verifies (checked).
func withComment(t *testing.T, el *etree.Element, tag string) *etree.Element {
	t.Helper()
	var target *etree.Element
	for _, ch := range el.FindElements("//" + tag) {
		target = ch
		break
	}
	if target == nil {
		t.Fatalf("no %s", tag)
	}
	text := target.Text()
	half := len(text) / 2
	target.SetText(text[:half])
	target.CreateComment(" split ")
	target.CreateCharData(text[half:])
	return el
}

// xmlOf serialises el as a document.
func xmlOf(t *testing.T, el *etree.Element) []byte {
	t.Helper()
	d := etree.NewDocument()
	d.SetRoot(el)
	b, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signatureOf is el's enveloped ds:Signature.
func signatureOf(t *testing.T, el *etree.Element) *etree.Element {
	t.Helper()
	for _, ch := range el.ChildElements() {
		if ch.Tag == "Signature" {
			return ch
		}
	}
	t.Fatal("no signature")
	return nil
}
