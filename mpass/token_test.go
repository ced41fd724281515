package mpass

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/agent"
	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/pkcs11/softhsmtest"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
)

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Cleanup()
	os.Exit(code)
}

// tokenEnv is MPass offering token login for certificates of the shared
// test PKI, and a SoftHSM token holding entities of that PKI.
func tokenEnv(t *testing.T, agentURL string, entities ...string) (*env, *softhsmtest.Token) {
	t.Helper()
	fixtures(t)
	tok := softhsmtest.New(t)
	for _, name := range entities {
		tok.Import(t, shared.pki.MustGet(name))
		if auth := shared.pki.Get(name + testcerts.AuthSuffix); auth != nil { // the token's authentication certificate
			tok.Import(t, auth)
		}
	}
	e := newEnv(t, func(c *Config) {
		c.TokenRoots, c.TokenIntermediates, c.AgentURL = shared.pki.RootPool(), shared.pki.IntermediatePool(), agentURL
	})
	return e, tok
}

// agentCall is a request of the login page's script to the agent, with the
// Origin header a browser would send.
func agentCall(t *testing.T, agentURL, origin, path string, in, out any) (int, wire.Problem) {
	t.Helper()
	var body io.Reader
	method := http.MethodGet
	if in != nil {
		b, _ := json.Marshal(in)
		body, method = bytes.NewReader(b), http.MethodPost
	}
	req, _ := http.NewRequest(method, agentURL+path, body)
	req.Header.Set("Origin", origin)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var p wire.Problem
	if resp.StatusCode != 200 {
		json.Unmarshal(b, &p)
		return resp.StatusCode, p
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("agent %s: %v: %s", path, err, b)
	}
	return 200, p
}

// mpassJSON posts to one of MPass's token endpoints as the page's script.
func (e *env) mpassJSON(c *http.Client, path, tx string, in any) (int, tokenAnswer) {
	e.t.Helper()
	var body io.Reader = strings.NewReader("")
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	resp, err := c.Post(e.url+path+"?tx="+tx+"&lang=en", "application/json", body)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var a tokenAnswer
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &a); err != nil {
		e.t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
	}
	return resp.StatusCode, a
}

// tokenLoginAs goes through the login page's token steps for the agent's
// certificate of subject (common name), with the Origin origin; it returns
// MPass's answer to the signed challenge.
func (e *env) tokenLoginAs(c *http.Client, agentURL, origin, tx, cn string) (int, tokenAnswer) {
	e.t.Helper()
	var certs []wire.Certificate
	if st, p := agentCall(e.t.(*testing.T), agentURL, e.url, "/v1/certificates", nil, &certs); st != 200 {
		e.t.Fatalf("certificates: %d %+v", st, p)
	}
	var cert *wire.Certificate
	for i := range certs {
		if strings.Contains(certs[i].Subject, "CN="+cn) && certs[i].Authentication {
			cert = &certs[i]
		}
	}
	if cert == nil {
		e.t.Fatalf("no certificate of %s on the token: %+v", cn, certs)
	}
	st, a := e.mpassJSON(c, pathTokenNonce, tx, nil)
	if st != 200 || len(a.Nonce) != 32 {
		e.t.Fatalf("nonce: %d %+v", st, a)
	}
	var signed wire.AuthResponse
	if st, p := agentCall(e.t.(*testing.T), agentURL, origin, "/v1/authenticate",
		wire.AuthRequest{CertificateID: cert.ID, Hash: "SHA-256", Nonce: a.Nonce}, &signed); st != 200 {
		e.t.Fatalf("authenticate: %d %+v", st, p)
	}
	return e.mpassJSON(c, pathToken, tx, tokenLogin{Certificate: cert.Certificate, Chain: cert.Chain,
		Signature: signed.Signature, Hash: signed.Hash, Scheme: signed.Scheme})
}

// startCLIAgent runs `semnat agent --yes` for the SoftHSM token, allowing
// origins, on a loopback socket bound here and handed over (--listen-fd).
func startCLIAgent(t *testing.T, tok *softhsmtest.Token, ln net.Listener, origins ...string) *testtool.SyncBuffer {
	t.Helper()
	return browsertest.StartAgent(t, browsertest.BuildSemnat(t), ln, tok, origins...)
}

