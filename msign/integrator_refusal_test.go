package msign

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/i18n"
	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/problem"
)

// person is a browser without JavaScript: cookies, no redirects followed.
type person struct {
	c    *http.Client
	base string
}

func newPerson(e *msignTLSEnv) *person {
	jar, _ := cookiejar.New(nil)
	roots := x509.NewCertPool()
	roots.AddCert(e.cert)
	return &person{base: e.url, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (p *person) do(t *testing.T, method, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, p.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "text/html")
	resp, err := p.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// open follows the system's link and returns the page's form token.
func (p *person) open(t *testing.T, id string, q url.Values) string {
	t.Helper()
	resp, page := p.do(t, "GET", "/"+id+"?"+q.Encode(), nil)
	m := csrfField.FindStringSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("GET /%s: %d %s", id, resp.StatusCode, page)
	}
	return m[1]
}

// sign chooses the mobile signature on the page.
func (p *person) sign(t *testing.T, id, csrf, msisdn string) (*http.Response, string) {
	t.Helper()
	return p.do(t, "POST", "/"+id+"/sign", url.Values{"_csrf": {csrf}, client.ParamInstrument: {"mobile"}, client.ParamMSISDN: {msisdn}})
}

func waitDone(t *testing.T, app *relyingApp, id string) *client.SignResponse {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := app.msign.GetSignResponse(context.Background(), id, "en")
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != client.StatusPending {
			return resp
		}
	}
	t.Fatal("the request stays Pending")
	return nil
}

func wantType(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %s", what, err, want.(*problem.Error).Type)
	}
}

