package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/mobileid"
	"github.com/semnat/semnat/testcerts"
)

// TestSignMobileAsked: `sign --mobile` asks for --idnp before calling the
// Mobile-ID face (not the service's 400), and a --mssp URL that is the
// server's root is taken as its Mobile-ID face, said on stderr.
func TestSignMobileAsked(t *testing.T) {
	pki, _ := testPKIDir(t)
	dir := t.TempDir()
	doc := filepath.Join(dir, "doc.pdf")
	os.WriteFile(doc, samplepdf.Document("Contract", []string{"text"}, 0), 0o644)
	trust := filepath.Join(pki, "trust-anchors.pem")
	base := revStartServer(t, "mobileid", "serve", "--pki", pki, "--addr", "127.0.0.1:0", "--generated-users", "0")
	var user mobileid.User
	for _, u := range mobileid.ScriptedUsers() {
		if u.MSISDN == "+37300000001" {
			user = u
		}
	}
	sign := func(out string, extra ...string) (int, string, string) {
		return revRun(t, append([]string{"sign", doc, "-o", filepath.Join(dir, out), "--mobile", user.MSISDN, "--trust", trust,
			"--trust", filepath.Join(pki, "mobile-ca", "cert.pem"), "--level", "B-B"}, extra...)...)
	}
	if code, _, se := sign("a.pdf", "--mssp", base+"/mid-api"); code != exitUsage || !strings.Contains(se, "needs --idnp") {
		t.Errorf("no --idnp: exit %d\n%s", code, se)
	}
	if code, _, se := sign("a.pdf", "--mssp", base+"/mid-api", "--idnp", "1234567890123"); code != exitUsage || !strings.Contains(se, "--idnp") {
		t.Errorf("a wrong --idnp: exit %d\n%s", code, se)
	}
	code, _, se := sign("b.pdf", "--mssp", base, "--idnp", user.IDNP)
	if code != exitOK || !strings.Contains(se, "is the server, not a face of it: using "+base+"/mid-api") {
		t.Fatalf("--mssp the server's root: exit %d\n%s", code, se)
	}
}

// TestSignMobileRootsOnly: `sign --mobile --trust ROOT` with the root
// only: the mobile CA, which the Mobile-ID face does not send, comes from
// the certificate's AIA caIssuers URL (served by `ocsp serve`).
func TestSignMobileRootsOnly(t *testing.T) {
	_, pki, _ := servedPKI(t)
	mssp := revStartServer(t, "mobileid", "serve", "--pki", pki, "--addr", "127.0.0.1:0", "--generated-users", "0")
	dir := t.TempDir()
	doc := filepath.Join(dir, "doc.pdf")
	os.WriteFile(doc, samplepdf.Document("Contract", []string{"text"}, 0), 0o644)
	var user mobileid.User
	for _, u := range mobileid.ScriptedUsers() {
		if u.MSISDN == "+37300000001" {
			user = u
		}
	}
	code, _, se := revRun(t, "sign", doc, "-o", filepath.Join(dir, "out.pdf"), "--mobile", user.MSISDN, "--idnp", user.IDNP,
		"--mssp", mssp+"/mid-api", "--trust", filepath.Join(pki, testcerts.TrustAnchorsFile), "--level", "B-B")
	if code != exitOK {
		t.Fatalf("--trust with the root only: exit %d\n%s", code, se)
	}
}
