package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestVersion: the version and revision make build stamps are what
// 'semnat version' reports; without them the build info's revision names
// the build instead of a bare "dev".
func TestVersion(t *testing.T) {
	defer func(v, r string) { version, revision = v, r }(version, revision)
	version, revision = "v1.4.0-3-gabcdef1", "abcdef1234567890abcdef1234567890abcdef12"
	code, out, _ := runSignCLI(t, "version", "--json")
	var v versionInfo
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Version != version || v.Revision != revision || !strings.HasPrefix(v.GoVersion, "go") {
		t.Fatalf("version --json: %d %s", code, out)
	}
	if _, out, _ := runSignCLI(t, "version"); !strings.Contains(out, "semnat v1.4.0-3-gabcdef1") || !strings.Contains(out, "revision "+revision) {
		t.Fatalf("version: %s", out)
	}
	// Under CI libcrypto is there, and the services sign RSA through it.
	if _, out, _ := runSignCLI(t, "version"); os.Getenv("CI") == "true" && !strings.Contains(out, "RSA signatures: libcrypto\n") {
		t.Fatalf("version does not say that libcrypto signs RSA: %s", out)
	}
	version = ""
	if v := buildVersion(); v.Version != "dev-abcdef123456" {
		t.Fatalf("unstamped version with a revision: %q", v.Version)
	}
}