// TestIntegratorRefusals: what MSign refuses to a system, to a browser
// and to an anonymous caller.
func TestIntegratorRefusals(t *testing.T) {
	e := newMSignTLS(t, nil)
	app := newRelyingApp(t, e.url, e.cert)
	e.register(t, app)
	ctx := context.Background()
	doc := samplepdf.Document("Refusals", nil, 0)
	pdfReq := func(id string) client.SignRequest {
		return client.SignRequest{ShortContentDescription: "Test", ContentType: client.ContentPdf,
			Contents: []client.SignContent{{CorrelationID: "c1", Name: "a.pdf", Content: doc}}, ExpectedSigner: &client.ExpectedSigner{ID: id}}
	}
	id, err := app.msign.PostSignRequest(ctx, pdfReq(""))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("authentication and authorization", func(t *testing.T) {
		anon, _ := client.New(e.url, client.Options{HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: app.tlsCfg.RootCAs}}}})
		_, err := anon.PostSignRequest(ctx, pdfReq(""))
		wantType(t, "no credentials", err, client.ErrAuthenticationFailed)
		stranger := newRelyingApp(t, e.url, e.cert) // a certificate nobody registered
		_, err = stranger.msign.PostSignRequest(ctx, pdfReq(""))
		wantType(t, "unregistered certificate", err, client.ErrAuthenticationFailed)
		if err := AddSystem(ctx, e.store, "test", NewSystem{Name: "other", APIKey: []byte("other-system-key-0123456789"), ReturnURLs: []string{"https://other.example.md/"}}); err != nil {
			t.Fatal(err)
		}
		other, _ := client.New(e.url, client.Options{APIKey: "other-system-key-0123456789", HTTPClient: anonHTTP(app)})
		_, err = other.GetSignResponse(ctx, id, "en")
		wantType(t, "another system's request", err, client.ErrAuthorizationFailed)
		otherID, err := other.PostSignRequest(ctx, pdfReq(""))
		if err != nil {
			t.Fatalf("API key system: %v", err)
		}
		_, err = app.msign.GetSignResponse(ctx, otherID, "en")
		wantType(t, "the other way round", err, client.ErrAuthorizationFailed)
		for _, bad := range []string{"0123456789abcdef0123456789abcdef", "x", "../" + id} {
			_, err = app.msign.GetSignResponse(ctx, bad, "en")
			wantType(t, "unknown id "+bad, err, client.ErrRequestNotFound)
		}
		_, err = app.msign.GetSignResponse(ctx, id, "fr")
		wantType(t, "language fr", err, client.ErrInvalidParameter)
	})

	t.Run("invalid parameters", func(t *testing.T) {
		long := strings.Repeat("x", 91)
		sum := sha256.Sum256([]byte("x"))
		for name, c := range map[string]struct {
			mut  func(r *client.SignRequest)
			want string
		}{
			"no short description": {func(r *client.SignRequest) { r.ShortContentDescription = "" }, "ShortContentDescription"},
			"short description":    {func(r *client.SignRequest) { r.ShortContentDescription = long }, "ShortContentDescription"},
			"description":          {func(r *client.SignRequest) { r.ContentDescription = strings.Repeat("y", 513) }, "ContentDescription"},
			"reason":               {func(r *client.SignRequest) { r.SignatureReason = strings.Repeat("z", 256) }, "SignatureReason"},
			"content type":         {func(r *client.SignRequest) { r.ContentType = "Xml" }, "ContentType"},
			"no contents":          {func(r *client.SignRequest) { r.Contents = nil }, "Contents"},
			"duplicate id": {func(r *client.SignRequest) { r.Contents = append(r.Contents, r.Contents[0]) },
				"Contents[1].CorrelationID"},
			"long correlation id": {func(r *client.SignRequest) { r.Contents[0].CorrelationID = strings.Repeat("c", 37) }, "Contents[0].CorrelationID"},
			"empty content":       {func(r *client.SignRequest) { r.Contents[0].Content = nil }, "Contents[0].Content"},
			"not a PDF":           {func(r *client.SignRequest) { r.Contents[0].Content = []byte("hello") }, "not a PDF"},
			"SHA-1 hash": {func(r *client.SignRequest) { r.ContentType, r.Contents[0].Content = client.ContentHash, sum[:20] },
				"32-byte SHA-256"},
			"IDNP check digit": {func(r *client.SignRequest) { r.ExpectedSigner.ID = "2004007000011" }, "ExpectedSigner.ID"},
			"delegator person": {func(r *client.SignRequest) { r.ExpectedSigner.DelegatorType = client.DelegatorPerson }, "MPower"},
		} {
			r := pdfReq("")
			c.mut(&r)
			_, err := app.msign.PostSignRequest(ctx, r)
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Type != client.ProblemInvalidParameter || !strings.Contains(pe.Detail, c.want) {
				t.Errorf("%s: %v, want InvalidParameter about %s", name, err, c.want)
			}
		}
	})

	t.Run("return url and relay state", func(t *testing.T) {
		p := newPerson(e)
		for _, bad := range []url.Values{
			{client.ParamReturnURL: {"https://evil.example/back/"}},
			{client.ParamReturnURL: {app.url + "/backdoor"}},                                     // not at a path boundary
			{client.ParamReturnURL: {strings.Replace(app.url, "http:", "https:", 1) + "/back/"}}, // another scheme
			{},
			{client.ParamReturnURL: {app.url + "/back/x"}, client.ParamRelayState: {strings.Repeat("r", 81)}},
		} {
			resp, page := p.do(t, "GET", "/"+id+"?"+bad.Encode(), nil)
			if resp.StatusCode != 400 || resp.Header.Get("Location") != "" || !strings.Contains(page, "Cererea serviciului care v-a trimis aici nu este corectă.") || !strings.Contains(page, "Invalid parameter") {
				t.Errorf("%v: %d %s", bad, resp.StatusCode, page)
			}
			if strings.Contains(page, "return-form") {
				t.Errorf("%v: a form posts somewhere", bad)
			}
		}
		// 80 bytes are fine; the ReturnUrl cannot be changed afterwards.
		p.open(t, id, url.Values{client.ParamReturnURL: {app.url + "/back/x"}, client.ParamRelayState: {strings.Repeat("r", 80)}})
		if resp, _ := p.do(t, "GET", "/"+id+"?"+url.Values{client.ParamReturnURL: {app.url + "/back/y"}}.Encode(), nil); resp.StatusCode != 400 {
			t.Errorf("changed ReturnUrl: %d", resp.StatusCode)
		}
		// The page's form needs its token.
		if resp, _ := p.do(t, "POST", "/"+id+"/sign", url.Values{client.ParamInstrument: {"mobile"}, client.ParamMSISDN: {"+37300000001"}}); resp.StatusCode != 403 {
			t.Errorf("sign without the form token: %d", resp.StatusCode)
		}
		csrf := p.open(t, id, nil)
		if resp, page := p.sign(t, id, csrf, "12345"); resp.StatusCode != 400 || !strings.Contains(page, "Acesta nu este un număr de mobil din Moldova") || !strings.Contains(page, `value="12345"`) {
			t.Errorf("bad MSISDN: %d %s", resp.StatusCode, page)
		}
	})

	t.Run("signer mismatch, then replayed completion", func(t *testing.T) {
		// +37300000001 approves at once; its holder is not GeneratedUser(3).
		mid, err := app.msign.PostSignRequest(ctx, pdfReq(mobileid.GeneratedUser(3).IDNP))
		if err != nil {
			t.Fatal(err)
		}
		p := newPerson(e)
		csrf := p.open(t, mid, url.Values{client.ParamReturnURL: {app.url + "/back/m"}})
		if resp, _ := p.sign(t, mid, csrf, "+37300000001"); resp.StatusCode != 303 {
			t.Fatalf("sign: %d", resp.StatusCode)
		}
		res := waitDone(t, app, mid)
		if res.Status != client.StatusFailure || res.Message != testWords(t, "en", "result.signer-mismatch") || len(res.Results) != 0 {
			t.Fatalf("mismatch: %+v", res)
		}
		// A signed request cannot be signed again.
		okID, _ := app.msign.PostSignRequest(ctx, pdfReq(""))
		csrf = p.open(t, okID, url.Values{client.ParamReturnURL: {app.url + "/back/ok"}})
		p.sign(t, okID, csrf, "000 000 001") // +37300000001 in its local form
		first := waitDone(t, app, okID)
		if first.Status != client.StatusSuccess {
			t.Fatalf("sign: %+v", first)
		}
		resp, page := p.sign(t, okID, csrf, "+37300000002")
		if resp.StatusCode != 409 || !strings.Contains(page, "Această cerere este deja în curs de semnare sau s-a încheiat.") {
			t.Fatalf("replayed: %d %s", resp.StatusCode, page)
		}
		if resp, _ := p.do(t, "POST", "/"+okID+"/cancel", url.Values{"_csrf": {csrf}}); resp.StatusCode != 409 {
			t.Errorf("cancelling a signed request: %d", resp.StatusCode)
		}
		again, err := app.msign.GetSignResponse(ctx, okID, "en")
		if err != nil || again.Status != client.StatusSuccess || string(again.Results[0].Signature) != string(first.Results[0].Signature) {
			t.Fatalf("after the replay: %+v %v", again, err)
		}
		// The citizen's API does not show, cancel or hand out a system's
		// request, though the browser knows its id.
		for _, path := range []string{"/api/v1/sign-requests/" + okID, "/api/v1/sign-requests/" + okID + "/documents/1", "/sign/" + okID} {
			if resp, _ := p.do(t, "GET", path, nil); resp.StatusCode != 404 {
				t.Errorf("GET %s: %d", path, resp.StatusCode)
			}
		}
		if resp, _ := p.do(t, "DELETE", "/api/v1/sign-requests/"+okID, nil); resp.StatusCode != 404 {
			t.Errorf("DELETE: %d", resp.StatusCode)
		}
		if again, err := app.msign.GetSignResponse(ctx, okID, "en"); err != nil || len(again.Results) != 1 {
			t.Fatalf("after the citizen's API: %+v %v", again, err)
		}
		// The ended request's page sends the browser back, with RelayState.
		if _, page := p.do(t, "GET", "/"+okID, nil); !strings.Contains(page, `id="return-form"`) || !strings.Contains(page, app.url+"/back/ok") {
			t.Fatalf("ended page: %s", page)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		cid, _ := app.msign.PostSignRequest(ctx, pdfReq(""))
		p := newPerson(e)
		csrf := p.open(t, cid, url.Values{client.ParamReturnURL: {app.url + "/back/c"}, client.ParamRelayState: {"rs"}, client.ParamLang: {"ru"}})
		// The page speaks the language the system asked for.
		if _, page := p.do(t, "GET", "/"+cid, nil); !strings.Contains(page, "Подписать") || !strings.Contains(page, "Отказаться") {
			t.Errorf("the page is not in Russian: %s", page)
		}
		if resp, _ := p.do(t, "POST", "/"+cid+"/cancel", url.Values{"_csrf": {csrf}}); resp.StatusCode != 303 {
			t.Fatalf("cancel: %d", resp.StatusCode)
		}
		if res, _ := app.msign.GetSignResponse(ctx, cid, "ro"); res.Status != client.StatusFailure || res.Message != testWords(t, "ro", "result.cancelled") {
			t.Fatalf("cancelled: %+v", res)
		}
		if _, page := p.do(t, "GET", "/"+cid, nil); !strings.Contains(page, `name="RelayState" value="rs"`) ||
			!strings.Contains(page, "Не подписано") || !strings.Contains(page, testWords(t, "ru", "result.cancelled")) {
			t.Fatalf("return page: %s", page)
		}
	})
}

