package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/agent"
	"github.com/semnat/semnat/agent/wire"
	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mnotify/mnotifytest"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pkcs11/softhsmtest"
	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/testcerts"
	"github.com/semnat/semnat/tsa"
)

// The back office's test harness: the clerks' employee certificates of the
// shared test PKI (clerk-sfs of the State Tax Service, clerk-asp of the
// Public Services Agency, as in catalog/demo/institutions.toml) on a
// SoftHSM token, the token agent in-process for MPass's and MSign's
// origins, and the portal with the institutions' seals (seal-sfs,
// seal-asp) at B-LTA. HTTP only: what the pages' scripts do with the
// agent is done here as they do it.

// withOffice gives the portal its back office: the seals, the PKI's TSA
// and online revocation.
func withOffice(cfg *Config) {
	hc := &http.Client{Timeout: 10 * time.Second}
	seals := map[string]pades.Signer{}
	for _, n := range []string{"seal-sfs", "seal-asp"} {
		s := shared.pki.MustGet(n)
		seals[s.IDNO] = pades.NewKeySigner(s.Key, s.Cert, s.Chain)
	}
	cfg.Office = &Office{Seals: seals, Timestamper: pades.TSA{Client: &tsa.Client{URL: shared.pkiURL + testcerts.TSAPath, HTTPClient: hc}},
		Revocation: pades.OnlineRevocation{HTTP: hc}, ExtraCerts: [][]byte{shared.pki.Root.Cert.Raw}}
}

