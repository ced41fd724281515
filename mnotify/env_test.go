package mnotify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/aiosmtpdtest"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
)

// Test people: valid IDNPs.
const (
	ion   = "2006022048426"
	maria = "2001003328548"
)

const portalKey, aspKey = "portal-key-0123456789abcdef", "asp-key-0123456789abcdef"

// env is MNotify behind an HTTPS test server, with systems "portal"
// (cabinet, API key), "asp" (API key) and "auditor" (TLS client
// certificate), and a client for each plus an anonymous one.
type env struct {
	st     *store.Store
	svc    *Service
	host   *service.Host
	srv    *httptest.Server
	portal *client.Client
	asp    *client.Client
	mtls   *client.Client
	anon   *client.Client
}

// fastJobs retry soon and poll often.
var fastJobs = jobs.Options{PollInterval: 50 * time.Millisecond, Backoff: func(int) time.Duration { return 300 * time.Millisecond }}

func sqliteDSN(t testing.TB) string { return filepath.Join(t.TempDir(), "semnat.db") }

func openStore(t testing.TB, dsn string) *store.Store {
	t.Helper()
	st, err := store.Open(dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newEnv(t testing.TB, dsn string, relay *SMTP) *env {
	t.Helper()
	st := openStore(t, dsn)
	svc, err := New(Config{Store: st, SMTP: relay, Jobs: fastJobs})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, svc: svc}
	t.Cleanup(func() { e.close(t) })
	e.host = service.NewHost(service.HostOptions{Ready: st})
	e.host.Mount(svc)
	e.srv = httptest.NewUnstartedServer(e.host)
	e.srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	cert := selfSigned(t)
	ctx := context.Background()
	for _, n := range []NewSystem{{Name: "portal", APIKey: []byte(portalKey), Cabinet: true}, {Name: "asp", APIKey: []byte(aspKey)},
		{Name: "auditor", Cert: cert.Leaf}} {
		if err := AddSystem(ctx, st, "test", n); err != nil && !strings.Contains(err.Error(), "exists") {
			t.Fatal(err)
		}
	}
	mk := func(key string, cert *tls.Certificate) *client.Client {
		tr := e.srv.Client().Transport.(*http.Transport).Clone()
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
		c, err := client.New(e.srv.URL, client.Options{HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}, APIKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	e.portal, e.asp, e.mtls, e.anon = mk(portalKey, nil), mk(aspKey, nil), mk("", cert), mk("", nil)
	return e
}

// close stops the service and closes the store (once).
func (e *env) close(t testing.TB) {
	if e.svc == nil {
		return
	}
	if err := e.svc.Close(); err != nil {
		t.Error(err)
	}
	e.st.Close()
	e.svc = nil
}

func selfSigned(t testing.TB) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "auditor.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// waitFor polls the notification until ok says it is there (20 s).
func waitFor(t testing.TB, c *client.Client, id string, what string, ok func(n *client.Notification) bool) *client.Notification {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := c.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(n) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("notification %s: not %s after 20s: %+v", id, what, n.Recipients)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// emailStatus is the status of the e-mail delivery of recipient value.
func emailStatus(n *client.Notification, value string) (client.ChannelStatus, bool) {
	for _, r := range n.Recipients {
		if r.Value != value {
			continue
		}
		for _, ch := range r.Channels {
			if ch.Channel == client.ChannelEmail {
				return ch, true
			}
		}
	}
	return client.ChannelStatus{}, false
}

// freePort is a loopback address nothing listens on (yet).
var freePort = aiosmtpdtest.FreeAddr

// startAiosmtpd runs Debian's aiosmtpd, an SMTP server independent of
// this code, on addr (stopped when the test ends).
func startAiosmtpd(t testing.TB, addr, dir string) *aiosmtpdtest.Server {
	t.Helper()
	return aiosmtpdtest.Start(t, addr, dir)
}

// received is a message as the independent server stored it.
type received = aiosmtpdtest.Message

// relayAt is the relay settings of a loopback server without TLS.
func relayAt(addr string) *SMTP {
	return &SMTP{Addr: addr, From: "notificari@mnotify.test", TLS: TLSNone, Timeout: 5 * time.Second}
}

func eachBackend(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, sqliteDSN(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, testtool.PostgresSchema(t)) })
}

func mustSend(t testing.TB, c *client.Client, req client.NotificationRequest) string {
	t.Helper()
	id, err := c.Send(context.Background(), req, "")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func simple(subject, body string, to ...client.Recipient) client.NotificationRequest {
	return client.NotificationRequest{Subject: client.Texts{Ro: subject}, Body: client.Texts{Ro: body}, Recipients: to}
}

func email(addr string) client.Recipient {
	return client.Recipient{Value: addr, Type: client.RecipientEmail}
}
func person(idnp string) client.Recipient {
	return client.Recipient{Value: idnp, Type: client.RecipientIdnp}
}

var _ = fmt.Sprint
