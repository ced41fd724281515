package mpass

import (
	"bufio"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mobileid"
)

// nodeSAMLVersion is the @node-saml/node-saml that .ci/run installs.
const nodeSAMLVersion = "5.1.0"

// nodeSAMLDir finds @node-saml/node-saml where .ci/run installs it
// ($SEMNAT_NODE_SAML, default the user cache dir); the test never runs npm.
func nodeSAMLDir(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		testtool.Unavailable(t, "node is not installed", "install: apt-get install nodejs npm")
	}
	dir := os.Getenv("SEMNAT_NODE_SAML")
	if dir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			c = os.TempDir()
		}
		dir = filepath.Join(c, "semnat", "npm-node-saml-"+nodeSAMLVersion)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@node-saml", "node-saml", "lib", "saml.js")); err != nil {
		testtool.Unavailable(t, "npm @node-saml/node-saml@"+nodeSAMLVersion+" not installed in "+dir,
			"install: npm install --prefix "+dir+" @node-saml/node-saml@"+nodeSAMLVersion+" (bash .ci/run does it)")
	}
	return dir
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// TestNodeSAMLRelyingService: a relying service of another implementation,
// @node-saml/node-saml (signed AuthnRequest over HTTP-Redirect; it wants
// both the Response and the Assertion signed, checks InResponseTo, the
// audience and the times), logs a person in through MPass with the phone
// and reads the IDNP, names and session index; then its signed
// LogoutRequest ends the MPass session and it accepts MPass's
// LogoutResponse.
func TestNodeSAMLRelyingService(t *testing.T) {
	dir := nodeSAMLDir(t)
	e := newEnv(t, nil)
	key, cert, err := SelfSigned("node-saml.test", time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	cmd := exec.Command("node", filepath.Join("testdata", "node-saml-sp.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"),
		"IDP_SSO="+e.url+PathSSO, "IDP_SLO="+e.url+PathLogout, "IDP_CERT="+pemOf("CERTIFICATE", e.cert.Raw),
		"SP_KEY="+pemOf("PRIVATE KEY", keyDER), "SP_CERT="+pemOf("CERTIFICATE", cert.Raw))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testtool.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("node-saml: %q %v\n%s", line, err, stderr.String())
	}
	sp := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	e.registerSP(sp+"/metadata", SPOptions{SignAssertion: true})

	user := mobileid.GeneratedUser(8)
	c := newBrowserClient(t)
	resp, b := e.loginAtSP(c, sp+"/login?relay=back-to-cart", user)
	var got struct {
		Profile    map[string]any `json:"profile"`
		RelayState string         `json:"relayState"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &got) != nil {
		t.Fatalf("node-saml refuses our Response: %d %s\n%s", resp.StatusCode, b, stderr.String())
	}
	p := got.Profile
	if p["nameID"] != user.IDNP || p["FirstName"] != user.GivenName || p["LastName"] != user.Surname || p["sessionIndex"] == "" ||
		p["issuer"] != e.url+PathMetadata || got.RelayState != "back-to-cart" {
		t.Fatalf("node-saml read: %+v", got)
	}

	// Single logout, started by node-saml.
	resp, b = e.get(c, sp+"/logout")
	if resp == nil || resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"loggedOut":true}` {
		t.Fatalf("logout: %v %s\n%s", resp != nil && resp.StatusCode == 200, b, stderr.String())
	}
	if _, b := e.get(c, e.url+pathSession); !strings.Contains(string(b), `id="no-session"`) {
		t.Fatalf("the MPass session is still there:\n%s", b)
	}
}