// officeAgent is the clerks' token (clerk-sfs, clerk-asp) behind an
// in-process agent that lets e's MPass and MSign pages use it.
func officeAgent(t *testing.T, e *env) string {
	t.Helper()
	tok := softhsmtest.New(t)
	for _, n := range []string{"clerk-sfs", "clerk-asp", "employee"} {
		tok.Import(t, shared.pki.MustGet(n))
		tok.Import(t, shared.pki.MustGet(n+testcerts.AuthSuffix)) // logins
	}
	ag, err := agent.New(agent.Options{Module: tok.Module, Token: tok.Selector(), Origins: []string{e.mpassURL, e.msignURL}, Version: "test",
		Consent: func(context.Context, agent.Prompt) ([]byte, error) { return []byte(tok.PIN), nil }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	as := &http.Server{Handler: ag.Handler()}
	go as.Serve(ln)
	t.Cleanup(func() { as.Close() })
	return "http://" + ln.Addr().String()
}

// jsonCall posts (or GETs, in nil) JSON as a page's script does, with its
// Origin and extra headers, and decodes the answer into out.
func jsonCall(t *testing.T, c *http.Client, u, origin string, hdr map[string]string, in, out any) int {
	t.Helper()
	method, body := http.MethodGet, io.Reader(nil)
	if in != nil {
		b, _ := json.Marshal(in)
		method, body = http.MethodPost, bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, body)
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 == 2 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v: %s", u, err, b)
		}
	} else if resp.StatusCode/100 != 2 {
		t.Logf("%s: %d %s", u, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// agentCert is the agent's certificate of entity name.
func agentCert(t *testing.T, agentURL, origin, name string) wire.Certificate {
	t.Helper()
	var certs []wire.Certificate
	if st := jsonCall(t, http.DefaultClient, agentURL+"/v1/certificates", origin, nil, nil, &certs); st != 200 {
		t.Fatalf("agent certificates: %d", st)
	}
	want := shared.pki.MustGet(name).Cert.Raw
	for _, c := range certs {
		if bytes.Equal(c.Certificate, want) {
			return c
		}
	}
	t.Fatalf("no certificate of %s on the token", name)
	return wire.Certificate{}
}

var reMPassTx = regexp.MustCompile(`name="tx" value="([0-9a-f]{32})"`)

// tokenLogin logs the browser in to the portal page u through MPass with
// the token's certificate of entity, as MPass's login page does with the
// agent (nonce, the agent's signature for MPass's origin, the login).
func (e *env) tokenLogin(b *browser, agentURL, u, entity string) (*http.Response, string) {
	t := e.t.(*testing.T)
	t.Helper()
	resp, page := b.get(u)
	m := reMPassTx.FindStringSubmatch(page)
	if !strings.HasPrefix(resp.Request.URL.String(), e.mpassURL) || m == nil {
		t.Fatalf("not sent to MPass's login: %s\n%s", resp.Request.URL, page)
	}
	var ans struct{ Nonce, Next, Problem, Message string }
	if st := jsonCall(t, b.c, e.mpassURL+"/login/token/nonce?tx="+m[1], e.mpassURL, nil, struct{}{}, &ans); st != 200 {
		t.Fatalf("MPass nonce: %d", st)
	}
	cert := agentCert(t, agentURL, e.mpassURL, entity+testcerts.AuthSuffix) // a login takes the authentication certificate
	var signed wire.AuthResponse
	if st := jsonCall(t, http.DefaultClient, agentURL+"/v1/authenticate", e.mpassURL, nil, wire.AuthRequest{CertificateID: cert.ID, Hash: "SHA-256", Nonce: ans.Nonce}, &signed); st != 200 {
		t.Fatalf("agent authenticate: %d", st)
	}
	login := map[string]any{"certificate": cert.Certificate, "chain": cert.Chain, "signature": signed.Signature, "hash": signed.Hash, "scheme": signed.Scheme}
	if st := jsonCall(t, b.c, e.mpassURL+"/login/token?tx="+m[1], e.mpassURL, nil, login, &ans); st != 200 || ans.Next == "" {
		t.Fatalf("MPass token login: %d %+v", st, ans)
	}
	_, page = b.get(e.mpassURL + ans.Next)
	return b.postForm(page, PathACS)
}

// tokenSign signs MSign's request on its page (resp, page: the page the
// portal sent the browser to) with the token's certificate of entity, as
// MSign's page script does, and follows the way back to the portal.
func (e *env) tokenSign(b *browser, agentURL, entity string, resp *http.Response, page string) (*http.Response, string) {
	t := e.t.(*testing.T)
	t.Helper()
	if !strings.HasPrefix(resp.Request.URL.String(), e.msignURL+"/") {
		t.Fatalf("not sent to MSign: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	signPage := resp.Request.URL.String()
	id := strings.TrimPrefix(resp.Request.URL.Path, "/")
	hdr := map[string]string{"X-CSRF-Token": csrfOf(t, page)}
	cert := agentCert(t, agentURL, e.msignURL, entity)
	var prepared struct {
		Documents []struct {
			Hash, Scheme, Nonce, Name string
			Digest                    []byte
		}
	}
	if st := jsonCall(t, b.c, e.msignURL+"/"+id+"/token", e.msignURL, hdr, map[string]any{"certificate": cert.Certificate, "chain": cert.Chain}, &prepared); st != 200 || len(prepared.Documents) == 0 {
		t.Fatalf("MSign token prepare: %d %+v", st, prepared)
	}
	batch := wire.SignBatchRequest{CertificateID: cert.ID}
	for _, d := range prepared.Documents {
		batch.Documents = append(batch.Documents, wire.SignRequest{Hash: d.Hash, Scheme: d.Scheme, Digest: d.Digest, Nonce: d.Nonce, Document: d.Name})
	}
	var sigs wire.SignBatchResponse
	if st := jsonCall(t, http.DefaultClient, agentURL+"/v1/sign-batch", e.msignURL, nil, batch, &sigs); st != 200 {
		t.Fatalf("agent sign-batch: %d", st)
	}
	var done []map[string]any
	for i, s := range sigs.Signatures {
		done = append(done, map[string]any{"signature": s.Signature, "binding": s.Binding, "nonce": prepared.Documents[i].Nonce})
	}
	if st := jsonCall(t, b.c, e.msignURL+"/api/v1/sign-requests/"+id+"/complete", e.msignURL, nil, map[string]any{"documents": done}, nil); st/100 != 2 {
		t.Fatalf("MSign complete: %d", st)
	}
	for i := 0; i < 500 && !strings.Contains(page, `id="return-form"`); i++ {
		_, page = b.get(signPage)
	}
	return b.postForm(page, "/portal/")
}

// submitted is an application of the free tax arrears certificate
// (000105, State Tax Service) made, with an attachment, and signed on the
// phone by user through the portal's pages.
func (e *env) submitted(b *browser, user mobileid.User) string {
	t := e.t
	t.Helper()
	_, page := e.login(b, e.url+"/portal/servicii/000105/aplica", user)
	_, page = b.post(e.url+"/portal/servicii/000105/aplica", url.Values{"_csrf": {csrfOf(t, page)}, "on_behalf": {"self"}})
	m := reAppID.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no application:\n%s", page)
	}
	id := m[1]
	resp, page := b.post(e.url+appPath(id, "formular"), url.Values{"_csrf": {csrfOf(t, page)}, "taxpayer": {user.IDNP}, "for_whom": {"bancă"}})
	if !strings.HasSuffix(resp.Request.URL.Path, "/documente") {
		t.Fatalf("form: %d\n%s", resp.StatusCode, page)
	}
	if resp, page = b.upload(e.url+appPath(id, "documente"), csrfOf(t, page), "-1", "contract.pdf", "application/pdf",
		samplepdf.Document("Contract de credit", nil, 0)); resp.StatusCode != 200 {
		t.Fatalf("attach: %d\n%s", resp.StatusCode, page)
	}
	if _, page = e.signApplication(b, id, user, "mcabinet"); !strings.Contains(page, `data-state="submitted"`) {
		t.Fatalf("not submitted:\n%s", page)
	}
	return id
}

// officeSetup is a portal with its back office notifying through a real
// MNotify, the clerks' agent, and a submitted application of the phone
// user n, with that user's browser.
func officeSetup(t *testing.T, n int) (*mnotifytest.Server, *env, string, mobileid.User, *browser, string) {
	t.Helper()
	mn := mnotifytest.Start(t)
	notify := withMNotify(mn)
	e := newEnv(t, func(c *Config) { withOffice(c); notify(c) })
	agentURL := officeAgent(t, e)
	user := mobileid.GeneratedUser(n)
	citizen := newBrowser(t)
	return mn, e, agentURL, user, citizen, e.submitted(citizen, user)
}

// TestOfficeApprove: a clerk of the State Tax Service logs in with the
// token through MPass, finds the application in the queue, sees the
// applicant's signature report and the attachment, takes and approves
// it, signs the result with the token through MSign; the institution
// seals it at B-LTA. The citizen downloads it from the cabinet: `semnat
// verify` says TOTAL-PASSED (the seal at B-LTA), pdfsig says valid; its QR
// code (read by zbarimg from the rendered page) and its short code lead to
// the public verification page; an unknown code is a plain 404. A clerk
// of another institution, and a citizen, are refused.
func TestOfficeApprove(t *testing.T) {
	mn, e, agentURL, user, citizen, id := officeSetup(t, 1)

	// A citizen cannot reach the back office, nor is it offered.
	if _, page := citizen.get(e.url + "/portal/cereri"); strings.Contains(page, `id="office"`) {
		t.Fatal("the back office is offered to a citizen")
	}
	if resp, page := citizen.get(e.url + PathOffice); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, wording("ro")["e-not-clerk"]) {
		t.Fatalf("a citizen in the back office: %d\n%s", resp.StatusCode, page)
	}
	// An employee of an organisation without a back office is no clerk.
	if resp, page := e.tokenLogin(newBrowser(t), agentURL, e.url+PathOffice, "employee"); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, wording("ro")["e-not-clerk"]) {
		t.Fatalf("an employee of another organisation: %d\n%s", resp.StatusCode, page)
	}
	// Another institution's clerk: not in its queue, its page is not found.
	other := newBrowser(t)
	if resp, page := e.tokenLogin(other, agentURL, e.url+PathOffice, "clerk-asp"); resp.StatusCode != 200 || strings.Contains(page, id) || !strings.Contains(page, "Agenția Servicii Publice") {
		t.Fatalf("the other institution's queue: %d\n%s", resp.StatusCode, page)
	}
	for _, p := range []string{"", "/cerere.pdf"} {
		if resp, _ := other.get(e.url + officePath(id) + p); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("another institution's clerk sees the application%s: %d", p, resp.StatusCode)
		}
	}

	clerk := newBrowser(t)
	resp, page := e.tokenLogin(clerk, agentURL, e.url+PathOffice, "clerk-sfs")
	if resp.StatusCode != 200 || !strings.Contains(page, `data-id="`+id+`"`) || !strings.Contains(page, `id="office"`) || !strings.Contains(page, "000105 — Certificat") {
		t.Fatalf("the clerk's queue: %d\n%s", resp.StatusCode, page)
	}
	_, page = clerk.get(e.url + officePath(id))
	// The applicant's signature card (MSign's report: this MSign checks
	// no revocation online, so B-T without it is INDETERMINATE there).
	for _, want := range []string{`<article class="sig"`, `class="signer">Test User00001<`, `data-level="B-T"`, "contract.pdf", `id="start"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("the application's page lacks %s:\n%s", want, page)
		}
	}
	att := regexp.MustCompile(`href="(/portal/birou/[^"]+/documente/[^"]+)"`).FindStringSubmatch(page)
	if att == nil {
		t.Fatal("no attachment link")
	}
	if resp, body := clerk.get(e.url + att[1]); resp.StatusCode != 200 || !strings.HasPrefix(body, "%PDF") {
		t.Fatalf("the attachment: %d", resp.StatusCode)
	}
	if resp, _ := other.get(e.url + att[1]); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the attachment, for another institution: %d", resp.StatusCode)
	}
	if _, page = clerk.post(e.url+officePath(id)+"/preia", url.Values{"_csrf": {csrfOf(t, page)}}); !strings.Contains(page, `data-state="in-progress"`) {
		t.Fatalf("taken:\n%s", page)
	}
	resp, page = clerk.post(e.url+officePath(id)+"/aproba", url.Values{"_csrf": {csrfOf(t, page)}})
	resp, page = e.tokenSign(clerk, agentURL, "clerk-sfs", resp, page)
	if !strings.Contains(page, `data-state="completed"`) || !strings.Contains(page, `id="result-pdf"`) {
		t.Fatalf("after signing: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}

	// The citizen's cabinet: the document, downloaded and verified.
	_, page = citizen.get(e.url + "/portal/documente")
	if !strings.Contains(page, `data-id="`+id+`"`) {
		t.Fatalf("documents:\n%s", page)
	}
	resp, doc := citizen.get(e.url + appPath(id, "rezultat.pdf"))
	if resp.StatusCode != 200 || !strings.HasPrefix(doc, "%PDF") {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	dir := t.TempDir()
	file, roots := filepath.Join(dir, "document.pdf"), filepath.Join(dir, "roots.pem")
	os.WriteFile(file, []byte(doc), 0o600)
	os.WriteFile(roots, testcerts.PEM(shared.pki.Root.Cert), 0o600)
	rep, err := pades.Verify(context.Background(), strings.NewReader(doc), int64(len(doc)), &pades.VerifyOptions{Roots: shared.pki.RootPool()})
	if err != nil || rep.Indication != pades.TotalPassed {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	levels := map[string]string{}
	for _, s := range rep.Signatures {
		if s.Signer != nil {
			levels[s.Signer.IDNP+s.Signer.IDNO] = s.Level
		}
	}
	if levels[shared.pki.MustGet("seal-sfs").IDNO] != "B-LTA" || levels[shared.pki.MustGet("clerk-sfs").IDNP+shared.pki.MustGet("clerk-sfs").IDNO] == "" {
		t.Fatalf("signatures and levels: %v", levels)
	}
	verifyIssued(t, browsertest.BuildSemnat(t), file, roots)

	// The document's page: code, link, report.
	_, page = citizen.get(e.url + appPath(id, "rezultat"))
	code := regexp.MustCompile(`id="doc-code">([0-9A-Z-]+)<`).FindStringSubmatch(page)
	link := regexp.MustCompile(`id="verify-link" href="([^"]+)"`).FindStringSubmatch(page)
	if code == nil || link == nil || !strings.Contains(page, `data-valid="true"`) || !strings.Contains(page, "<svg class=\"qr\"") {
		t.Fatalf("the document's page:\n%s", page)
	}
	// The QR code printed on the document leads to the verification page.
	if qr := readQR(t, file); qr != link[1] {
		t.Fatalf("the document's QR code says %q, want %q", qr, link[1])
	}
	anon := newBrowser(t)
	for _, u := range []string{link[1], e.url + PathVerify + "?cod=" + url.QueryEscape(strings.ToLower(code[1]))} {
		resp, page = anon.get(u)
		if resp.StatusCode != 200 || !strings.Contains(page, `data-state="completed"`) || !strings.Contains(page, "Serviciul Fiscal de Stat") ||
			!strings.Contains(page, `data-indication="TOTAL-PASSED"`) || strings.Contains(page, user.IDNP) || strings.Contains(page, "User00001") {
			t.Fatalf("the public verification page %s: %d\n%s", u, resp.StatusCode, page)
		}
	}
	for _, bad := range []string{"0000-0000-000", "ZZZZ-ZZZZ-ZZ1", "x"} {
		if resp, page = anon.get(e.url + PathVerify + "/" + bad); resp.StatusCode != http.StatusNotFound || strings.Contains(page, "doc-status") {
			t.Fatalf("unknown code %s: %d", bad, resp.StatusCode)
		}
	}
	// The applicant was notified through MNotify at each change (Submitted,
	// InProgress, Completed), and reads it in the cabinet's inbox.
	ro := wording("ro")
	in := mn.Inbox(user.IDNP, 3)
	subjects := in[0].Subject + "|" + in[1].Subject + "|" + in[2].Subject
	for _, st := range []application.State{application.Submitted, application.InProgress, application.Completed} {
		if want := "Cererea " + id + ": " + ro[string(st)]; !strings.Contains(subjects, want) {
			t.Fatalf("no %q notification: %s", want, subjects)
		}
	}
	if _, page = citizen.get(e.url + "/portal/notificari"); strings.Count(page, "<li data-status=") != 3 || !strings.Contains(page, ro[string(application.Completed)]) {
		t.Fatalf("the cabinet's inbox:\n%s", page)
	}
	// Every new page in ro, ru and en, no message id left.
	for lang, want := range map[string]string{"ro": "Portalul serviciilor publice", "ru": "Портал государственных услуг", "en": "Public services portal"} {
		for b, pages := range map[*browser][]string{clerk: {PathOffice, officePath(id)}, anon: {PathVerify, strings.TrimPrefix(link[1], e.url)},
			citizen: {"/portal/documente", appPath(id, "rezultat"), "/portal/plati", "/portal/notificari", appPath(id, "")}} {
			for _, p := range pages {
				resp, page := b.get(e.url + p + "?lang=" + lang)
				if resp.StatusCode != 200 || !strings.Contains(page, want) || !strings.Contains(page, `<html lang="`+lang+`">`) {
					t.Fatalf("%s %s: %d\n%s", lang, p, resp.StatusCode, page)
				}
				for _, mid := range messages.IDs() {
					if strings.Contains(page, mid) {
						t.Errorf("%s %s shows the id %s", lang, p, mid)
					}
				}
			}
		}
	}
	// The history and the audit name the clerk.
	h, _ := e.portal.Applications().History(context.Background(), id)
	if last := h[len(h)-1]; last.To != application.Completed || last.Actor != shared.pki.MustGet("clerk-sfs").IDNP {
		t.Fatalf("history: %+v", h)
	}
}

