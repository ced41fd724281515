package agent_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/semnat/semnat/agent"
	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/pkcs11"
	"github.com/semnat/semnat/pkcs11/softhsmtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Cleanup()
	os.Exit(code)
}

const page = "http://127.0.0.1:8480"

// consentRecorder is a Consent hook that records its prompts and answers
// with a PIN (or an error).
type consentRecorder struct {
	mu      sync.Mutex
	prompts []agent.Prompt
	pins    [][]byte
	answer  func(p agent.Prompt) ([]byte, error)
}

func (c *consentRecorder) consent(_ context.Context, p agent.Prompt) ([]byte, error) {
	c.mu.Lock()
	c.prompts = append(c.prompts, p)
	answer := c.answer
	c.mu.Unlock()
	pin, err := answer(p)
	c.mu.Lock()
	c.pins = append(c.pins, pin)
	c.mu.Unlock()
	return pin, err
}

func (c *consentRecorder) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.prompts)
}

type fixture struct {
	tok *softhsmtest.Token
	srv *httptest.Server
	con *consentRecorder
}

func newFixture(t *testing.T, entities ...string) *fixture {
	t.Helper()
	tok := softhsmtest.New(t, entities...)
	con := &consentRecorder{answer: func(agent.Prompt) ([]byte, error) { return []byte(tok.PIN), nil }}
	a, err := agent.New(agent.Options{Module: tok.Module, Token: tok.Selector(), Origins: []string{page, "https://msign.example:443"},
		Consent: con.consent, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &fixture{tok: tok, srv: srv, con: con}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) problem(t *testing.T) wire.Problem {
	t.Helper()
	var p wire.Problem
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("content type %q for status %d", ct, r.status)
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem: %v: %s", err, r.body)
	}
	if p.Status != r.status {
		t.Errorf("problem status %d, HTTP %d", p.Status, r.status)
	}
	return p
}

// do sends a request; origin "" sends none; hdr adds headers ("Host" sets
// the Host header).
func (f *fixture) do(t *testing.T, method, path, origin string, body any, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, data}
}

func (f *fixture) certificates(t *testing.T) []wire.Certificate {
	t.Helper()
	r := f.do(t, "GET", "/v1/certificates", page, nil)
	if r.status != 200 {
		t.Fatalf("certificates: %d %s", r.status, r.body)
	}
	var certs []wire.Certificate
	if err := json.Unmarshal(r.body, &certs); err != nil {
		t.Fatal(err)
	}
	return certs
}

func (f *fixture) certID(t *testing.T, entity string) string {
	t.Helper()
	id, ok := f.tok.Keys[entity]
	if !ok {
		t.Fatalf("no entity %s on the token", entity)
	}
	return id.String()
}

func TestInfoAndCertificates(t *testing.T) {
	f := newFixture(t, "person-rsa2048", "person-p256")
	r := f.do(t, "GET", "/v1/info", page, nil)
	var info wire.Info
	if r.status != 200 || json.Unmarshal(r.body, &info) != nil {
		t.Fatalf("info: %d %s", r.status, r.body)
	}
	if info.Name != "semnat-agent" || info.Protocol != wire.Protocol || info.Version != "test" || info.Token != f.tok.Label {
		t.Errorf("info %+v", info)
	}
	if got := r.header.Get("Access-Control-Allow-Origin"); got != page {
		t.Errorf("Access-Control-Allow-Origin %q", got)
	}
	if !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
		t.Errorf("Vary %q", r.header.Values("Vary"))
	}
	// The allow-list entry https://msign.example:443 is the origin
	// https://msign.example.
	if r := f.do(t, "GET", "/v1/info", "https://msign.example", nil); r.status != 200 {
		t.Errorf("canonical origin refused: %d %s", r.status, r.body)
	}

	certs := f.certificates(t)
	if len(certs) != 2 {
		t.Fatalf("want the 2 signing certificates (no CA), got %d: %+v", len(certs), certs)
	}
	byID := map[string]wire.Certificate{}
	for _, c := range certs {
		byID[c.ID] = c
		cert, err := x509.ParseCertificate(c.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		if cert.Subject.String() != c.Subject || cert.Issuer.String() != c.Issuer || cert.IsCA {
			t.Errorf("certificate %s: %+v", c.ID, c)
		}
		if len(c.Chain) == 0 {
			t.Errorf("certificate %s: no chain from the token's CA certificates", c.ID)
		} else if ca, err := x509.ParseCertificate(c.Chain[0]); err != nil || cert.CheckSignatureFrom(ca) != nil {
			t.Errorf("certificate %s: chain[0] is not its issuer: %v", c.ID, err)
		}
	}
	for _, e := range []string{"person-rsa2048", "person-p256"} {
		c, ok := byID[f.certID(t, e)]
		if !ok || c.Label != e {
			t.Errorf("%s not listed under its CKA_ID: %+v", e, certs)
		}
	}
	if f.con.count() != 0 {
		t.Error("listing asked for consent")
	}
}

