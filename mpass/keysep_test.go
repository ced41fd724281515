package mpass

import (
	"crypto"
	"net"
	"testing"

	"github.com/semnat/semnat/agent/wire"
)

// TestDocumentSignatureIsNoLogin is the cross-protocol attack of a site the
// person allowed in their agent (evil.test): it starts its own MPass
// login, takes the nonce, and asks the agent to sign, as a "document", the
// login challenge digest for MPass's origin. The person approves what looks
// like a document. Before key separation MPass accepted that signature as
// the person's login; now the document signature is the signing key's
// (nonRepudiation), which never logs in, and the agent refuses to sign a
// document with the authentication key. The person's own login, through
// the authentication key, still works.
func TestDocumentSignatureIsNoLogin(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	agentURL := "http://" + ln.Addr().String()
	e, tok := tokenEnv(t, agentURL, "person-p256")
	const evil = "http://evil.test"
	serveYesAgent(t, ln, tok, e.url, evil)
	rp, c, tx, nonce, digest := e.attackerLogin()
	for _, key := range []string{"person-p256", "person-p256-auth"} {
		var signed wire.SignResponse
		st, p := agentCall(t, agentURL, evil, "/v1/sign", wire.SignRequest{CertificateID: tok.Keys[key].String(),
			Hash: "SHA-256", Digest: digest, Nonce: "evil-1", Document: "invoice.pdf"}, &signed)
		if key == "person-p256-auth" {
			if st != 409 || p.Type != wire.ProblemWrongKey {
				t.Fatalf("a document signed with the authentication key: %d %+v", st, p)
			}
			continue
		}
		if st != 200 {
			t.Fatalf("document signature: %d %+v", st, p)
		}
		cert := shared.pki.MustGet(key).Cert
		if err := wire.VerifyAuthentication(cert.PublicKey, crypto.SHA256, "", e.url, nonce, signed.Signature); err != nil {
			t.Fatalf("the document signature is not over the login challenge (the attack is not what it claims): %v", err)
		}
		st, a := e.mpassJSON(c, pathToken, tx, tokenLogin{Certificate: cert.Raw, Chain: [][]byte{shared.pki.TokenCA.Cert.Raw},
			Signature: signed.Signature, Hash: "SHA-256"})
		if st != 400 || a.Problem != "token-certificate" || a.Next != "" {
			t.Fatalf("a document signature over the login challenge logged in: %d %+v", st, a)
		}
	}
	if r := auditReasons(t, e.store, "mpass.login-failed"); r != "token-certificate" {
		t.Errorf("audit reasons %q", r)
	}
	// The person's own login, through the authentication certificate.
	c2 := newBrowserClient(t)
	tx2, _ := e.startLogin(c2, rp)
	if st, a := e.tokenLoginAs(c2, agentURL, e.url, tx2, "Ana Bălănescu"); st != 200 || a.Next == "" {
		t.Fatalf("login with the authentication key: %d %+v", st, a)
	}
}
