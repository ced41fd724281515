package mobileid

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/testcerts"
)

// waitPrompt polls the virtual phone until a request shows.
func waitPrompt(t *testing.T, s *Simulator, msisdn string) Prompt {
	t.Helper()
	for range 2000 {
		if p, _ := s.PhonePrompt(msisdn); p.Pending {
			return p
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("no prompt on the phone")
	return Prompt{}
}

// waitSIMIdle blocks until the SIM of msisdn has no transaction pending,
// on the transaction's own "final" event rather than after a guessed sleep.
func waitSIMIdle(t *testing.T, s *Simulator, msisdn string) {
	t.Helper()
	sm := s.lookup(msisdn)
	if sm == nil {
		t.Fatalf("no SIM %s", msisdn)
	}
	s.mu.Lock()
	tx := sm.pending
	s.mu.Unlock()
	if tx == nil {
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s.wait(ctx, tx, 30*time.Second, false)
	s.mu.Lock()
	final := tx.state.final()
	s.mu.Unlock()
	if !final {
		t.Fatalf("the transaction on %s is still %s", msisdn, tx.state)
	}
}

func TestVirtualPhoneBothFaces(t *testing.T) {
	s, base := sharedSim(t)
	for i, face := range []Face{FaceMID, FaceETSI} {
		t.Run(string(face), func(t *testing.T) {
			u := GeneratedUser(100 + i)
			c := newTestClient(t, base, face, nil)
			digest := sha256.Sum256([]byte("HACKERMAN_SHA256"))
			p, err := c.Start(t.Context(), SignRequest{MSISDN: u.MSISDN, IDNP: u.IDNP, Digest: digest[:], Hash: cryptoSHA256, DisplayText: "Semnați contractul nr. 5?"})
			if err != nil {
				t.Fatal(err)
			}
			pr := waitPrompt(t, s, u.MSISDN)
			if pr.VerificationCode != "6008" || p.VerificationCode() != "6008" || pr.Kind != "sign" || pr.PINLength != 5 {
				t.Fatalf("prompt %+v, client code %s", pr, p.VerificationCode())
			}
			if pr.Requester == "" || !strings.Contains(pr.DisplayText, "Semna") {
				t.Fatalf("prompt %+v", pr)
			}
			// Over HTTP: wrong PIN, then the right one.
			code, out := postJSON(t, base+"/sim/"+u.MSISDN+"/confirm", map[string]string{"pin": "00000"})
			if code != 200 || out["result"] != PhoneWrongPIN || out["tries_left"] != 2.0 {
				t.Fatalf("wrong pin: %d %v", code, out)
			}
			code, out = postJSON(t, base+"/sim/"+u.MSISDN+"/confirm", map[string]string{"pin": DefaultPIN2})
			if code != 200 || out["result"] != PhoneSigned {
				t.Fatalf("confirm: %d %v", code, out)
			}
			res, err := p.Wait(t.Context())
			if err != nil || res.Certificate.Subject.SerialNumber != u.IDNP {
				t.Fatalf("wait: %v", err)
			}
			if _, st := getJSON(t, base+"/sim/"+u.MSISDN+"/state"); st["pin2_tries_left"] != 3.0 || st["busy"] != false {
				t.Fatalf("state %v", st)
			}
			// Cancel.
			p, err = c.Start(t.Context(), SignRequest{MSISDN: u.MSISDN, IDNP: u.IDNP, Digest: randomDigest(t), Hash: cryptoSHA256})
			if err != nil {
				t.Fatal(err)
			}
			waitPrompt(t, s, u.MSISDN)
			if code, out := postJSON(t, base+"/sim/"+u.MSISDN+"/cancel", nil); code != 200 || out["result"] != PhoneCancelled {
				t.Fatalf("cancel: %d %v", code, out)
			}
			if _, err := p.Wait(t.Context()); !errors.Is(err, ErrUserCancelled) {
				t.Fatalf("after cancel: %v", err)
			}
		})
	}
	// The page and refusals.
	resp, err := http.Get(base + "/sim/+37300000001")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(page, []byte("verification_code")) || !bytes.Contains(page, []byte("37300000001")) {
		t.Fatalf("phone page: %d %s", resp.StatusCode, page)
	}
	if code, _ := postJSON(t, base+"/sim/+37300000001/confirm", map[string]string{"pin": "12345"}); code != 409 {
		t.Fatalf("scripted user confirm: %d", code)
	}
	if code, _ := getJSON(t, base+"/sim/+37399999999/prompt"); code != 404 {
		t.Fatalf("unknown SIM: %d", code)
	}
}

func TestPINBlocksAfterThreeWrongTries(t *testing.T) {
	s, base := sharedSim(t)
	u := GeneratedUser(110)
	code, out := postJSON(t, base+"/rest/service/sign", etsiSignBody(u.MSISDN, randomDigest(t), "asynchClientServer", nil))
	if code != 200 {
		t.Fatal(out)
	}
	id := dig(out, "MSS_SignatureResp", "MSSP_TransID").(string)
	waitPrompt(t, s, u.MSISDN)
	for i, want := range []string{PhoneWrongPIN, PhoneWrongPIN, PhonePINBlocked} {
		if res, _, err := s.PhoneConfirm(u.MSISDN, "99999"); err != nil || res != want {
			t.Fatalf("try %d: %s %v", i, res, err)
		}
	}
	if code, out := postJSON(t, base+"/rest/service/status", etsiStatusBody(id)); code != 500 || faultCode(out) != "402/4021" {
		t.Fatalf("status %d %v", code, out)
	}
	// The SIM stays blocked: the next request fails at the phone too.
	if got := etsiRun(t, base, u.MSISDN); got != "402/4021" {
		t.Fatalf("next request: %s", got)
	}
}

func TestSIMBusy(t *testing.T) {
	s, base := sharedSim(t)
	u := GeneratedUser(120)
	c := newTestClient(t, base, FaceETSI, nil)
	p, err := c.Start(t.Context(), SignRequest{MSISDN: u.MSISDN, Digest: randomDigest(t), Hash: cryptoSHA256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(t.Context(), SignRequest{MSISDN: u.MSISDN, Digest: randomDigest(t), Hash: cryptoSHA256}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second ETSI request: %v", err)
	}
	m := newTestClient(t, base, FaceMID, nil)
	if _, err := m.Sign(t.Context(), SignRequest{MSISDN: u.MSISDN, IDNP: u.IDNP, Digest: randomDigest(t), Hash: cryptoSHA256}); !errors.Is(err, ErrDelivery) {
		t.Fatalf("second Mobile-ID request: %v", err)
	}
	waitPrompt(t, s, u.MSISDN)
	s.PhoneCancel(u.MSISDN)
	if _, err := p.Wait(t.Context()); !errors.Is(err, ErrUserCancelled) {
		t.Fatal(err)
	}
}

func TestETSIRules(t *testing.T) {
	s, base := sharedSim(t)
	d := randomDigest(t)
	// Duplicate AP_TransID.
	body := etsiSignBody("+37300000001", d, "asynchClientServer", nil)
	if code, out := postJSON(t, base+"/rest/service/sign", body); code != 200 {
		t.Fatal(out)
	}
	waitSIMIdle(t, s, "+37300000001") // else the SIM is busy: 406
	if code, out := postJSON(t, base+"/rest/service/sign", body); code != 400 || faultCode(out) != "101" || !strings.Contains(dig(out, "Fault", "Detail").(string), "AP_TransID") {
		t.Fatalf("duplicate AP_TransID: %d %v", code, out)
	}
	cases := []struct {
		name string
		mut  func(req map[string]any)
		want string
	}{
		{"bad password", func(r map[string]any) { r["AP_Info"].(map[string]any)["AP_PWD"] = "x" }, "104"},
		{"no AP_TransID", func(r map[string]any) { delete(r["AP_Info"].(map[string]any), "AP_TransID") }, "102"},
		{"colon in AP_TransID", func(r map[string]any) { r["AP_Info"].(map[string]any)["AP_TransID"] = "a:b" }, "101"},
		{"skewed Instant", func(r map[string]any) { r["AP_Info"].(map[string]any)["Instant"] = "2001-01-01T00:00:00Z" }, "101"},
		{"illegal msisdn", func(r map[string]any) { r["MobileUser"] = map[string]any{"MSISDN": "+41-bad"} }, "101"},
		{"unknown msisdn", func(r map[string]any) { r["MobileUser"] = map[string]any{"MSISDN": "+37399999999"} }, "105/1052"},
		{"no DTBS", func(r map[string]any) { delete(r, "DataToBeSigned") }, "102/1022"},
		{"sha1", func(r map[string]any) { r["DataToBeSigned"].(map[string]any)["MimeType"] = "application/x-sha1" }, "107"},
		{"short digest", func(r map[string]any) {
			r["DataToBeSigned"].(map[string]any)["MimeType"] = "application/x-sha512"
		}, "103"},
		{"mime", func(r map[string]any) { r["DataToBeSigned"].(map[string]any)["MimeType"] = "image/png" }, "107/1016"},
		{"format", func(r map[string]any) { r["MSS_Format"] = "urn:nope" }, "101/1017"},
		{"mode", func(r map[string]any) { r["MessagingMode"] = "asynchServerServer" }, "101/1013"},
		{"DTBD too long", func(r map[string]any) {
			r["DataToBeDisplayed"] = map[string]any{"Data": strings.Repeat("ț", 120), "MimeType": "text/plain", "Encoding": "UTF-8"}
		}, "103"},
		{"service", func(r map[string]any) { r["AdditionalServices"] = []any{map[string]any{"Description": "urn:x"}} }, "101/1014"},
	}
	for _, c := range cases {
		b := etsiSignBody("+37300000001", d, "asynchClientServer", nil)
		c.mut(b["MSS_SignatureReq"].(map[string]any))
		want := 400
		if c.want == "104" {
			want = 401
		}
		if code, out := postJSON(t, base+"/rest/service/sign", b); code != want || faultCode(out) != c.want {
			t.Errorf("%s: %d %s, want fault %s (%v)", c.name, code, faultCode(out), c.want, out)
		}
	}
	// Synchronous mode (Kiuru single URL, a text DTBS, PKCS7, tolerant of missing versions).
	b := etsiSignBody("+37300000002", nil, "synch", map[string]any{"MSS_Format": FormatPKCS7,
		"DataToBeSigned": map[string]any{"Data": "Autentificare la portal", "MimeType": "text/plain", "Encoding": "UTF-8"}})
	delete(b["MSS_SignatureReq"].(map[string]any), "MajorVersion")
	code, out := postJSON(t, base+"/rest/service", b)
	if code != 200 || dig(out, "MSS_SignatureResp", "Status", "StatusCode", "Value") != "500" {
		t.Fatalf("synch: %d %v", code, out)
	}
	cmsDER, _ := base64.StdEncoding.DecodeString(dig(out, "MSS_SignatureResp", "MSS_Signature", "Base64Signature").(string))
	cms, err := parseCMS(cmsDER)
	if err != nil || string(cms.content) != "Autentificare la portal" || len(cms.certs) != 2 {
		t.Fatalf("CMS: %v", err)
	}
	t.Run("openssl", func(t *testing.T) { opensslVerifyCMS(t, cmsDER) })
	// Receipt: once.
	id := dig(out, "MSS_SignatureResp", "MSSP_TransID").(string)
	rb := map[string]any{"MSS_ReceiptReq": map[string]any{"AP_Info": map[string]any{"AP_ID": DefaultAPID, "AP_PWD": DefaultAPPassword, "AP_TransID": nextTransID()}, "MSSP_TransID": id}}
	if code, out := postJSON(t, base+"/rest/service/receipt", rb); code != 200 || dig(out, "MSS_ReceiptResp", "Status", "StatusCode", "Value") != "100" {
		t.Fatalf("receipt: %d %v", code, out)
	}
	if code, out := postJSON(t, base+"/rest/service/receipt", rb); code != 400 || faultCode(out) != "101" {
		t.Fatalf("second receipt: %d %v", code, out)
	}
	// Unknown transaction; wrong operation for the URL.
	if code, out := postJSON(t, base+"/rest/service/status", etsiStatusBody("Tnope")); code != 400 || faultCode(out) != "101" {
		t.Fatalf("unknown id: %d %v", code, out)
	}
	if code, out := postJSON(t, base+"/rest/service/status", rb); code != 400 || faultCode(out) != "108" {
		t.Fatalf("op mismatch: %d %v", code, out)
	}
	// Profile query with certificates.
	pb := map[string]any{"MSS_ProfileReq": map[string]any{"AP_Info": map[string]any{"AP_ID": DefaultAPID, "AP_PWD": DefaultAPPassword, "AP_TransID": nextTransID()}, "MobileUser": map[string]any{"MSISDN": "+37300000033"}, "Params": "certs pinstatus"}}
	code, out = postJSON(t, base+"/rest/service/profile", pb)
	certs, _ := dig(out, "MSS_ProfileResp", "Status", "StatusDetail", "ProfileQueryExtension", "Sscds", "Sim", "MobileUserCertificate").([]any)
	if code != 200 || len(certs) != 2 || dig(certs[0], "State") != "REVOKED" {
		t.Fatalf("profile: %d %v", code, out)
	}
}

func opensslVerifyCMS(t *testing.T, der []byte) {
	openssl := requireTool(t, "openssl")
	dir := t.TempDir()
	pki := privatePKI(t)
	os.WriteFile(filepath.Join(dir, "sig.der"), der, 0o600)
	os.WriteFile(filepath.Join(dir, "root.pem"), testcerts.PEM(pki.Root.Cert), 0o600)
	out, err := exec.Command(openssl, "cms", "-verify", "-inform", "DER", "-in", filepath.Join(dir, "sig.der"),
		"-CAfile", filepath.Join(dir, "root.pem"), "-purpose", "any").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Autentificare la portal")) {
		t.Fatalf("openssl cms -verify: %v\n%s", err, out)
	}
}

func TestCallerBinding(t *testing.T) {
	s, base := sharedSim(t)
	// ETSI: another AP may not poll.
	s2, err := New(Options{PKI: privatePKI(t), TimeScale: testScale, APs: []AP{{ID: "http://a", Password: "a"}, {ID: "http://b", Password: "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	srv := httptest.NewServer(s2.Handler())
	defer srv.Close()
	b := etsiSignBody("+37300000003", randomDigest(t), "asynchClientServer", nil)
	b["MSS_SignatureReq"].(map[string]any)["AP_Info"] = map[string]any{"AP_ID": "http://a", "AP_PWD": "a", "AP_TransID": "x1"}
	_, out := postJSON(t, srv.URL+"/rest/service/sign", b)
	id, _ := dig(out, "MSS_SignatureResp", "MSSP_TransID").(string)
	st := map[string]any{"MSS_StatusReq": map[string]any{"AP_Info": map[string]any{"AP_ID": "http://b", "AP_PWD": "b", "AP_TransID": "y"}, "MSSP_TransID": id}}
	if code, out := postJSON(t, srv.URL+"/rest/service/status", st); code != 401 || faultCode(out) != "104" {
		t.Fatalf("other AP: %d %v", code, out)
	}
	st["MSS_StatusReq"].(map[string]any)["AP_Info"] = map[string]any{"AP_ID": "http://a", "AP_PWD": "a", "AP_TransID": "y"}
	if code, out := postJSON(t, srv.URL+"/rest/service/status", st); code != 200 || dig(out, "MSS_StatusResp", "Status", "StatusCode", "Value") != "504" {
		t.Fatalf("own AP: %d %v", code, out)
	}
	// Mobile-ID: a poll from another address, and wrong credentials.
	_, out = postJSON(t, base+"/mid-api/signature", midBodyFor("+37300000003", idnpOf("+37300000003"), randomDigest(t)))
	req := httptest.NewRequest("GET", "/mid-api/signature/session/"+out["sessionID"].(string), nil)
	req.RemoteAddr = "192.0.2.7:4000"
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "Failed to authorize user") {
		t.Fatalf("poll from another IP: %d %s", rec.Code, rec.Body)
	}
	bad := midBodyFor("+37300000001", idnpOf("+37300000001"), randomDigest(t))
	bad["relyingPartyUUID"] = "00000000-0000-0000-0000-000000000001"
	if code, _ := postJSON(t, base+"/mid-api/signature", bad); code != 401 {
		t.Fatalf("wrong RP: %d", code)
	}
}

func TestMIDRules(t *testing.T) {
	s, base := sharedSim(t)
	body := func(mut func(map[string]any)) map[string]any {
		b := midBodyFor("+37300000001", idnpOf("+37300000001"), randomDigest(t))
		mut(b)
		return b
	}
	for name, mut := range map[string]func(map[string]any){
		"hash length":  func(b map[string]any) { b["hashType"] = "SHA512" },
		"hash type":    func(b map[string]any) { b["hashType"] = "SHA1" },
		"no phone":     func(b map[string]any) { delete(b, "phoneNumber") },
		"phone format": func(b map[string]any) { b["phoneNumber"] = "37300000001" },
		"language":     func(b map[string]any) { b["language"] = "XX" },
		"text 101":     func(b map[string]any) { b["displayText"] = strings.Repeat("a", 101) },
		"ucs2 51":      func(b map[string]any) { b["displayText"], b["displayTextFormat"] = strings.Repeat("ț", 51), "UCS-2" },
		"6 extended":   func(b map[string]any) { b["displayText"] = "[]{}||" },
	} {
		if code, out := postJSON(t, base+"/mid-api/signature", body(mut)); code != 400 || out["error"] == "" || out["traceId"] == nil {
			t.Errorf("%s: %d %v", name, code, out)
		}
	}
	for name, mut := range map[string]func(map[string]any){
		"text 100":     func(b map[string]any) { b["displayText"] = strings.Repeat("a", 100) },
		"ucs2 50":      func(b map[string]any) { b["displayText"], b["displayTextFormat"] = strings.Repeat("ț", 50), "UCS-2" },
		"5 extended":   func(b map[string]any) { b["displayText"] = "[]{}|" },
		"authenticate": func(b map[string]any) {},
	} {
		code, out := postJSON(t, base+"/mid-api/authentication", body(mut))
		if code != 200 || out["sessionID"] == nil {
			t.Errorf("%s: %d %v", name, code, out)
		}
		waitSIMIdle(t, s, "+37300000001") // the SIM answers; else the next request finds it busy
	}
	resp, _ := http.Get(base + "/mid-api/certificate")
	if resp.StatusCode != 405 {
		t.Fatalf("GET /certificate: %d", resp.StatusCode)
	}
	resp.Body.Close()
	if code, _ := getJSON(t, base+"/mid-api/signature/session/00000000-0000-4000-8000-000000000000"); code != 404 {
		t.Fatalf("unknown session: %d", code)
	}
	// /certificate results.
	for msisdn, want := range map[string]string{"+37300000001": "OK", "+37300000030": "NOT_FOUND", "+37300000031": "NOT_ACTIVE", "+37399999999": "NOT_FOUND"} {
		b := midBodyFor(msisdn, idnpOf(msisdn)+"", nil)
		if b["nationalIdentityNumber"] == "" {
			b["nationalIdentityNumber"] = "2000000000000"
		}
		if _, out := postJSON(t, base+"/mid-api/certificate", b); out["result"] != want {
			t.Errorf("certificate %s: %v, want %s", msisdn, out["result"], want)
		}
	}
	// timeoutMs clamping (scaled).
	for q, want := range map[string]time.Duration{"": 10 * time.Second, "1": time.Second, "abc": 10 * time.Second, "90000": 90 * time.Second, "999999999": 2 * time.Minute} {
		if got := s.midSessionTimeout(q); got != s.d(want) {
			t.Errorf("timeoutMs=%q: %v, want %v", q, got, s.d(want))
		}
	}
	// Phone display: non-GSM characters become spaces in GSM-7.
	if got := PhoneText("Semnați?", GSM7); got != "Semna i?" {
		t.Fatalf("PhoneText %q", got)
	}
}

func TestAuthentication(t *testing.T) {
	_, base := sharedSim(t)
	for _, face := range []Face{FaceMID, FaceETSI} {
		c := newTestClient(t, base, face, nil)
		p, err := c.StartAuthentication(t.Context(), AuthRequest{MSISDN: "+37300000002", IDNP: idnpOf("+37300000002"), DisplayText: "Log in to the portal"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Wait(t.Context())
		if err != nil {
			t.Fatalf("%s: %v", face, err)
		}
		id := IdentityOf(res.Certificate)
		if id.IDNP != idnpOf("+37300000002") || id.Surname != "Rotari" || id.Country != "MD" || !strings.HasPrefix(id.Organization, "Exemplu SRL") {
			t.Fatalf("%s: identity %+v", face, id)
		}
		if res.Certificate.KeyUsage&x509.KeyUsageContentCommitment != 0 {
			t.Fatalf("%s: authentication used the signing certificate", face)
		}
	}
}

func TestExpiredSessions(t *testing.T) {
	pki := privatePKI(t)
	s, err := New(Options{PKI: pki, TimeScale: 0.0005})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	_, out := postJSON(t, srv.URL+"/mid-api/signature", midBodyFor("+37300000001", idnpOf("+37300000001"), randomDigest(t)))
	sid := out["sessionID"].(string)
	_, out2 := postJSON(t, srv.URL+"/rest/service/sign", etsiSignBody("+37300000002", randomDigest(t), "asynchClientServer", nil))
	tid := dig(out2, "MSS_SignatureResp", "MSSP_TransID").(string)
	// Retention is 5 simulated minutes = 150 ms here.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := getJSON(t, srv.URL+"/mid-api/signature/session/"+sid)
		_, eo := postJSON(t, srv.URL+"/rest/service/status", etsiStatusBody(tid))
		if code == 404 && faultCode(eo) == "208/2081" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions not forgotten: %d %v", code, eo)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClientChecks(t *testing.T) {
	s, base := sharedSim(t)
	// A man in the middle that alters signatures is caught.
	tamper := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, r)
		var m map[string]any
		body := rec.Body.Bytes()
		if json.Unmarshal(body, &m) == nil {
			if sig, ok := dig(m, "signature").(map[string]any); ok {
				v, _ := base64.StdEncoding.DecodeString(sig["value"].(string))
				v[len(v)/2] ^= 1
				sig["value"] = base64.StdEncoding.EncodeToString(v)
				body, _ = json.Marshal(m)
			}
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	defer tamper.Close()
	c := newTestClient(t, tamper.URL, FaceMID, nil)
	if _, err := c.Sign(t.Context(), SignRequest{MSISDN: "+37300000002", IDNP: idnpOf("+37300000002"), Digest: randomDigest(t), Hash: cryptoSHA256}); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("tampered signature: %v", err)
	}
	// Untrusted anchors.
	c = newTestClient(t, base, FaceMID, func(o *ClientOptions) {
		o.Roots = x509.NewCertPool()
		o.Roots.AddCert(privatePKI(t).UntrustedRoot.Cert)
	})
	if _, _, err := c.GetCertificate(t.Context(), "+37300000001", idnpOf("+37300000001")); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("untrusted: %v", err)
	}
	// GetCertificate on both faces gives the same signing certificate and chain.
	m, _, _ := newTestClient(t, base, FaceMID, nil).GetCertificate(t.Context(), "+37300000001", idnpOf("+37300000001"))
	e, chain, err := newTestClient(t, base, FaceETSI, nil).GetCertificate(t.Context(), "+37300000001", "")
	if err != nil || m == nil || !m.Equal(e) || len(chain) != 1 || !chain[0].Equal(privatePKI(t).MobileCA.Cert) {
		t.Fatalf("GetCertificate: %v", err)
	}
	// The PKCS7 format: CMS verified against the digest.
	c = newTestClient(t, base, FaceETSI, func(o *ClientOptions) { o.Format = FormatPKCS7 })
	d := randomDigest(t)
	res, err := c.Sign(t.Context(), SignRequest{MSISDN: "+37300000001", Digest: d, Hash: cryptoSHA256})
	if err != nil || len(res.CMS) == 0 || res.Signature != nil {
		t.Fatalf("PKCS7: %v", err)
	}
	// Context cancellation ends Wait. (Start has its own context: a 30 ms
	// one for both raced the request itself on a loaded machine.)
	p, err := newTestClient(t, base, FaceMID, nil).Start(t.Context(), SignRequest{MSISDN: GeneratedUser(130).MSISDN, IDNP: GeneratedUser(130).IDNP, Digest: d, Hash: cryptoSHA256})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	if _, err := p.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

func TestTLSPinningAndMutualTLS(t *testing.T) {
	pki := privatePKI(t)
	clientEnt := pki.MustGet("person-p256")
	fp := sha256.Sum256(clientEnt.Cert.Raw)
	s, err := New(Options{PKI: pki, TimeScale: testScale, APs: []AP{{ID: "http://tls-ap", Password: "p", ClientCertSHA256: [][32]byte{fp}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	pin := sha256.Sum256(srv.Certificate().RawSubjectPublicKeyInfo)
	cc := &tls.Certificate{Certificate: [][]byte{clientEnt.Cert.Raw}, PrivateKey: clientEnt.Key}
	mk := func(pins [][32]byte, cert *tls.Certificate) *Client {
		return newTestClient(t, srv.URL, FaceETSI, func(o *ClientOptions) {
			o.APID, o.APPassword, o.TLSRoots, o.PinnedSPKISHA256, o.ClientCertificate = "http://tls-ap", "p", roots, pins, cert
		})
	}
	req := SignRequest{MSISDN: "+37300000001", Digest: randomDigest(t), Hash: cryptoSHA256}
	if _, err := mk([][32]byte{pin}, cc).Sign(t.Context(), req); err != nil {
		t.Fatalf("pinned + mTLS: %v", err)
	}
	if _, err := mk([][32]byte{{1}}, cc).Sign(t.Context(), req); err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Fatalf("wrong pin: %v", err)
	}
	if _, err := mk(nil, nil).Sign(t.Context(), req); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("no client certificate: %v", err)
	}
}

func TestLongPollSupersede(t *testing.T) {
	s, err := New(Options{PKI: privatePKI(t), TimeScale: 1, Phone: true, GeneratedUsers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	u := GeneratedUser(0)
	_, out := postJSON(t, srv.URL+"/mid-api/signature", midBodyFor(u.MSISDN, u.IDNP, randomDigest(t)))
	url := srv.URL + "/mid-api/signature/session/" + out["sessionID"].(string) + "?timeoutMs=60000"
	first := make(chan map[string]any)
	go func() { _, o := getJSON(t, url); first <- o }()
	waitPrompt(t, s, u.MSISDN)
	for { // the first poll must be registered before the second supersedes it
		s.mu.Lock()
		registered := s.txns[out["sessionID"].(string)].poller != nil
		s.mu.Unlock()
		if registered {
			break
		}
		time.Sleep(time.Millisecond)
	}
	second := make(chan map[string]any)
	go func() { _, o := getJSON(t, url); second <- o }()
	select {
	case o := <-first:
		if o["state"] != "RUNNING" {
			t.Fatalf("superseded poll: %v", o)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the older poll was not superseded")
	}
	if res, _, err := s.PhoneConfirm(u.MSISDN, DefaultPIN2); err != nil || res != PhoneSigned {
		t.Fatal(res, err)
	}
	if o := <-second; o["state"] != "COMPLETE" || o["result"] != "OK" {
		t.Fatalf("second poll: %v", o)
	}
}

func TestDisplayText(t *testing.T) {
	long := strings.Repeat("Contract de vânzare-cumpărare ", 10)
	for _, in := range []string{"", "Sign?", "Semnați contractul nr. 12?", "Подписать договор?", long, strings.Repeat("€", 200), strings.Repeat("Подпись ", 30), "\xff\xfe"} {
		out, f := FitDisplayText(in)
		if err := CheckDisplayText(out, f); err != nil {
			t.Errorf("FitDisplayText(%q) = %q %s: %v", in, out, f, err)
		}
	}
	if out, f := FitDisplayText("Semnați contractul?"); out != "Semnati contractul?" || f != GSM7 {
		t.Errorf("folding: %q %s", out, f)
	}
	if out, f := FitDisplayText("Подписать договор?"); f != UCS2 || out != "Подписать договор?" {
		t.Errorf("cyrillic: %q %s", out, f)
	}
	if out, _ := FitDisplayText(long); len(out) != 100 || !strings.HasSuffix(out, "...") {
		t.Errorf("truncation: %d %q", len(out), out)
	}
}

// TestETSIClientFaultsAre4xx: a wrong request is the client's fault and is
// answered 4xx with its ETSI fault code, never 500, which stays for the
// transaction's outcomes (Receiver faults).
func TestETSIClientFaultsAre4xx(t *testing.T) {
	_, base := sharedSim(t)
	raw := func(body string) (*http.Response, map[string]any) {
		resp, err := http.Post(base+"/rest/service/sign", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("HTTP %d: not JSON: %v", resp.StatusCode, err)
		}
		return resp, out
	}
	if resp, out := raw(`{"MSS_SignatureReq":`); resp.StatusCode != 400 || faultCode(out) != "101" || dig(out, "Fault", "Code", "Value") != "Sender" {
		t.Errorf("malformed JSON: %d %v", resp.StatusCode, out)
	}
	if resp, out := raw(`{"MSS_SignatureReq":{"AP_Info":{"AP_ID":"x"}}` + strings.Repeat(" ", 70<<10) + `}`); resp.StatusCode != 413 || faultCode(out) != "103" {
		t.Errorf("body too large: %d %v", resp.StatusCode, out)
	}
	b := etsiSignBody("+37300000001", randomDigest(t), "asynchClientServer", nil)
	b["MSS_SignatureReq"].(map[string]any)["AP_Info"].(map[string]any)["AP_PWD"] = "wrong"
	code, out := postJSON(t, base+"/rest/service/sign", b)
	if code != 401 || faultCode(out) != "104" {
		t.Errorf("wrong AP password: %d %v", code, out)
	}
	// A Receiver fault (the user cancelled on the phone) keeps 500.
	if f := (fault{code: UserCancel, sub: "4011"}); f.httpStatus() != 500 {
		t.Errorf("user cancel: %d", f.httpStatus())
	}
}
