package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPortalCheck: 'semnat portal check DIR' lists a good catalogue and
// names the file and the problem of a bad one.
func TestPortalCheck(t *testing.T) {
	dir := t.TempDir()
	good := `code = "123"
domain = { id = "test", name = { ro = "Test" } }
provider = { idno = "1003600011118", name = { ro = "Prestator" } }
title = { ro = "Serviciu de test" }
description = { ro = "Descriere" }
cost = 5000
result = { ro = "Rezultat {{.Code}}" }
`
	os.WriteFile(filepath.Join(dir, "123.toml"), []byte(good), 0o644)
	code, out, stderr := revRun(t, "portal", "check", dir)
	if code != 0 || !strings.Contains(out, "123  Serviciu de test  (Prestator; 5000 bani)") || !strings.Contains(out, "1 services") {
		t.Fatalf("good catalogue: %d %s %s", code, out, stderr)
	}
	os.WriteFile(filepath.Join(dir, "124.toml"), []byte(strings.Replace(good, `"123"`, `"124"`, 1)+"[[fields]]\nname = \"x\"\ntype = \"colour\"\nlabel = { ro = \"X\" }\n"), 0o644)
	code, _, stderr = revRun(t, "portal", "check", dir)
	if code != exitUsage || !strings.Contains(stderr, "124.toml") || !strings.Contains(stderr, `type "colour"`) {
		t.Fatalf("bad catalogue: %d %s", code, stderr)
	}
}

// TestPortalServeNeeds: the portal alone needs MPass's metadata and its
// SAML key, and says so.
func TestPortalServeNeeds(t *testing.T) {
	code, _, stderr := revRun(t, "portal", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0")
	if code != exitUsage || !strings.Contains(stderr, "--mpass-metadata") {
		t.Fatalf("no metadata: %d %s", code, stderr)
	}
	code, _, stderr = revRun(t, "portal", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--mpass-metadata", "/nonexistent.xml")
	if code != exitUsage || !strings.Contains(stderr, "--p12") {
		t.Fatalf("no key: %d %s", code, stderr)
	}
}
