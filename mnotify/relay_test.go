package mnotify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/mnotify/mailsink"
)

// serverCert is a certificate for 127.0.0.1 and the pool that trusts it.
func serverCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "relay.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestRelaySTARTTLSAndLogin: with STARTTLS (verified against the relay's
// CA) and a login, the e-mail goes over TLS; a wrong password or a
// recipient the relay refuses fails at once, without retries; a relay
// that offers no STARTTLS is not sent to in clear.
func TestRelaySTARTTLSAndLogin(t *testing.T) {
	cert, pool := serverCert(t)
	sink, err := mailsink.Start(mailsink.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Username: "mnotify", Password: "s3cret-pass", Reject: []string{"refused.test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	relay := &SMTP{Addr: sink.Addr(), From: "notificari@mnotify.test", TLS: TLSStartTLS, Username: "mnotify", Password: "s3cret-pass",
		TLSConfig: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second}
	e := newEnv(t, sqliteDSN(t), relay)
	ok := mustSend(t, e.asp, simple("Prin TLS", "Text", email("a@example.md")))
	refused := mustSend(t, e.asp, simple("Refuzat", "Text", email("nobody@refused.test")))
	waitFor(t, e.asp, ok, "sent", func(n *client.Notification) bool { return n.Status == client.StatusSent })
	n := waitFor(t, e.asp, refused, "failed", func(n *client.Notification) bool { return n.Status == client.StatusFailed })
	if ch, _ := emailStatus(n, "nobody@refused.test"); ch.Attempts != 1 || !strings.Contains(ch.LastError, "550") {
		t.Errorf("a refused recipient: %+v, want one attempt and the relay's 550", ch)
	}
	msgs := sink.Messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].Subject != "Prin TLS" {
		t.Fatalf("the relay got %+v, want one message over TLS", msgs)
	}
	e.close(t)

	bad := *relay
	bad.Password = "wrong"
	e2 := newEnv(t, sqliteDSN(t), &bad)
	id := mustSend(t, e2.asp, simple("Parolă greșită", "Text", email("a@example.md")))
	n = waitFor(t, e2.asp, id, "failed", func(n *client.Notification) bool { return n.Status == client.StatusFailed })
	ch, _ := emailStatus(n, "a@example.md")
	if ch.Attempts != 1 || !strings.Contains(ch.LastError, "535") || strings.Contains(ch.LastError, "wrong") {
		t.Errorf("a wrong password: %+v, want one attempt, the relay's 535 and no password", ch)
	}
	e2.close(t)

	plain, err := mailsink.Start(mailsink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	noTLS := *relay
	noTLS.Addr, noTLS.Username, noTLS.Password = plain.Addr(), "", ""
	e3 := newEnv(t, sqliteDSN(t), &noTLS)
	id = mustSend(t, e3.asp, simple("Fără TLS", "Text", email("a@example.md")))
	waitFor(t, e3.asp, id, "refused to send in clear", func(n *client.Notification) bool {
		ch, _ := emailStatus(n, "a@example.md")
		return ch.Attempts >= 1 && strings.Contains(ch.LastError, "STARTTLS")
	})
	if len(plain.Messages()) != 0 {
		t.Errorf("sent in clear to a relay without STARTTLS")
	}
}

// TestSMTPSettings: settings that cannot work are refused at New.
func TestSMTPSettings(t *testing.T) {
	st := openStore(t, sqliteDSN(t))
	defer st.Close()
	for what, s := range map[string]SMTP{
		"no port":          {Addr: "mail.example.md", From: "a@example.md"},
		"bad sender":       {Addr: "mail.example.md:587", From: "not an address"},
		"bad TLS":          {Addr: "mail.example.md:587", From: "a@example.md", TLS: "maybe"},
		"password crossed": {Addr: "mail.example.md:25", From: "a@example.md", TLS: TLSNone, Username: "u", Password: "p"},
	} {
		if _, err := New(Config{Store: st, SMTP: &s}); !errors.Is(err, ErrSMTPConfig) {
			t.Errorf("%s: %v, want ErrSMTPConfig", what, err)
		}
	}
}

// TestOpenAPIMatchesRoutes: every route is documented, every documented
// path served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, sqliteDSN(t), nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	resp, err := e.srv.Client().Get(e.srv.URL + client.PathOpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi: %v", err)
	}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+param.ReplaceAllString(path, ":$1")] = true
		}
	}
	served := map[string]bool{}
	for _, r := range e.host.Routes() {
		if strings.HasPrefix(r.Path, "/api/") {
			served[r.Method+" "+r.Path] = true
		}
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("route %s is not in openapi.json", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("openapi.json documents %s, which is not served", k)
		}
	}
}