// TestTokenLoginCLIAgent: a person logs in to a relying service with a
// SoftHSM token through the real `semnat agent --yes` process: MPass
// issues a nonce, the agent signs its login challenge for MPass's origin,
// MPass checks signature, chain and revocation and answers the relying
// service with the person's IDNP and names from the certificate, the
// token's authentication context, and CompanyName/IDNO of an organisation
// certificate. Refused: a signature made for another origin (the agent also
// serves evil.test), a nonce used twice, a revoked certificate, a
// certificate of an untrusted CA; each in plain words and in the audit log.
func TestTokenLoginCLIAgent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	agentURL := "http://" + ln.Addr().String()
	e, tok := tokenEnv(t, agentURL, "person-p256", "employee", "revoked", "untrusted")
	stderr := startCLIAgent(t, tok, ln, e.url, "http://evil.test")
	rp := e.newRP("shop.test", true)

	c := newBrowserClient(t)
	tx, page := e.startLogin(c, rp)
	if !bytes.Contains(page, []byte(`data-agent="`+agentURL+`"`)) {
		t.Fatalf("the login page does not offer the token:\n%s", page)
	}
	// A signature the agent made for another site is refused.
	if st, a := e.tokenLoginAs(c, agentURL, "http://evil.test", tx, "Ana Bălănescu"); st != 400 || a.Problem != "token-signature" ||
		!strings.Contains(a.Message, "nu este pentru acest site") {
		t.Fatalf("signature for another origin: %d %+v", st, a)
	}
	// A signature for an earlier nonce of this login: refused.
	ana := shared.pki.MustGet("person-p256-auth")
	_, n1 := e.mpassJSON(c, pathTokenNonce, tx, nil)
	var old wire.AuthResponse
	if st, p := agentCall(t, agentURL, e.url, "/v1/authenticate", wire.AuthRequest{CertificateID: tok.Keys["person-p256-auth"].String(), Nonce: n1.Nonce}, &old); st != 200 {
		t.Fatalf("authenticate: %d %+v", st, p)
	}
	if _, n2 := e.mpassJSON(c, pathTokenNonce, tx, nil); n2.Nonce == n1.Nonce {
		t.Fatal("the same nonce twice")
	}
	if st, a := e.mpassJSON(c, pathToken, tx, tokenLogin{Certificate: ana.Cert.Raw, Signature: old.Signature, Hash: old.Hash}); st != 400 || a.Problem != "token-signature" {
		t.Fatalf("signature for an earlier nonce: %d %+v", st, a)
	}
	// Revoked, untrusted: refused after the signature checked out.
	for cn, want := range map[string]string{"Petru Revocat": "token-revoked", "Radu Străin": "token-certificate"} {
		if st, a := e.tokenLoginAs(c, agentURL, e.url, tx, cn); st != 400 || a.Problem != want {
			t.Fatalf("%s: %d %+v", cn, st, a)
		}
	}
	// A good one, with an organisation certificate.
	st, a := e.tokenLoginAs(c, agentURL, e.url, tx, "Elena Ceban")
	if st != 200 || a.Next == "" {
		t.Fatalf("login: %d %+v", st, a)
	}
	resp, b := e.get(c, e.url+a.Next)
	action, fields := form(t, b)
	r, raw := samlResponse(t, fields)
	acs, _ := url.Parse(action)
	as, err := rp.mw.ServiceProvider.ParseXMLResponse(raw, []string{r.InResponseTo}, *acs)
	if err != nil {
		t.Fatalf("%d the relying service refuses our Response: %v\n%s", resp.StatusCode, err, raw)
	}
	emp := shared.pki.MustGet("employee-auth")
	got := map[string]string{}
	for _, at := range as.AttributeStatements[0].Attributes {
		got[at.Name] = at.Values[0].Value
	}
	if as.Subject.NameID.Value != emp.Cert.Subject.SerialNumber || got["FirstName"] != "Elena" || got["LastName"] != "Ceban" ||
		got["CompanyName"] != "Centrul de Guvernare Electronică" || !strings.HasSuffix(emp.Cert.Subject.Organization[0], " "+got["IDNO"]) || len(got["IDNO"]) != 13 ||
		as.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value != ACToken {
		t.Fatalf("assertion: %+v %v", as.Subject.NameID, got)
	}
	if !strings.Contains(stderr.String(), "logging in to "+e.url+" as") {
		t.Errorf("the agent did not say which site the login was for:\n%s", stderr.String())
	}

	// A login without a nonce of its own is refused.
	c3 := newBrowserClient(t)
	tx3, _ := e.startLogin(c3, rp)
	if st, a := e.mpassJSON(c3, pathToken, tx3, tokenLogin{Certificate: emp.Cert.Raw, Hash: "SHA-256", Signature: []byte{1}}); st != 400 || a.Problem != "token-nonce" {
		t.Fatalf("no nonce: %d %+v", st, a)
	}
	// Another browser cannot use this login's endpoints (login CSRF).
	if st, a := e.mpassJSON(newBrowserClient(t), pathTokenNonce, tx3, nil); st != 404 || a.Problem != "no-login" {
		t.Fatalf("another browser: %d %+v", st, a)
	}
	reasons := auditReasons(t, e.store, "mpass.login-failed")
	for _, want := range []string{"token-signature", "token-revoked", "token-certificate", "token-nonce"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("audit log lacks %s: %s", want, reasons)
		}
	}
}

