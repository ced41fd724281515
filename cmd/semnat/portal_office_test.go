package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/portal/catalog"
	"github.com/semnat/semnat/testcerts"
)

// TestPortalOffice: `semnat portal serve` reads the institutions' seals
// from the PEM files institutions.toml names (relative to the catalogue),
// needs --tsa for them, and names the file of a bad seal.
func TestPortalOffice(t *testing.T) {
	pki := testcerts.New(t)
	dir := t.TempDir()
	if _, err := pki.WriteDir(filepath.Join(dir, "pki")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "123.toml"), []byte(`code = "123"
domain = { id = "test", name = { ro = "Test" } }
provider = { idno = "1003600011118", name = { ro = "Agenția" } }
title = { ro = "Serviciu" }
description = { ro = "Descriere" }
result = { ro = "Rezultat {{.Code}}" }
`), 0o644)
	inst := `[[institution]]
idno = "1003600011118"
clerks = ["2004001000157"]
seal = { key = "pki/seal-asp/key.pem", cert = "pki/seal-asp/cert.pem", chain = "pki/seal-asp/chain.pem" }
`
	os.WriteFile(filepath.Join(dir, catalog.InstitutionsFile), []byte(inst), 0o644)
	a := &app{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cat, err := catalog.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	o, err := portalOffice(a, cat, dir, "http://127.0.0.1:9/tsa")
	seal := pki.MustGet("seal-asp")
	if err != nil || o == nil || o.Seals[seal.IDNO] == nil || !o.Seals[seal.IDNO].Certificate().Equal(seal.Cert) || o.Timestamper == nil {
		t.Fatalf("office: %+v %v", o, err)
	}
	if _, err := portalOffice(a, cat, dir, ""); err == nil || !strings.Contains(err.Error(), "--tsa") {
		t.Fatalf("no --tsa: %v", err)
	}
	os.WriteFile(filepath.Join(dir, catalog.InstitutionsFile), []byte(strings.Replace(inst, "seal-asp/key.pem", "seal-sfs/key.pem", 1)), 0o644)
	if cat, err = catalog.LoadDir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := portalOffice(a, cat, dir, "http://127.0.0.1:9/tsa"); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("another key: %v", err)
	}
}
