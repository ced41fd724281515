package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/idn"
	mpowerclient "github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/testcerts"
)

// TestMPowerCLI: types, entities and systems are managed in the store the
// server then serves; `semnat mpower serve` runs the check API alone.
func TestMPowerCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	text := filepath.Join(dir, "act-ro.txt")
	os.WriteFile(text, []byte("Subsemnatul {{.AuthorizingName}} împuternicește pe {{.RepresentedIdn}} să ridice certificatul."), 0o644)
	if code, _, stderr := revRun(t, "mpower", "types", "add", "AT-0000001", "--data", data, "--name-ro", "Ridicarea certificatului",
		"--text-ro", text, "--provider-idno", "1003600011118", "--provider-name", "ASP", "--system", "asp", "--accept"); code != 0 {
		t.Fatalf("types add: %d %s", code, stderr)
	}
	csvFile := filepath.Join(dir, "entities.csv")
	os.WriteFile(csvFile, []byte("idno,name,form,admin_idnp,admin_from,admin_to\n1010600034203,Exemplu,SRL,2004001000032,2020-01-01,\n"), 0o644)
	if code, out, stderr := revRun(t, "mpower", "entities", "import", csvFile, "--data", data); code != 0 || !strings.Contains(out, "imported 1") {
		t.Fatalf("entities import: %d %s %s", code, out, stderr)
	}
	keyFile := filepath.Join(dir, "asp.key")
	if code, _, stderr := revRun(t, "mpower", "systems", "add", "asp", "--data", data, "--api-key-file", keyFile); code != 0 {
		t.Fatalf("systems add: %d %s", code, stderr)
	}
	if code, out, _ := revRun(t, "--json", "mpower", "systems", "list", "--data", data); code != 0 || !strings.Contains(out, `"name": "asp"`) || !strings.Contains(out, `"auth": "api-key"`) {
		t.Fatalf("systems list --json: %d %s", code, out)
	}
	badCSV := filepath.Join(dir, "bad.csv")
	os.WriteFile(badCSV, []byte("idno,name,form,admin_idnp,admin_from,admin_to\n1010600034200,X,SRL,,,\n"), 0o644)
	for _, bad := range [][]string{
		{"types", "add", "AT-0000001", "--name-ro", "x", "--text-ro", text, "--provider-idno", "1003600011118", "--system", "asp"}, // taken
		{"types", "add", "AT-12", "--name-ro", "x", "--text-ro", text, "--provider-idno", "1003600011118", "--system", "asp"},      // bad code
		{"types", "add", "AT-0000002", "--name-ro", "x", "--text-ro", filepath.Join(dir, "none"), "--provider-idno", "1003600011118", "--system", "asp"},
		{"entities", "import", badCSV},
		{"systems", "add", "asp", "--api-key-file", keyFile}, // taken
		{"systems", "remove", "nobody"},
	} {
		if code, _, stderr := revRun(t, append(append([]string{"mpower"}, bad...), "--data", data)...); code != exitUsage {
			t.Errorf("%v: %d %s", bad, code, stderr)
		}
	}
	code, out, _ := revRun(t, "--json", "mpower", "types", "list", "--data", data)
	var types []struct {
		Code      string
		Names     map[string]string
		LegalText map[string]string
	}
	if code != 0 || json.Unmarshal([]byte(out), &types) != nil || len(types) != 1 || !strings.Contains(types[0].LegalText["ro"], "împuternicește") {
		t.Fatalf("types list: %d %s", code, out)
	}
	if code, out, _ := revRun(t, "mpower", "entities", "list", "--data", data); code != 0 || !strings.Contains(out, "2004001000032 (2020-01-01–…)") {
		t.Fatalf("entities list: %d %s", code, out)
	}

	pkiDir := t.TempDir()
	if _, err := testcerts.New(t).WriteDir(pkiDir); err != nil {
		t.Fatal(err)
	}
	base, logs := startCommand(t, strings.NewReader(""), "mpower", "serve", "--data", data, "--addr", "127.0.0.1:0",
		"--trust", filepath.Join(pkiDir, testcerts.TrustAnchorsFile))
	key, _ := os.ReadFile(keyFile)
	c, err := mpowerclient.New(base, mpowerclient.Options{APIKey: strings.TrimSpace(string(key))})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := idn.DammDigit("100000000000000")
	if ok, err := c.IsValid(context.Background(), "100000000000000"+string(d)); err != nil || ok {
		t.Fatalf("Code-True-One of an unknown code: %v %v", ok, err)
	}
	anon, _ := mpowerclient.New(base, mpowerclient.Options{APIKey: "not-a-registered-key-at-all"})
	if _, err := anon.IsValid(context.Background(), "100000000000000"+string(d)); !errors.Is(err, mpowerclient.ErrAuthenticationFailed) {
		t.Fatalf("unknown key: %v", err)
	}
	checkServed(t, "mpower", base, logs, map[string]int{mpowerclient.PathOpenAPI: 200, "/readyz": 200, "/verify": 404, "/api/v1/verifications": 404})
	if code, _, stderr := revRun(t, "mpower", "serve", "--data", t.TempDir()); code != exitUsage || !strings.Contains(stderr, "--trust") {
		t.Errorf("serve without --trust: %d %s", code, stderr)
	}
}
