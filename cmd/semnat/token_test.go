package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/pkcs11"
	"github.com/semnat/semnat/pkcs11/softhsmtest"
	"github.com/semnat/semnat/testcerts"
)

func tokenRun(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIToken(t *testing.T) {
	tok := softhsmtest.New(t) // empty token
	pki := testcerts.New(t)
	dir := t.TempDir()
	idx, err := pki.WriteDir(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	pinFile := filepath.Join(dir, "pin")
	os.WriteFile(pinFile, []byte(tok.PIN+"\n"), 0o600)
	t.Setenv("SEMNAT_PKCS11_MODULE", tok.ModulePath)
	t.Setenv("SEMNAT_PIN", "")
	os.Unsetenv("SEMNAT_PIN")

	// token list: our token with its serial and flags.
	code, out, errs := tokenRun(t, "", "token", "list", "--json")
	if code != 0 {
		t.Fatalf("token list: %d %s", code, errs)
	}
	var list struct {
		Slots []struct {
			Token *struct {
				Label, Serial string
				LoginRequired bool `json:"login_required"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range list.Slots {
		if s.Token != nil && s.Token.Label == tok.Label && s.Token.Serial == tok.Serial && s.Token.LoginRequired {
			found = true
		}
	}
	if !found {
		t.Errorf("token list does not show %s:\n%s", tok.Label, out)
	}

	// token import from the PKCS#12 bundles.
	for _, name := range []string{"person-rsa2048", "person-p384"} {
		var ent testcerts.IndexEntry
		for _, e := range idx.Entries {
			if e.Name == name {
				ent = e
			}
		}
		pw := filepath.Join(dir, name+".pw")
		os.WriteFile(pw, []byte(ent.P12Password+"\n"), 0o600)
		code, out, errs = tokenRun(t, "", "token", "import", "--p12", filepath.Join(dir, "pki", ent.P12), "--p12-pass-file", pw,
			"--token-label", tok.Label, "--pin-file", pinFile, "--key-label", name)
		if code != 0 || !strings.Contains(out, "imported") {
			t.Fatalf("import %s: %d %s %s", name, code, out, errs)
		}
	}
	// The PIN from the prompt (a pipe here); the certificates and keys
	// paired by CKA_ID.
	code, out, errs = tokenRun(t, tok.PIN+"\n", "token", "certs", "--token-label", tok.Label, "--login", "--json")
	if code != 0 {
		t.Fatalf("token certs: %d %s", code, errs)
	}
	if strings.Contains(out, tok.PIN) && !strings.Contains(tok.Serial, tok.PIN) {
		t.Error("the PIN was printed")
	}
	var certs struct {
		Login   string
		Entries []struct {
			Label      string
			CA         bool
			PrivateKey bool   `json:"has_private_key"`
			CanSign    bool   `json:"can_sign"`
			KeyType    string `json:"key_type"`
		}
	}
	if err := json.Unmarshal([]byte(out), &certs); err != nil {
		t.Fatal(err)
	}
	keys := 0
	for _, e := range certs.Entries {
		if !e.CA && e.PrivateKey && e.CanSign {
			keys++
		}
	}
	if certs.Login != "user" || keys != 2 || len(certs.Entries) != 3 {
		t.Errorf("token certs: %s", out)
	}
	// Human output without login.
	code, out, _ = tokenRun(t, "", "token", "certs", "--token-label", tok.Label)
	if code != 0 || !strings.Contains(out, "person-p384") || !strings.Contains(out, "CA certificate") || strings.Contains(out, "private key]") {
		t.Errorf("token certs (public): %d\n%s", code, out)
	}
	// Errors: wrong PIN (exit 1, never retried), unknown token, no module.
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("0000\n"), 0o600)
	code, _, errs = tokenRun(t, "", "token", "certs", "--token-label", tok.Label, "--pin-file", bad)
	if code != exitFailed || !strings.Contains(errs, "PIN incorrect") || strings.Contains(errs, "0000") {
		t.Errorf("wrong PIN: %d %s", code, errs)
	}
	code, _, errs = tokenRun(t, "", "token", "certs", "--token-label", "no-such-token")
	if code != exitUsage || !strings.Contains(errs, "token not found") {
		t.Errorf("unknown token: %d %s", code, errs)
	}
	code, _, errs = tokenRun(t, "", "token", "list", "--module", filepath.Join(dir, "none.so"))
	if code != exitUsage || !strings.Contains(errs, "module not found") {
		t.Errorf("no module: %d %s", code, errs)
	}
	code, _, errs = tokenRun(t, "", "token", "import", "--token-label", tok.Label)
	if code != exitUsage || !strings.Contains(errs, "--p12") {
		t.Errorf("import without --p12: %d %s", code, errs)
	}
}

// The token Signer is what pades takes, context-aware.
var (
	_ pades.Signer        = (*pkcs11.Signer)(nil)
	_ pades.ContextSigner = (*pkcs11.Signer)(nil)
)

func TestTokenSource(t *testing.T) {
	tok := softhsmtest.New(t, "person-p256", "seal")
	pinFile := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(pinFile, []byte(tok.PIN), 0o600)
	fs := pflag.NewFlagSet("sign", pflag.ContinueOnError)
	src := newTokenSource(fs)
	if err := fs.Parse([]string{"--token", "--module", tok.ModulePath, "--token-label", tok.Label,
		"--key-id", tok.Keys["seal"].String(), "--pin-file", pinFile}); err != nil {
		t.Fatal(err)
	}
	if !src.active() {
		t.Fatal("--token not active")
	}
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s, closeFn, err := src.open(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	if s.Certificate().Subject.CommonName != testcerts.New(t).MustGet("seal").Cert.Subject.CommonName || len(s.Chain()) != 1 {
		t.Errorf("signer certificate %v chain %d", s.Certificate().Subject, len(s.Chain()))
	}
	d := sha256.Sum256([]byte("doc"))
	sig, err := s.(pades.ContextSigner).SignContext(context.Background(), d[:], crypto.SHA256)
	if err != nil || rsa.VerifyPKCS1v15(s.Public().(*rsa.PublicKey), crypto.SHA256, d[:], sig) != nil {
		t.Fatalf("sign: %v", err)
	}
	fs2 := pflag.NewFlagSet("sign", pflag.ContinueOnError)
	bad := newTokenSource(fs2)
	fs2.Parse([]string{"--token", "--key-id", "zz"})
	if _, _, err := bad.open(context.Background(), a); err == nil || !strings.Contains(err.Error(), "not hex") {
		t.Errorf("bad key id: %v", err)
	}
}
