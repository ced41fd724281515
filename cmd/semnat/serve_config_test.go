package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
)

// TestServeSettingsPrecedence: flag over environment over config file over
// default, lists repeat, unknown names and bad values are named.
func TestServeSettingsPrecedence(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "serve.conf")
	os.WriteFile(conf, []byte("# test\nrate-limit = 7\nmax-concurrent = 3\ntrust = a.pem\ntrust = b.pem\nmax-upload = 2MiB\naddr = 127.0.0.1:1\n"), 0o600)
	t.Setenv("SEMNAT_MAX_CONCURRENT", "9")
	fl := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	f := &serveFlags{}
	f.register(fl, true)
	if err := fl.Parse([]string{"--addr", "127.0.0.1:2"}); err != nil {
		t.Fatal(err)
	}
	if err := configSources(fl, conf); err != nil {
		t.Fatal(err)
	}
	if f.rateLimit != 7 || f.maxConcurrent != 9 || f.addr != "127.0.0.1:2" || int64(f.maxUpload) != 2<<20 ||
		strings.Join(f.trust, ",") != "a.pem,b.pem" || f.requestTimeout != time.Minute {
		t.Fatalf("settings: rate %v conc %v addr %v upload %v trust %v timeout %v", f.rateLimit, f.maxConcurrent, f.addr, f.maxUpload, f.trust, f.requestTimeout)
	}
	var out bytes.Buffer
	printConfig(&out, "semnat serve", fl)
	for _, want := range []string{"rate-limit = 7\n", "max-concurrent = 9\n", "trust = a.pem\ntrust = b.pem\n", "max-upload = 2MiB\n", "# tsa =\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--print-config lacks %q:\n%s", want, out.String())
		}
	}
	// The printed configuration reads back to the same settings.
	os.WriteFile(conf, out.Bytes(), 0o600)
	t.Setenv("SEMNAT_MAX_CONCURRENT", "")
	os.Unsetenv("SEMNAT_MAX_CONCURRENT")
	fl2 := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	f2 := &serveFlags{}
	f2.register(fl2, true)
	if err := configSources(fl2, conf); err != nil {
		t.Fatal(err)
	}
	if f2.maxConcurrent != 9 || f2.addr != "127.0.0.1:2" || strings.Join(f2.trust, ",") != "a.pem,b.pem" {
		t.Errorf("round trip: %+v", f2)
	}

	for _, tc := range []struct{ file, want string }{
		{"rate-limt = 5\n", `unknown setting "rate-limt"`},
		{"rate-limit\n", "want NAME = VALUE"},
		{"max-upload = lots\n", "max-upload"},
		{"addr = a\naddr = b\n", "given more than once"},
	} {
		os.WriteFile(conf, []byte(tc.file), 0o600)
		fl := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		(&serveFlags{}).register(fl, true)
		if err := configSources(fl, conf); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.file, err, tc.want)
		}
	}
	t.Setenv("SEMNAT_RATE_LIMIT", "fast")
	fl3 := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	(&serveFlags{}).register(fl3, true)
	if err := configSources(fl3, ""); err == nil || !strings.Contains(err.Error(), "$SEMNAT_RATE_LIMIT") {
		t.Errorf("bad environment value: %v", err)
	}
}

