package agent_test

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"testing"

	"github.com/semnat/semnat/agent"
	"github.com/semnat/semnat/agent/wire"
)

// TestAuthenticate: POST /v1/authenticate asks the person to log in to the
// page's origin (a login prompt: no document, no digest), and signs only the
// agent's own challenge for that origin and the server's nonce. The
// signature verifies for that origin and nonce only, never as a document
// signature of a digest the page could have chosen; a refusal and an origin
// off the allow-list get problems, and nothing is signed.
func TestAuthenticate(t *testing.T) {
	f := newFixture(t, "person-rsa2048-auth", "person-p256-auth", "person-p256")
	for _, tc := range []struct{ entity, scheme string }{{"person-rsa2048-auth", ""}, {"person-rsa2048-auth", "pss"}, {"person-p256-auth", ""}} {
		t.Run(tc.entity+tc.scheme, func(t *testing.T) {
			before := f.con.count()
			req := wire.AuthRequest{CertificateID: f.certID(t, tc.entity), Scheme: tc.scheme, Nonce: "login-nonce-1"}
			r := f.do(t, "POST", "/v1/authenticate", page, req)
			if r.status != 200 {
				t.Fatalf("authenticate: %d %s", r.status, r.body)
			}
			var resp wire.AuthResponse
			if err := json.Unmarshal(r.body, &resp); err != nil {
				t.Fatal(err)
			}
			var cert *x509.Certificate
			for _, c := range f.certificates(t) {
				if c.ID == req.CertificateID {
					cert, _ = x509.ParseCertificate(c.Certificate)
				}
			}
			if resp.Origin != page || resp.Hash != "SHA-256" || resp.Scheme != tc.scheme {
				t.Errorf("answer %+v", resp)
			}
			if err := wire.VerifyAuthentication(cert.PublicKey, crypto.SHA256, tc.scheme, page, req.Nonce, resp.Signature); err != nil {
				t.Fatalf("the login signature does not verify: %v", err)
			}
			for _, bad := range []struct{ origin, nonce string }{{"https://msign.example", req.Nonce}, {page, "login-nonce-2"}} {
				if err := wire.VerifyAuthentication(cert.PublicKey, crypto.SHA256, tc.scheme, bad.origin, bad.nonce, resp.Signature); !errors.Is(err, wire.ErrAuthentication) {
					t.Errorf("verifies for %v: %v", bad, err)
				}
			}
			// Not a binding, nor a document signature over the same nonce.
			if err := wire.VerifyBinding(cert.PublicKey, crypto.SHA256, tc.scheme, page, req.Nonce, wire.AuthDigest(crypto.SHA256, page, req.Nonce), resp.Signature); err == nil {
				t.Error("the login signature passes as a binding")
			}
			f.con.mu.Lock()
			defer f.con.mu.Unlock()
			if len(f.con.prompts) != before+1 {
				t.Fatalf("%d prompts", len(f.con.prompts)-before)
			}
			if p := f.con.prompts[before]; !p.Login || p.Origin != page || p.Document != "" || p.Digest != "" || p.Subject != cert.Subject.String() {
				t.Errorf("prompt %+v", p)
			}
		})
	}

	// The person says no: a refusal, nothing signed.
	f.con.mu.Lock()
	f.con.answer = func(agent.Prompt) ([]byte, error) { return nil, agent.ErrRefused }
	f.con.mu.Unlock()
	r := f.do(t, "POST", "/v1/authenticate", page, wire.AuthRequest{CertificateID: f.certID(t, "person-p256-auth"), Nonce: "n2"})
	if p := r.problem(t); r.status != 403 || p.Type != wire.ProblemRefused || p.Detail != "the person declined to log in" {
		t.Fatalf("refusal: %d %+v", r.status, p)
	}
	// A site not on the allow-list is not even asked about.
	before := f.con.count()
	r = f.do(t, "POST", "/v1/authenticate", "http://evil.example", wire.AuthRequest{CertificateID: f.certID(t, "person-p256-auth"), Nonce: "n3"})
	if p := r.problem(t); r.status != 403 || p.Type != wire.ProblemOriginNotAllowed || f.con.count() != before {
		t.Fatalf("other origin: %d %+v", r.status, p)
	}
	// Malformed requests.
	for name, body := range map[string]any{
		"no nonce":      wire.AuthRequest{CertificateID: f.certID(t, "person-p256-auth")},
		"digest field":  map[string]any{"certificateId": f.certID(t, "person-p256-auth"), "nonce": "n", "digest": "AAAA"},
		"bad hash":      wire.AuthRequest{CertificateID: f.certID(t, "person-p256-auth"), Nonce: "n", Hash: "MD5"},
		"no cert":       wire.AuthRequest{Nonce: "n"},
		"spaced nonce":  wire.AuthRequest{CertificateID: f.certID(t, "person-p256-auth"), Nonce: "a b"},
		"trailing data": `{"certificateId":"01","nonce":"n"} {}`,
	} {
		if r := f.do(t, "POST", "/v1/authenticate", page, body); r.status != 400 || r.problem(t).Type != wire.ProblemBadRequest {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if f.con.count() != before {
		t.Error("a malformed request reached the person")
	}
}

// TestKeySeparation: the agent logs in only with an authentication
// certificate, and signs documents never with one; neither refusal asks
// the person. The listing marks which is which.
func TestKeySeparation(t *testing.T) {
	f := newFixture(t, "person-p256", "person-p256-auth")
	for _, c := range f.certificates(t) {
		if want := c.ID == f.certID(t, "person-p256-auth"); c.Authentication != want {
			t.Errorf("%s listed with authentication=%v", c.Label, c.Authentication)
		}
	}
	before := f.con.count()
	r := f.do(t, "POST", "/v1/authenticate", page, wire.AuthRequest{CertificateID: f.certID(t, "person-p256"), Nonce: "n1"})
	if p := r.problem(t); r.status != 409 || p.Type != wire.ProblemWrongKey {
		t.Errorf("login with the signing key: %d %+v", r.status, p)
	}
	d := sha256.Sum256([]byte("a document"))
	r = f.do(t, "POST", "/v1/sign", page, wire.SignRequest{CertificateID: f.certID(t, "person-p256-auth"), Hash: "SHA-256",
		Digest: d[:], Nonce: "n2", Document: "a.pdf"})
	if p := r.problem(t); r.status != 409 || p.Type != wire.ProblemWrongKey {
		t.Errorf("document with the authentication key: %d %+v", r.status, p)
	}
	if f.con.count() != before {
		t.Error("a refused key reached the person")
	}
	// The right keys still work.
	if r := f.do(t, "POST", "/v1/sign", page, wire.SignRequest{CertificateID: f.certID(t, "person-p256"), Hash: "SHA-256",
		Digest: d[:], Nonce: "n3", Document: "a.pdf"}); r.status != 200 {
		t.Errorf("document with the signing key: %d %s", r.status, r.body)
	}
}
