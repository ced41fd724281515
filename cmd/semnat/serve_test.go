package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/mobileid"
	mpowerclient "github.com/semnat/semnat/mpower/client"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/testcerts"
)

// TestServeDemo runs `semnat serve --demo`: seal a PDF with the demo API
// key, verify it online through the same server (its TSA and OCSP).
func TestServeDemo(t *testing.T) {
	data := t.TempDir()
	base, logs := startCommand(t, strings.NewReader(""), "serve", "--demo", "--data", data, "--addr", "127.0.0.1:0", "--log-format", "json")
	key, err := os.ReadFile(filepath.Join(data, "api-key"))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(data, "api-key")); st.Mode().Perm() != 0o600 {
		t.Errorf("api-key mode %v", st.Mode().Perm())
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/seal", bytes.NewReader(samplepdf.Document("Demo", nil, 0)))
	req.Header.Set("X-API-Key", strings.TrimSpace(string(key)))
	req.Header.Set("Content-Type", "application/pdf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("seal: %d %s", resp.StatusCode, sealed)
	}
	resp, err = http.Post(base+"/api/v1/verifications", "application/pdf", bytes.NewReader(sealed))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep struct {
		Indication string `json:"indication"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || rep.Indication != "TOTAL-PASSED" {
		t.Fatalf("verification of the sealed PDF: %v %+v", err, rep)
	}
	if _, err := os.Stat(filepath.Join(data, "semnat.db")); err != nil {
		t.Fatal("no database in the data directory")
	}
	// The web pages are served, and a mobile sign request at B-LT goes
	// through the mounted simulator (a scripted phone that approves).
	for _, p := range []string{"/", "/sign", "/verify"} {
		resp, err := http.Get(base + p)
		if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
	if resp, err := http.Get(base + "/meta/saml"); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/samlmetadata+xml" {
		t.Fatalf("MPass metadata: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	// The portal is the home page; MSign's moved to /msign.
	for p, want := range map[string]string{"/": "Portalul serviciilor publice", "/portal/servicii/000101": "Certificat de cazier judiciar",
		"/msign": "/sign", "/portal/saml/metadata": "/portal/saml/acs", "/portal/servicii/000103": `id="apply"`,
		"/mpower/saml/metadata": "/mpower/saml/acs"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("GET %s: %d, no %q", p, resp.StatusCode, want)
		}
	}
	demoLogin(t, base)
	// MPower's pages send people to log in with MPass.
	jar, _ := cookiejar.New(nil)
	if resp, err := (&http.Client{Jar: jar}).Get(base + "/mpower/"); err != nil || resp.StatusCode != 200 || resp.Request.URL.Path != "/login" {
		t.Fatalf("MPower's pages: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	// MPower is mounted: its check API asks for a registered system.
	for p, want := range map[string]int{mpowerclient.PathOpenAPI: 200, mpowerclient.PathCodeTrueOne + "?AuthorizationCode=1": 401} {
		resp, err := http.Get(base + p)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("GET %s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
	demoPay(t, base)
	// The demo key is an MPower system too; a grant goes to the demo's
	// MSign as MPower's sign request and leaves a Draft until signed.
	mpc, _ := mpowerclient.New(base, mpowerclient.Options{APIKey: strings.TrimSpace(string(key))})
	now := time.Now()
	started, err := mpc.Grant(context.Background(), mpowerclient.GrantRequest{AuthorizationTypeCode: demoMPowerCode, AuthorizingIdn: mobileid.GeneratedUser(1).IDNP,
		AuthorizedIdn: mobileid.GeneratedUser(2).IDNP, FromDate: now, ToDate: now.AddDate(0, 1, 0)})
	if err != nil || !strings.HasPrefix(started.RedirectURL, base+"/") {
		t.Fatalf("demo grant: %+v %v", started, err)
	}
	if d, err := mpc.Details(context.Background(), started.AuthorizationCode); err != nil || d.Status != mpowerclient.StatusDraft || d.IsValid {
		t.Fatalf("demo grant details: %+v %v", d, err)
	}
	// A sealed statement of it verifies offline with the demo's anchors.
	jws, err := mpc.Statement(context.Background(), started.AuthorizationCode)
	if err != nil {
		t.Fatal(err)
	}
	stFile := filepath.Join(t.TempDir(), "statement.jws")
	os.WriteFile(stFile, jws, 0o600)
	if code, out, stderr := revRun(t, "mpower", "verify-statement", stFile, "--trust", filepath.Join(data, "pki", testcerts.TrustAnchorsFile)); code != 0 ||
		!strings.Contains(out, "statement verifies") || !strings.Contains(out, "NOT VALID") {
		t.Fatalf("verify-statement: %d %s %s", code, out, stderr)
	}
	os.WriteFile(stFile, append(jws[:len(jws)-4], []byte("AAAA")...), 0o600)
	if code, _, _ := revRun(t, "mpower", "verify-statement", stFile, "--trust", filepath.Join(data, "pki", testcerts.TrustAnchorsFile)); code != exitFailed {
		t.Fatalf("a broken statement: exit %d", code)
	}
	signed := mobileSignRequest(t, base, "+37300000001", "B-LT", samplepdf.Document("Demo mobile", nil, 0))
	resp, err = http.Post(base+"/api/v1/verifications", "application/pdf", bytes.NewReader(signed))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep2 struct {
		Indication string `json:"indication"`
		Signatures []struct{ Level string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep2); err != nil || rep2.Indication != "TOTAL-PASSED" || len(rep2.Signatures) == 0 || rep2.Signatures[0].Level != "B-LT" {
		t.Fatalf("verification of the mobile-signed PDF: %v %+v", err, rep2)
	}
	// One structured line per request, with its request id; never the API key.
	var sealLine map[string]any
	for _, line := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request" && m["path"] == "/api/v1/seal" {
			sealLine = m
		}
	}
	if id, _ := sealLine["id"].(string); len(id) < 16 || sealLine["status"] != 200.0 {
		t.Errorf("no request line for the seal: %v\n%s", sealLine, logs.String())
	}
	if strings.Contains(logs.String(), strings.TrimSpace(string(key))) {
		t.Error("the API key is in the log")
	}
}

// mobileSignRequest signs doc through POST /api/v1/sign-requests with the
// mobile signature of phone (a scripted one that approves), waits for it
// and downloads the signed file.
func mobileSignRequest(t *testing.T, base, phone, level string, doc []byte) []byte {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("method", "mobile")
	w.WriteField("phone", phone)
	w.WriteField("level", level)
	fw, _ := w.CreateFormFile("file", "document.pdf")
	fw.Write(doc)
	w.Close()
	resp, err := http.Post(base+"/api/v1/sign-requests", w.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	var sr struct {
		ID, Status, Message string
		Documents           []struct{ Download string }
	}
	json.NewDecoder(resp.Body).Decode(&sr)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || sr.ID == "" {
		t.Fatalf("sign request: %d %+v", resp.StatusCode, sr)
	}
	for deadline := time.Now().Add(60 * time.Second); sr.Status == "pending" || sr.Status == ""; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the mobile request stays pending")
		}
		resp, err := http.Get(base + "/api/v1/sign-requests/" + sr.ID)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&sr)
		resp.Body.Close()
	}
	if sr.Status != "signed" || len(sr.Documents) != 1 || sr.Documents[0].Download == "" {
		t.Fatalf("mobile signing: %+v", sr)
	}
	resp, err = http.Get(base + sr.Documents[0].Download)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	signed, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d %v", resp.StatusCode, err)
	}
	return signed
}

// TestMSignServe runs `semnat msign serve`: MSign alone, with the flags of
// `semnat serve` (no --demo), and nothing of the other services.
func TestMSignServe(t *testing.T) {
	pkiDir := t.TempDir()
	if _, err := testcerts.New(t).WriteDir(pkiDir); err != nil {
		t.Fatal(err)
	}
	base, logs := startCommand(t, strings.NewReader(""), "msign", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0",
		"--trust", filepath.Join(pkiDir, testcerts.TrustAnchorsFile))
	checkServed(t, "msign", base, logs, map[string]int{"/verify": 200, "/api/openapi.json": 200, "/readyz": 200, "/tsa": 404, "/sim/+37369000000": 404})
	if code, _, stderr := revRun(t, "msign", "serve", "--demo"); code != exitUsage || !strings.Contains(stderr, "unknown flag: --demo") {
		t.Errorf("msign serve --demo: %d %s", code, stderr)
	}
}

// TestMSignSystemsCLI: add (certificate, API key: a new one is written
// 0600), list, remove; bad registrations are usage errors.
func TestMSignSystemsCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	pki := testcerts.New(t)
	certFile := filepath.Join(dir, "portal.pem")
	os.WriteFile(certFile, testcerts.PEM(pki.MustGet("seal").Cert), 0o644)
	keyFile := filepath.Join(dir, "mpower.key")
	if code, _, stderr := revRun(t, "msign", "systems", "add", "portal", "--data", data, "--cert", certFile,
		"--return-url", "https://portal.example.md/msign/"); code != 0 {
		t.Fatalf("add portal: %d %s", code, stderr)
	}
	code, _, stderr := revRun(t, "msign", "systems", "add", "mpower", "--data", data, "--api-key-file", keyFile,
		"--return-url", "http://127.0.0.1:9000/back/", "--return-url", "https://mpower.example.md/", "--rate-limit", "1000")
	if st, err := os.Stat(keyFile); code != 0 || err != nil || st.Mode().Perm() != 0o600 || !strings.Contains(stderr, "wrote a new API key") {
		t.Fatalf("add mpower: %d %s %v", code, stderr, err)
	}
	key, _ := os.ReadFile(keyFile)
	for _, bad := range [][]string{
		{"add", "portal", "--cert", certFile, "--return-url", "https://other.example.md/"},                                 // name taken
		{"add", "copy", "--cert", certFile, "--return-url", "https://other.example.md/"},                                   // certificate taken
		{"add", "x", "--cert", certFile, "--api-key-file", keyFile, "--return-url", "https://a.md/"},                       // two credentials
		{"add", "y", "--api-key-file", filepath.Join(dir, "y.key"), "--return-url", "http://portal.example.md/"},           // http off loopback
		{"add", "z", "--api-key-file", filepath.Join(dir, "z.key")},                                                        // no return URL
		{"add", "r", "--api-key-file", filepath.Join(dir, "r.key"), "--return-url", "https://r.md/", "--rate-limit", "-5"}, // negative rate
		{"remove", "nobody"},
	} {
		if code, _, stderr := revRun(t, append(append([]string{"msign", "systems"}, bad...), "--data", data)...); code != exitUsage {
			t.Errorf("%v: %d %s", bad, code, stderr)
		}
	}
	code, out, stderr := revRun(t, "--json", "msign", "systems", "list", "--data", data)
	var list []struct {
		Name, Auth, CertSerial string
		ReturnURLs             []string
		RateLimit              float64
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || list[0].Name != "mpower" || list[0].Auth != "api-key" ||
		len(list[0].ReturnURLs) != 2 || list[0].RateLimit != 1000 || list[1].Auth != "certificate" || list[1].CertSerial == "" || list[1].RateLimit != 0 {
		t.Fatalf("list: %d %s %s", code, out, stderr)
	}
	if strings.Contains(out, strings.TrimSpace(string(key))) {
		t.Error("the API key is listed")
	}
	if code, _, stderr := revRun(t, "msign", "systems", "remove", "portal", "--data", data); code != 0 {
		t.Fatalf("remove: %d %s", code, stderr)
	}
	if _, out, _ := revRun(t, "msign", "systems", "list", "--data", data); strings.Contains(out, "portal") || !strings.Contains(out, "mpower") {
		t.Fatalf("after remove: %s", out)
	}
}