// auditReasons lists the reasons of the audit entries of action.
func auditReasons(t *testing.T, st *store.Store, action string) string {
	t.Helper()
	var out []string
	err := st.WalkAudit(context.Background(), func(ev *store.Entry) error {
		if ev.Action == action {
			out = append(out, ev.Details["reason"])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

// TestBrowserTokenLogin: in chromium, the login page lists the agent's
// certificate (in-process agent, SoftHSM); the person first refuses in the
// agent (the page says so), then agrees, and the page by itself returns to
// the application, which shows the person. The agent's prompt was a login
// prompt for MPass's origin.
func TestBrowserTokenLogin(t *testing.T) {
	ctx := browsertest.New(t, 90*time.Second)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	agentURL := "http://" + ln.Addr().String()
	e, tok := tokenEnv(t, agentURL, "person-rsa2048")
	var mu sync.Mutex
	var prompts []agent.Prompt
	refuse := true
	ag, err := agent.New(agent.Options{Module: tok.Module, Token: tok.Selector(), Origins: []string{e.url}, Version: "test",
		Consent: func(_ context.Context, p agent.Prompt) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			prompts = append(prompts, p)
			if refuse {
				return nil, agent.ErrRefused
			}
			return []byte(tok.PIN), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	as := &http.Server{Handler: ag.Handler()}
	go as.Serve(ln)
	t.Cleanup(func() { as.Close() })
	rp := e.newRP("shop.test", true)

	browsertest.Do(t, ctx, chromedp.Navigate(rp.url+"/app"), chromedp.WaitVisible(chromedp.ID("token")))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!document.getElementById("token-button").disabled || document.getElementById("token-status").textContent !== ""`)); err != nil {
		t.Fatal(err)
	}
	if opt, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#cert option") ? document.querySelector("#cert option").textContent : ""`)); !strings.Contains(opt, "Ion Popescu") {
		t.Fatalf("certificate offered: %q (status %q)", opt, browsertest.Text(t, ctx, "#token-status"))
	}
	browsertest.Do(t, ctx, chromedp.Click(chromedp.ID("token-button")), chromedp.WaitVisible(chromedp.CSS("#token-status.error")))
	if st := browsertest.Text(t, ctx, "#token-status"); !strings.Contains(st, "You refused the login") {
		t.Fatalf("refusal: %q", st)
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	browsertest.Do(t, ctx, chromedp.Click(chromedp.ID("token-button")), chromedp.WaitVisible(chromedp.CSS("pre")))
	ion := shared.pki.MustGet("person-rsa2048")
	if body := browsertest.Text(t, ctx, "pre"); !strings.Contains(body, "NameIdentifier="+ion.Cert.Subject.SerialNumber) || !strings.Contains(body, "LastName=Popescu") {
		t.Fatalf("the application shows:\n%s", body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(prompts) != 2 || !prompts[1].Login || prompts[1].Origin != e.url || prompts[1].Digest != "" {
		t.Fatalf("agent prompts: %+v", prompts)
	}
}