func TestSign(t *testing.T) {
	f := newFixture(t, "person-rsa2048", "person-p256", "person-p384")
	for _, tc := range []struct {
		entity, hash, scheme string
	}{
		{"person-rsa2048", "SHA-256", ""},
		{"person-rsa2048", "SHA-256", "pss"},
		{"person-p256", "SHA-256", ""},
		{"person-p384", "SHA-512", ""},
	} {
		t.Run(tc.entity+"-"+tc.hash+"-"+tc.scheme, func(t *testing.T) {
			h, _ := wire.HashByName(tc.hash)
			var digest []byte
			if h == crypto.SHA512 {
				d := sha512.Sum512([]byte("document " + tc.entity))
				digest = d[:]
			} else {
				d := sha256.Sum256([]byte("document " + tc.entity))
				digest = d[:]
			}
			before := f.con.count()
			req := wire.SignRequest{CertificateID: f.certID(t, tc.entity), Hash: tc.hash, Scheme: tc.scheme,
				Digest: digest, Nonce: "n-" + tc.entity, Document: "contract " + tc.entity + ".pdf"}
			r := f.do(t, "POST", "/v1/sign", page, req)
			if r.status != 200 {
				t.Fatalf("sign: %d %s", r.status, r.body)
			}
			if r.header.Get("Access-Control-Allow-Origin") != page {
				t.Errorf("no CORS header on the answer")
			}
			var resp wire.SignResponse
			if err := json.Unmarshal(r.body, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Origin != page {
				t.Errorf("bound to %q", resp.Origin)
			}
			var cert *x509.Certificate
			for _, c := range f.certificates(t) {
				if c.ID == req.CertificateID {
					cert, _ = x509.ParseCertificate(c.Certificate)
				}
			}
			if cert == nil {
				t.Fatal("certificate not listed")
			}
			switch pub := cert.PublicKey.(type) {
			case *rsa.PublicKey:
				var err error
				if tc.scheme == "pss" {
					err = rsa.VerifyPSS(pub, h, digest, resp.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: h})
				} else {
					err = rsa.VerifyPKCS1v15(pub, h, digest, resp.Signature)
				}
				if err != nil {
					t.Errorf("RSA signature does not verify: %v", err)
				}
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, digest, resp.Signature) {
					t.Error("ECDSA signature does not verify")
				}
			default:
				t.Fatalf("key %T", pub)
			}
			if err := wire.VerifyBinding(cert.PublicKey, h, tc.scheme, page, req.Nonce, digest, resp.Binding); err != nil {
				t.Errorf("binding: %v", err)
			}
			// Another origin or nonce: the binding is useless.
			if err := wire.VerifyBinding(cert.PublicKey, h, tc.scheme, "https://msign.example", req.Nonce, digest, resp.Binding); !errors.Is(err, wire.ErrBinding) {
				t.Errorf("binding verifies for another origin: %v", err)
			}
			if err := wire.VerifyBinding(cert.PublicKey, h, tc.scheme, page, "other", digest, resp.Binding); !errors.Is(err, wire.ErrBinding) {
				t.Errorf("binding verifies for another nonce: %v", err)
			}
			// The person saw what is signed, for whom, with what.
			f.con.mu.Lock()
			defer f.con.mu.Unlock()
			if len(f.con.prompts) != before+1 {
				t.Fatalf("%d consent prompts for one signature", len(f.con.prompts)-before)
			}
			p := f.con.prompts[before]
			if p.Origin != page || p.Document != req.Document || p.Digest != hex.EncodeToString(digest) || p.Hash != tc.hash ||
				p.Subject != cert.Subject.String() || p.CertificateID != req.CertificateID || p.Token.Label != f.tok.Label ||
				p.Certificate == nil || !bytes.Equal(p.Certificate.Raw, cert.Raw) {
				t.Errorf("prompt %+v", p)
			}
			if pin := f.con.pins[before]; !bytes.Equal(pin, make([]byte, len(pin))) {
				t.Error("the PIN was not zeroed after use")
			}
		})
	}
}

