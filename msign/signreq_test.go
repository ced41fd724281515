package msign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pkiserve"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

// signShared is one private PKI (the simulator issues into it), its PKI
// services and one mobile-signature simulator, each on a loopback server of
// its own (as in production, MSign reaches them over HTTP), shared by the
// sign tests of this binary.
var signShared struct {
	once   sync.Once
	pki    *testcerts.PKI
	sim    *mobileid.Simulator
	pkiURL string // TSA, OCSP, CRLs
	simURL string // the MSSP's ETSI face (/rest/service) and virtual phones (/sim/)
	err    error
}

func signFixtures(t testing.TB) (*testcerts.PKI, *mobileid.Simulator) {
	t.Helper()
	signShared.once.Do(func() {
		signShared.pki, signShared.err = testcerts.Generate(testcerts.Options{})
		if signShared.err != nil {
			return
		}
		signShared.sim, signShared.err = mobileid.New(mobileid.Options{PKI: signShared.pki, TimeScale: 0.02, Phone: true, GeneratedUsers: 20})
		if signShared.err != nil {
			return
		}
		var svc *pkiserve.Services
		if svc, signShared.err = pkiserve.New(signShared.pki, pkiserve.Options{}); signShared.err != nil {
			return
		}
		// Never closed: they live as long as the test binary.
		signShared.pkiURL = httptest.NewServer(svc).URL
		signShared.simURL = httptest.NewServer(signShared.sim.Handler()).URL
	})
	if signShared.err != nil {
		t.Fatal(signShared.err)
	}
	return signShared.pki, signShared.sim
}

type signEnv struct {
	url    string
	simURL string
	srv    *Service
	hs     *httptest.Server
	store  *store.Store
	pki    *testcerts.PKI
	sim    *mobileid.Simulator
	once   sync.Once
}

// stop closes the HTTP server, the service's background work and the store
// (a restart opens a new env on the same database).
func (e *signEnv) stop() {
	e.once.Do(func() {
		e.hs.Close()
		e.srv.Close()
		e.store.Close()
	})
}

