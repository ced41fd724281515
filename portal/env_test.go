package portal

import (
	"context"
	"html"
	"io"
	"math/big"
	"mime/multipart"
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

	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"github.com/semnat/semnat/mpay/demosp"
	"github.com/semnat/semnat/mpower"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/msign"
	msignclient "github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/portal/catalog"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

// shared is one test PKI with its services (TSA, OCSP, CRLs) and the
// mobile-signature simulator with its virtual phones, each on a loopback
// server of its own, for all the tests of the package.
var shared struct {
	once   sync.Once
	pki    *testcerts.PKI
	sim    *mobileid.Simulator
	pkiURL string
	simURL string
	// phoneSim runs in real time (a request waits minutes for its phone),
	// for the tests where a person approves in Chromium's phone tab.
	phoneSim    *mobileid.Simulator
	phoneSimURL string
	err         error
}

const phones = 4

// mpowerBack is MPower's return URL at MSign (never visited by the tests).
const mpowerBack = "http://127.0.0.1:9/mpower/back/"

func fixtures(t testing.TB) {
	t.Helper()
	shared.once.Do(func() {
		pkiSrv := httptest.NewUnstartedServer(nil)
		shared.pkiURL = "http://" + pkiSrv.Listener.Addr().String()
		if shared.pki, shared.err = testcerts.Generate(testcerts.Options{BaseURL: shared.pkiURL}); shared.err != nil {
			return
		}
		if shared.sim, shared.err = mobileid.New(mobileid.Options{PKI: shared.pki, TimeScale: 0.02, Phone: true, GeneratedUsers: phones,
			Users: autoUsers()}); shared.err != nil {
			return
		}
		if shared.phoneSim, shared.err = mobileid.New(mobileid.Options{PKI: shared.pki, Phone: true, GeneratedUsers: phones,
			Users: autoUsers()}); shared.err != nil {
			return
		}
		svc, err := pkiserve.New(shared.pki, pkiserve.Options{})
		if err != nil {
			shared.err = err
			return
		}
		var serials []*big.Int
		var msisdns []string
		for i := 0; i < phones; i++ {
			msisdns = append(msisdns, mobileid.GeneratedUser(i).MSISDN)
		}
		for _, u := range autoUsers() {
			msisdns = append(msisdns, u.MSISDN)
		}
		for _, m := range msisdns {
			for _, sim := range []*mobileid.Simulator{shared.sim, shared.phoneSim} {
				sign, auth, _, err := sim.Certificates(m)
				if err != nil && sim == shared.phoneSim {
					continue // not one of its users
				}
				if err != nil {
					shared.err = err
					return
				}
				serials = append(serials, sign.SerialNumber, auth.SerialNumber)
			}
		}
		svc.Registry.AddCA(shared.pki.MobileCA.Cert, serials)
		pkiSrv.Config.Handler = svc
		pkiSrv.Start()
		shared.simURL = httptest.NewServer(shared.sim.Handler()).URL
		shared.phoneSimURL = httptest.NewServer(shared.phoneSim.Handler()).URL
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
}

// env is the whole journey's cast, each service on its own loopback
// server with its own store, as on separate hosts: MPass, MSign, MPower
// and the portal, which reaches the others only by their protocols.
type env struct {
	t                             testing.TB
	mpassURL, msignURL, mpowerURL string
	url                           string  // the portal's
	simURL                        string  // the mobile-signature simulator's
	agentURL                      string  // the token agent MPass's and MSign's pages use (withAgent)
	msignRate                     float64 // MSign's per-client rate limit (0: its default; oneHostCrowd)
	portal                        *Service
	mpower                        *mpowerclient.Client
	mpowerReg                     *mpower.Registry
	mpowerStore, portalStore      *store.Store
}

func openStore(t testing.TB, name string) *store.Store {
	t.Helper()
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), name+".db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// serve mounts s on a new loopback server and returns its URL; hs, when
// not nil, is the server to use (its URL was needed before).
func serve(t testing.TB, st *store.Store, hs *httptest.Server, svcs ...service.Service) string {
	t.Helper()
	host := service.NewHost(service.HostOptions{Ready: st})
	for _, s := range svcs {
		host.Mount(s)
	}
	if hs == nil {
		hs = httptest.NewUnstartedServer(nil)
	}
	hs.Config.Handler = host
	hs.Start()
	t.Cleanup(func() { hs.Close(); host.Close() })
	return hs.URL
}

// envOption changes how newEnv builds the cast.
type envOption func(e *env)

// realTimePhones makes MPass and MSign reach the real-time simulator
// (shared.phoneSim): a person has minutes to approve in a browser.
func realTimePhones(e *env) { e.simURL = shared.phoneSimURL }

// oneHostCrowd raises MSign's per-client (IP address) rate limit, as the
// bench/side-*.sh scripts raise SEMNAT_RATE_LIMIT: every simulated person's
// browser posts to MSign from 127.0.0.1, so the default 50 requests/s,
// meant for one person, would refuse the crowd. (The portal's own API
// calls are counted in its bucket as a registered system, not there.)
func oneHostCrowd(e *env) { e.msignRate = 1e6 }

// withAgent makes MPass's and MSign's pages use the token agent at url.
func withAgent(url string) envOption { return func(e *env) { e.agentURL = url } }

func newEnv(t testing.TB, mut func(*Config), opts ...envOption) *env {
	t.Helper()
	fixtures(t)
	ctx := context.Background()
	e := &env{t: t, simURL: shared.simURL}
	for _, o := range opts {
		o(e)
	}
	mobile := func() *mobileid.Client {
		mc, err := mobileid.NewClient(e.simURL+"/rest/service", mobileid.ClientOptions{Face: mobileid.FaceETSI,
			Roots: shared.pki.RootPool(), Intermediates: shared.pki.IntermediatePool(), PollInterval: 10 * time.Millisecond,
			HTTPClient: &http.Client{Timeout: 30 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		return mc
	}

	// MPass, which asks MPower's register of legal entities for the
	// companies a person administers (AdministeredLegalEntity).
	mpowerHS := httptest.NewUnstartedServer(nil)
	e.mpowerURL = "http://" + mpowerHS.Listener.Addr().String()
	const mpassMPowerKey = "mpass-mpower-key-0123456789"
	mpassMPower, err := mpowerclient.New(e.mpowerURL, mpowerclient.Options{APIKey: mpassMPowerKey})
	if err != nil {
		t.Fatal(err)
	}
	mst := openStore(t, "mpass")
	hs := httptest.NewUnstartedServer(nil)
	e.mpassURL = "http://" + hs.Listener.Addr().String()
	key, cert, err := mpass.SelfSigned("mpass.test", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := mpass.New(mpass.Config{Store: mst, PublicURL: e.mpassURL, Key: key, Certificate: cert, Mobile: mobile(), PhoneTimeout: 20 * time.Second,
		MPower: mpassMPower, AgentURL: e.agentURL, TokenRoots: shared.pki.RootPool(), TokenIntermediates: shared.pki.IntermediatePool()}) // clerks log in with a token (office_test.go)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, mst, hs, mp)

	// MSign, with the portal registered as a system.
	sst := openStore(t, "msign")
	hs = httptest.NewUnstartedServer(nil)
	e.msignURL = "http://" + hs.Listener.Addr().String()
	ms, err := msign.New(msign.Config{Store: sst, Roots: shared.pki.RootPool(), Mobile: mobile(), PublicOrigin: e.msignURL, AgentURL: e.agentURL, RateLimit: e.msignRate,
		Timestamper: pades.TSA{Client: &tsa.Client{URL: shared.pkiURL + testcerts.TSAPath, HTTPClient: &http.Client{Timeout: 10 * time.Second}}}})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, sst, hs, ms)

	// MPower, a system of MSign (its acts are signed there), with the
	// portal as a system of its own.
	const mpowerMSignKey = "mpower-msign-key-0123456789"
	if err := msign.AddSystem(ctx, sst, "test", msign.NewSystem{Name: "mpower", APIKey: []byte(mpowerMSignKey), ReturnURLs: []string{mpowerBack}}); err != nil {
		t.Fatal(err)
	}
	mpowerMSign, err := msignclient.New(e.msignURL, msignclient.Options{APIKey: mpowerMSignKey})
	if err != nil {
		t.Fatal(err)
	}
	e.mpowerStore = openStore(t, "mpower")
	pw, err := mpower.New(mpower.Config{Store: e.mpowerStore, MSign: mpowerMSign,
		Verify: pades.VerifyOptions{Roots: shared.pki.RootPool(), Revocation: pades.RevocationSkip}})
	if err != nil {
		t.Fatal(err)
	}
	e.mpowerReg = pw.Registry()
	if err := e.mpowerReg.AddType(ctx, "test", mpower.AuthType{Code: "AT-0000004", Names: map[string]string{"ro": "Certificate fiscale"},
		LegalText: map[string]string{"ro": "{{.AuthorizingIdn}} împuternicește {{.RepresentedIdn}}."}, MaxDays: 365,
		ProviderIDNO: "1006601000439", ProviderName: "SFS", System: "portal"}); err != nil {
		t.Fatal(err)
	}
	if err := mpower.AddSystem(ctx, e.mpowerStore, "test", mpower.NewSystem{Name: "mpass", APIKey: []byte(mpassMPowerKey)}); err != nil {
		t.Fatal(err)
	}
	serve(t, e.mpowerStore, mpowerHS, pw)

	// The portal.
	e.portalStore = openStore(t, "portal")
	hs = httptest.NewUnstartedServer(nil)
	e.url = "http://" + hs.Listener.Addr().String()
	const msignKey, mpowerKey = "portal-msign-key-0123456789", "portal-mpower-key-0123456789"
	if err := msign.AddSystem(ctx, sst, "test", msign.NewSystem{Name: "portal", APIKey: []byte(msignKey), ReturnURLs: []string{e.url + PathPrefix + "/"}}); err != nil {
		t.Fatal(err)
	}
	if err := mpower.AddSystem(ctx, e.mpowerStore, "test", mpower.NewSystem{Name: "portal", APIKey: []byte(mpowerKey)}); err != nil {
		t.Fatal(err)
	}
	msc, err := msignclient.New(e.msignURL, msignclient.Options{APIKey: msignKey})
	if err != nil {
		t.Fatal(err)
	}
	mpc, err := mpowerclient.New(e.mpowerURL, mpowerclient.Options{APIKey: mpowerKey})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Demo()
	if err != nil {
		t.Fatal(err)
	}
	meta, err := mp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	pkey, pcert, err := mpass.SelfSigned("portal.test", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: e.portalStore, PublicURL: e.url, Catalog: cat, IdPMetadata: meta, Key: pkey, Certificate: pcert,
		MSign: msc, MPower: mpc, MaxAttachment: 1 << 20}
	if mut != nil {
		mut(&cfg)
	}
	e.mpower = mpc
	e.portal, err = New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	md, err := e.portal.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mp.Registry().Add(ctx, md, mpass.SPOptions{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	serve(t, e.portalStore, hs, e.portal)
	return e
}

// browser is a person's browser: cookies, redirects followed.
type browser struct {
	t testing.TB
	c *http.Client
}

func newBrowser(t testing.TB) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// upload posts a file as a browser does, with the page's form token.
func (b *browser) upload(u, csrf, document, name, contentType string, data []byte) (*http.Response, string) {
	b.t.Helper()
	var body strings.Builder
	mw := multipart.NewWriter(&body)
	mw.WriteField("_csrf", csrf)
	mw.WriteField("document", document)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="file"; filename="` + name + `"`}
	h["Content-Type"] = []string{contentType}
	pw, _ := mw.CreatePart(h)
	pw.Write(data)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body.String()))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

var (
	reCSRF  = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	reTx    = regexp.MustCompile(`name="tx" value="([0-9a-f]{32})"`)
	reCode  = regexp.MustCompile(`id="code">(\d{4})<`)
	reForm  = regexp.MustCompile(`(?s)<form[^>]* method="post" action="([^"]+)"[^>]*>(.*?)</form>`)
	reInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
	reAppID = regexp.MustCompile(`id="app-id">(P[0-9A-Z]{10})<`)
)

func csrfOf(t testing.TB, page string) string {
	t.Helper()
	m := reCSRF.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form token on the page:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

// postForm submits the first POST form of a page whose action contains
// want (hidden fields as they are).
func (b *browser) postForm(page, want string) (*http.Response, string) {
	b.t.Helper()
	for _, m := range reForm.FindAllStringSubmatch(page, -1) {
		action := html.UnescapeString(m[1])
		if !strings.Contains(action, want) {
			continue
		}
		v := url.Values{}
		for _, in := range reInput.FindAllStringSubmatch(m[2], -1) {
			v.Set(in[1], html.UnescapeString(in[2]))
		}
		return b.post(action, v)
	}
	b.t.Fatalf("no form to %s on:\n%s", want, page)
	return nil, ""
}

// confirmOnPhone waits for the request on the virtual phone of msisdn
// (of either simulator: realTimePhones) and enters pin.
func confirmOnPhone(t testing.TB, msisdn, pin, code string) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		for _, sim := range []*mobileid.Simulator{shared.sim, shared.phoneSim} {
			if p, _ := sim.PhonePrompt(msisdn); p.Pending {
				if code != "" && p.VerificationCode != code {
					t.Fatalf("the phone shows %s, the page %s", p.VerificationCode, code)
				}
				if res, _, err := sim.PhoneConfirm(msisdn, pin); err != nil {
					t.Fatalf("confirm on the phone: %s %v", res, err)
				}
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no request reached %s", msisdn)
}

// login logs the browser in with the virtual phone of user: it asks for
// the portal page u, follows MPass's login by phone and returns the page
// it is brought back to.
func (e *env) login(b *browser, u string, user mobileid.User) (*http.Response, string) {
	e.t.Helper()
	resp, page := b.get(u)
	if !strings.HasPrefix(resp.Request.URL.String(), e.mpassURL) {
		e.t.Fatalf("not sent to MPass: %s\n%s", resp.Request.URL, page)
	}
	m := reTx.FindStringSubmatch(page)
	if m == nil {
		e.t.Fatalf("no login transaction:\n%s", page)
	}
	resp, page = b.post(e.mpassURL+"/login/mobile", url.Values{"tx": {m[1]}, "phone": {user.MSISDN}})
	c := reCode.FindStringSubmatch(page)
	if c == nil {
		e.t.Fatalf("no verification code: %d\n%s", resp.StatusCode, page)
	}
	confirmOnPhone(e.t, user.MSISDN, mobileid.DefaultPIN1, c[1])
	wait := resp.Request.URL.String()
	for i := 0; i < 1000 && reCode.MatchString(page); i++ {
		time.Sleep(20 * time.Millisecond)
		resp, page = b.get(wait)
	}
	if !strings.Contains(page, `name="SAMLResponse"`) {
		e.t.Fatalf("no SAML response after the phone:\n%s", page)
	}
	return b.postForm(page, PathACS)
}

// grant makes a Valid power of typeCode from grantor to representative in
// MPower, as people do: MPower's act goes to MSign and the grantor signs it
// on their phone. It returns the authorization code.
func (e *env) grant(typeCode string, grantor, representative mobileid.User) string {
	e.t.Helper()
	ctx := context.Background()
	now := time.Now()
	start, err := e.mpower.Grant(ctx, mpowerclient.GrantRequest{AuthorizationTypeCode: typeCode, AuthorizingIdn: grantor.IDNP,
		AuthorizedIdn: representative.IDNP, FromDate: now.Add(-time.Minute), ToDate: now.AddDate(0, 3, 0)})
	if err != nil {
		e.t.Fatal(err)
	}
	b := newBrowser(e.t)
	q := url.Values{msignclient.ParamReturnURL: {mpowerBack}, msignclient.ParamRelayState: {start.AuthorizationCode}}
	_, page := b.get(start.RedirectURL + "?" + q.Encode())
	if resp, _ := b.post(e.msignURL+"/"+start.RequestID+"/sign", url.Values{"_csrf": {csrfOf(e.t, page)}, "Instrument": {"mobile"},
		"MSISDN": {grantor.MSISDN}}); resp.StatusCode != 200 {
		e.t.Fatalf("MSign's sign: %d", resp.StatusCode)
	}
	confirmOnPhone(e.t, grantor.MSISDN, mobileid.DefaultPIN2, "")
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		d, err := e.mpower.CompleteAct(ctx, start.RequestID)
		if err != nil && strings.Contains(err.Error(), "pending") {
			continue
		}
		if err != nil || !d.IsValid {
			e.t.Fatalf("the grant: %+v %v", d, err)
		}
		return start.AuthorizationCode
	}
	e.t.Fatal("the grant stays pending")
	return ""
}

// withMPay starts MPay on its own server and store, registers the portal
// there as a service provider (its endpoint, its key) and gives the
// portal's configuration the way to it: a mut for newEnv. *mpayURL is
// MPay's URL.
func withMPay(t testing.TB, mpayURL *string, mods ...func(*mpay.Config)) func(*Config) {
	return func(cfg *Config) {
		t.Helper()
		st := openStore(t, "mpay")
		seal := shared.pki.MustGet("seal")
		pc := mpay.Config{Store: st, Key: seal.Key, Cert: seal.Cert, Chain: seal.Chain,
			RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, Poll: 20 * time.Millisecond, CallTimeout: 5 * time.Second,
			Card: cardsim.Options{Delay: 50 * time.Millisecond, Timeout: 5 * time.Second}}
		for _, mod := range mods {
			mod(&pc)
		}
		svc, err := mpay.New(pc)
		if err != nil {
			t.Fatal(err)
		}
		*mpayURL = serve(t, st, nil, svc)
		signer, cert, err := demosp.NewKey("PORTAL")
		if err != nil {
			t.Fatal(err)
		}
		if err := mpay.AddService(context.Background(), st, "test", mpay.SP{ServiceID: "PORTAL", Name: "Portalul serviciilor publice",
			Endpoint: cfg.PublicURL + PathMPay, Face: mpay.FaceREST, Cert: cert}); err != nil {
			t.Fatal(err)
		}
		mc, err := mpayclient.New(*mpayURL, "PORTAL", signer, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Payments, cfg.MPaySP = mc, &MPaySP{ServiceID: "PORTAL", MPay: seal.Cert, Signer: signer}
	}
}