func TestOriginNotAllowed(t *testing.T) {
	f := newFixture(t, "person-p256")
	d := sha256.Sum256([]byte("x"))
	req := wire.SignRequest{CertificateID: f.certID(t, "person-p256"), Hash: "SHA-256", Digest: d[:], Nonce: "n", Document: "a.pdf"}
	for _, origin := range []string{"", "http://evil.example", "null", "http://127.0.0.1:8481", "https://127.0.0.1:8480",
		"http://127.0.0.1:8480/", "http://localhost:8480", "https://msign.example.evil.example"} {
		for _, path := range []string{"/v1/sign", "/v1/certificates", "/v1/info"} {
			method := "GET"
			var body any
			if path == "/v1/sign" {
				method, body = "POST", req
			}
			r := f.do(t, method, path, origin, body)
			if r.status != http.StatusForbidden || r.problem(t).Type != wire.ProblemOriginNotAllowed {
				t.Errorf("%s %s from %q: %d %s", method, path, origin, r.status, r.body)
			}
			if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("%s from %q: Access-Control-Allow-Origin %q", path, origin, got)
			}
		}
		// Its preflight fails too.
		r := f.do(t, "OPTIONS", "/v1/sign", origin, nil, "Access-Control-Request-Method", "POST", "Access-Control-Request-Private-Network", "true")
		if r.status != http.StatusForbidden || r.header.Get("Access-Control-Allow-Private-Network") != "" || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %q: %d %v", origin, r.status, r.header)
		}
	}
	if n := f.con.count(); n != 0 {
		t.Errorf("consent asked %d times for origins not allowed", n)
	}
}

func TestPreflight(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "OPTIONS", "/v1/sign", page, nil, "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type", "Access-Control-Request-Private-Network", "true")
	if r.status != http.StatusNoContent {
		t.Fatalf("preflight: %d %s", r.status, r.body)
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":          page,
		"Access-Control-Allow-Methods":         "POST",
		"Access-Control-Allow-Headers":         "Content-Type",
		"Access-Control-Allow-Private-Network": "true",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if r.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("credentials allowed")
	}
	// Without the PNA request header, no PNA answer.
	r = f.do(t, "OPTIONS", "/v1/certificates", page, nil, "Access-Control-Request-Method", "GET")
	if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Private-Network") != "" ||
		r.header.Get("Access-Control-Allow-Methods") != "GET" {
		t.Errorf("preflight without PNA: %d %v", r.status, r.header)
	}
}

func TestHostCheck(t *testing.T) {
	f := newFixture(t, "person-p256")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(f.srv.URL, "http://"))
	d := sha256.Sum256([]byte("x"))
	req := wire.SignRequest{CertificateID: f.certID(t, "person-p256"), Hash: "SHA-256", Digest: d[:], Nonce: "n", Document: "a.pdf"}
	for _, host := range []string{"evil.example:" + port, "evil.example", "127.0.0.1:1", "127.0.0.2:" + port, "localhost.evil.example:" + port, "[::2]:" + port} {
		r := f.do(t, "POST", "/v1/sign", page, req, "Host", host)
		if r.status != http.StatusMisdirectedRequest || r.problem(t).Type != wire.ProblemBadHost {
			t.Errorf("Host %s: %d %s", host, r.status, r.body)
		}
		if r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("Host %s: CORS headers", host)
		}
	}
	if f.con.count() != 0 {
		t.Error("consent asked for a bad Host")
	}
	for _, host := range []string{"localhost:" + port, "LOCALHOST:" + port, "[::1]:" + port} {
		if r := f.do(t, "GET", "/v1/info", page, nil, "Host", host); r.status != 200 {
			t.Errorf("Host %s refused: %d %s", host, r.status, r.body)
		}
	}
}

