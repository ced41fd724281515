package mpass

import (
	"bytes"
	"context"
	"encoding/xml"
	"strings"
	"testing"
)

// FuzzNormalizePhone: any input gives an error or an E.164 number of 8 to
// 15 digits (12 characters for +373), never a panic; normalising the
// result again gives the same number.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"069123456", "+373 69 123 456", "0037369123456", "(069) 12-34-56", "+", "00", "0", "+0", "٠٦٩١٢٣٤٥٦", "+37300000010"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizePhone(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(got, "+") || len(got) < 9 || len(got) > 16 || strings.Trim(got[1:], "0123456789") != "" {
			t.Fatalf("NormalizePhone(%q) = %q", s, got)
		}
		if strings.HasPrefix(got, "+373") && len(got) != 12 {
			t.Fatalf("NormalizePhone(%q) = %q: a Moldovan number of the wrong length", s, got)
		}
		if again, err := NormalizePhone(got); err != nil || again != got {
			t.Fatalf("NormalizePhone(%q) = %q, %v; not stable", got, again, err)
		}
	})
}

// FuzzParseSPMetadata: metadata from an operator's file never panics the
// parser; what it accepts has an entity id, an HTTP-POST ACS and a
// signing certificate.
func FuzzParseSPMetadata(f *testing.F) {
	f.Add([]byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/m"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="1"/></SPSSODescriptor></EntityDescriptor>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "aaaa">]><EntityDescriptor entityID="&a;"/>`))
	f.Add([]byte(`<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><EntityDescriptor entityID="x"/></EntitiesDescriptor>`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		ed, err := ParseSPMetadata(b)
		if err != nil {
			return
		}
		info := infoOf(SP{EntityID: ed.EntityID}, ed)
		if ed.EntityID == "" || len(info.ACS) == 0 || !info.SigningKey {
			t.Fatalf("accepted unusable metadata: %+v", info)
		}
	})
}

// FuzzVerifyToken: whatever certificate, signature, hash and scheme a page
// posts for a token login, the check refuses it with one of the token
// login's errors (a random signature never verifies), never a panic.
func FuzzVerifyToken(f *testing.F) {
	fixtures(f)
	p256 := shared.pki.MustGet("person-p256").Cert.Raw
	f.Add(p256, []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, "SHA-256", "")
	f.Add(shared.pki.MustGet("person-rsa2048").Cert.Raw, make([]byte, 256), "SHA-512", "pss")
	f.Add([]byte("not a certificate"), []byte{}, "MD5", "x")
	f.Add(p256, []byte{}, "", "")
	e := newEnv(f, func(c *Config) { c.TokenRoots = shared.pki.RootPool() })
	f.Fuzz(func(t *testing.T, cert, sig []byte, hash, scheme string) {
		_, id, err := e.srv.verifyToken(context.Background(), "nonce-0123", tokenLogin{Certificate: cert, Signature: sig, Hash: hash, Scheme: scheme})
		if err == nil || id != nil {
			t.Fatalf("a fuzzed token login passed: %+v", id)
		}
		if k := tokenProblem(err); k != "token-signature" && k != "token-bad-request" {
			t.Fatalf("refused as %s before the signature was checked: %v", k, err)
		}
	})
}

// FuzzRefuseUnsafeXML: any message gives nil, ErrDTD or ErrComment, never a
// panic; a message it lets through has no directive (DTD) before its first
// syntax error (after which the SAML parser refuses it anyway).
func FuzzRefuseUnsafeXML(f *testing.F) {
	f.Add([]byte(`<samlp:LogoutRequest><saml:NameID>20040<!-- x -->01</saml:NameID></samlp:LogoutRequest>`))
	f.Add([]byte(`<!DOCTYPE r [<!ENTITY a "a">]><r/>`))
	f.Add([]byte(`<r><!-- ok here --><Issuer>x</Issuer></r>`))
	f.Add([]byte(`<r><Issuer><a><!-- nested --></a></Issuer>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := refuseUnsafeXML(b)
		if err != nil && err != ErrDTD && err != ErrComment {
			t.Fatalf("unexpected error %v", err)
		}
		if err != nil {
			return
		}
		d := xml.NewDecoder(bytes.NewReader(b))
		for {
			tok, terr := d.RawToken()
			if terr != nil {
				return
			}
			if _, ok := tok.(xml.Directive); ok {
				t.Fatalf("a directive passed in %q", b)
			}
		}
	})
}
