package mpower

import (
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/phonetest"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/msign"
	msignclient "github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

// webEnv is MPass, MSign and MPower (with its pages) each on a loopback
// server with a store of its own, the test PKI's services and the
// mobile-signature simulator's virtual phones: people log in to MPower
// with MPass by phone and sign their acts at MSign.
type webEnv struct {
	t                             *testing.T
	phones                        *phonetest.Phones
	sim                           *mobileid.Simulator
	mpassURL, msignURL, mpowerURL string
	svc                           *Service
	check                         *client.Client
}

const webCompany = "1010600034203"

func listen(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	hs.Listener.Close()
	hs.Listener = ln
	return hs, "http://" + ln.Addr().String()
}

func serveOn(t *testing.T, hs *httptest.Server, st *store.Store, svc service.Service) {
	t.Helper()
	host := service.NewHost(service.HostOptions{Ready: st})
	host.Mount(svc)
	hs.Config.Handler = host
	hs.Start()
	t.Cleanup(func() { hs.Close(); host.Close() })
}

func tempStore(t *testing.T, name string) *store.Store {
	t.Helper()
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), name+".db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// webOpts change the cast: MSign's token agent, and what is added to the
// PKI before its services start.
type webOpts struct {
	agentURL string
	pki      func(*testcerts.PKI)
}

func newWebEnv(t *testing.T, o webOpts) *webEnv {
	t.Helper()
	ctx := context.Background()
	e := &webEnv{t: t}
	phones := phonetest.Start(t, phonetest.Options{Users: 4, PKI: o.pki})
	e.phones, e.sim = phones, phones.Sim
	pki, pkiURL := phones.PKI, phones.PKIURL
	mp := phones.StartMPass(t, nil)
	e.mpassURL = mp.URL

	// MSign, MPower registered there by API key, its pages as return URL.
	msignHS, msignURL := listen(t)
	e.msignURL = msignURL
	mpowerHS, mpowerURL := listen(t)
	e.mpowerURL = mpowerURL
	sst := tempStore(t, "msign")
	ms, err := msign.New(msign.Config{Store: sst, Roots: pki.RootPool(), Mobile: phones.Mobile(t), PublicOrigin: msignURL, AgentURL: o.agentURL,
		Timestamper: pades.TSA{Client: &tsa.Client{URL: pkiURL + testcerts.TSAPath, HTTPClient: &http.Client{Timeout: 10 * time.Second}}}})
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, msignHS, sst, ms)
	const msignKey = "mpower-msign-key-0123456789"
	if err := msign.AddSystem(ctx, sst, "test", msign.NewSystem{Name: "mpower", APIKey: []byte(msignKey), ReturnURLs: []string{mpowerURL + PathPages + "/"}}); err != nil {
		t.Fatal(err)
	}
	mc, err := msignclient.New(msignURL, msignclient.Options{APIKey: msignKey})
	if err != nil {
		t.Fatal(err)
	}

	// MPower with its pages, a relying service of MPass.
	pst := tempStore(t, "mpower")
	wkey, wcert, err := mpass.SelfSigned("mpower.test", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := mp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	e.svc, err = New(Config{Store: pst, MSign: mc, Verify: pades.VerifyOptions{Roots: pki.RootPool(), Revocation: pades.RevocationSkip},
		Web: &WebConfig{PublicURL: mpowerURL, IdPMetadata: meta, Key: wkey, Certificate: wcert}})
	if err != nil {
		t.Fatal(err)
	}
	reg := e.svc.Registry()
	if err := reg.AddType(ctx, "t", testType("AT-0000001", true)); err != nil {
		t.Fatal(err)
	}
	if err := reg.PutEntity(ctx, "t", Entity{IDNO: webCompany, Name: "Exemplu", Form: "SRL",
		Administrators: []Administrator{{IDNP: e.idnp(0), From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
			{IDNP: e.idnp(3), From: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}}}); err != nil {
		t.Fatal(err)
	}
	if err := AddSystem(ctx, pst, "t", NewSystem{Name: "asp", APIKey: []byte(aspKey)}); err != nil {
		t.Fatal(err)
	}
	mp.Register(t, e.svc.Metadata)
	serveOn(t, mpowerHS, pst, e.svc)
	if e.check, err = client.New(mpowerURL, client.Options{APIKey: aspKey}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *webEnv) idnp(i int) string { return e.phones.IDNP(e.t, i) }

// person is one person's browser: cookies kept, redirects followed.
type person struct {
	e    *webEnv
	user mobileid.User
	c    *http.Client
}

var (
	reCSRF = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	reTx   = regexp.MustCompile(`name="tx" value="([0-9a-f]{32})"`)
	rePIN  = regexp.MustCompile(`id="code">(\d{4})<`)
	reForm = regexp.MustCompile(`(?s)<form[^>]* method="post" action="([^"]+)"[^>]*>(.*?)</form>`)
	reIn   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
	rePow  = regexp.MustCompile(`id="code">(\d{16})<`)
	reStat = regexp.MustCompile(`data-state="([a-z-]+)"`)
)

func (p *person) do(req *http.Request) (*http.Response, string) {
	p.e.t.Helper()
	resp, err := p.c.Do(req)
	if err != nil {
		p.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (p *person) get(u string) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return p.do(req)
}

func (p *person) post(u string, form url.Values) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return p.do(req)
}

// postForm submits the first POST form of page whose action contains
// want, with its hidden fields.
func (p *person) postForm(page, want string) (*http.Response, string) {
	p.e.t.Helper()
	for _, m := range reForm.FindAllStringSubmatch(page, -1) {
		action := html.UnescapeString(m[1])
		if !strings.Contains(action, want) {
			continue
		}
		v := url.Values{}
		for _, in := range reIn.FindAllStringSubmatch(m[2], -1) {
			v.Set(in[1], html.UnescapeString(in[2]))
		}
		return p.post(action, v)
	}
	p.e.t.Fatalf("no form to %s on:\n%s", want, page)
	return nil, ""
}

func csrf(t *testing.T, page string) string {
	t.Helper()
	m := reCSRF.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form token on:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

// phone waits for the request on the person's virtual phone and enters
// pin.
func (p *person) phone(pin, code string) {
	p.e.t.Helper()
	if err := p.answerPhone(pin, code); err != nil {
		p.e.t.Fatal(err)
	}
}

// answerPhone is phone, saying what went wrong instead of failing the
// test (a browser test adds the page it was on).
func (p *person) answerPhone(pin, code string) error {
	for i := 0; i < 3000; i++ {
		if pr, _ := p.e.sim.PhonePrompt(p.user.MSISDN); pr.Pending {
			if code != "" && pr.VerificationCode != code {
				return fmt.Errorf("the phone shows %s, the page %s", pr.VerificationCode, code)
			}
			if res, _, err := p.e.sim.PhoneConfirm(p.user.MSISDN, pin); err != nil {
				return fmt.Errorf("confirm on the phone: %s %v", res, err)
			}
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	pr, _ := p.e.sim.PhonePrompt(p.user.MSISDN)
	return fmt.Errorf("no request reached %s in 30 s (the phone: %+v)", p.user.MSISDN, pr)
}

// login logs the person in with MPass by phone, asking for MPower's page
// path, and returns the page they are brought back to.
func (e *webEnv) login(i int, path string) (*person, string) {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	p := &person{e: e, user: mobileid.GeneratedUser(i), c: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
	resp, page := p.get(e.mpowerURL + path)
	if !strings.HasPrefix(resp.Request.URL.String(), e.mpassURL) {
		e.t.Fatalf("not sent to MPass: %s\n%s", resp.Request.URL, page)
	}
	m := reTx.FindStringSubmatch(page)
	if m == nil {
		e.t.Fatalf("no login transaction:\n%s", page)
	}
	resp, page = p.post(e.mpassURL+"/login/mobile", url.Values{"tx": {m[1]}, "phone": {p.user.MSISDN}})
	c := rePIN.FindStringSubmatch(page)
	if c == nil {
		e.t.Fatalf("no verification code: %d\n%s", resp.StatusCode, page)
	}
	p.phone(mobileid.DefaultPIN1, c[1])
	wait := resp.Request.URL.String()
	for i := 0; i < 1000 && rePIN.MatchString(page); i++ {
		time.Sleep(20 * time.Millisecond)
		_, page = p.get(wait)
	}
	resp, page = p.postForm(page, PathPages+"/saml/acs")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), e.mpowerURL+path) {
		e.t.Fatalf("after login: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	return p, page
}

// signAtMSign is the person at MSign's page (resp): they choose the phone,
// confirm with PIN2, and are sent back to MPower; it returns the power's
// page.
func (p *person) signAtMSign(resp *http.Response, page string) string {
	t := p.e.t
	t.Helper()
	if !strings.HasPrefix(resp.Request.URL.String(), p.e.msignURL+"/") {
		t.Fatalf("not sent to MSign: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	signPage := resp.Request.URL.String()
	p.post(p.e.msignURL+resp.Request.URL.Path+"/sign", url.Values{"_csrf": {csrf(t, page)}, "Instrument": {"mobile"}, "MSISDN": {p.user.MSISDN}})
	p.phone(mobileid.DefaultPIN2, "")
	for i := 0; i < 1000 && !strings.Contains(page, `id="return-form"`); i++ {
		time.Sleep(10 * time.Millisecond)
		_, page = p.get(signPage)
	}
	resp, page = p.postForm(page, PathSigned)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.Path, pathPower) {
		t.Fatalf("back from MSign: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	return page
}

// act presses the act's button on the power's page and signs at MSign.
func (p *person) act(code, act string) string {
	p.e.t.Helper()
	_, page := p.get(p.e.mpowerURL + pathPower + code)
	if !strings.Contains(page, `id="act-`+act+`"`) {
		p.e.t.Fatalf("no %s button for %s:\n%s", act, p.user.MSISDN, page)
	}
	resp, page := p.post(p.e.mpowerURL+pathPower+code+"/act", url.Values{"_csrf": {csrf(p.e.t, page)}, "act": {act}})
	return p.signAtMSign(resp, page)
}

func stateOf(t *testing.T, page string) State {
	t.Helper()
	m := reStat.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no status on:\n%s", page)
	}
	return State(m[1])
}

func (e *webEnv) checkTrue(code string) bool {
	e.t.Helper()
	ok, err := e.check.IsValid(context.Background(), code)
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

// TestWebPages: a person logs in to MPower's pages with MPass by phone,
// the wizard refuses a mistyped IDNP and a period longer than the type
// allows, then grants a power and signs it on the phone through MSign;
// the representative logs in, sees it granted to them and accepts it by
// signing; a service's check says true; the grantor revokes it by signing
// and the check says false at once. Each power's page shows its history
// and its signed acts, verified. A company's administrator grants on its
// behalf; another person cannot, and is told why in plain words; nor can
// they see the others' powers.
func TestWebPages(t *testing.T) {
	e := newWebEnv(t, webOpts{})
	alice, page := e.login(0, PathPages+"/nou")
	if !strings.Contains(page, "Acordă o procură") || !strings.Contains(page, webCompany) {
		t.Fatalf("the wizard (ro, with the company alice administers):\n%s", page)
	}
	bob := e.idnp(1)
	typo := bob[:12] + string('0'+(bob[12]-'0'+1)%10)
	today := time.Now().In(time.FixedZone("", 2*3600)).Format(time.DateOnly)
	form := func(rep, to, behalf string) url.Values {
		return url.Values{"_csrf": {csrf(t, page)}, "type": {"AT-0000001"}, "behalf": {behalf}, "representative": {rep}, "from": {today}, "to": {to}}
	}
	resp, out := alice.post(e.mpowerURL+PathPages+"/nou", form(typo, time.Now().AddDate(0, 1, 0).Format(time.DateOnly), ""))
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(out, "cifra de control nu corespunde") {
		t.Fatalf("a mistyped IDNP: %d\n%s", resp.StatusCode, out)
	}
	resp, out = alice.post(e.mpowerURL+PathPages+"/nou", form(bob, time.Now().AddDate(1, 1, 0).Format(time.DateOnly), ""))
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(out, "mai lungă decât permite") {
		t.Fatalf("too long: %d\n%s", resp.StatusCode, out)
	}
	resp, out = alice.post(e.mpowerURL+PathPages+"/nou", form(bob, time.Now().AddDate(0, 1, 0).Format(time.DateOnly), ""))
	out = alice.signAtMSign(resp, out)
	code := rePow.FindStringSubmatch(out)[1]
	if st := stateOf(t, out); st != PendingAcceptance || !strings.Contains(out, "Actul a fost semnat") || !strings.Contains(out, "Semnătură validă") {
		t.Fatalf("after the grantor signed: %s\n%s", st, out)
	}
	if e.checkTrue(code) {
		t.Fatal("a power awaiting acceptance checks true")
	}

	// The representative accepts.
	b, home := e.login(1, PathPages+"/")
	if !strings.Contains(home, `data-code="`+code+`"`) || strings.Index(home, "Acordate mie") > strings.Index(home, code) {
		t.Fatalf("bob's home does not list %s under granted to me:\n%s", code, home)
	}
	out = b.act(code, "accept")
	if st := stateOf(t, out); st != Valid {
		t.Fatalf("after acceptance: %s\n%s", st, out)
	}
	if strings.Count(out, "Semnătură validă") != 2 {
		t.Fatalf("want both acts verified:\n%s", out)
	}
	if !e.checkTrue(code) {
		t.Fatal("the accepted power checks false")
	}
	// The grantor revokes: false at once.
	out = alice.act(code, "revoke")
	if st := stateOf(t, out); st != Canceled || !strings.Contains(out, "revocată") {
		t.Fatalf("after revocation: %s\n%s", st, out)
	}
	if e.checkTrue(code) {
		t.Fatal("the revoked power still checks true")
	}
	hist, err := e.svc.Registry().History(context.Background(), code)
	if err != nil || len(hist) != 4 || hist[0].Event != EvGrant || hist[3].Event != EvRevoke || hist[3].Actor != e.idnp(0) {
		t.Fatalf("history: %+v %v", hist, err)
	}
	// In Russian.
	if _, ru := alice.get(e.mpowerURL + pathPower + code + "?lang=ru"); !strings.Contains(ru, "Аннулирована") || !strings.Contains(ru, "Подпись действительна") {
		t.Fatalf("the page in Russian:\n%s", ru)
	}

	// On behalf of the company alice administers.
	_, page = alice.get(e.mpowerURL + PathPages + "/nou?for=" + webCompany)
	resp, out = alice.post(e.mpowerURL+PathPages+"/nou", form(bob, time.Now().AddDate(0, 1, 0).Format(time.DateOnly), webCompany))
	out = alice.signAtMSign(resp, out)
	company := rePow.FindStringSubmatch(out)[1]
	if st := stateOf(t, out); st != PendingAcceptance || !strings.Contains(out, "Exemplu SRL") || !strings.Contains(out, "IDNO "+webCompany) {
		t.Fatalf("the company's grant: %s\n%s", st, out)
	}

	// The company's other administrator sees its power among those granted
	// by them, and may open it, though alice signed it.
	_, home = e.login(3, PathPages+"/")
	if !strings.Contains(home, `data-code="`+company+`"`) || strings.Contains(home, `data-code="`+code+`"`) {
		t.Fatalf("dan's home: want the company's power only:\n%s", home)
	}

	// Carol administers nothing: refused in plain words, and she sees
	// nobody else's power.
	carol, page := e.login(2, PathPages+"/nou")
	resp, out = carol.get(e.mpowerURL + PathPages + "/nou?for=" + webCompany)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(out, "Nu sunteți administrator în funcție al acestei companii") {
		t.Fatalf("a non-administrator's wizard for the company: %d\n%s", resp.StatusCode, out)
	}
	resp, out = carol.post(e.mpowerURL+PathPages+"/nou", form(bob, time.Now().AddDate(0, 1, 0).Format(time.DateOnly), webCompany))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(out, "Nu sunteți administrator în funcție") {
		t.Fatalf("a non-administrator's grant for the company: %d\n%s", resp.StatusCode, out)
	}
	for _, c := range []string{code, company} {
		if resp, out := carol.get(e.mpowerURL + pathPower + c); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("carol sees %s: %d\n%s", c, resp.StatusCode, out)
		}
	}
	if list, _, err := e.svc.Registry().List(context.Background(), Filter{GrantedBy: webCompany}); err != nil || len(list) != 1 {
		t.Fatalf("the company's powers: %d %v", len(list), err)
	}
}
