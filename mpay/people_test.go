package mpay_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/phonetest"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/mpay"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/mpay/demosp"
	"github.com/semnat/semnat/store"
)

// peopleEnv is MPay with its pages for people, a real MPass (on a store
// of its own) where people log in by phone through the mobile-signature
// simulator, and MPay registered there as a relying service.
type peopleEnv struct {
	*env
	t        *testing.T
	phones   *phonetest.Phones
	sim      *mobileid.Simulator
	mpassURL string
	pub      string // MPay's public URL (a proxy to e.url)
}

// newPeopleEnv is MPay's on newEnv (newPostgresEnv when pg).
func newPeopleEnv(t *testing.T, pg bool) *peopleEnv {
	t.Helper()
	phones := phonetest.Start(t, phonetest.Options{Users: 3})
	mp := phones.StartMPass(t, nil)

	// MPay with its pages, at a public URL known before it starts.
	pubLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pub := "http://" + pubLn.Addr().String()
	meta, err := mp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	wkey, wcert, err := mpass.SelfSigned("mpay.test", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	web := func(c *mpay.Config) {
		c.Web = &mpay.WebConfig{PublicURL: pub, IdPMetadata: meta, Key: wkey, Certificate: wcert}
	}
	var e *env
	if pg {
		e = newPostgresEnv(t, web)
	} else {
		e = newEnv(t, web)
	}
	target, _ := url.Parse(e.url)
	pubHS := &httptest.Server{Listener: pubLn, Config: &http.Server{Handler: httputil.NewSingleHostReverseProxy(target)}}
	pubHS.Start()
	t.Cleanup(pubHS.Close)
	mp.Register(t, e.svc.Metadata)
	return &peopleEnv{env: e, t: t, phones: phones, sim: phones.Sim, mpassURL: mp.URL, pub: pub}
}

func (e *peopleEnv) idnp(i int) string { return e.phones.IDNP(e.t, i) }

// browser is one person's browser: cookies kept, redirects followed.
type browser struct {
	e *peopleEnv
	c *http.Client
}

func (b *browser) do(method, u string, form url.Values) (*http.Response, string) {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	s, _ := io.ReadAll(resp.Body)
	return resp, string(s)
}

var (
	rePeopleTx   = regexp.MustCompile(`name="tx" value="([0-9a-f]{32})"`)
	rePeoplePIN  = regexp.MustCompile(`id="code">(\d{4})<`)
	rePeopleForm = regexp.MustCompile(`(?s)<form[^>]* method="post" action="([^"]+)"[^>]*>(.*?)</form>`)
	rePeopleIn   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

// login logs person i in with MPass by phone, asking for MPay's page
// path; it returns their browser and the page they are brought back to.
func (e *peopleEnv) login(i int, path string) (*browser, *http.Response, string) {
	t := e.t
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{e: e, c: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
	user := mobileid.GeneratedUser(i)
	resp, page := b.do("GET", e.pub+path, nil)
	if !strings.HasPrefix(resp.Request.URL.String(), e.mpassURL) {
		t.Fatalf("not sent to MPass: %s\n%s", resp.Request.URL, page)
	}
	m := rePeopleTx.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no login transaction:\n%s", page)
	}
	resp, page = b.do("POST", e.mpassURL+"/login/mobile", url.Values{"tx": {m[1]}, "phone": {user.MSISDN}})
	c := rePeoplePIN.FindStringSubmatch(page)
	if c == nil {
		t.Fatalf("no verification code: %d\n%s", resp.StatusCode, page)
	}
	confirmed := false
	for n := 0; n < 3000 && !confirmed; n++ {
		if pr, _ := e.sim.PhonePrompt(user.MSISDN); pr.Pending {
			if res, _, err := e.sim.PhoneConfirm(user.MSISDN, mobileid.DefaultPIN1); err != nil {
				t.Fatalf("confirm on the phone: %s %v", res, err)
			}
			confirmed = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !confirmed {
		t.Fatalf("no request reached %s", user.MSISDN)
	}
	wait := resp.Request.URL.String()
	for n := 0; n < 1000 && rePeoplePIN.MatchString(page); n++ {
		time.Sleep(20 * time.Millisecond)
		_, page = b.do("GET", wait, nil)
	}
	for _, f := range rePeopleForm.FindAllStringSubmatch(page, -1) {
		action := html.UnescapeString(f[1])
		if !strings.Contains(action, "/mpay/saml/acs") {
			continue
		}
		v := url.Values{}
		for _, in := range rePeopleIn.FindAllStringSubmatch(f[2], -1) {
			v.Set(in[1], html.UnescapeString(in[2]))
		}
		resp, page = b.do("POST", action, v)
		return b, resp, page
	}
	t.Fatalf("no form back to MPay on:\n%s", page)
	return nil, nil, ""
}

// payApproved pays the order by card in b's browser (nil: anonymously)
// and waits until the SP acknowledged it; the payment's ID.
func (e *peopleEnv) payApproved(b *browser, key string) string {
	t := e.t
	t.Helper()
	var c *http.Client = noRedirect
	if b != nil {
		c = &http.Client{Jar: b.c.Jar, Timeout: 30 * time.Second, CheckRedirect: noRedirect.CheckRedirect}
	}
	post := func(u string, form url.Values) *http.Response {
		req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST %s: %d", u, resp.StatusCode)
		}
		return resp
	}
	resp := post(e.pub+mpay.PathPay, url.Values{"ServiceID": {serviceID}, "OrderKey": {key}, "ReturnUrl": {e.spURL + "/"}})
	resp = post(e.pub+resp.Header.Get("Location")+"/card", url.Values{"amount": {"25.00"}, "number": {cardsim.CardApprove},
		"holder": {"Ion Popescu"}, "expiry": {"12/35"}, "cvc": {"123"}})
	id := paymentIDOf(resp.Header.Get("Location"))
	waitFor(t, "the confirmation of "+id, func() bool {
		p, err := e.svc.Ledger().Payment(context.Background(), id)
		return err == nil && !p.ConfirmedAt.IsZero()
	})
	return id
}

// TestPeoplePages: a payer logged in with MPass sees their payments (the
// one they made logged in, the one of an order in their name) and not
// another's, with the receipt; the service's staff see its payments,
// confirmation deliveries and webhook attempts; anyone else gets 403;
// the pages speak ro, ru, en under a strict CSP.
func TestPeoplePages(t *testing.T) { testPeoplePages(t, newPeopleEnv(t, false)) }

// TestPeoplePagesPostgres is TestPeoplePages on PostgreSQL.
func TestPeoplePagesPostgres(t *testing.T) { testPeoplePages(t, newPeopleEnv(t, true)) }

func testPeoplePages(t *testing.T, e *peopleEnv) {
	ctx := context.Background()
	a, b := e.idnp(0), e.idnp(1)

	// The service's staff is person 0, its webhooks fail once.
	var hooks atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hooks.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}))
	defer hook.Close()
	sp, err := mpay.LookupService(ctx, e.st, serviceID)
	if err != nil {
		t.Fatal(err)
	}
	if err := mpay.RemoveService(ctx, e.st, "test", serviceID); err != nil {
		t.Fatal(err)
	}
	sp.WebhookURL, sp.WebhookSecret, sp.Staff = hook.URL, "0123456789abcdef0123", []string{a}
	if err := mpay.AddService(ctx, e.st, "test", *sp); err != nil {
		t.Fatal(err)
	}
	bad := *sp
	bad.ServiceID, bad.Staff = "X1", []string{"123"}
	if err := mpay.AddService(ctx, e.st, "test", bad); err == nil {
		t.Fatal("a staff that is no IDNP was taken")
	}

	// Person 0 logs in, has no payments yet, pays one order logged in.
	pa, resp, page := e.login(0, mpay.PathMine)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="none"`) || !strings.Contains(page, "Plățile mele") {
		t.Fatalf("history before paying: %d\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != mpayCSP {
		t.Fatalf("CSP %q", csp)
	}
	e.sp.Put(demosp.Order{Key: "P-A", Reason: "Taxă A", Amount: amount(2500), CustomerName: "A"})
	idA := e.payApproved(pa, "P-A")
	// An order in person 1's name, paid by someone not logged in.
	e.sp.Put(demosp.Order{Key: "P-B", Reason: "Taxă B", Amount: amount(2500), CustomerName: "B", CustomerID: b})
	idB := e.payApproved(nil, "P-B")

	_, page = pa.do("GET", e.pub+mpay.PathMine, nil)
	if !strings.Contains(page, `data-payment="`+idA+`"`) || strings.Contains(page, idB) || !strings.Contains(page, "P-A") ||
		!strings.Contains(page, "Serviciu de test") || !strings.Contains(page, "25.00") || !strings.Contains(page, "Achitată") {
		t.Fatalf("person 0's history (want %s, not %s):\n%s", idA, idB, page)
	}
	m := regexp.MustCompile(`class="receipt" href="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no receipt link:\n%s", page)
	}
	resp, pdf := pa.do("GET", e.pub+html.UnescapeString(m[1]), nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(pdf, "%PDF") {
		t.Fatalf("receipt: %d %.40q", resp.StatusCode, pdf)
	}
	for lang, want := range map[string]string{"ru": "Мои платежи", "en": "My payments"} {
		_, page = pa.do("GET", e.pub+mpay.PathMine+"?lang="+lang, nil)
		if !strings.Contains(page, want) || !strings.Contains(page, idA) {
			t.Fatalf("history in %s:\n%s", lang, page)
		}
	}

	// Person 1 sees the order in their name, not person 0's payment.
	pb, _, page := e.login(1, mpay.PathMine)
	if !strings.Contains(page, `data-payment="`+idB+`"`) || strings.Contains(page, idA) {
		t.Fatalf("person 1's history (want %s, not %s):\n%s", idB, idA, page)
	}

	// The staff's view: both payments confirmed, the webhook's two attempts.
	waitFor(t, "the webhooks", func() bool {
		at, err := e.svc.Ledger().WebhookAttempts(ctx, serviceID)
		return err == nil && len(at) >= 3
	})
	resp, page = pa.do("GET", e.pub+mpay.PathStaff+serviceID+"?lang=ro", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != mpayCSP {
		t.Fatalf("staff page: %d (CSP %q)\n%s", resp.StatusCode, resp.Header.Get("Content-Security-Policy"), page)
	}
	for _, want := range []string{`data-payment="` + idA + `"`, `data-payment="` + idB + `"`, `data-confirmed="yes"`,
		`data-attempt="1"`, `data-attempt="2"`, "HTTP 503", "payment_succeeded", "Plățile serviciului"} {
		if !strings.Contains(page, want) {
			t.Fatalf("staff page lacks %s:\n%s", want, page)
		}
	}
	_, page = pa.do("GET", e.pub+mpay.PathStaff+serviceID+"?lang=en", nil)
	if !strings.Contains(page, "The service&#39;s payments") && !strings.Contains(page, "The service's payments") {
		t.Fatalf("staff page in en:\n%s", page)
	}

	// Person 1 is not staff: a plain 403, for unknown services too.
	for _, id := range []string{serviceID, "NOPE"} {
		resp, page = pb.do("GET", e.pub+mpay.PathStaff+id+"?lang=ru", nil)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "нет доступа") || strings.Contains(page, idA) {
			t.Fatalf("non-staff on %s: %d\n%s", id, resp.StatusCode, page)
		}
	}
	// Made staff, person 1 sees the service's page; unknown services and
	// IDs that are no IDNP are refused.
	if err := mpay.SetStaff(ctx, e.st, "test", serviceID, []string{a, b}); err != nil {
		t.Fatal(err)
	}
	if resp, page = pb.do("GET", e.pub+mpay.PathStaff+serviceID, nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, idA) {
		t.Fatalf("new staff: %d\n%s", resp.StatusCode, page)
	}
	if err := mpay.SetStaff(ctx, e.st, "test", "NOPE", []string{a}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("staff of an unknown service: %v", err)
	}
	if err := mpay.SetStaff(ctx, e.st, "test", serviceID, []string{"42"}); !errors.Is(err, mpay.ErrBadService) {
		t.Fatalf("staff not an IDNP: %v", err)
	}
}