func anonHTTP(app *relyingApp) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: app.tlsCfg.RootCAs}}}
}

// TestIntegratorExpired: a request not signed in time is Expired, and its
// page sends the browser back.
func TestIntegratorExpired(t *testing.T) {
	e := newMSignTLS(t, func(c *Config) { c.SignTTL = 500 * time.Millisecond })
	app := newRelyingApp(t, e.url, e.cert)
	e.register(t, app)
	id, err := app.msign.PostSignRequest(context.Background(), client.SignRequest{ShortContentDescription: "Test", ContentType: client.ContentPdf,
		Contents: []client.SignContent{{CorrelationID: "c1", Content: samplepdf.Document("Late", nil, 0)}}})
	if err != nil {
		t.Fatal(err)
	}
	p := newPerson(e)
	csrf := p.open(t, id, url.Values{client.ParamReturnURL: {app.url + "/back/late"}})
	time.Sleep(700 * time.Millisecond)
	res, err := app.msign.GetSignResponse(context.Background(), id, "ru")
	if err != nil || res.Status != client.StatusExpired || res.Message != testWords(t, "ru", "result.Expired") {
		t.Fatalf("expired: %+v %v", res, err)
	}
	if resp, _ := p.sign(t, id, csrf, "+37300000001"); resp.StatusCode != 409 {
		t.Fatalf("signing an expired request: %d", resp.StatusCode)
	}
	if _, page := p.do(t, "GET", "/"+id, nil); !strings.Contains(page, `id="return-form"`) {
		t.Fatalf("expired page: %s", page)
	}
}

