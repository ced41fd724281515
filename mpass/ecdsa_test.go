package mpass

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/semnat/semnat/mobileid"
)

// TestECDSAResponses: a relying service registered for ecdsa-sha256 gets
// its Responses (and Assertions) signed with MPass's P-256 key, which the
// metadata publishes beside the RSA one (the metadata still signed with
// the RSA key); crewjam's relying service accepts them from the metadata,
// and refuses them when its copy of the metadata lacks the ECDSA
// certificate; a service registered as before gets rsa-sha256.
func TestECDSAResponses(t *testing.T) {
	ecKey, ecCert, err := SelfSignedECDSA("mpass.test ecdsa", time.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.ECDSAKey, c.ECDSACertificate = ecKey, ecCert })

	// The metadata: both signing certificates, signed with the RSA key.
	_, raw := e.get(nil, e.url+PathMetadata)
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{e.cert}})
	if _, err := vc.Validate(doc.Root()); err != nil {
		t.Fatalf("the metadata's signature: %v", err)
	}
	var signing []string
	for _, k := range e.metadata().IDPSSODescriptors[0].KeyDescriptors {
		if k.Use == "signing" {
			signing = append(signing, k.KeyInfo.X509Data.X509Certificates[0].Data)
		}
	}
	if len(signing) != 2 || signing[0] != base64.StdEncoding.EncodeToString(e.cert.Raw) ||
		signing[1] != base64.StdEncoding.EncodeToString(ecCert.Raw) {
		t.Fatalf("signing certificates in the metadata: %d, want the RSA one then the ECDSA one", len(signing))
	}

	user := mobileid.GeneratedUser(5)
	c := newBrowserClient(t)
	ec := e.newRPWith("ec.test", &SPOptions{SignatureAlgorithm: SigECDSASHA256}, nil)
	if page := e.login(c, ec, user); !strings.Contains(page, "NameIdentifier="+user.IDNP) {
		t.Fatalf("the relying service got:\n%s", page)
	}
	for _, tc := range []struct {
		name string
		opts SPOptions
		alg  string
		sigs int
	}{
		{"ec2.test", SPOptions{SignatureAlgorithm: SigECDSASHA256}, dsig.ECDSASHA256SignatureMethod, 1},
		{"ec-assertion.test", SPOptions{SignatureAlgorithm: SigECDSASHA256, SignAssertion: true}, dsig.ECDSASHA256SignatureMethod, 2},
		{"rsa.test", SPOptions{}, dsig.RSASHA256SignatureMethod, 1},
		{"rsa-named.test", SPOptions{SignatureAlgorithm: SigRSASHA256}, dsig.RSASHA256SignatureMethod, 1},
	} {
		rp := e.newRPWith(tc.name, &tc.opts, nil)
		a := e.answerOf(c, rp)
		if n := bytes.Count(a.raw, []byte(`SignatureMethod Algorithm="`+tc.alg+`"`)); n != tc.sigs {
			t.Fatalf("%s: %d signatures by %s, want %d:\n%s", tc.name, n, tc.alg, tc.sigs, a.raw)
		}
		if _, err := a.accept(rp); err != nil {
			t.Fatalf("%s: the relying service refused the Response: %v", tc.name, err)
		}
	}

	// A Response with a non-success status (the person cancelled) too.
	fresh := newBrowserClient(t)
	tx, _ := e.startLogin(fresh, ec)
	_, b := e.post(fresh, e.url+pathCancel, url.Values{"tx": {tx}})
	_, fields := form(t, b)
	if r, raw := samlResponse(t, fields); r.Status.StatusCode.Value != saml.StatusResponder ||
		!bytes.Contains(raw, []byte(`SignatureMethod Algorithm="`+dsig.ECDSASHA256SignatureMethod+`"`)) {
		t.Fatalf("cancelled: not an ECDSA-signed error Response:\n%s", raw)
	}

	// A relying service that knows only the RSA certificate refuses an
	// ECDSA-signed Response: the signature is checked, not just its form.
	rsaOnly := e.newRPWith("rsa-only.test", &SPOptions{SignatureAlgorithm: SigECDSASHA256}, nil)
	md := rsaOnly.mw.ServiceProvider.IDPMetadata
	kd := md.IDPSSODescriptors[0].KeyDescriptors
	md.IDPSSODescriptors[0].KeyDescriptors = []saml.KeyDescriptor{kd[0]}
	if _, err := e.answerOf(c, rsaOnly).accept(rsaOnly); err == nil {
		t.Fatal("an ECDSA-signed Response was accepted with the RSA certificate alone")
	}

	// An unknown algorithm is refused at registration.
	if _, err := e.srv.Registry().Add(context.Background(), mustMetadata(t, ec), SPOptions{SignatureAlgorithm: "ed25519"}, time.Now()); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("unknown algorithm: %v, want ErrBadOptions", err)
	}
}

// TestECDSAKeyRequired: without an ECDSA key, a service registered for
// ecdsa-sha256 gets no Response (never one signed otherwise); a key
// without its certificate, or not P-256, or another key's certificate,
// is refused at start.
func TestECDSAKeyRequired(t *testing.T) {
	e := newEnv(t, nil)
	user := mobileid.GeneratedUser(6)
	c := newBrowserClient(t)
	e.login(c, e.newRPWith("plain.test", &SPOptions{}, nil), user)
	ec := e.newRPWith("ec.test", &SPOptions{SignatureAlgorithm: SigECDSASHA256}, nil)
	resp, b := e.get(c, ec.url+"/app")
	if resp.StatusCode == http.StatusOK || bytes.Contains(b, []byte("SAMLResponse")) {
		t.Fatalf("status %d, want an error without a Response:\n%s", resp.StatusCode, b)
	}

	key, cert, err := SelfSignedECDSA("a", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := SelfSignedECDSA("b", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no certificate":    func(c *Config) { c.ECDSAKey = key },
		"no key":            func(c *Config) { c.ECDSACertificate = cert },
		"another's":         func(c *Config) { c.ECDSAKey, c.ECDSACertificate = key, other },
		"an RSA key":        func(c *Config) { c.ECDSAKey, c.ECDSACertificate = c.Key, c.Certificate },
		"its own (control)": func(c *Config) { c.ECDSAKey, c.ECDSACertificate = key, cert },
	} {
		cfg := Config{Store: e.store, PublicURL: e.url, Key: e.key, Certificate: e.cert, SweepEvery: -1}
		mut(&cfg)
		s, err := New(cfg)
		if s != nil {
			s.Close()
		}
		if (err == nil) != (name == "its own (control)") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// mustMetadata is rp's metadata document.
func mustMetadata(t *testing.T, rp *relyingParty) []byte {
	t.Helper()
	b, err := xml.Marshal(rp.mw.ServiceProvider.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	return b
}
