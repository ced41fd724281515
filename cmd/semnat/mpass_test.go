package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/mpass/demorp"
	"github.com/semnat/semnat/testcerts"
)

// spMetadata is the metadata of a relying service at base, signing its
// AuthnRequests (crewjam/saml's ServiceProvider, as samlsp publishes it).
func spMetadata(t *testing.T, base string) []byte {
	t.Helper()
	key, cert, err := mpass.SelfSigned("sp", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := url.Parse(base)
	acs, slo := *root, *root
	acs.Path, slo.Path = "/saml/acs", "/saml/slo"
	meta := *root
	meta.Path = "/saml/metadata"
	sp := saml.ServiceProvider{EntityID: meta.String(), Key: key, Certificate: cert, AcsURL: acs, SloURL: slo, MetadataURL: meta,
		SignatureMethod: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"}
	b, err := xml.Marshal(sp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMPassSPCommands: register two relying services from their metadata,
// list them, remove one; bad metadata and unknown ids are usage errors.
func TestMPassSPCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	for i, base := range []string{"https://shop.example", "https://library.example"} {
		p := filepath.Join(dir, "sp"+string(rune('0'+i))+".xml")
		os.WriteFile(p, spMetadata(t, base), 0o644)
		var out, errb bytes.Buffer
		if code := runCLI([]string{"mpass", "sp", "add", "--metadata", p, "--data", data}, &out, &errb); code != exitOK {
			t.Fatalf("add %s: %d %s", base, code, errb.String())
		}
		if !strings.Contains(out.String(), "registered "+base+"/saml/metadata (responses to "+base+"/saml/acs)") {
			t.Fatalf("add: %q", out.String())
		}
	}
	var out, errb bytes.Buffer
	if code := runCLI([]string{"--json", "mpass", "sp", "list", "--data", data}, &out, &errb); code != exitOK {
		t.Fatalf("list: %d %s", code, errb.String())
	}
	var infos []mpass.SPInfo
	if err := json.Unmarshal(out.Bytes(), &infos); err != nil || len(infos) != 2 || infos[0].EntityID != "https://library.example/saml/metadata" ||
		!infos[0].SigningKey || !infos[0].Encrypts {
		t.Fatalf("list: %v %s", err, out.String())
	}
	out.Reset()
	if code := runCLI([]string{"mpass", "sp", "remove", "https://shop.example/saml/metadata", "--data", data}, &out, &errb); code != exitOK {
		t.Fatalf("remove: %d %s", code, errb.String())
	}
	out.Reset()
	runCLI([]string{"mpass", "sp", "list", "--data", data}, &out, &errb)
	if strings.Contains(out.String(), "shop.example") || !strings.Contains(out.String(), "library.example") {
		t.Fatalf("after remove: %s", out.String())
	}
	// Options at registration; faults and roles later; each change audited.
	lib := "https://library.example/saml/metadata"
	enc := filepath.Join(dir, "enc.pem")
	_, encCert, _ := mpass.SelfSigned("enc", time.Now(), 1)
	os.WriteFile(enc, testcerts.PEM(encCert), 0o644)
	for _, args := range [][]string{
		{"mpass", "sp", "add", "--metadata", filepath.Join(dir, "sp1.xml"), "--sign-assertion", "--encryption-cert", enc,
			"--attributes", "NameIdentifier,Role", "--fault", "expired", "--signature-algorithm", "ecdsa-sha256", "--data", data},
		{"mpass", "sp", "faults", lib, "--fault", "no-destination", "--fault", "future", "--data", data},
		{"mpass", "sp", "roles", lib, "--idnp", "2004001000010", "--role", "admin", "--data", data},
	} {
		errb.Reset()
		if code := runCLI(args, &out, &errb); code != exitOK {
			t.Fatalf("%v: %d %s", args, code, errb.String())
		}
	}
	out.Reset()
	runCLI([]string{"--json", "mpass", "sp", "list", "--data", data}, &out, &errb)
	infos = nil
	if err := json.Unmarshal(out.Bytes(), &infos); err != nil || len(infos) != 1 {
		t.Fatalf("list: %v %s", err, out.String())
	}
	if o := infos[0].Options; !o.SignAssertion || !o.Encrypt || !bytes.Equal(o.EncryptionCert, encCert.Raw) ||
		strings.Join(o.Attributes, ",") != "NameIdentifier,Role" || strings.Join(o.Faults, ",") != "no-destination,future" ||
		o.SignatureAlgorithm != mpass.SigECDSASHA256 {
		t.Fatalf("options: %+v", o)
	}
	for _, c := range []struct {
		args  []string
		words string
	}{
		{[]string{"mpass", "sp", "faults", lib, "--fault", "slow"}, "unknown fault"},
		{[]string{"mpass", "sp", "faults", "https://nobody.example"}, "no relying service is registered"},
		{[]string{"mpass", "sp", "roles", lib, "--idnp", "123", "--role", "x"}, "not a valid IDNP"},
		{[]string{"mpass", "sp", "add", "--metadata", filepath.Join(dir, "sp1.xml"), "--attributes", "Salary"}, "unknown attribute"},
		{[]string{"mpass", "sp", "add", "--metadata", filepath.Join(dir, "sp1.xml"), "--signature-algorithm", "ed25519"}, "unknown signature algorithm"},
	} {
		errb.Reset()
		if code := runCLI(append(c.args, "--data", data), &out, &errb); code != exitUsage || !strings.Contains(errb.String(), c.words) {
			t.Fatalf("%v: %d %s", c.args, code, errb.String())
		}
	}
	// Refusals: unknown id, metadata without a signing key, not metadata.
	errb.Reset()
	if code := runCLI([]string{"mpass", "sp", "remove", "https://nobody.example", "--data", data}, &out, &errb); code != exitUsage ||
		!strings.Contains(errb.String(), "no relying service is registered") {
		t.Fatalf("remove unknown: %d %s", code, errb.String())
	}
	noKey := bytes.ReplaceAll(spMetadata(t, "https://nokey.example"), []byte(`use="signing"`), []byte(`use="encryption"`))
	os.WriteFile(filepath.Join(dir, "nokey.xml"), noKey, 0o644)
	os.WriteFile(filepath.Join(dir, "junk.xml"), []byte("<html>not metadata</html>"), 0o644)
	for file, words := range map[string]string{"nokey.xml": "publishes no signing certificate", "junk.xml": "metadata is not usable"} {
		errb.Reset()
		if code := runCLI([]string{"mpass", "sp", "add", "--metadata", filepath.Join(dir, file), "--data", data}, &out, &errb); code != exitUsage ||
			!strings.Contains(errb.String(), words) {
			t.Fatalf("add %s: %d %s", file, code, errb.String())
		}
	}
}

// TestMPassServe runs `semnat mpass serve` alone on a key file: its signed
// metadata names the public URL, MSign's pages are not there; without a
// key it is a usage error. The demo mounts MPass too (TestServeDemo's
// server answers /meta/saml).
func TestMPassServe(t *testing.T) {
	pkiDir := t.TempDir()
	p := testcerts.New(t)
	if _, err := p.WriteDir(pkiDir); err != nil {
		t.Fatal(err)
	}
	seal := p.MustGet("seal")
	base, logs := startCommand(t, strings.NewReader(""), "mpass", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0",
		"--key", filepath.Join(pkiDir, "seal", "key.pem"), "--cert", filepath.Join(pkiDir, "seal", "cert.pem"),
		"--mssp", "http://127.0.0.1:9/rest/service", "--trust", filepath.Join(pkiDir, testcerts.TrustAnchorsFile))
	bodies := checkServed(t, "mpass", base, logs, map[string]int{"/meta/saml": 200, "/login/saml": 400, "/readyz": 200, "/verify": 404, "/api/v1/seal": 404})
	if b := bodies["/meta/saml"]; !bytes.Contains(b, []byte(`entityID="`+base+`/meta/saml"`)) ||
		!bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString(seal.Cert.Raw)[:64])) {
		t.Errorf("metadata: %s", b)
	}
	if code, _, stderr := revRun(t, "mpass", "serve", "--data", t.TempDir()); code != exitUsage || !strings.Contains(stderr, "MPass signs its Responses") {
		t.Errorf("mpass serve without a key: %d %s", code, stderr)
	}
}

// demoLogin logs in to the demo's relying service with a scripted phone
// that approves by itself: the demo registered the service with MPass, the
// login page and the phone work, and the service shows the person.
func demoLogin(t *testing.T, base string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(u string) (*http.Response, string) {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, page := get(base + demorp.Path + "/")
	m := regexp.MustCompile(`name="tx" value="([0-9a-f]{32})"`).FindStringSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("demo service: no MPass login page: %d %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	resp, err := c.PostForm(base+"/login/mobile", url.Values{"tx": {m[1]}, "phone": {"+37300000001"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitURL := resp.Request.URL.String()
	for i := 0; ; i++ {
		if _, page = get(waitURL); !strings.Contains(page, `id="code"`) {
			break
		}
		if i > 300 {
			t.Fatal("the demo login never ended")
		}
		time.Sleep(100 * time.Millisecond)
	}
	f := regexp.MustCompile(`action="([^"]+)"[^>]*>\s*<input type="hidden" name="SAMLResponse" value="([^"]+)"`).FindStringSubmatch(page)
	if f == nil {
		t.Fatalf("no Response form:\n%s", page)
	}
	resp, err = c.PostForm(html.UnescapeString(f[1]), url.Values{"SAMLResponse": {html.UnescapeString(f[2])}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "Bun venit, Andrei Ciobanu") || !strings.Contains(string(b), "MobilePhone") {
		t.Fatalf("the demo service shows (%s %s):\n%s", resp.Request.Method, resp.Request.URL, b)
	}
	demoOIDCLogin(t, base, c) // mpass_client_test.go
}
