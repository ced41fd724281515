package mpass

import (
	"context"
	"crypto"
	"encoding/asn1"
	"math/big"
	"net"
	"net/http"
	"testing"

	"github.com/semnat/semnat/agent"
	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/pkcs11"
	"github.com/semnat/semnat/pkcs11/softhsmtest"
	"github.com/semnat/semnat/testcerts"
)

// serveYesAgent serves on ln an agent of the token that allows origins and
// consents to everything with the token's PIN (the person who approves).
func serveYesAgent(t *testing.T, ln net.Listener, tok *softhsmtest.Token, origins ...string) {
	t.Helper()
	ag, err := agent.New(agent.Options{Module: tok.Module, Token: tok.Selector(), Origins: origins, Version: "test",
		Consent: func(context.Context, agent.Prompt) ([]byte, error) { return []byte(tok.PIN), nil }})
	if err != nil {
		t.Fatal(err)
	}
	as := &http.Server{Handler: ag.Handler()}
	go as.Serve(ln)
	t.Cleanup(func() { as.Close() })
}

// attackerLogin is the attacker's own browser and login at MPass (through
// a relying service it registers): the login's id, its token login nonce
// and the digest of its login challenge, which the attacker asks the
// person to sign as a "document".
func (e *env) attackerLogin() (*relyingParty, *http.Client, string, string, []byte) {
	rp := e.newRP("shop.test", true)
	c := newBrowserClient(e.t)
	tx, _ := e.startLogin(c, rp)
	_, n := e.mpassJSON(c, pathTokenNonce, tx, nil)
	return rp, c, tx, n.Nonce, wire.AuthDigest(crypto.SHA256, e.url, n.Nonce)
}

// TestSharedKeyDocumentIsNoLogin: a token whose authentication certificate
// certifies the signing certificate's own key (misissued: one key, two
// certificates). The attack of TestDocumentSignatureIsNoLogin then works
// through the signing certificate: a site the person allowed asks for a
// "document" signature over MPass's login challenge digest, and the
// signature verifies under the authentication certificate, which MPass
// accepts. The agent closes it: it signs no document with a key the token
// also certifies for logging in (agent-shared-key). The person's own login
// with that token still works: a login challenge is no document.
func TestSharedKeyDocumentIsNoLogin(t *testing.T) {
	fixtures(t)
	sign := shared.pki.MustGet("person-p256")
	var given, surname string
	for _, n := range sign.Cert.Subject.Names {
		switch v, _ := n.Value.(string); {
		case n.Type.Equal(asn1.ObjectIdentifier{2, 5, 4, 42}):
			given = v
		case n.Type.Equal(asn1.ObjectIdentifier{2, 5, 4, 4}):
			surname = v
		}
	}
	auth, err := shared.pki.Issue(testcerts.IssueRequest{Name: "person-p256-shared-auth-" + newID()[:8], Role: testcerts.RoleAuth,
		Issuer: shared.pki.TokenCA, Key: sign.Key, Profile: testcerts.ProfileAuth,
		Subject: testcerts.Subject{CommonName: sign.Cert.Subject.CommonName, GivenName: given, Surname: surname, IDNP: sign.Cert.Subject.SerialNumber}})
	if err != nil {
		t.Fatal(err)
	}
	shared.svc.Registry.AddCA(shared.pki.TokenCA.Cert, []*big.Int{auth.Cert.SerialNumber}) // OCSP: good
	if !wire.IsAuthentication(auth.Cert) || wire.IsAuthentication(sign.Cert) {
		t.Fatal("the two certificates are not one of each kind")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	agentURL := "http://" + ln.Addr().String()
	e, tok := tokenEnv(t, agentURL)
	tok.Import(t, sign)
	// The same key again under its own id, with the authentication certificate.
	if _, err := tok.Module.Import(context.Background(), pkcs11.ImportOptions{Token: tok.Selector(), PIN: tok.PINSource(),
		Key: auth.Key, Certificate: auth.Cert, Chain: auth.Chain, Label: auth.Name, ID: pkcs11.KeyID("shared-auth")}); err != nil {
		t.Fatal(err)
	}
	const evil = "http://evil.test"
	serveYesAgent(t, ln, tok, e.url, evil)
	rp, c, tx, _, digest := e.attackerLogin()
	var signed wire.SignResponse
	st, p := agentCall(t, agentURL, evil, "/v1/sign", wire.SignRequest{CertificateID: tok.Keys[sign.Name].String(),
		Hash: "SHA-256", Digest: digest, Nonce: "evil-1", Document: "invoice.pdf"}, &signed)
	if st == 200 {
		st, a := e.mpassJSON(c, pathToken, tx, tokenLogin{Certificate: auth.Cert.Raw, Chain: [][]byte{shared.pki.TokenCA.Cert.Raw},
			Signature: signed.Signature, Hash: "SHA-256"})
		t.Fatalf("the agent signed the login challenge as a document with the shared key; MPass answered %d %+v (logged in: %v)", st, a, a.Next != "")
	}
	if st != 409 || p.Type != wire.ProblemSharedKey {
		t.Fatalf("a document with the shared key: %d %+v", st, p)
	}

	// The person's own login with the authentication certificate.
	c2 := newBrowserClient(t)
	tx2, _ := e.startLogin(c2, rp)
	if st, a := e.tokenLoginAs(c2, agentURL, e.url, tx2, sign.Cert.Subject.CommonName); st != 200 || a.Next == "" {
		t.Fatalf("login with the authentication key: %d %+v", st, a)
	}
}