// TestAnonymousPhoneProbe: whoever knows a phone number learns nothing
// about its holder from the citizen API (no name, IDNP or certificate
// before the holder signed, whether or not the IDNP they guess is right),
// a phone has one pending prompt at a time, and one client may start only
// PromptRate prompts a minute.
func TestAnonymousPhoneProbe(t *testing.T) {
	e := newSignEnv(t, "", func(c *Config) { c.PromptRate, c.PromptBurst = 3, 3 })
	doc := samplepdf.Document("Probe", nil, 0)
	holder := mobileid.GeneratedUser(11) // a virtual phone: nobody answers it
	secrets := []string{holder.IDNP, holder.Surname, "SERIALNUMBER", "certificate", "signer"}
	probe := func(phone, idnp string) (*http.Response, []byte) {
		ct, body := form(map[string]string{"method": "mobile", "phone": phone, "idnp": idnp, "level": "B-B"}, "a.pdf", doc)
		return post(t, e.url+"/api/v1/sign-requests", ct, body, nil)
	}
	resp, b := probe(holder.MSISDN, holder.IDNP) // the right IDNP
	if resp.StatusCode != 201 {
		t.Fatalf("probe: %d %s", resp.StatusCode, b)
	}
	v := decodeView(t, b)
	for deadline := time.Now().Add(5 * time.Second); v.VerificationCode == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, b = getURL(t, e.url+"/api/v1/sign-requests/"+v.ID)
		v = decodeView(t, b)
	}
	if v.Status != statusPending || v.VerificationCode == "" {
		t.Fatalf("the phone is not being asked: %s", b)
	}
	for _, s := range secrets {
		if strings.Contains(string(b), s) {
			t.Errorf("the status of a pending request reveals %q: %s", s, b)
		}
	}
	// The phone is busy: no second prompt, from anyone.
	resp, b = probe(holder.MSISDN, "")
	wantProblem(t, resp, b, 429, "phone-busy")
	// A wrong IDNP is not told apart before the holder answers.
	other := mobileid.GeneratedUser(12)
	resp, b = probe(other.MSISDN, holder.IDNP)
	if v := decodeView(t, b); resp.StatusCode != 201 || v.Status != statusPending {
		t.Fatalf("probe with a wrong IDNP: %d %s", resp.StatusCode, b)
	}
	for _, s := range append(secrets, other.Surname, other.IDNP) {
		if strings.Contains(string(b), s) {
			t.Errorf("a probe with a wrong IDNP reveals %q: %s", s, b)
		}
	}
	// The fourth prompt of this client in a minute (the busy one counted).
	resp, b = probe(mobileid.GeneratedUser(13).MSISDN, "")
	wantProblem(t, resp, b, 429, "too-many-prompts")
}

