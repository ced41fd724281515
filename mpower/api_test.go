package mpower

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/mpower/client"
	msignclient "github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
)

// apiEnv is MPower on a host behind an HTTPS test server, with systems
// "asp" (owns the types, API key), "other" (API key, owns nothing) and
// "auditor" (sees all, by TLS client certificate).
type apiEnv struct {
	*fixture
	srv  *httptest.Server
	svc  *Service
	host *service.Host
	asp  *client.Client
	oth  *client.Client
	all  *client.Client
	anon *client.Client
}

const aspKey, otherKey = "asp-key-0123456789abcdef", "other-key-0123456789abcdef"

func newAPIEnv(t testing.TB) *apiEnv {
	t.Helper()
	return newAPIEnvAt(t, filepath.Join(t.TempDir(), "semnat.db"))
}

// newAPIEnvAt is newAPIEnv on the store dsn.
func newAPIEnvAt(t testing.TB, dsn string) *apiEnv {
	t.Helper()
	return serveAPI(t, newFixture(t, dsn), true)
}

// serveAPI serves f's registry; register: add the systems (a store that
// has them already, a benchmark's kept database, does not).
func serveAPI(t testing.TB, f *fixture, register bool) *apiEnv {
	t.Helper()
	seal := f.pki.MustGet("seal")
	svc, err := New(Config{Store: f.st, Verify: pades.VerifyOptions{Roots: f.pki.RootPool(), Revocation: pades.RevocationSkip},
		Seal: seal.Key, SealChain: append([]*x509.Certificate{seal.Cert}, seal.Chain...)})
	if err != nil {
		t.Fatal(err)
	}
	f.reg = svc.Registry()
	host := service.NewHost(service.HostOptions{Ready: f.st})
	host.Mount(svc)
	srv := httptest.NewUnstartedServer(host)
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	systems := []NewSystem{{Name: "asp", APIKey: []byte(aspKey)}, {Name: "other", APIKey: []byte(otherKey)},
		{Name: "auditor", Cert: seal.Cert, ViewAll: true}}
	if !register {
		systems = nil
	}
	for _, n := range systems {
		if err := AddSystem(ctx, f.st, "test", n); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(key string, cert *tls.Certificate) *client.Client {
		hc := srv.Client()
		tr := hc.Transport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = client.MaxIdleConns // the bench's 32 clients keep their connections
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
		c, err := client.New(srv.URL, client.Options{HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}, APIKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tc := &tls.Certificate{Certificate: [][]byte{seal.Cert.Raw}, PrivateKey: seal.Key, Leaf: seal.Cert}
	return &apiEnv{fixture: f, srv: srv, svc: svc, host: host, asp: mk(aspKey, nil), oth: mk(otherKey, nil), all: mk("", tc), anon: mk("", nil)}
}

// validPower grants and signs a power of AT-0000002 (no acceptance).
func (e *apiEnv) validPower(t testing.TB, by, to string) *Power {
	t.Helper()
	p := e.grant(t, "AT-0000002", by, "", to)
	signer := e.alice
	if by == e.carol.IDNP {
		signer = e.carol
	}
	p, err := e.reg.Transition(context.Background(), "t", p.Code, EvSign, e.act(t, signer, p.Code))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckAPI(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	p := e.validPower(t, e.alice.IDNP, e.bob.IDNP)
	e.clk.add(time.Second) // newest first: the draft, then p
	draft := e.grant(t, "AT-0000001", e.alice.IDNP, "", e.carol.IDNP)

	if ok, err := e.asp.IsValid(ctx, p.Code); err != nil || !ok {
		t.Fatalf("Code-True-One: %v %v", ok, err)
	}
	if ok, err := e.asp.IsValid(ctx, draft.Code); err != nil || ok {
		t.Fatalf("a draft is valid: %v %v", ok, err)
	}
	for _, c := range []struct {
		code string
		want []byte
	}{{p.Code, envTrue}, {draft.Code, envFalse}, {p.Code, envTrue}} { // the raw answer (okBool)
		r, _ := http.NewRequest(http.MethodGet, e.srv.URL+client.PathCodeTrueOne+"?AuthorizationCode="+c.code, nil)
		r.Header.Set("X-API-Key", aspKey)
		resp, err := e.srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Values("Content-Type")[0] != "application/json" ||
			len(resp.Header.Values("Content-Type")) != 1 || !bytes.Equal(body, c.want) {
			t.Fatalf("Code-True-One: %d %v %s %v, want 200 application/json %s", resp.StatusCode, resp.Header, body, err, c.want)
		}
	}
	d, err := e.asp.Details(ctx, p.Code)
	if err != nil || d.AuthorizingIdn != e.alice.IDNP || d.AuthorizedIdn != e.bob.IDNP || !d.IsValid || d.Status != client.StatusValid ||
		d.ServiceProviderIdno != "1003600011118" || d.AuthorizationTypeName == "" || d.AuthorizingPartyType != client.PartyNatural {
		t.Fatalf("Code-Details-One: %+v %v", d, err)
	}
	tv, err := e.asp.TypeCodeValid(ctx, "AT-0000002", e.alice.IDNP, e.bob.IDNP)
	if err != nil || !tv.IsValid || tv.AuthorizationCode != p.Code {
		t.Fatalf("TypeCode-Valid-One: %+v %v", tv, err)
	}
	if tv, err = e.asp.TypeCodeValid(ctx, "AT-0000002", e.bob.IDNP, e.alice.IDNP); err != nil || tv.IsValid {
		t.Fatalf("TypeCode-Valid-One, parties swapped: %+v %v", tv, err)
	}
	list, total, err := e.asp.List(ctx, client.ListQuery{IDNx: e.alice.IDNP})
	if err != nil || total != 2 || len(list) != 2 {
		t.Fatalf("Idn-Details-List: %d of %d, %v", len(list), total, err)
	}
	list, total, err = e.asp.List(ctx, client.ListQuery{IDNx: e.alice.IDNP, Status: client.StatusValid})
	if err != nil || total != 1 || list[0].AuthorizationCode != p.Code {
		t.Fatalf("Idn-Details-List Status=4: %+v %d %v", list, total, err)
	}
	list, total, err = e.asp.List(ctx, client.ListQuery{IDNx: e.alice.IDNP, PageSize: 1, Page: 2})
	if err != nil || total != 2 || len(list) != 1 || list[0].AuthorizationCode != p.Code { // newest first: the draft, then p
		t.Fatalf("Idn-Details-List page 2: %+v %d %v", list, total, err)
	}
	if list, _, err = e.asp.List(ctx, client.ListQuery{IDNx: e.alice.IDNP, GrantedToIdn: e.carol.IDNP}); err != nil || len(list) != 1 || list[0].AuthorizationCode != draft.Code {
		t.Fatalf("Idn-Details-List GrantedToIdn: %+v %v", list, err)
	}
	if list, _, err = e.asp.List(ctx, client.ListQuery{IDNx: e.alice.IDNP, StartDate: e.clk.now().AddDate(1, 0, 0)}); err != nil || len(list) != 0 {
		t.Fatalf("Idn-Details-List after the end: %+v %v", list, err)
	}
	file, err := e.asp.File(ctx, p.Code)
	if err != nil || file.ContentType != "application/pdf" || !bytes.HasPrefix(file.Content, []byte("%PDF")) {
		t.Fatalf("file: %v", err)
	}
	// The certificate-authenticated auditor sees every type.
	if ok, err := e.all.IsValid(ctx, p.Code); err != nil || !ok {
		t.Fatalf("auditor: %v %v", ok, err)
	}
	// Revoked: false at once.
	if _, err := e.reg.Transition(ctx, "alice", p.Code, EvRevoke, e.act(t, e.alice, p.Code)); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.asp.IsValid(ctx, p.Code); err != nil || ok {
		t.Fatalf("revoked power still valid: %v %v", ok, err)
	}
	if d, err = e.asp.Details(ctx, p.Code); err != nil || d.Status != client.StatusCanceled || d.StatusReason != ReasonRevoked {
		t.Fatalf("revoked details: %+v %v", d, err)
	}
	// Every check is in the audit log, with the system that asked.
	// Code-True-One's entries hold its endpoint and answer (their details
	// maps are shared by every check: trueOneDetails).
	checks := map[string]int{}
	var trueOne []string
	if err := e.st.WalkAudit(ctx, func(en *store.Entry) error {
		if en.Action == "mpower-check" {
			checks[en.Actor]++
		}
		if strings.Contains(en.Details["endpoint"], "Code-True-One") {
			if len(en.Details) != 2 {
				t.Errorf("Code-True-One's audit details %v", en.Details)
			}
			trueOne = append(trueOne, fmt.Sprint(en.Subject == p.Code, " ", en.Details["valid"]))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if checks["asp"] != 16 || checks["auditor"] != 1 {
		t.Fatalf("audited checks %v", checks)
	}
	if want := []string{"true true", "false false", "true true", "false false", "true true", "true true", "true false"}; !slices.Equal(trueOne, want) {
		t.Fatalf("Code-True-One's audit entries (p's code, valid): %q, want %q", trueOne, want)
	}
}

func TestCheckAPIRefusals(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	p := e.validPower(t, e.alice.IDNP, e.bob.IDNP)
	wrongDigit := p.Code[:15] + string('0'+(p.Code[15]-'0'+1)%10)
	d, _ := idn.DammDigit("100000000000000")
	unknown := "100000000000000" + string(d) // well-formed, never issued
	cases := []struct {
		name string
		path string
		c    *client.Client
		want error
	}{
		{"no credential", client.PathCodeTrueOne + "?AuthorizationCode=" + p.Code, e.anon, client.ErrAuthenticationFailed},
		{"another service's type", client.PathCodeTrueOne + "?AuthorizationCode=" + p.Code, e.oth, client.ErrAuthorizationFailed},
		{"another service's details", client.PathCodeDetailsOne + "?AuthorizationCode=" + p.Code, e.oth, client.ErrAuthorizationFailed},
		{"another service's file", client.PathFile + "?AuthorizationCode=" + p.Code, e.oth, client.ErrAuthorizationFailed},
		{"another service's type code", client.PathTypeCodeValid + "?AuthorizationTypeCode=AT-0000002&AuthorizingIdn=" + e.alice.IDNP + "&AuthorizedIdn=" + e.bob.IDNP, e.oth, client.ErrAuthorizationFailed},
		{"typo in the code", client.PathCodeTrueOne + "?AuthorizationCode=" + wrongDigit, e.asp, client.ErrInvalidParameter},
		{"no code", client.PathCodeDetailsOne, e.asp, client.ErrInvalidParameter},
		{"unknown code details", client.PathCodeDetailsOne + "?AuthorizationCode=" + unknown, e.asp, client.ErrNotFound},
		{"unknown code file", client.PathFile + "?AuthorizationCode=" + unknown, e.asp, client.ErrNotFound},
		{"bad type code", client.PathTypeCodeValid + "?AuthorizationTypeCode=AT-1&AuthorizingIdn=" + e.alice.IDNP + "&AuthorizedIdn=" + e.bob.IDNP, e.asp, client.ErrInvalidParameter},
		{"unknown type", client.PathTypeCodeValid + "?AuthorizationTypeCode=AT-0000099&AuthorizingIdn=" + e.alice.IDNP + "&AuthorizedIdn=" + e.bob.IDNP, e.asp, client.ErrNotFound},
		{"bad authorized IDNP", client.PathTypeCodeValid + "?AuthorizationTypeCode=AT-0000002&AuthorizingIdn=" + e.alice.IDNP + "&AuthorizedIdn=2004001000011", e.asp, client.ErrInvalidParameter},
		{"list without IDNx", client.PathIdnDetailsList, e.asp, client.ErrInvalidParameter},
		{"list bad status", client.PathIdnDetailsList + "?IDNx=" + e.alice.IDNP + "&Status=9", e.asp, client.ErrInvalidParameter},
		{"list bad date", client.PathIdnDetailsList + "?IDNx=" + e.alice.IDNP + "&StartDate=tomorrow", e.asp, client.ErrInvalidParameter},
		{"list page size", client.PathIdnDetailsList + "?IDNx=" + e.alice.IDNP + "&PageSize=100000", e.asp, client.ErrInvalidParameter},
		{"list bad page", client.PathIdnDetailsList + "?IDNx=" + e.alice.IDNP + "&Page=0", e.asp, client.ErrInvalidParameter},
	}
	for _, c := range cases {
		err := rawGet(t, e, c.path, c.c)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	// An unknown, well-formed code is simply not valid.
	if ok, err := e.asp.IsValid(ctx, unknown); err != nil || ok {
		t.Errorf("unknown code: %v %v", ok, err)
	}
	// The list of a system that sees only its types leaves out the others'.
	if list, total, err := e.oth.List(ctx, client.ListQuery{IDNx: e.alice.IDNP}); err != nil || total != 0 || len(list) != 0 {
		t.Errorf("other's list: %d %v", total, err)
	}
	// The client refuses a malformed code before asking.
	if ok, err := e.asp.IsValid(ctx, "123"); !errors.Is(err, client.ErrInvalidParameter) || ok {
		t.Errorf("client let a malformed code through")
	}
}

// TestStatement: a sealed statement verifies offline against the test
// PKI, says what the check says, and is refused once tampered with,
// expired, or against other trust anchors.
func TestStatement(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	p := e.validPower(t, e.alice.IDNP, e.bob.IDNP)
	jws, err := e.asp.Statement(ctx, p.Code)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	st, cert, err := client.VerifyStatement(jws, e.pki.RootPool(), now)
	if err != nil || !st.IsValid || st.AuthorizationCode != p.Code || st.AuthorizedIdn != e.bob.IDNP || cert.Subject.CommonName != e.pki.MustGet("seal").Cert.Subject.CommonName {
		t.Fatalf("statement: %+v %v", st, err)
	}
	if st.ExpiresAt.Sub(st.IssuedAt) > client.MaxStatementAge {
		t.Fatalf("statement good for %s", st.ExpiresAt.Sub(st.IssuedAt))
	}
	if _, _, err := client.VerifyStatement(jws, e.pki.RootPool(), st.ExpiresAt); !errors.Is(err, client.ErrBadStatement) {
		t.Errorf("expired statement: %v", err)
	}
	if _, _, err := client.VerifyStatement(jws, x509.NewCertPool(), now); !errors.Is(err, client.ErrBadStatement) {
		t.Errorf("other trust anchors: %v", err)
	}
	parts := strings.Split(string(jws), ".")
	forged := strings.Replace(string(jws), parts[1], base64.RawURLEncoding.EncodeToString(bytes.Replace(mustB64(t, parts[1]), []byte(`"isValid":true`), []byte(`"isValid":false`), 1)), 1)
	if _, _, err := client.VerifyStatement([]byte(forged), e.pki.RootPool(), now); !errors.Is(err, client.ErrBadStatement) {
		t.Errorf("changed payload: %v", err)
	}
	if _, err := e.oth.Statement(ctx, p.Code); !errors.Is(err, client.ErrAuthorizationFailed) {
		t.Errorf("another system's statement: %v", err)
	}
	for _, bad := range []string{"", "x.y.z", string(jws) + "x"} {
		if _, _, err := client.VerifyStatement([]byte(bad), e.pki.RootPool(), now); !errors.Is(err, client.ErrBadStatement) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGrantFlowRefusals: the grant flow refuses another system's type,
// bad input, and works only with an MSign to sign with (this one has none).
func TestGrantFlowRefusals(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	now := e.clk.now()
	g := client.GrantRequest{AuthorizationTypeCode: "AT-0000002", AuthorizingIdn: e.alice.IDNP, AuthorizedIdn: e.bob.IDNP, FromDate: now, ToDate: now.AddDate(0, 1, 0)}
	if _, err := e.anon.Grant(ctx, g); !errors.Is(err, client.ErrAuthenticationFailed) {
		t.Errorf("anonymous grant: %v", err)
	}
	var pe *problem.Error
	if _, err := e.asp.Grant(ctx, g); !errors.As(err, &pe) || pe.Status != http.StatusServiceUnavailable {
		t.Errorf("grant without MSign: %v", err)
	}
	if list, _, _ := e.asp.List(ctx, client.ListQuery{IDNx: e.alice.IDNP}); len(list) != 0 {
		t.Errorf("a refused grant left a power: %+v", list)
	}
	mc, err := msignclient.New("http://127.0.0.1:9", msignclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Store: e.st, MSign: mc})
	if err != nil {
		t.Fatal(err)
	}
	host := service.NewHost(service.HostOptions{})
	host.Mount(svc)
	srv := httptest.NewServer(host)
	defer srv.Close()
	asp, _ := client.New(srv.URL, client.Options{APIKey: aspKey})
	oth, _ := client.New(srv.URL, client.Options{APIKey: otherKey})
	if _, err := oth.Grant(ctx, g); !errors.Is(err, client.ErrAuthorizationFailed) {
		t.Errorf("another system's type: %v", err)
	}
	bad := g
	bad.AuthorizedIdn = "2004001000011"
	if _, err := asp.Grant(ctx, bad); !errors.Is(err, client.ErrInvalidParameter) {
		t.Errorf("bad IDNP: %v", err)
	}
	bad = g
	bad.AuthorizationTypeCode = "AT-0000099"
	if _, err := asp.Grant(ctx, bad); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := asp.CompleteAct(ctx, "no-such-request"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("unknown request: %v", err)
	}
	if _, err := asp.StartAct(ctx, "1234567890123456", client.ActAccept); !errors.Is(err, client.ErrInvalidParameter) {
		t.Errorf("bad code: %v", err)
	}
}

// rawGet calls a path with the client's credentials, through the client's
// error handling.
func rawGet(t *testing.T, e *apiEnv, path string, c *client.Client) error {
	t.Helper()
	var out json.RawMessage
	base, q, _ := strings.Cut(path, "?")
	_, err := c.GetRaw(context.Background(), base, q, &out)
	return err
}

var openAPIParam = regexp.MustCompile(`\{([^}]+)\}`)

// TestOpenAPIMatchesRoutes: every route is documented, every documented
// path served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newAPIEnv(t)
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
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+openAPIParam.ReplaceAllString(path, ":$1")] = true
		}
	}
	served := map[string]bool{}
	for _, r := range e.host.Routes() {
		if strings.HasPrefix(r.Path, "/api/Authorization") {
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

// TestListCursor: Idn-Details-List paged with X-Next-Cursor gives the
// same powers in the same order as one big page, each once, and says
// when it is done; a malformed cursor, or one with Page, is refused.
func TestListCursor(t *testing.T) {
	e := newAPIEnv(t)
	people, _ := bulkPowers(t, e.st, e.clk.now(), 600)
	ctx := context.Background()
	who := people[7]
	all, err := e.asp.ListPage(ctx, client.ListQuery{IDNx: who, PageSize: 500})
	if err != nil || len(all.Items) < 10 || all.Total != len(all.Items) || all.Next != "" {
		t.Fatalf("one page: %d items, total %d, next %q, %v", len(all.Items), all.Total, all.Next, err)
	}
	var got []string
	q := client.ListQuery{IDNx: who, PageSize: 3}
	for pages := 0; ; pages++ {
		if pages > len(all.Items) {
			t.Fatal("the cursor does not end")
		}
		page, err := e.asp.ListPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: all.Total, false: -1}[q.Cursor == ""]; page.Total != want {
			t.Fatalf("total %d on page %d, want %d (counted on the first page only)", page.Total, pages+1, want)
		}
		for _, d := range page.Items {
			got = append(got, d.AuthorizationCode)
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if len(got) != len(all.Items) {
		t.Fatalf("paged %d powers, want %d", len(got), len(all.Items))
	}
	for i, d := range all.Items {
		if got[i] != d.AuthorizationCode {
			t.Fatalf("power %d: %s by cursor, %s in one page", i, got[i], d.AuthorizationCode)
		}
	}
	for _, raw := range []string{"IDNx=" + who + "&Cursor=12-34", "IDNx=" + who + "&Cursor=" + q.Cursor + "&Page=2"} {
		var out client.Envelope[[]client.AuthorizationDetails]
		_, err := e.asp.GetRaw(ctx, client.PathIdnDetailsList, raw, &out)
		var p *problem.Error
		if !errors.As(err, &p) || p.Status != http.StatusBadRequest {
			t.Errorf("%s: %v, want 400", raw, err)
		}
	}
}

// TestIdnEntitiesList: the companies a person administers now, for MPass's
// AdministeredLegalEntity; a former administrator's are not listed, and a
// bad IDNP is an invalid parameter.
func TestIdnEntitiesList(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	now := e.clk.now()
	if err := e.reg.PutEntity(ctx, "test", Entity{IDNO: "1003600011118", Name: "Fost SRL", Form: "SRL",
		Administrators: []Administrator{{IDNP: e.carol.IDNP, From: now.AddDate(-3, 0, 0), To: now.AddDate(-1, 0, 0)}}}); err != nil {
		t.Fatal(err)
	}
	list, err := e.oth.AdministeredEntities(ctx, e.carol.IDNP)
	if err != nil || len(list) != 1 || list[0].Idno != companyIDNO || list[0].Name != "Exemplu SRL" {
		t.Fatalf("carol: %+v %v", list, err)
	}
	if list, err = e.oth.AdministeredEntities(ctx, e.bob.IDNP); err != nil || len(list) != 0 {
		t.Fatalf("bob: %+v %v", list, err)
	}
	var out client.Envelope[[]client.LegalEntity]
	if _, err := e.oth.GetRaw(ctx, client.PathIdnEntitiesList, "Idnp=2004001000001", &out); !errors.Is(err, client.ErrInvalidParameter) {
		t.Fatalf("bad IDNP: %v", err)
	}
	if _, err := e.anon.AdministeredEntities(ctx, e.carol.IDNP); !errors.Is(err, client.ErrAuthenticationFailed) {
		t.Fatalf("anonymous: %v", err)
	}
}