// selfSigned makes a CA-capable self-signed certificate, or one issued by
// parent, for TLS tests.
func selfSigned(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, server bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true}
	switch {
	case parent == nil:
		tmpl.IsCA, tmpl.KeyUsage = true, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature
		parent, parentKey = tmpl, key
	case server:
		tmpl.ExtKeyUsage, tmpl.IPAddresses, tmpl.KeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []net.IP{net.ParseIP("127.0.0.1")}, x509.KeyUsageDigitalSignature
	default:
		tmpl.ExtKeyUsage, tmpl.KeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, x509.KeyUsageDigitalSignature
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestServeProduction runs `semnat serve` without --demo from a config file:
// HTTPS, a PKCS#12 seal key, API keys stored as digests, systems identified
// by TLS client certificates, the rate limit from the environment.
func TestServeProduction(t *testing.T) {
	pki := testcerts.New(t)
	dir := t.TempDir()
	idx, err := pki.WriteDir(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	var sealEntry testcerts.IndexEntry
	for _, e := range idx.Entries {
		if e.Name == "seal" {
			sealEntry = e
		}
	}
	os.WriteFile(filepath.Join(dir, "p12pw"), []byte(sealEntry.P12Password+"\n"), 0o600)
	ca, caKey := selfSigned(t, "Test TLS CA", nil, nil, false)
	srvCert, srvKey := selfSigned(t, "127.0.0.1", ca, caKey, true)
	cliCert, cliKey := selfSigned(t, "registry.gov.md", ca, caKey, false)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	writePEM(t, filepath.Join(dir, "tls.pem"), "CERTIFICATE", srvCert.Raw)
	kd, _ := x509.MarshalPKCS8PrivateKey(srvKey)
	writePEM(t, filepath.Join(dir, "tls.key"), "PRIVATE KEY", kd)
	apiKey := "k3y-of-the-land-registry-0001"
	sum := sha256.Sum256([]byte(apiKey))
	os.WriteFile(filepath.Join(dir, "systems.txt"), []byte("# registered systems\ncadastru sha256:"+hex.EncodeToString(sum[:])+"\n"), 0o600)
	conf := strings.Join([]string{
		"data = " + filepath.Join(dir, "data"),
		"addr = 127.0.0.1:0",
		"trust = " + filepath.Join(dir, "pki", testcerts.TrustAnchorsFile),
		"p12 = " + filepath.Join(dir, "pki", sealEntry.P12),
		"p12-pass-file = " + filepath.Join(dir, "p12pw"),
		"seal-level = B-B",
		"api-keys = " + filepath.Join(dir, "systems.txt"),
		"tls-cert = " + filepath.Join(dir, "tls.pem"),
		"tls-key = " + filepath.Join(dir, "tls.key"),
		"client-ca = " + filepath.Join(dir, "ca.pem"),
		"online = false",
	}, "\n")
	os.WriteFile(filepath.Join(dir, "serve.conf"), []byte(conf), 0o600)
	t.Setenv("SEMNAT_RATE_LIMIT", "1000")
	base := revStartServer(t, "serve", "--config", filepath.Join(dir, "serve.conf"))
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("listening on %s, want https", base)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cliCert.Raw}, PrivateKey: cliKey}}}}}

	seal := func(c *http.Client, key string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/seal", bytes.NewReader(samplepdf.Document("Extras", nil, 0)))
		req.Header.Set("Content-Type", "application/pdf")
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, body := seal(anon, ""); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d %s", code, body)
	}
	if code, body := seal(anon, "k3y-of-the-land-registry-0002"); code != http.StatusUnauthorized {
		t.Errorf("wrong API key: %d %s", code, body)
	}
	for name, c := range map[string]*http.Client{"api-key": anon, "client-cert": withCert} {
		key := ""
		if name == "api-key" {
			key = apiKey
		}
		code, sealed := seal(c, key)
		if code != http.StatusOK {
			t.Fatalf("%s: seal: %d %s", name, code, sealed)
		}
		rep, err := pades.Verify(t.Context(), bytes.NewReader(sealed), int64(len(sealed)), &pades.VerifyOptions{Roots: pki.RootPool(), Revocation: pades.RevocationSkip})
		if err != nil || rep.Indication != pades.TotalPassed || !strings.Contains(rep.Signatures[0].Signer.Subject, pki.MustGet("seal").Cert.Subject.CommonName) {
			t.Fatalf("%s: the seal does not verify: %v %+v", name, err, rep)
		}
	}
	// Junk gets a problem document over HTTPS too.
	resp, err := anon.Post(base+"/api/v1/verifications", "application/pdf", strings.NewReader("not a pdf"))
	if err != nil {
		t.Fatal(err)
	}
	var prob struct{ Type string }
	json.NewDecoder(resp.Body).Decode(&prob)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || prob.Type != "urn:semnat:problem:not-a-pdf" {
		t.Errorf("verification of junk: %d %+v", resp.StatusCode, prob)
	}
}