// readQR renders the document's last page and reads its QR code with
// zbarimg.
func readQR(t *testing.T, file string) string {
	t.Helper()
	png := filepath.Join(t.TempDir(), "page")
	if out, err := exec.Command(testtool.Require(t, "pdftoppm"), "-r", "200", "-png", "-singlefile", file, png).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	out, err := exec.Command(testtool.Require(t, "zbarimg"), "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", png+".png").Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestOfficeReject: the clerk rejects with a reason and words; the
// applicant sees both; a reason-less rejection is refused.
func TestOfficeReject(t *testing.T) {
	mn, e, agentURL, user, citizen, id := officeSetup(t, 2)
	clerk := newBrowser(t)
	e.tokenLogin(clerk, agentURL, e.url+officePath(id), "clerk-sfs")
	_, page := clerk.get(e.url + officePath(id))
	csrf := csrfOf(t, page)
	if resp, _ := clerk.post(e.url+officePath(id)+"/respinge", url.Values{"_csrf": {csrf}, "reason": {"refused"}, "note": {"  "}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a rejection without words: %d", resp.StatusCode)
	}
	const why = "Contractul anexat nu este semnat de bancă."
	if resp, page := clerk.post(e.url+officePath(id)+"/respinge", url.Values{"_csrf": {csrf}, "reason": {application.ReasonIncomplete}, "note": {why}}); !strings.Contains(page, `data-state="rejected"`) {
		t.Fatalf("reject: %d\n%s", resp.StatusCode, page)
	}
	if resp, _ := clerk.post(e.url+officePath(id)+"/preia", url.Values{"_csrf": {csrf}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("taking a rejected application: %d", resp.StatusCode)
	}
	_, page = citizen.get(e.url + appPath(id, ""))
	if !strings.Contains(page, `data-state="rejected"`) || !strings.Contains(page, why) || !strings.Contains(page, wording("ro")[application.ReasonIncomplete]) {
		t.Fatalf("the applicant's page:\n%s", page)
	}
	// Notified: Submitted, then Rejected with its reason.
	in := mn.Inbox(user.IDNP, 2)
	if want := wording("ro")[string(application.Rejected)] + " (" + wording("ro")[application.ReasonIncomplete] + ")"; !strings.Contains(in[0].Subject+in[1].Subject+in[0].Body+in[1].Body, want) {
		t.Fatalf("no rejection notification with %q: %+v", want, in)
	}
}
