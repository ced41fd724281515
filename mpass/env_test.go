package mpass

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
)

// shared is one test PKI with its PKI services (OCSP, CRLs) and one
// mobile-signature simulator, each on a loopback server of its own: MPass
// reaches them over HTTP as in production.
var shared struct {
	once   sync.Once
	pki    *testcerts.PKI
	sim    *mobileid.Simulator
	svc    *pkiserve.Services
	pkiURL string
	simURL string
	err    error
}

// generatedPhones is the number of manual (virtual-phone) users.
const generatedPhones = 10

func fixtures(t testing.TB) {
	t.Helper()
	shared.once.Do(func() {
		// The PKI's AIA, OCSP and CRL URLs point at its services' server.
		pkiSrv := httptest.NewUnstartedServer(nil)
		shared.pkiURL = "http://" + pkiSrv.Listener.Addr().String()
		if shared.pki, shared.err = testcerts.Generate(testcerts.Options{BaseURL: shared.pkiURL}); shared.err != nil {
			return
		}
		if shared.sim, shared.err = mobileid.New(mobileid.Options{PKI: shared.pki, TimeScale: 0.02, Phone: true, GeneratedUsers: generatedPhones}); shared.err != nil {
			return
		}
		if shared.svc, shared.err = pkiserve.New(shared.pki, pkiserve.Options{}); shared.err != nil {
			return
		}
		// The phones' certificates are made now and made known to the OCSP
		// responder (as `semnat serve --demo` does).
		var serials []*big.Int
		users := shared.sim.Users()
		for i := 0; i < generatedPhones; i++ {
			users = append(users, mobileid.GeneratedUser(i))
		}
		for _, u := range users {
			sign, auth, _, err := shared.sim.Certificates(u.MSISDN)
			if err != nil {
				continue // users without keys (no mobile signature)
			}
			serials = append(serials, sign.SerialNumber, auth.SerialNumber)
		}
		shared.svc.Registry.AddCA(shared.pki.MobileCA.Cert, serials)
		// Never closed: they live as long as the test binary.
		pkiSrv.Config.Handler = shared.svc
		pkiSrv.Start()
		shared.simURL = httptest.NewServer(shared.sim.Handler()).URL
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
}

// env is MPass on a loopback server with a fresh store, and relying
// services made with crewjam/saml's samlsp.
type env struct {
	t     testing.TB
	dsnOf string
	url   string
	srv   *Service
	store *store.Store
	key   *rsa.PrivateKey
	cert  *x509.Certificate
}

func newEnv(t testing.TB, mut func(*Config)) *env {
	return newEnvOn(t, filepath.Join(t.TempDir(), "semnat.db"), mut)
}

// newEnvOn is newEnv on the store dsn names.
func newEnvOn(t testing.TB, dsn string, mut func(*Config)) *env {
	t.Helper()
	fixtures(t)
	st, err := store.Open(dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, cert, err := SelfSigned("mpass.test", time.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	base := "http://" + hs.Listener.Addr().String()
	s := startInstance(t, hs, Config{Store: st, PublicURL: base, Key: key, Certificate: cert}, mut)
	return &env{t: t, dsnOf: dsn, url: base, srv: s, store: st, key: key, cert: cert}
}

// second is another MPass instance on the same store, key and public URL
// (as behind a load balancer), on its own server: its URL.
func (e *env) second(mut func(*Config)) string {
	e.t.Helper()
	st, err := store.Open(e.dsnOf, store.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { st.Close() })
	hs := httptest.NewUnstartedServer(nil)
	startInstance(e.t, hs, Config{Store: st, PublicURL: e.url, Key: e.key, Certificate: e.cert}, mut)
	return "http://" + hs.Listener.Addr().String()
}

// startInstance serves an MPass instance of cfg (with the test MSSP) on hs.
func startInstance(t testing.TB, hs *httptest.Server, cfg Config, mut func(*Config)) *Service {
	t.Helper()
	mc, err := mobileid.NewClient(shared.simURL+"/rest/service", mobileid.ClientOptions{Face: mobileid.FaceETSI,
		Roots: shared.pki.RootPool(), Intermediates: shared.pki.IntermediatePool(), PollInterval: 10 * time.Millisecond,
		HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mobile, cfg.PhoneTimeout = mc, 20*time.Second
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	host := service.NewHost(service.HostOptions{Ready: cfg.Store})
	host.Mount(s)
	hs.Config.Handler = host
	hs.Start()
	t.Cleanup(func() { hs.Close(); host.Close() })
	return s
}

// metadata is MPass's metadata, as a relying service reads it.
func (e *env) metadata() *saml.EntityDescriptor {
	e.t.Helper()
	_, b := e.get(nil, e.url+PathMetadata)
	ed, err := samlsp.ParseMetadata(b)
	if err != nil {
		e.t.Fatalf("metadata: %v\n%s", err, b)
	}
	return ed
}

// relyingParty is a samlsp-protected application that shows what it
// received, registered with MPass (unless register is false).
type relyingParty struct {
	url string
	mw  *samlsp.Middleware
}

func (e *env) newRP(name string, register bool) *relyingParty {
	e.t.Helper()
	var opts *SPOptions
	if register {
		opts = &SPOptions{SignAssertion: true, Encrypt: true}
	}
	return e.newRPWith(name, opts, nil)
}

// newRPWith is newRP registered with opts (nil: not registered), its
// metadata changed by mut first (if not nil).
func (e *env) newRPWith(name string, opts *SPOptions, mut func(*saml.EntityDescriptor)) *relyingParty {
	e.t.Helper()
	key, cert, err := SelfSigned(name, time.Now(), 1)
	if err != nil {
		e.t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	root, _ := url.Parse("http://" + hs.Listener.Addr().String())
	mw, err := samlsp.New(samlsp.Options{URL: *root, Key: key, Certificate: cert, IDPMetadata: e.metadata(), SignRequest: true,
		CookieName: "token-" + name})
	if err != nil {
		e.t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/saml/", mw)
	mux.HandleFunc("/logout", mw.HandleStartLogout)
	mux.Handle("/app", mw.RequireAccount(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := samlsp.SessionFromContext(r.Context())
		attrs := sess.(samlsp.SessionWithAttributes).GetAttributes()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, k := range []string{"NameIdentifier", "FirstName", "LastName", "MobilePhone", "Language"} {
			io.WriteString(w, k+"="+attrs.Get(k)+"\n")
		}
		for _, k := range []string{"Role", "AdministeredLegalEntity", "IDNO", "CompanyName"} {
			if v := attrs[k]; len(v) > 0 {
				io.WriteString(w, k+"="+strings.Join(v, "|")+"\n")
			}
		}
	})))
	hs.Config.Handler = mux
	hs.Start()
	e.t.Cleanup(hs.Close)
	if opts != nil {
		ed := mw.ServiceProvider.Metadata()
		if mut != nil {
			mut(ed)
		}
		md, err := xml.MarshalIndent(ed, "", "  ")
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.srv.Registry().Add(context.Background(), md, *opts, time.Now()); err != nil {
			e.t.Fatal(err)
		}
	}
	return &relyingParty{url: root.String(), mw: mw}
}

// browser is an HTTP client with cookies that follows redirects.
func newBrowserClient(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

func (e *env) get(c *http.Client, u string) (*http.Response, []byte) {
	e.t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (e *env) post(c *http.Client, u string, form url.Values) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

var (
	reForm  = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)"[^>]*>(.*?)</form>`)
	reInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
	reTx    = regexp.MustCompile(`name="tx" value="([0-9a-f]{32})"`)
	reCode  = regexp.MustCompile(`id="code">(\d{4})<`)
)

// form reads the first POST form of a page: its action and hidden fields.
func form(t testing.TB, page []byte) (string, url.Values) {
	t.Helper()
	m := reForm.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no form in:\n%s", page)
	}
	v := url.Values{}
	for _, in := range reInput.FindAllSubmatch(m[2], -1) {
		v.Set(string(in[1]), html.UnescapeString(string(in[2])))
	}
	return html.UnescapeString(string(m[1])), v
}

// samlResponse decodes the SAMLResponse of a post form.
func samlResponse(t testing.TB, v url.Values) (*saml.Response, []byte) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(v.Get("SAMLResponse"))
	if err != nil {
		t.Fatalf("SAMLResponse: %v", err)
	}
	var r saml.Response
	if err := xml.Unmarshal(raw, &r); err != nil {
		t.Fatalf("SAMLResponse: %v\n%s", err, raw)
	}
	return &r, raw
}

// approve waits for the login request on the virtual phone, checks that it
// shows the page's code and enters the PIN.
func approve(t testing.TB, msisdn, code string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if p, _ := shared.sim.PhonePrompt(msisdn); p.Pending {
			if p.VerificationCode != code {
				t.Fatalf("the phone shows %s, the page %s", p.VerificationCode, code)
			}
			if res, _, err := shared.sim.PhoneConfirm(msisdn, mobileid.DefaultPIN1); err != nil {
				t.Fatalf("confirm on the phone: %s %v", res, err)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no request reached %s", msisdn)
}

// waitDone polls the wait page until it is no longer the wait page.
func (e *env) waitDone(c *http.Client, waitURL string) (*http.Response, []byte) {
	e.t.Helper()
	for i := 0; i < 1000; i++ {
		resp, b := e.get(c, waitURL)
		if !reCode.Match(b) {
			return resp, b
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatal("the wait page never ended")
	return nil, nil
}

// startLogin follows the relying service's redirect to MPass's login page
// and returns it with its transaction id.
func (e *env) startLogin(c *http.Client, rp *relyingParty) (string, []byte) {
	e.t.Helper()
	resp, b := e.get(c, rp.url+"/app")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.String(), e.url+pathLogin+"?") {
		e.t.Fatalf("login page: %d %s\n%s", resp.StatusCode, resp.Request.URL, b)
	}
	m := reTx.FindSubmatch(b)
	if m == nil {
		e.t.Fatalf("no login transaction on the page:\n%s", b)
	}
	return string(m[1]), b
}

// phoneLogin enters the phone number on the login page; it returns the
// wait page's URL and code (empty when the page refused at once).
func (e *env) phoneLogin(c *http.Client, tx, phone string) (*http.Response, []byte, string) {
	e.t.Helper()
	resp, b := e.post(c, e.url+pathMobile, url.Values{"tx": {tx}, "phone": {phone}})
	code := ""
	if m := reCode.FindSubmatch(b); m != nil {
		code = string(m[1])
	}
	return resp, b, code
}

// login logs the browser c in to rp with the phone of user (approving on
// the phone) and returns the application's page.
func (e *env) login(c *http.Client, rp *relyingParty, user mobileid.User) string {
	e.t.Helper()
	tx, _ := e.startLogin(c, rp)
	resp, b, code := e.phoneLogin(c, tx, user.MSISDN)
	if code == "" {
		e.t.Fatalf("no verification code: %d\n%s", resp.StatusCode, b)
	}
	approve(e.t, user.MSISDN, code)
	_, b = e.waitDone(c, resp.Request.URL.String())
	action, fields := form(e.t, b)
	_, b = e.post(c, action, fields)
	return string(b)
}

// followForms submits the auto-posted SAML forms of a page chain (what the
// pages' script does in a browser) until a page without one.
func (e *env) followForms(c *http.Client, b []byte) (*http.Response, []byte) {
	e.t.Helper()
	var resp *http.Response
	for i := 0; i < 10; i++ {
		if !bytes.Contains(b, []byte(`name="SAMLRequest"`)) && !bytes.Contains(b, []byte(`name="SAMLResponse"`)) {
			return resp, b
		}
		action, fields := form(e.t, b)
		resp, b = e.post(c, action, fields)
	}
	e.t.Fatal("too many forms")
	return nil, nil
}
