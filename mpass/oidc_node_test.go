package mpass

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mobileid"
)

// openidClientVersion is the pinned version of npm openid-client.
const openidClientVersion = "6.9.1"

// openidClientDir finds npm openid-client where .ci/run installs it
// ($SEMNAT_NPM_OIDC, default the user cache dir). The test never runs npm.
func openidClientDir(t *testing.T) string {
	t.Helper()
	testtool.Require(t, "node")
	dir := os.Getenv("SEMNAT_NPM_OIDC")
	if dir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			c = os.TempDir()
		}
		dir = filepath.Join(c, "semnat", "npm-openid-client-"+openidClientVersion)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openid-client", "build", "index.js")); err != nil {
		testtool.Unavailable(t, "npm openid-client@"+openidClientVersion+" not installed in "+dir,
			"install: npm install --prefix "+dir+" openid-client@"+openidClientVersion+" (bash .ci/run does it)")
	}
	return dir
}

// startNode runs node on a script of testdata with args and env (beside
// the test's own), killed at the test's end: its stdin, its stdout's lines
// and its stderr.
func startNode(t *testing.T, script string, env []string, args ...string) (*exec.Cmd, io.WriteCloser, *bufio.Scanner, *testtool.SyncBuffer) {
	t.Helper()
	abs, _ := filepath.Abs(script)
	cmd := exec.Command("node", append([]string{abs}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr := &testtool.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, stdin, bufio.NewScanner(stdout), stderr
}

// TestOIDCOpenIDClient: npm openid-client (JavaScript, an independent
// implementation) discovers MPass, runs the code flow with PKCE, state and
// nonce while the person logs in by phone, checks the ID token (signature
// against our JWKS included) and reads userinfo; the same code presented
// again is refused with invalid_grant.
func TestOIDCOpenIDClient(t *testing.T) {
	dir := openidClientDir(t)
	e := newEnv(t, withOIDCKey(t))
	rp := e.newOIDCRP(OIDCClientSpec{ID: "node-shop"})
	cmd, stdin, lines, stderr := startNode(t, "testdata/openid-client.mjs", []string{"OPENID_CLIENT_DIR=" + dir},
		e.url+PathOIDC, rp.client.ID, rp.secret, rp.callback)
	var first struct{ Authorize string }
	if !lines.Scan() || json.Unmarshal(lines.Bytes(), &first) != nil || first.Authorize == "" {
		cmd.Wait()
		t.Fatalf("openid-client: %s\n%s", lines.Bytes(), stderr.String())
	}
	c := newBrowserClient(t)
	_, page := e.get(c, first.Authorize)
	user := mobileid.GeneratedUser(6)
	resp := e.phoneLoginOIDC(c, page, user)
	io.WriteString(stdin, resp.Request.URL.String()+"\n")
	var out struct {
		Claims   map[string]any
		Userinfo map[string]any
		Reuse    string
	}
	if !lines.Scan() || json.Unmarshal(lines.Bytes(), &out) != nil {
		cmd.Wait()
		t.Fatalf("openid-client: %s\n%s", lines.Bytes(), stderr.String())
	}
	amr, _ := out.Claims["amr"].([]any)
	if out.Claims["sub"] != "MD"+user.IDNP || out.Claims["given_name"] != user.GivenName || out.Claims["family_name"] != user.Surname ||
		out.Claims["acr"] != "high" || !slices.Contains(amr, any("mca")) || out.Claims["iss"] != e.url+PathOIDC {
		t.Fatalf("claims: %v", out.Claims)
	}
	if out.Userinfo["sub"] != "MD"+user.IDNP || out.Userinfo["family_name"] != user.Surname {
		t.Fatalf("userinfo: %v", out.Userinfo)
	}
	if out.Reuse != "invalid_grant" {
		t.Fatalf("the code used again: %s", out.Reuse)
	}
}