func newSignEnv(t *testing.T, db string, mut func(*Config)) *signEnv {
	t.Helper()
	pki, sim := signFixtures(t)
	if db == "" {
		db = filepath.Join(t.TempDir(), "semnat.db")
	}
	st, err := store.OpenSQLite(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	mc := newMobileClient(t, pki)
	cfg := Config{Store: st, Roots: pki.RootPool(), Mobile: mc, PublicOrigin: url, MaxUpload: 4 << 20,
		Timestamper: pades.TSA{Client: &tsa.Client{URL: signShared.pkiURL + testcerts.TSAPath, HTTPClient: &http.Client{Timeout: 10 * time.Second}}}}
	if mut != nil {
		mut(&cfg)
	}
	s, host := serve(t, cfg)
	hs := httptest.NewUnstartedServer(host)
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	e := &signEnv{url: url, simURL: signShared.simURL, srv: s, hs: hs, store: st, pki: pki, sim: sim}
	t.Cleanup(e.stop)
	return e
}

// newMobileClient asks the shared simulator's ETSI face, as MSign's
// --mssp would.
func newMobileClient(t testing.TB, pki *testcerts.PKI) *mobileid.Client {
	t.Helper()
	mc, err := mobileid.NewClient(signShared.simURL+"/rest/service", mobileid.ClientOptions{Face: mobileid.FaceETSI, Roots: pki.RootPool(),
		Intermediates: pki.IntermediatePool(), PollInterval: 10 * time.Millisecond, HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

type part struct{ name, file string }

// form builds a multipart body: fields, then files.
func form(fields map[string]string, files ...any) (string, []byte) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	// The form token first, as the pages have it (the server looks for it
	// in the first part only).
	if v, ok := fields["_csrf"]; ok {
		w.WriteField("_csrf", v)
	}
	for k, v := range fields {
		if k != "_csrf" {
			w.WriteField(k, v)
		}
	}
	for i := 0; i+1 < len(files); i += 2 {
		fw, _ := w.CreateFormFile("file", files[i].(string))
		fw.Write(files[i+1].([]byte))
	}
	w.Close()
	return w.FormDataContentType(), b.Bytes()
}

func getURL(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func decodeView(t *testing.T, b []byte) signRequestView {
	t.Helper()
	var v signRequestView
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not a sign request: %s", b)
	}
	return v
}

// waitStatus polls a request until it leaves pending.
func waitStatus(t *testing.T, e *signEnv, id string) signRequestView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, b := getURL(t, e.url+"/api/v1/sign-requests/"+id)
		if resp.StatusCode != 200 {
			t.Fatalf("status: %d %s", resp.StatusCode, b)
		}
		if v := decodeView(t, b); v.Status != statusPending {
			return v
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the request stays pending")
	return signRequestView{}
}

// checkSigned verifies a signed PDF with pades.Verify and pdfsig.
func checkSigned(t *testing.T, pki *testcerts.PKI, signed []byte, wantSigner string, wantLevel string) {
	t.Helper()
	rep, err := pades.Verify(context.Background(), bytes.NewReader(signed), int64(len(signed)), &pades.VerifyOptions{Roots: pki.RootPool()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) == 0 {
		t.Fatal("no signature in the output")
	}
	sig := rep.Signatures[len(rep.Signatures)-1]
	if sig.Kind == "timestamp" {
		sig = rep.Signatures[0]
	}
	if sig.Checks.Integrity != pades.CheckPassed || sig.Checks.Signature != pades.CheckPassed || sig.Checks.Chain != pades.CheckPassed ||
		sig.Level != wantLevel || sig.Signer == nil || !strings.Contains(sig.Signer.Subject, wantSigner) || sig.Indication == pades.TotalFailed {
		b, _ := json.MarshalIndent(sig, "", " ")
		t.Fatalf("verification: %s", b)
	}
	f := filepath.Join(t.TempDir(), "signed.pdf")
	os.WriteFile(f, signed, 0o644)
	testtool.PdfsigTrusted(t, testtool.NSSTrustDB(t, pki.Root.Cert), f)
}

func download(t *testing.T, e *signEnv, v signRequestView, n int) []byte {
	t.Helper()
	resp, b := getURL(t, fmt.Sprintf("%s/api/v1/sign-requests/%s/documents/%d", e.url, v.ID, n))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment; filename=") {
		t.Fatalf("download %d: %d %v %s", n, resp.StatusCode, resp.Header, b[:min(len(b), 300)])
	}
	return b
}

func mustGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, b := getURL(t, url)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}

func auditCount(t *testing.T, st *store.Store) int64 {
	t.Helper()
	n, err := st.VerifyAudit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSignRequestMobile(t *testing.T) {
	e := newSignEnv(t, "", nil)
	doc1 := samplepdf.Document("Contract", []string{"nr. 7"}, 0)
	doc2 := samplepdf.Document("Anexa", []string{"nr. 8"}, 0)
	// A manual phone: the code is shown, the user approves on the phone.
	msisdn := "+37369000001"
	ct, body := form(map[string]string{"method": "mobile", "phone": msisdn, "reason": "Aprobat", "visible": "on", "page": "1", "corner": "top-left"},
		"contract.pdf", doc1, "../anexa \"1\".pdf", doc2)
	resp, b := post(t, e.url+"/api/v1/sign-requests", ct, body, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	v := decodeView(t, b)
	if len(v.ID) != 32 || v.Status != statusPending || v.Level != "B-T" || len(v.Documents) != 2 || v.Documents[1].Name != "anexa _1_.pdf" {
		t.Fatalf("created: %s", b)
	}
	for n := 1; n <= 2; n++ {
		// Wait until the phone shows the request, compare the code, approve.
		var code string
		for i := 0; i < 500; i++ {
			p, _ := e.sim.PhonePrompt(msisdn)
			_, sb := getURL(t, e.url+"/api/v1/sign-requests/"+v.ID)
			sv := decodeView(t, sb)
			if p.Pending && sv.VerificationCode != "" && sv.Documents[n-1].Current {
				if p.VerificationCode != sv.VerificationCode {
					t.Fatalf("phone shows %s, the page %s", p.VerificationCode, sv.VerificationCode)
				}
				code = p.VerificationCode
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if code == "" {
			t.Fatalf("document %d: no verification code", n)
		}
		if res, _, err := e.sim.PhoneConfirm(msisdn, mobileid.DefaultPIN2); err != nil {
			t.Fatalf("confirm: %v %s", err, res)
		}
	}
	v = waitStatus(t, e, v.ID)
	if v.Status != statusSigned || v.Documents[0].Download == "" || v.Signer == "" {
		t.Fatalf("final: %+v", v)
	}
	for n := 1; n <= 2; n++ {
		signed := download(t, e, v, n)
		checkSigned(t, e.pki, signed, "SERIALNUMBER=", "B-T")
	}
	// Downloaded once, still there (a download may have been cut), until
	// the request is deleted.
	if again := download(t, e, v, 1); len(again) == 0 {
		t.Fatal("second download: empty")
	}
	if v = decodeView(t, mustGet(t, e.url+"/api/v1/sign-requests/"+v.ID)); !v.Documents[0].Downloaded || !v.Documents[1].Downloaded {
		t.Fatalf("not marked downloaded: %+v", v.Documents)
	}
	req, _ := http.NewRequest(http.MethodDelete, e.url+"/api/v1/sign-requests/"+v.ID, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %v %v", resp, err)
	}
	resp, b = getURL(t, e.url+"/api/v1/sign-requests/"+v.ID+"/documents/1")
	wantProblem(t, resp, b, 404, "unknown-request")
	if n := auditCount(t, e.store); n != 2 {
		t.Fatalf("audit entries: %d", n)
	}
	// The uploaded and signed files are gone from the store.
	for n := 1; n <= 2; n++ {
		for _, k := range []string{kindSignIn, kindSignOut} {
			if _, err := e.store.Get(context.Background(), k, docKey(v.ID, n)); err == nil {
				t.Errorf("%s %d still stored", k, n)
			}
		}
	}
}

func TestSignRequestMobileOutcomes(t *testing.T) {
	e := newSignEnv(t, "", nil)
	doc := samplepdf.Document("Cerere", nil, 0)
	for _, c := range []struct{ phone, status string }{
		{"+37300000001", statusSigned},               // scripted OK
		{"+37300000010", statusRefused},              // user cancels
		{"+37300000011", statusExpired},              // never answers
		{"+37300000030", statusFailed},               // no mobile signature
		{"+37300000001/2000000000004", statusFailed}, // another person's (valid) IDNP
	} {
		t.Run(strings.ReplaceAll(c.phone, "/", "-"), func(t *testing.T) {
			phone, idnp, _ := strings.Cut(c.phone, "/")
			ct, body := form(map[string]string{"method": "mobile", "phone": phone, "idnp": idnp, "level": "B-B"}, "cerere.pdf", doc)
			resp, b := post(t, e.url+"/api/v1/sign-requests", ct, body, nil)
			if resp.StatusCode != 201 {
				t.Fatalf("create: %d %s", resp.StatusCode, b)
			}
			v := waitStatus(t, e, decodeView(t, b).ID)
			if v.Status != c.status || v.Message == "" || idnp != "" && !strings.Contains(v.Message, "IDNP") {
				t.Fatalf("got %s (%s), want %s", v.Status, v.Message, c.status)
			}
			if c.status == statusSigned {
				checkSigned(t, e.pki, download(t, e, v, 1), "SERIALNUMBER=", "B-B")
			} else if _, err := e.store.Get(context.Background(), kindSignIn, docKey(v.ID, 1)); err == nil {
				t.Error("the upload of a failed request is still stored")
			}
		})
	}
}

// fakeAgent signs like the local agent does: the digest, and the binding
// to origin and nonce.
func fakeAgent(t *testing.T, key crypto.Signer, d docView, origin string) (sig, binding []byte) {
	t.Helper()
	h, _ := wire.HashByName(d.Hash)
	opts, _ := wire.SignerOpts(h, d.Scheme)
	sig, err := key.Sign(rand.Reader, d.Digest, opts)
	if err != nil {
		t.Fatal(err)
	}
	binding, err = key.Sign(rand.Reader, wire.BindingDigest(h, origin, d.Nonce, d.Digest), opts)
	if err != nil {
		t.Fatal(err)
	}
	return sig, binding
}

func tokenForm(ent *testcerts.Entity, extra map[string]string) map[string]string {
	var chain []string
	for _, c := range ent.Chain {
		chain = append(chain, base64.StdEncoding.EncodeToString(c.Raw))
	}
	f := map[string]string{"method": "token", "certificate": base64.StdEncoding.EncodeToString(ent.Cert.Raw), "chain": strings.Join(chain, ",")}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

func completeJSON(docs ...[2][]byte) []byte {
	var body completeBody
	for _, d := range docs {
		body.Documents = append(body.Documents, struct {
			Signature []byte `json:"signature"`
			Binding   []byte `json:"binding"`
			Nonce     string `json:"nonce,omitempty"`
		}{Signature: d[0], Binding: d[1]})
	}
	b, _ := json.Marshal(body)
	return b
}

func TestSignRequestTokenAndRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "semnat.db")
	e := newSignEnv(t, db, nil)
	for _, name := range []string{"person-rsa2048", "person-p256"} {
		ent := e.pki.MustGet(name)
		doc := samplepdf.Document("Declarație "+name, nil, 0)
		ct, body := form(tokenForm(ent, map[string]string{"level": "B-T", "visible": "on"}), "declaratie.pdf", doc, "b.pdf", doc)
		resp, b := post(t, e.url+"/api/v1/sign-requests", ct, body, nil)
		if resp.StatusCode != 201 {
			t.Fatalf("create: %d %s", resp.StatusCode, b)
		}
		v := decodeView(t, b)
		if v.Status != statusAwaiting || len(v.Documents) != 2 || len(v.Documents[0].Digest) == 0 || v.Documents[0].Nonce == "" ||
			v.Documents[0].Hash != "SHA-256" || v.Documents[0].Nonce == v.Documents[1].Nonce {
			t.Fatalf("created: %s", b)
		}
		s1, b1 := fakeAgent(t, ent.Key, v.Documents[0], e.url)
		s2, b2 := fakeAgent(t, ent.Key, v.Documents[1], e.url)
		resp, b = post(t, e.url+"/api/v1/sign-requests/"+v.ID+"/complete", "application/json", completeJSON([2][]byte{s1, b1}, [2][]byte{s2, b2}), nil)
		if resp.StatusCode != 200 || decodeView(t, b).Status != statusSigned {
			t.Fatalf("complete: %d %s", resp.StatusCode, b)
		}
		// The nonces are single-use.
		resp, b = post(t, e.url+"/api/v1/sign-requests/"+v.ID+"/complete", "application/json", completeJSON([2][]byte{s1, b1}, [2][]byte{s2, b2}), nil)
		wantProblem(t, resp, b, 409, "not-awaiting")
		checkSigned(t, e.pki, download(t, e, v, 1), ent.Cert.Subject.SerialNumber, "B-T")
		checkSigned(t, e.pki, download(t, e, v, 2), ent.Cert.Subject.SerialNumber, "B-T")
	}
	if n := auditCount(t, e.store); n != 4 {
		t.Fatalf("audit entries: %d", n)
	}

	// Restart: a request prepared by one server is completed and
	// downloaded through another on the same database.
	ent := e.pki.MustGet("person-rsa2048")
	doc := samplepdf.Document("Restart", nil, 0)
	ct, body := form(tokenForm(ent, map[string]string{"level": "B-B"}), "restart.pdf", doc)
	resp, b := post(t, e.url+"/api/v1/sign-requests", ct, body, nil)
	v := decodeView(t, b)
	// A mobile request pending at the restart.
	ct, body = form(map[string]string{"method": "mobile", "phone": "+37369000002", "level": "B-B"}, "m.pdf", doc)
	resp, b = post(t, e.url+"/api/v1/sign-requests", ct, body, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("mobile create: %d %s", resp.StatusCode, b)
	}
	mv := decodeView(t, b)
	e.stop()
	origin := e.url
	e2 := newSignEnv(t, db, func(c *Config) { c.PublicOrigin = origin })
	s1, b1 := fakeAgent(t, ent.Key, v.Documents[0], origin)
	resp, b = post(t, e2.url+"/api/v1/sign-requests/"+v.ID+"/complete", "application/json", completeJSON([2][]byte{s1, b1}), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("complete after restart: %d %s", resp.StatusCode, b)
	}
	checkSigned(t, e2.pki, download(t, &signEnv{url: e2.url}, v, 1), ent.Cert.Subject.SerialNumber, "B-B")
	// The mobile request pending at the restart is resumed by the new
	// server: the same phone transaction, the same code; the phone's answer
	// completes it.
	resp, b = getURL(t, e2.url+"/api/v1/sign-requests/"+mv.ID)
	if sv := decodeView(t, b); sv.Status != statusPending || sv.VerificationCode == "" || sv.VerificationCode != mv.VerificationCode {
		t.Fatalf("mobile after restart: %s (before: %+v)", b, mv)
	}
	if p, _ := e2.sim.PhonePrompt("+37369000002"); !p.Pending || p.VerificationCode != mv.VerificationCode {
		t.Fatalf("the phone shows %+v, the request %s", p, mv.VerificationCode)
	}
	if res, _, err := e2.sim.PhoneConfirm("+37369000002", mobileid.DefaultPIN2); err != nil {
		t.Fatalf("confirm: %v %s", err, res)
	}
	if sv := waitStatus(t, e2, mv.ID); sv.Status != statusSigned {
		t.Fatalf("resumed mobile request: %+v", sv)
	}
	checkSigned(t, e2.pki, download(t, &signEnv{url: e2.url}, mv, 1), "SERIALNUMBER=", "B-B")

	// A server that crashed leaves a pending mobile request whose heartbeat
	// stops: the next look at it takes it over; here its upload is gone, so
	// it fails in plain words.
	crashed := signRequest{ID: newID(), Method: "mobile", Status: statusPending, Created: time.Now().Add(-time.Minute),
		Expires: time.Now().Add(time.Minute), Level: "B-T", Phone: "+37369000003", Instance: "gone",
		Heartbeat: time.Now().Add(-time.Minute), Docs: []signDoc{{Name: "x.pdf"}}}
	raw, _ := json.Marshal(crashed)
	if err := e2.store.Put(context.Background(), kindSignReq, crashed.ID, raw, time.Minute); err != nil {
		t.Fatal(err)
	}
	if sv := waitStatus(t, e2, crashed.ID); sv.Status != statusFailed || !strings.Contains(sv.Message, "no longer on the server") {
		t.Fatalf("crashed mobile request: %+v", sv)
	}
}

func TestSignRequestBadInput(t *testing.T) {
	// The default lifetime: a short one would race with the steps below on
	// a loaded machine. The expiry has its own server at the end.
	e := newSignEnv(t, "", nil)
	ent := e.pki.MustGet("person-p256")
	doc := samplepdf.Document("Bad", nil, 0)
	api := e.url + "/api/v1/sign-requests"
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "plain.pdf"), doc, 0o644)
	if out, err := exec.Command(testtool.Require(t, "qpdf"), "--encrypt", "user", "owner", "256", "--", filepath.Join(dir, "plain.pdf"), filepath.Join(dir, "enc.pdf")).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v %s", err, out)
	}
	encrypted, _ := os.ReadFile(filepath.Join(dir, "enc.pdf"))
	encName := "encrypted.pdf"
	cases := []struct {
		name   string
		fields map[string]string
		files  []any
		status int
		typ    string
	}{
		{"no file", tokenForm(ent, nil), nil, 400, "no-file"},
		{"not a pdf", tokenForm(ent, nil), []any{"a.pdf", []byte("hello, world")}, 422, "not-a-pdf"},
		{"broken pdf", tokenForm(ent, nil), []any{"a.pdf", append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("x"), 200)...)}, 422, "broken-pdf"},
		{"bad method", map[string]string{"method": "fax"}, []any{"a.pdf", doc}, 400, "bad-method"},
		{"bad phone", map[string]string{"method": "mobile", "phone": "12"}, []any{"a.pdf", doc}, 400, "bad-phone"},
		{"bad IDNP check digit", map[string]string{"method": "mobile", "phone": "+37369000001", "idnp": "2004001000011"}, []any{"a.pdf", doc}, 400, "bad-idnp"},
		{"IDNP not digits", map[string]string{"method": "mobile", "phone": "+37369000001", "idnp": "20040010000a1"}, []any{"a.pdf", doc}, 400, "bad-idnp"},
		{"bad level", tokenForm(ent, map[string]string{"level": "B-Z"}), []any{"a.pdf", doc}, 400, "bad-level"},
		{"no revocation for B-LT", tokenForm(ent, map[string]string{"level": "B-LT"}), []any{"a.pdf", doc}, 422, "level-unavailable"},
		{"bad certificate", map[string]string{"method": "token", "certificate": "AAAA"}, []any{"a.pdf", doc}, 400, "bad-certificate"},
		{"page out of range", tokenForm(ent, map[string]string{"visible": "on", "page": "9"}), []any{"a.pdf", doc}, 422, "bad-page"},
		{"too large", tokenForm(ent, nil), []any{"a.pdf", make([]byte, 5<<20)}, 413, "too-large"},
	}
	cases = append(cases, struct {
		name   string
		fields map[string]string
		files  []any
		status int
		typ    string
	}{"encrypted", tokenForm(ent, nil), []any{encName, encrypted}, 422, "encrypted-pdf"})
	for _, c := range cases {
		ct, body := form(c.fields, c.files...)
		resp, b := post(t, api, ct, body, nil)
		if resp.StatusCode == 201 {
			t.Errorf("%s: accepted: %s", c.name, b)
			continue
		}
		wantProblem(t, resp, b, c.status, c.typ)
	}
	// Unknown id, unknown document.
	resp, b := getURL(t, api+"/0123456789abcdef0123456789abcdef")
	wantProblem(t, resp, b, 404, "unknown-request")
	resp, b = post(t, api+"/nope/complete", "application/json", []byte(`{"documents":[]}`), nil)
	wantProblem(t, resp, b, 404, "unknown-request")

	createOn := func(api string) signRequestView {
		t.Helper()
		ct, body := form(tokenForm(ent, nil), "a.pdf", doc)
		resp, b := post(t, api, ct, body, nil)
		if resp.StatusCode != 201 {
			t.Fatalf("create: %d %s", resp.StatusCode, b)
		}
		return decodeView(t, b)
	}
	create := func() signRequestView {
		t.Helper()
		return createOn(api)
	}
	goneFrom := func(st *store.Store, v signRequestView) {
		t.Helper()
		for _, k := range []string{kindSignIn, kindSignOut} {
			if _, err := st.Get(context.Background(), k, docKey(v.ID, 1)); err == nil {
				t.Errorf("%s still stored after a refused completion", k)
			}
		}
	}
	gone := func(v signRequestView) { t.Helper(); goneFrom(e.store, v) }
	// Binding for another origin: refused, and nothing is left.
	v := create()
	s1, b1 := fakeAgent(t, ent.Key, v.Documents[0], "https://evil.example")
	resp, b = post(t, api+"/"+v.ID+"/complete", "application/json", completeJSON([2][]byte{s1, b1}), nil)
	wantProblem(t, resp, b, 422, "bad-binding")
	gone(v)
	resp, b = getURL(t, api+"/"+v.ID)
	if decodeView(t, b).Status != statusFailed {
		t.Fatalf("after a bad binding: %s", b)
	}
	// Wrong nonce in the binding.
	v = create()
	d := v.Documents[0]
	d.Nonce = "0000"
	s1, b1 = fakeAgent(t, ent.Key, d, e.url)
	resp, b = post(t, api+"/"+v.ID+"/complete", "application/json", completeJSON([2][]byte{s1, b1}), nil)
	wantProblem(t, resp, b, 422, "bad-binding")
	gone(v)
	// A wrong nonce named explicitly.
	v = create()
	s1, b1 = fakeAgent(t, ent.Key, v.Documents[0], e.url)
	var cb completeBody
	json.Unmarshal(completeJSON([2][]byte{s1, b1}), &cb)
	cb.Documents[0].Nonce = "ffff"
	raw, _ := json.Marshal(cb)
	resp, b = post(t, api+"/"+v.ID+"/complete", "application/json", raw, nil)
	wantProblem(t, resp, b, 422, "wrong-nonce")
	gone(v)
	// A bad signature with a good binding.
	v = create()
	s1, b1 = fakeAgent(t, ent.Key, v.Documents[0], e.url)
	s1[len(s1)-3] ^= 1
	resp, b = post(t, api+"/"+v.ID+"/complete", "application/json", completeJSON([2][]byte{s1, b1}), nil)
	if resp.StatusCode != 422 || !strings.Contains(string(b), "urn:semnat:problem:bad-signature") && !strings.Contains(string(b), "bad-binding") {
		t.Fatalf("bad signature: %d %s", resp.StatusCode, b)
	}
	gone(v)
	// Withdrawn by the page: the files go at once.
	v = create()
	req, _ := http.NewRequest(http.MethodDelete, api+"/"+v.ID, nil)
	if dr, err := http.DefaultClient.Do(req); err != nil || dr.StatusCode != 204 {
		t.Fatalf("delete: %v %v", err, dr)
	}
	gone(v)
	resp, b = getURL(t, api+"/"+v.ID)
	wantProblem(t, resp, b, 404, "unknown-request")
	// Download before signing, download of a document that does not exist.
	v = create()
	resp, b = getURL(t, api+"/"+v.ID+"/documents/1")
	wantProblem(t, resp, b, 409, "not-signed")
	resp, b = getURL(t, api+"/"+v.ID+"/documents/2")
	wantProblem(t, resp, b, 404, "unknown-document")
	if n := auditCount(t, e.store); n != 0 {
		t.Fatalf("audit entries for refused requests: %d", n)
	}
	// Expired request, on a server whose requests live 200 ms: wait until
	// the server itself says the request is over (no guessed sleep).
	short := newSignEnv(t, "", func(c *Config) { c.SignTTL = 200 * time.Millisecond })
	sapi := short.url + "/api/v1/sign-requests"
	v = createOn(sapi)
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, _ := getURL(t, sapi+"/"+v.ID)
		if resp.StatusCode == 410 || resp.StatusCode == 404 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a request of 200 ms still answers %d after 30 s", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s1, b1 = fakeAgent(t, ent.Key, v.Documents[0], short.url)
	resp, b = post(t, sapi+"/"+v.ID+"/complete", "application/json", completeJSON([2][]byte{s1, b1}), nil)
	if resp.StatusCode != 410 && resp.StatusCode != 404 {
		t.Fatalf("expired: %d %s", resp.StatusCode, b)
	}
	goneFrom(short.store, v)
	if n := auditCount(t, short.store); n != 0 {
		t.Fatalf("audit entries for an expired request: %d", n)
	}
}

// TestSignRequestSweep: an abandoned request and its files leave the store
// when their time to live has passed, without anyone asking.
func TestSignRequestSweep(t *testing.T) {
	e := newSignEnv(t, "", func(c *Config) { c.SignTTL, c.SweepEvery = 300*time.Millisecond, 50*time.Millisecond })
	ent := e.pki.MustGet("person-p256")
	ct, body := form(tokenForm(ent, nil), "a.pdf", samplepdf.Document("Sweep", nil, 0))
	resp, b := post(t, e.url+"/api/v1/sign-requests", ct, body, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	v := decodeView(t, b)
	// The sweeper runs every 50 ms: wait for the store to be empty of the
	// request, however late the sweeper gets the processor.
	keys := [][2]string{{kindSignReq, v.ID}, {kindSignIn, docKey(v.ID, 1)}, {kindNonces, v.ID}}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		left := 0
		for _, k := range keys {
			if _, err := e.store.Get(context.Background(), k[0], k[1]); !errors.Is(err, store.ErrNotFound) {
				left++
				if time.Now().After(deadline) {
					t.Errorf("%s %s: %v, want swept", k[0], k[1], err)
				}
			}
		}
		if left == 0 || time.Now().After(deadline) {
			break
		}
	}
}
