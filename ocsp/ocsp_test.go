package ocsp

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/testcerts"
)

// requireTool returns the path of an external oracle. Outside CI a missing
// tool skips the test; in CI (CI=true) it fails it.
func requireTool(t testing.TB, name string) string { t.Helper(); return testtool.Require(t, name) }

type fixture struct {
	pki  *testcerts.PKI
	reg  *crl.Registry
	resp *Responder
	url  string
}

func newFixture(t *testing.T, opts ResponderOptions) *fixture {
	t.Helper()
	p := testcerts.New(t)
	reg, err := crl.RegistryFromPKI(p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ResponderFromPKI(p, reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ocsp", http.StripPrefix("/ocsp", r))
	mux.Handle("/ocsp/", http.StripPrefix("/ocsp", r))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{pki: p, reg: reg, resp: r, url: srv.URL + "/ocsp"}
}

func TestClientAgainstResponder(t *testing.T) {
	f := newFixture(t, ResponderOptions{})
	ctx := context.Background()
	cases := []struct {
		name   string
		client Client
		want   crl.State
		reason int
		signer string
	}{
		{"person-rsa2048", Client{}, crl.Good, 0, "ocsp-token"},
		{"person-p384", Client{Hash: crypto.SHA256}, crl.Good, 0, "ocsp-token"},
		{"revoked", Client{}, crl.Revoked, testcerts.ReasonKeyCompromise, "ocsp-token"},
		{"mobile-p256", Client{UseGET: true}, crl.Good, 0, "ocsp-mobile"},
		{"token-ca", Client{Hash: crypto.SHA384, RequireNonce: true}, crl.Good, 0, "ocsp-root"},
		{"untrusted", Client{NoNonce: true, UseGET: true}, crl.Good, 0, "untrusted-root"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := f.pki.MustGet(tc.name)
			res, err := tc.client.CheckURL(ctx, f.url, e.Cert, e.Issuer.Cert)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status.State != tc.want || res.Status.Reason != tc.reason {
				t.Fatalf("status %+v, want %v reason %d", res.Status, tc.want, tc.reason)
			}
			if tc.want == crl.Revoked {
				rv, _ := f.pki.IsRevoked(e)
				if !res.Status.RevokedAt.Equal(rv.Time) {
					t.Errorf("revoked at %v, want %v", res.Status.RevokedAt, rv.Time)
				}
			}
			if !res.Responder.Equal(f.pki.MustGet(tc.signer).Cert) {
				t.Errorf("signed by %q, want %s", res.Responder.Subject, tc.signer)
			}
			if !res.NextUpdate.After(res.ThisUpdate) {
				t.Errorf("nextUpdate %v not after thisUpdate %v", res.NextUpdate, res.ThisUpdate)
			}
		})
	}
}

func TestRuntimeRevocationAndUnknown(t *testing.T) {
	f := newFixture(t, ResponderOptions{})
	ctx := context.Background()
	e := f.pki.MustGet("person-p256")
	var c Client
	res, err := c.CheckURL(ctx, f.url, e.Cert, e.Issuer.Cert)
	if err != nil || res.Status.State != crl.Good {
		t.Fatalf("before revocation: %v %v", res, err)
	}
	at := time.Now().Add(-time.Minute)
	if err := f.reg.Revoke(e.Issuer.Cert, e.Cert.SerialNumber, at, testcerts.ReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	res, err = c.CheckURL(ctx, f.url, e.Cert, e.Issuer.Cert)
	if err != nil || res.Status.State != crl.Revoked || res.Status.Reason != testcerts.ReasonSuperseded {
		t.Fatalf("after revocation: %+v %v", res, err)
	}
	// A serial the token CA never issued is unknown.
	fake := *e.Cert
	fake.SerialNumber = big.NewInt(424242)
	res, err = c.CheckURL(ctx, f.url, &fake, e.Issuer.Cert)
	if err != nil || res.Status.State != crl.Unknown {
		t.Fatalf("never issued: %+v %v", res, err)
	}
}

func TestResponderErrorStatuses(t *testing.T) {
	f := newFixture(t, ResponderOptions{MaxCertIDs: 2})
	ctx := context.Background()
	p := f.pki
	id := func(name string) CertID {
		e := p.MustGet(name)
		id, err := NewCertID(crypto.SHA1, e.Issuer.Cert, e.Cert.SerialNumber)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// A CA no authority answers for: the person's certificate named as issuer.
	stranger, err := NewCertID(crypto.SHA1, p.MustGet("person-rsa2048").Cert, big.NewInt(1))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		der  func() []byte
		want ResponseStatus
	}{
		{"garbage", func() []byte { return []byte("not an OCSP request") }, MalformedRequest},
		{"empty", func() []byte { return nil }, MalformedRequest},
		{"unknown issuer", func() []byte { return mustMarshal(t, &Request{CertIDs: []CertID{stranger}}) }, Unauthorized},
		{"mixed CAs", func() []byte {
			return mustMarshal(t, &Request{CertIDs: []CertID{id("person-p256"), id("mobile-p256")}})
		}, Unauthorized},
		{"too many", func() []byte {
			return mustMarshal(t, &Request{CertIDs: []CertID{id("person-p256"), id("seal"), id("employee")}})
		}, MalformedRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := f.resp.Respond(ctx, tc.der())
			r, err := ParseResponse(out)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tc.want {
				t.Fatalf("status %v, want %v", r.Status, tc.want)
			}
			_, err = r.Verify(p.TokenCA.Cert, VerifyOptions{})
			var se *StatusError
			if !errors.As(err, &se) || !errors.Is(err, ErrResponseStatus) {
				t.Fatalf("Verify of an error response: %v", err)
			}
		})
	}
	// Two certificates of one CA in one request, nonce echoed.
	nonce := []byte("0123456789abcdef")
	out, err := f.resp.Respond(ctx, mustMarshal(t, &Request{CertIDs: []CertID{id("person-p256"), id("revoked")}, Nonce: nonce}))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseResponse(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Responses) != 2 || r.Responses[0].Status.State != crl.Good || r.Responses[1].Status.State != crl.Revoked {
		t.Fatalf("responses %+v", r.Responses)
	}
	if !bytes.Equal(r.Nonce, nonce) {
		t.Fatalf("nonce %x", r.Nonce)
	}
	if _, err := r.Verify(p.TokenCA.Cert, VerifyOptions{Nonce: []byte("another nonce...")}); !errors.Is(err, ErrNonceMismatch) {
		t.Fatalf("wrong nonce: %v", err)
	}
	// A nonce over 32 bytes is refused (RFC 8954), when sending and when answering.
	if _, err := (&Request{CertIDs: []CertID{id("seal")}, Nonce: make([]byte, 33)}).Marshal(); err == nil {
		t.Fatal("Marshal accepted a 33-byte nonce")
	}
	long := longNonceRequest(t, id("seal"), 33)
	if _, err := ParseRequest(longNonceRequest(t, id("seal"), 32)); err != nil {
		t.Fatalf("32-byte nonce refused: %v", err)
	}
	if _, err := ParseRequest(long); err == nil {
		t.Fatal("ParseRequest accepted a request with a 33-byte nonce")
	}
	out, _ = f.resp.Respond(ctx, long)
	if r, err := ParseResponse(out); err != nil || r.Status != MalformedRequest {
		t.Fatalf("33-byte nonce: %v %v", r, err)
	}
}

func mustMarshal(t *testing.T, r *Request) []byte {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyRejects(t *testing.T) {
	p := testcerts.New(t)
	person := p.MustGet("person-rsa2048")
	id, err := NewCertID(crypto.SHA1, p.TokenCA.Cert, person.Cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := ResponseTemplate{ProducedAt: now, Responses: []SingleResponse{{CertID: id, Status: crl.Status{State: crl.Good}, ThisUpdate: now, NextUpdate: now.Add(time.Hour)}}}
	sign := func(t *testing.T, tmpl ResponseTemplate, signer *testcerts.Entity) *Response {
		t.Helper()
		der, err := CreateResponse(tmpl, signer.Cert, signer.Key)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseResponse(der)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	t.Run("ca signs itself", func(t *testing.T) {
		r := sign(t, tmpl, p.TokenCA)
		if _, _, err := r.CertStatus(person.Cert, p.TokenCA.Cert, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("by name", func(t *testing.T) {
		tm := tmpl
		tm.ByName, tm.Certificates = true, []*x509.Certificate{p.MustGet("ocsp-token").Cert}
		r := sign(t, tm, p.MustGet("ocsp-token"))
		if r.ResponderName == nil {
			t.Fatal("no responder name")
		}
		if _, _, err := r.CertStatus(person.Cert, p.TokenCA.Cert, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("responder of another CA", func(t *testing.T) {
		tm := tmpl
		tm.Certificates = []*x509.Certificate{p.MustGet("ocsp-mobile").Cert}
		r := sign(t, tm, p.MustGet("ocsp-mobile"))
		if _, err := r.Verify(p.TokenCA.Cert, VerifyOptions{}); !errors.Is(err, ErrUnauthorizedResponder) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("signer without OCSPSigning", func(t *testing.T) {
		tm := tmpl
		tm.Certificates = []*x509.Certificate{p.MustGet("tsa").Cert}
		r := sign(t, tm, p.MustGet("tsa"))
		if _, err := r.Verify(p.TokenCA.Cert, VerifyOptions{}); !errors.Is(err, ErrUnauthorizedResponder) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("responder certificate not sent", func(t *testing.T) {
		r := sign(t, tmpl, p.MustGet("ocsp-token"))
		if _, err := r.Verify(p.TokenCA.Cert, VerifyOptions{}); !errors.Is(err, ErrUnauthorizedResponder) {
			t.Fatalf("got %v", err)
		}
		// ... unless it is locally trusted.
		if _, err := r.Verify(p.TokenCA.Cert, VerifyOptions{TrustedResponders: []*x509.Certificate{p.MustGet("ocsp-token").Cert}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("tampered", func(t *testing.T) {
		tm := tmpl
		tm.Certificates = []*x509.Certificate{p.MustGet("ocsp-token").Cert}
		der, err := CreateResponse(tm, p.MustGet("ocsp-token").Cert, p.MustGet("ocsp-token").Key)
		if err != nil {
			t.Fatal(err)
		}
		r0, _ := ParseResponse(der)
		// Flip a bit of the serial number inside the signed data.
		ser := person.Cert.SerialNumber.Bytes()
		i := bytes.Index(der, ser)
		if i < 0 || bytes.Index(r0.TBSResponseData, ser) < 0 {
			t.Fatal("serial not found")
		}
		bad := append([]byte(nil), der...)
		bad[i+len(ser)-1] ^= 1
		r, err := ParseResponse(bad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Verify(p.TokenCA.Cert, VerifyOptions{}); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("stale and future", func(t *testing.T) {
		r := sign(t, tmpl, p.TokenCA)
		if _, _, err := r.CertStatus(person.Cert, p.TokenCA.Cert, VerifyOptions{Now: now.Add(3 * time.Hour)}); !errors.Is(err, ErrStale) {
			t.Fatalf("stale: %v", err)
		}
		if _, _, err := r.CertStatus(person.Cert, p.TokenCA.Cert, VerifyOptions{Now: now.Add(3 * time.Hour), AllowStale: true}); err != nil {
			t.Fatalf("AllowStale: %v", err)
		}
		if _, _, err := r.CertStatus(person.Cert, p.TokenCA.Cert, VerifyOptions{Now: now.Add(-time.Hour)}); !errors.Is(err, ErrStale) {
			t.Fatalf("future: %v", err)
		}
	})
	t.Run("other certificate", func(t *testing.T) {
		r := sign(t, tmpl, p.TokenCA)
		if _, _, err := r.CertStatus(p.MustGet("seal").Cert, p.TokenCA.Cert, VerifyOptions{}); !errors.Is(err, ErrNoMatchingResponse) {
			t.Fatalf("got %v", err)
		}
	})
}

// writePEM writes certificates (and optionally a key) to dir/name.pem.
func writePEM(t *testing.T, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	path := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(path, testcerts.PEM(certs...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeKey(t *testing.T, dir, name string, key crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".key")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOpenSSLClientOracle: openssl ocsp queries our responder and verifies
// the answer against the root.
func TestOpenSSLClientOracle(t *testing.T) {
	openssl := requireTool(t, "openssl")
	f := newFixture(t, ResponderOptions{})
	dir := t.TempDir()
	p := f.pki
	roots := writePEM(t, dir, "root", p.Root.Cert)
	cases := []struct {
		name, want string
		args       []string
	}{
		{"person-rsa3072", ": good", nil},
		{"revoked", ": revoked", nil},
		{"mobile-rsa2048", ": good", []string{"-sha256"}},
		{"seal", ": good", []string{"-no_nonce"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := p.MustGet(tc.name)
			args := append([]string{"ocsp"}, tc.args...)
			args = append(args, "-issuer", writePEM(t, dir, tc.name+"-issuer", e.Issuer.Cert),
				"-cert", writePEM(t, dir, tc.name, e.Cert), "-url", f.url, "-CAfile", roots, "-verify_other", writePEM(t, dir, "chain", p.TokenCA.Cert, p.MobileCA.Cert))
			out, err := exec.Command(openssl, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("openssl: %v\n%s", err, out)
			}
			if !bytes.Contains(out, []byte("Response verify OK")) || !bytes.Contains(out, []byte(tc.want)) {
				t.Fatalf("openssl output:\n%s", out)
			}
			if tc.name == "revoked" && !bytes.Contains(out, []byte("keyCompromise")) {
				t.Fatalf("no reason in:\n%s", out)
			}
		})
	}
}

// TestOpenSSLResponderOracle: our client asks `openssl ocsp` acting as the
// responder (index file, delegated signer) and must read and verify it.
func TestOpenSSLResponderOracle(t *testing.T) {
	openssl := requireTool(t, "openssl")
	p := testcerts.New(t)
	dir := t.TempDir()
	signer := p.MustGet("ocsp-token")
	good, revoked := p.MustGet("person-p256"), p.MustGet("revoked")
	rv, _ := p.IsRevoked(revoked)
	exp := func(c *x509.Certificate) string { return c.NotAfter.UTC().Format("060102150405Z") }
	index := "V\t" + exp(good.Cert) + "\t\t" + hexSerial(good.Cert.SerialNumber) + "\tunknown\t/CN=good\n" +
		"R\t" + exp(revoked.Cert) + "\t" + rv.Time.UTC().Format("060102150405Z") + ",keyCompromise\t" + hexSerial(revoked.Cert.SerialNumber) + "\tunknown\t/CN=revoked\n"
	if err := os.WriteFile(filepath.Join(dir, "index.txt"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	// -port 0: openssl binds a port of its choosing and says which on
	// stdout ("ACCEPT [::]:PORT PID=N") once it listens: no free port to
	// guess and rebind, no polling until it is up.
	cmd := exec.Command(openssl, "ocsp", "-index", filepath.Join(dir, "index.txt"), "-port", "0",
		"-rsigner", writePEM(t, dir, "signer", signer.Cert), "-rkey", writeKey(t, dir, "signer", signer.Key),
		"-CA", writePEM(t, dir, "ca", p.TokenCA.Cert), "-nmin", "10", "-ignore_err")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	accept, ok := strings.CutPrefix(line, "ACCEPT ")
	i := strings.LastIndex(accept, ":")
	if err != nil || !ok || i < 0 {
		t.Fatalf("openssl ocsp -port 0 did not say where it listens: %q %v\n%s", line, err, stderr.String())
	}
	port, _, _ := strings.Cut(accept[i+1:], " ")
	url := "http://127.0.0.1:" + port
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := Client{HTTPClient: &http.Client{Timeout: 5 * time.Second}, RequireNonce: true}
	res, err := c.CheckURL(ctx, url, good.Cert, p.TokenCA.Cert)
	if err != nil {
		t.Fatalf("%v\nopenssl: %s", err, stderr.String())
	}
	if res.Status.State != crl.Good || !res.Responder.Equal(signer.Cert) {
		t.Fatalf("good: %+v", res.Status)
	}
	res, err = c.CheckURL(ctx, url, revoked.Cert, p.TokenCA.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status.State != crl.Revoked || res.Status.Reason != testcerts.ReasonKeyCompromise || !res.Status.RevokedAt.Equal(rv.Time) {
		t.Fatalf("revoked: %+v", res.Status)
	}
}

// longNonceRequest encodes a request whose nonce has n bytes, bypassing the
// checks of Request.Marshal.
func longNonceRequest(t *testing.T, id CertID, n int) []byte {
	t.Helper()
	c, err := id.asn1()
	if err != nil {
		t.Fatal(err)
	}
	ext, err := nonceExtension(bytes.Repeat([]byte{'n'}, n))
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(ocspRequestASN1{TBSRequest: tbsRequestASN1{RequestList: []requestASN1{{Cert: c}}, Extensions: []pkix.Extension{ext}}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestResponseCache(t *testing.T) {
	f := newFixture(t, ResponderOptions{})
	ctx := context.Background()
	e := f.pki.MustGet("employee")
	id, err := NewCertID(crypto.SHA1, e.Issuer.Cert, e.Cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	plain := mustMarshal(t, &Request{CertIDs: []CertID{id}})
	a, _ := f.resp.Respond(ctx, plain)
	b, _ := f.resp.Respond(ctx, plain)
	if !bytes.Equal(a, b) {
		t.Fatal("nonce-less answer not served from the cache")
	}
	withNonce := mustMarshal(t, &Request{CertIDs: []CertID{id}, Nonce: []byte("n1")})
	c, _ := f.resp.Respond(ctx, withNonce)
	d, _ := f.resp.Respond(ctx, withNonce)
	if bytes.Equal(c, d) {
		t.Fatal("answer to a request with a nonce was cached (ECDSA signatures differ each time)")
	}
	// A revocation empties the cache: the next answer says revoked.
	if err := f.reg.Revoke(e.Issuer.Cert, e.Cert.SerialNumber, time.Now(), testcerts.ReasonPrivilegeWithdrawn); err != nil {
		t.Fatal(err)
	}
	out, _ := f.resp.Respond(ctx, plain)
	r, err := ParseResponse(out)
	if err != nil {
		t.Fatal(err)
	}
	single, _, err := r.CertStatus(e.Cert, e.Issuer.Cert, VerifyOptions{})
	if err != nil || single.Status.State != crl.Revoked || single.Status.Reason != testcerts.ReasonPrivilegeWithdrawn {
		t.Fatalf("after revocation: %+v %v", single, err)
	}
	// GET answers without nonce are cacheable by HTTP caches too.
	resp, err := http.Get(f.url + "/" + base64URL(plain))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cc := resp.Header.Get("Cache-Control"); !bytes.Contains([]byte(cc), []byte("max-age=")) || resp.Header.Get("Content-Type") != "application/ocsp-response" {
		t.Fatalf("GET headers: %v", resp.Header)
	}
}

func TestCheckFailsOver(t *testing.T) {
	f := newFixture(t, ResponderOptions{})
	e := f.pki.MustGet("person-rsa4096")
	c := *e.Cert
	c.OCSPServer = []string{"ldap://example/ocsp", "http://127.0.0.1:1/ocsp", f.url}
	res, err := (&Client{}).Check(context.Background(), &c, e.Issuer.Cert)
	if err != nil || res.URL != f.url || res.Status.State != crl.Good {
		t.Fatalf("%+v %v", res, err)
	}
	c.OCSPServer = []string{"http://127.0.0.1:1/ocsp"}
	if _, err := (&Client{}).Check(context.Background(), &c, e.Issuer.Cert); !errors.Is(err, ErrTransport) {
		t.Fatalf("unreachable: %v", err)
	}
	c.OCSPServer = nil
	if _, err := (&Client{}).Check(context.Background(), &c, e.Issuer.Cert); !errors.Is(err, ErrNoResponderURL) {
		t.Fatalf("no URL: %v", err)
	}
}