// TestIntegratorSeveralDocuments: with a phone, one approval per document,
// one result per content, each a valid signed PDF.
func TestIntegratorSeveralDocuments(t *testing.T) {
	e := newMSignTLS(t, nil)
	app := newRelyingApp(t, e.url, e.cert)
	e.register(t, app)
	var contents []client.SignContent
	for i, title := range []string{"Contract", "Anexa 1", "Anexa 2"} {
		contents = append(contents, client.SignContent{CorrelationID: fmt.Sprintf("doc-%d", i+1), Name: title + ".pdf", Content: samplepdf.Document(title, nil, 0)})
	}
	id, err := app.msign.PostSignRequest(context.Background(), client.SignRequest{ShortContentDescription: "Contract și anexe",
		ContentType: client.ContentPdf, Contents: contents})
	if err != nil {
		t.Fatal(err)
	}
	p := newPerson(e)
	csrf := p.open(t, id, url.Values{client.ParamReturnURL: {app.url + "/back/3"}})
	if resp, _ := p.sign(t, id, csrf, "+37300000002"); resp.StatusCode != 303 {
		t.Fatalf("sign: %d", resp.StatusCode)
	}
	res := waitDone(t, app, id)
	if res.Status != client.StatusSuccess || len(res.Results) != 3 {
		t.Fatalf("%+v", res.Status)
	}
	for i, r := range res.Results {
		if r.CorrelationID != contents[i].CorrelationID {
			t.Errorf("result %d is %q", i, r.CorrelationID)
		}
		checkSigned(t, e.pki, r.Signature, "SERIALNUMBER=", "B-T")
	}
	// Registered, then one signature per document in the audit log.
	if n, err := e.store.VerifyAudit(context.Background()); err != nil || n != 1+3 {
		t.Errorf("audit log: %d entries, %v", n, err)
	}
}

// testWords is the message id in lang, from the service's message files.
func testWords(t *testing.T, lang, id string) string {
	t.Helper()
	c, err := i18n.NewCatalog(localesFS, "locales")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Localizer(lang).Has(id) {
		t.Fatalf("no message %s", id)
	}
	return c.Localizer(lang).T(id)
}
