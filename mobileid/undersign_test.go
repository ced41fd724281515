package mobileid

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
)

// undersignVersion is the pinned version of the independent client.
const undersignVersion = "0.1.337"

// undersignDir finds npm undersign@undersignVersion where .ci/run installs
// it (SEMNAT_NPM_CACHE, default the user cache dir) and returns its
// node_modules parent. The test never runs npm itself: a network install
// inside a test is slow and flaky, and two packages' tests would race on
// the same directory.
func undersignDir(t *testing.T) string {
	t.Helper()
	requireTool(t, "node")
	dir := os.Getenv("SEMNAT_NPM_CACHE")
	if dir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			c = os.TempDir()
		}
		dir = filepath.Join(c, "semnat", "npm-undersign-"+undersignVersion)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "undersign", "lib", "mobile_id.js")); err != nil {
		testtool.Unavailable(t, "npm undersign@"+undersignVersion+" not installed in "+dir,
			"install: npm install --prefix "+dir+" undersign@"+undersignVersion+" (bash .ci/run does it)")
	}
	return dir
}

// TestUndersignClient: an independent Mobile-ID client (JS, npm undersign)
// gets a signature it verifies itself for an OK user, and the right error
// codes for cancel, timeout and unknown user.
func TestUndersignClient(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := undersignDir(t)
	_, base := sharedSim(t)
	script, _ := filepath.Abs("testdata/undersign.js")
	for _, c := range []struct{ msisdn, want string }{
		{"+37300000001", "OK"}, {"+37300000002", "OK"}, {"+37300000010", "USER_CANCELLED"},
		{"+37300000011", "TIMEOUT"}, {"+37300000030", "NOT_FOUND"}, {"+37300000012", "PHONE_ABSENT"},
	} {
		t.Run(c.msisdn, func(t *testing.T) {
			idnp := idnpOf(c.msisdn)
			cmd := exec.Command("node", script, base+"/mid-api", c.msisdn, idnp)
			cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, out)
			}
			var res struct {
				OK       bool   `json:"ok"`
				Code     any    `json:"code"`
				Verified bool   `json:"verified"`
				Subject  any    `json:"subject"`
				Message  string `json:"message"`
			}
			if err := json.Unmarshal([]byte(strings.TrimSpace(string(out))), &res); err != nil {
				t.Fatalf("output %s", out)
			}
			if c.want == "OK" {
				if !res.OK || !res.Verified {
					t.Fatalf("undersign: %s", out)
				}
				return
			}
			if res.OK || res.Code != c.want {
				t.Fatalf("undersign: %s, want code %s", out, c.want)
			}
		})
	}
}