// TestServeNeedsTrust: without --demo the server refuses to start with no
// trust anchors, or a seal level its settings cannot reach.
func TestServeNeedsTrust(t *testing.T) {
	code, _, errOut := revRun(t, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	if code != exitUsage || !strings.Contains(errOut, "--trust") {
		t.Errorf("no trust: exit %d %q", code, errOut)
	}
	pki := testcerts.New(t)
	dir := t.TempDir()
	if _, err := pki.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = revRun(t, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--trust", filepath.Join(dir, testcerts.TrustAnchorsFile),
		"--key", filepath.Join(dir, "seal", "key.pem"), "--cert", filepath.Join(dir, "seal", "cert.pem"), "--seal-level", "B-LT")
	if code != exitUsage || !strings.Contains(errOut, "--tsa") {
		t.Errorf("B-LT without a TSA: exit %d %q", code, errOut)
	}
}

// TestServeDemoPostgres: --store postgres://... keeps the state and the
// audit log in PostgreSQL; --print-config never shows its password.
func TestServeDemoPostgres(t *testing.T) {
	dsn := os.Getenv("SEMNAT_TEST_POSTGRES")
	if dsn == "" {
		if testtool.InCI() {
			t.Fatal("SEMNAT_TEST_POSTGRES is not set: .ci/run must start PostgreSQL (.ci/postgres.sh)")
		}
		t.Skip("SEMNAT_TEST_POSTGRES not set")
	}
	code, out, _ := revRun(t, "serve", "--store", dsn, "--print-config")
	if code != 0 || strings.Contains(out, ":semnat_test@") || !strings.Contains(out, "store = postgres://semnat_test:xxxxx@") {
		t.Errorf("--print-config shows the store password or no store: %d\n%s", code, out)
	}
	st, err := store.Open(dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	data := t.TempDir()
	base := revStartServer(t, "serve", "--demo", "--data", data, "--addr", "127.0.0.1:0", "--store", dsn)
	// Counted once the demo is up (its first start records its seed data).
	before, err := st.VerifyAudit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(data, "api-key"))
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/seal", bytes.NewReader(samplepdf.Document("PG", nil, 0)))
	req.Header.Set("X-API-Key", strings.TrimSpace(string(key)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("seal: %d", resp.StatusCode)
	}
	if after, err := st.VerifyAudit(t.Context()); err != nil || after != before+1 {
		t.Fatalf("audit in PostgreSQL: %d → %d, %v", before, after, err)
	}
	if _, err := os.Stat(filepath.Join(data, "semnat.db")); err == nil {
		t.Error("a SQLite database was created although --store names PostgreSQL")
	}
}

// TestServeProductionMobile: without --demo, --mssp connects the sign
// requests to a mobile signature service (here `semnat mobileid serve`),
// whose phones' certificates chain to --trust.
func TestServeProductionMobile(t *testing.T) {
	pki := testcerts.New(t)
	dir := t.TempDir()
	if _, err := pki.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	mssp := revStartServer(t, "mobileid", "serve", "--pki", dir, "--addr", "127.0.0.1:0", "--generated-users", "1")
	base := revStartServer(t, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--online=false",
		"--trust", filepath.Join(dir, testcerts.TrustAnchorsFile), "--trust", filepath.Join(dir, "mobile-ca", "cert.pem"),
		"--mssp", mssp+"/rest/service")
	signed := mobileSignRequest(t, base, "+37300000001", "B-B", samplepdf.Document("Cerere", nil, 0))
	rep, err := pades.Verify(t.Context(), bytes.NewReader(signed), int64(len(signed)), &pades.VerifyOptions{Roots: pki.RootPool(), Revocation: pades.RevocationSkip})
	if err != nil || rep.Indication != pades.TotalPassed {
		t.Fatalf("the mobile signature does not verify: %v %+v", err, rep)
	}
}

// FuzzServeConfig: any --config file gives settings or an error naming the
// file, never a panic; what --print-config writes reads back the same.
func FuzzServeConfig(f *testing.F) {
	f.Add("# c\nrate-limit = 7\ntrust = a.pem\ntrust = b.pem\nmax-upload = 2MiB\n")
	f.Add("addr=\"127.0.0.1:1\"\nonline = false\nrequest-timeout = 5s\n")
	f.Add("max-upload = 9999999999GiB\nrate-burst = -1\n=\n")
	f.Fuzz(func(t *testing.T, text string) {
		dir := t.TempDir()
		path := filepath.Join(dir, "serve.conf")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		fl := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		(&serveFlags{}).register(fl, true)
		if err := configSources(fl, path); err != nil {
			return
		}
		var out bytes.Buffer
		printConfig(&out, "semnat serve", fl)
		os.WriteFile(path, out.Bytes(), 0o600)
		fl2 := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		(&serveFlags{}).register(fl2, true)
		if err := configSources(fl2, path); err != nil {
			t.Fatalf("the printed configuration does not read back: %v\n%s", err, out.String())
		}
		var again bytes.Buffer
		printConfig(&again, "semnat serve", fl2)
		if again.String() != out.String() {
			t.Fatalf("round trip changed the settings:\n%s\n---\n%s", out.String(), again.String())
		}
	})
}