func TestRefusedAndWrongPIN(t *testing.T) {
	f := newFixture(t, "person-rsa2048")
	d := sha256.Sum256([]byte("x"))
	req := wire.SignRequest{CertificateID: f.certID(t, "person-rsa2048"), Hash: "SHA-256", Digest: d[:], Nonce: "n", Document: "a.pdf"}

	f.con.answer = func(agent.Prompt) ([]byte, error) { return nil, fmt.Errorf("person said no: %w", agent.ErrRefused) }
	r := f.do(t, "POST", "/v1/sign", page, req)
	if r.status != http.StatusForbidden || r.problem(t).Type != wire.ProblemRefused {
		t.Errorf("refused: %d %s", r.status, r.body)
	}

	f.con.answer = func(agent.Prompt) ([]byte, error) { return nil, errors.New("no terminal") }
	r = f.do(t, "POST", "/v1/sign", page, req)
	if r.status != http.StatusServiceUnavailable || r.problem(t).Type != wire.ProblemConsent {
		t.Errorf("consent failure: %d %s", r.status, r.body)
	}

	f.con.answer = func(agent.Prompt) ([]byte, error) { return []byte("9999"), nil }
	r = f.do(t, "POST", "/v1/sign", page, req)
	if r.status != http.StatusForbidden || r.problem(t).Type != wire.ProblemPINIncorrect {
		t.Errorf("wrong PIN: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "9999") {
		t.Error("the PIN is in the answer")
	}

	f.con.answer = func(agent.Prompt) ([]byte, error) { return []byte(""), nil }
	r = f.do(t, "POST", "/v1/sign", page, req)
	if r.status != http.StatusUnprocessableEntity || r.problem(t).Type != wire.ProblemPINLength {
		t.Errorf("empty PIN: %d %s", r.status, r.body)
	}

	// The right PIN afterwards: the wrong one was not kept, nor a login.
	f.con.answer = func(agent.Prompt) ([]byte, error) { return []byte(f.tok.PIN), nil }
	if r = f.do(t, "POST", "/v1/sign", page, req); r.status != 200 {
		t.Fatalf("right PIN: %d %s", r.status, r.body)
	}
	// No login is kept between requests: a wrong PIN fails again.
	f.con.answer = func(agent.Prompt) ([]byte, error) { return []byte("8888"), nil }
	if r = f.do(t, "POST", "/v1/sign", page, req); r.status != http.StatusForbidden {
		t.Errorf("wrong PIN after a signature: %d %s", r.status, r.body)
	}
	if n := f.con.count(); n != 6 {
		t.Errorf("%d consent prompts for 6 requests", n)
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t, "person-p256", "person-rsa2048")
	ec := f.certID(t, "person-p256")
	d := sha256.Sum256([]byte("x"))
	good := wire.SignRequest{CertificateID: ec, Hash: "SHA-256", Digest: d[:], Nonce: "n", Document: "a.pdf"}
	with := func(mod func(*wire.SignRequest)) wire.SignRequest { r := good; mod(&r); return r }
	for _, c := range []struct {
		name   string
		body   any
		hdr    []string
		status int
		typ    string
	}{
		{"not json", "{", nil, 400, wire.ProblemBadRequest},
		{"unknown field", `{"certificateId":"` + ec + `","hash":"SHA-256","digest":"` + b64(d[:]) + `","nonce":"n","document":"a","extra":1}`, nil, 400, wire.ProblemBadRequest},
		{"two values", `{"certificateId":"` + ec + `","hash":"SHA-256","digest":"` + b64(d[:]) + `","nonce":"n","document":"a"} {}`, nil, 400, wire.ProblemBadRequest},
		{"digest not base64", `{"certificateId":"` + ec + `","hash":"SHA-256","digest":"@@","nonce":"n","document":"a"}`, nil, 400, wire.ProblemBadRequest},
		{"short digest", with(func(r *wire.SignRequest) { r.Digest = d[:20] }), nil, 400, wire.ProblemBadRequest},
		{"digest of another hash", with(func(r *wire.SignRequest) { r.Hash = "SHA-384" }), nil, 400, wire.ProblemBadRequest},
		{"unknown hash", with(func(r *wire.SignRequest) { r.Hash = "MD5" }), nil, 400, wire.ProblemBadRequest},
		{"unknown scheme", with(func(r *wire.SignRequest) { r.Scheme = "raw" }), nil, 400, wire.ProblemBadRequest},
		{"pss with an EC key", with(func(r *wire.SignRequest) { r.Scheme = "pss" }), nil, 400, wire.ProblemBadRequest},
		{"no nonce", with(func(r *wire.SignRequest) { r.Nonce = "" }), nil, 400, wire.ProblemBadRequest},
		{"nonce with a newline", with(func(r *wire.SignRequest) { r.Nonce = "n\ndigest=00" }), nil, 400, wire.ProblemBadRequest},
		{"no document", with(func(r *wire.SignRequest) { r.Document = "" }), nil, 400, wire.ProblemBadRequest},
		{"document with an escape", with(func(r *wire.SignRequest) { r.Document = "a\x1b[2Jb.pdf" }), nil, 400, wire.ProblemBadRequest},
		{"document with a bidi override", with(func(r *wire.SignRequest) { r.Document = "fdp.\u202eexe" }), nil, 400, wire.ProblemBadRequest},
		{"no certificate id", with(func(r *wire.SignRequest) { r.CertificateID = "" }), nil, 400, wire.ProblemBadRequest},
		{"certificate id not hex", with(func(r *wire.SignRequest) { r.CertificateID = "zz" }), nil, 400, wire.ProblemBadRequest},
		{"unknown certificate", with(func(r *wire.SignRequest) { r.CertificateID = "0badc0de" }), nil, 404, wire.ProblemUnknownCert},
		{"text/plain", good, []string{"Content-Type", "text/plain"}, 415, wire.ProblemMediaType},
		{"too large", `{"document":"` + strings.Repeat("a", agent.MaxBody) + `"}`, nil, 413, wire.ProblemTooLarge},
	} {
		r := f.do(t, "POST", "/v1/sign", page, c.body, c.hdr...)
		if r.status != c.status || r.problem(t).Type != c.typ {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
		if c.status != 200 && r.header.Get("Access-Control-Allow-Origin") != page {
			t.Errorf("%s: the page cannot read the problem (no CORS header)", c.name)
		}
	}
	if n := f.con.count(); n != 0 {
		t.Errorf("consent asked %d times for bad requests", n)
	}
	if r := f.do(t, "GET", "/v1/sign", page, nil); r.status != 405 || r.problem(t).Type != wire.ProblemMethod {
		t.Errorf("GET /v1/sign: %d %s", r.status, r.body)
	}
	if r := f.do(t, "GET", "/v2/info", page, nil); r.status != 404 || r.problem(t).Type != wire.ProblemNotFound {
		t.Errorf("GET /v2/info: %d %s", r.status, r.body)
	}
	if r := f.do(t, "POST", "/v1/sign", page, good); r.status != 200 {
		t.Errorf("the good request after the bad ones: %d %s", r.status, r.body)
	}
}

func b64(b []byte) string {
	s, _ := json.Marshal(b)
	return strings.Trim(string(s), `"`)
}

// TestSignCAKey: a CA certificate on the token is not offered and not used.
func TestSignCAKey(t *testing.T) {
	f := newFixture(t, "person-p256")
	certs := f.certificates(t)
	if len(certs) != 1 {
		t.Fatalf("certificates: %+v", certs)
	}
	ca, err := x509.ParseCertificate(certs[0].Chain[0])
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	req := wire.SignRequest{CertificateID: hex.EncodeToString(ca.SubjectKeyId), Hash: "SHA-256", Digest: d[:], Nonce: "n", Document: "a.pdf"}
	if r := f.do(t, "POST", "/v1/sign", page, req); r.status != 404 || r.problem(t).Type != wire.ProblemUnknownCert {
		t.Errorf("sign with the CA certificate's id: %d %s", r.status, r.body)
	}
	if f.con.count() != 0 {
		t.Error("consent asked for a CA certificate")
	}
}

// TestSerialised: a second sign request waits, and is not shown to the
// person, while the first is waiting for an answer.
func TestSerialised(t *testing.T) {
	tok := softhsmtest.New(t, "person-p256")
	entered := make(chan string, 2)
	release := make(chan struct{})
	busy := make(chan struct{}, 1)
	consent := func(_ context.Context, p agent.Prompt) ([]byte, error) {
		entered <- p.Document
		if p.Document == "first.pdf" {
			<-release
		}
		return []byte(tok.PIN), nil
	}
	a, err := agent.New(agent.Options{Module: tok.Module, Token: tok.Selector(), Origins: []string{page}, Consent: consent})
	if err != nil {
		t.Fatal(err)
	}
	agent.SetOnBusy(a, func() { busy <- struct{}{} })
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock() // before srv.Close, even when the test fails
	f := &fixture{tok: tok, srv: srv, con: &consentRecorder{}}
	d := sha256.Sum256([]byte("x"))
	req := wire.SignRequest{CertificateID: f.certID(t, "person-p256"), Hash: "SHA-256", Digest: d[:], Nonce: "n", Document: "first.pdf"}
	results := make(chan reply, 2)
	go func() { results <- f.do(t, "POST", "/v1/sign", page, req) }()
	if got := <-entered; got != "first.pdf" {
		t.Fatalf("first prompt %q", got)
	}
	req.Document = "second.pdf"
	go func() { results <- f.do(t, "POST", "/v1/sign", page, req) }()
	// The second request waits its turn; it does not reach the person.
	select {
	case <-busy:
	case got := <-entered:
		t.Fatalf("prompt %q shown while the first was pending", got)
	}
	// Meanwhile the page can still list the certificates.
	if certs := f.certificates(t); len(certs) != 1 {
		t.Errorf("certificates while a prompt is pending: %+v", certs)
	}
	unblock()
	if got := <-entered; got != "second.pdf" {
		t.Fatalf("second prompt %q", got)
	}
	for range 2 {
		if r := <-results; r.status != 200 {
			t.Errorf("status %d %s", r.status, r.body)
		}
	}
}

// TestTokenMissing: no token matching the selector is a clear 503.
func TestTokenMissing(t *testing.T) {
	tok := softhsmtest.New(t, "person-p256")
	consent := func(context.Context, agent.Prompt) ([]byte, error) { return []byte(tok.PIN), nil }
	a, err := agent.New(agent.Options{Module: tok.Module, Token: pkcs11.TokenSelector{Label: "no such token"}, Origins: []string{page}, Consent: consent})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	f := &fixture{tok: tok, srv: srv}
	if r := f.do(t, "GET", "/v1/certificates", page, nil); r.status != 503 || r.problem(t).Type != wire.ProblemToken {
		t.Errorf("certificates without the token: %d %s", r.status, r.body)
	}
	d := sha256.Sum256([]byte("x"))
	req := wire.SignRequest{CertificateID: f.certID(t, "person-p256"), Hash: "SHA-256", Digest: d[:], Nonce: "n", Document: "a.pdf"}
	if r := f.do(t, "POST", "/v1/sign", page, req); r.status != 503 || r.problem(t).Type != wire.ProblemToken {
		t.Errorf("sign without the token: %d %s", r.status, r.body)
	}
	var info wire.Info
	if r := f.do(t, "GET", "/v1/info", page, nil); r.status != 200 || json.Unmarshal(r.body, &info) != nil || info.Token != "" {
		t.Errorf("info without the token: %d %s", r.status, r.body)
	}
}

func TestOptions(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8480":      "http://127.0.0.1:8480",
		"HTTPS://MSign.Example:443/": "https://msign.example",
		"http://example.org:80":      "http://example.org",
		"https://example.org:8443":   "https://example.org:8443",
		"http://[::1]:8480":          "http://[::1]:8480",
	} {
		if got, err := agent.CanonicalOrigin(in); err != nil || got != want {
			t.Errorf("CanonicalOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "null", "*", "https://*.example", "ftp://x", "https://x/path", "https://x?q", "127.0.0.1:8480", "https://u@x", "http://x:99999"} {
		if got, err := agent.CanonicalOrigin(bad); err == nil {
			t.Errorf("CanonicalOrigin(%q) = %q, want an error", bad, got)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:8421": true, "[::1]:1": true, "localhost:0": true, "0.0.0.0:8421": false, ":8421": false, "192.168.1.2:8421": false, "x": false} {
		if agent.IsLoopback(addr) != want {
			t.Errorf("IsLoopback(%q) != %v", addr, want)
		}
	}
	tok := softhsmtest.New(t)
	ok := func(context.Context, agent.Prompt) ([]byte, error) { return nil, agent.ErrRefused }
	for _, o := range []agent.Options{
		{Origins: []string{page}, Consent: ok},
		{Module: tok.Module, Consent: ok},
		{Module: tok.Module, Origins: []string{page}},
		{Module: tok.Module, Origins: []string{"https://x/path"}, Consent: ok},
	} {
		if _, err := agent.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	// Serve refuses a listener that is not on loopback.
	a, err := agent.New(agent.Options{Module: tok.Module, Origins: []string{page}, Consent: ok})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := a.Serve(context.Background(), ln); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Serve on %s: %v", ln.Addr(), err)
	}
}

// TestSignBatch: POST /v1/sign-batch asks consent once, listing every
// document and digest, and signs them all with the one PIN; each
// signature and binding verifies; a batch for two keys or with no
// documents is refused, and a refusal signs nothing.
func TestSignBatch(t *testing.T) {
	f := newFixture(t, "person-rsa2048")
	id := f.certID(t, "person-rsa2048")
	var docs []wire.SignRequest
	for i, name := range []string{"contract.pdf", "annex 1.pdf", "annex 2.pdf"} {
		d := sha256.Sum256([]byte(name))
		docs = append(docs, wire.SignRequest{Hash: "SHA-256", Digest: d[:], Nonce: fmt.Sprintf("n-%d", i), Document: name})
	}
	r := f.do(t, "POST", "/v1/sign-batch", page, wire.SignBatchRequest{CertificateID: id, Documents: docs})
	if r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	var resp wire.SignBatchResponse
	if err := json.Unmarshal(r.body, &resp); err != nil || len(resp.Signatures) != len(docs) {
		t.Fatalf("batch answer: %s", r.body)
	}
	var cert *x509.Certificate
	for _, c := range f.certificates(t) {
		if c.ID == id {
			cert, _ = x509.ParseCertificate(c.Certificate)
		}
	}
	for i, s := range resp.Signatures {
		if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, docs[i].Digest, s.Signature); err != nil {
			t.Errorf("document %d: %v", i, err)
		}
		if err := wire.VerifyBinding(cert.PublicKey, crypto.SHA256, "", page, docs[i].Nonce, docs[i].Digest, s.Binding); err != nil {
			t.Errorf("document %d binding: %v", i, err)
		}
	}
	f.con.mu.Lock()
	if len(f.con.prompts) != 1 || len(f.con.prompts[0].Batch) != 3 || f.con.prompts[0].Batch[1].Document != "annex 1.pdf" ||
		f.con.prompts[0].Batch[2].Digest != hex.EncodeToString(docs[2].Digest) || f.con.prompts[0].Document != "3 documents" {
		t.Errorf("prompts: %+v", f.con.prompts)
	}
	f.con.mu.Unlock()

	bad := append([]wire.SignRequest(nil), docs...)
	bad[1].CertificateID = "02"
	for name, b := range map[string]wire.SignBatchRequest{
		"two keys": {CertificateID: id, Documents: bad},
		"empty":    {CertificateID: id},
		"too many": {CertificateID: id, Documents: make([]wire.SignRequest, wire.MaxBatch+1)},
	} {
		if r := f.do(t, "POST", "/v1/sign-batch", page, b); r.status != 400 || r.problem(t).Type != wire.ProblemBadRequest {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	f.con.answer = func(agent.Prompt) ([]byte, error) { return nil, agent.ErrRefused }
	if r := f.do(t, "POST", "/v1/sign-batch", page, wire.SignBatchRequest{CertificateID: id, Documents: docs}); r.status != http.StatusForbidden {
		t.Errorf("refused batch: %d %s", r.status, r.body)
	}
	if n := f.con.count(); n != 2 {
		t.Errorf("%d consent prompts for 2 batches", n)
	}
}
