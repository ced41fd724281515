package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/httpserve"
	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/pkiserve"
)

// TestDemoPorts: `semnat demo` signs against a demo already serving its
// PKI instead of failing on the port; refuses, saying why, when something
// else holds the port its PKI names; and a new PKI without --addr takes a
// free port when the default one is taken.
func TestDemoPorts(t *testing.T) {
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A first demo's services, serving the PKI of data dir d.
	d := t.TempDir()
	pki, ln, base, err := demoServices(ctx, a, filepath.Join(d, "pki"), "127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := pkiserve.New(pki, pkiserve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- httpserve.ServeListener(ctx, ln, base, svc, httpserve.Options{}) }()
	defer func() { cancel(); <-done }()
	code, so, se := revRun(t, "demo", "--data", d)
	if code != exitOK || !strings.Contains(so, "already run at "+base) {
		t.Fatalf("demo beside a running demo: exit %d\n%s%s", code, so, se)
	}
	if _, err := os.Stat(filepath.Join(d, "contract-signed.pdf")); err != nil {
		t.Fatal(err)
	}

	// Something else on the port a PKI names: a clear refusal.
	d2 := t.TempDir()
	_, ln2, _, err := demoServices(ctx, a, filepath.Join(d2, "pki"), "127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close() // holds the port, answers nothing
	if code, _, se := revRun(t, "demo", "--data", d2); code != exitUsage || !strings.Contains(se, "something other than this PKI's services") {
		t.Fatalf("demo with its port taken: exit %d\n%s", code, se)
	}

	// A new PKI, the default port taken: a free one instead; with --addr,
	// the error.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	pki3, ln3, base3, err := demoServices(ctx, a, filepath.Join(t.TempDir(), "pki"), busy.Addr().String(), false)
	if err != nil {
		t.Fatal(err)
	}
	ln3.Close()
	if base3 == "http://"+busy.Addr().String() || pki3.BaseURL != base3 {
		t.Errorf("new PKI beside a busy port: base %s, PKI URLs at %s", base3, pki3.BaseURL)
	}
	_, _, _, err = demoServices(ctx, a, filepath.Join(t.TempDir(), "pki"), busy.Addr().String(), true)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(err.Error(), "give another --addr") {
		t.Errorf("--addr taken: %v", err)
	}
}

// TestSampleContract: the contract the demo writes and the tour signs is
// Romanian with its diacritics, as a PDF reader extracts them.
func TestSampleContract(t *testing.T) {
	pdftotext := testtool.Require(t, "pdftotext")
	p := filepath.Join(t.TempDir(), "contract.pdf")
	if err := os.WriteFile(p, sampleContract, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, p, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Contract de prestări servicii", "Chișinău", "Părțile semnează", "încheiat", "Țara"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("the sample contract lacks %q:\n%s", w, out)
		}
	}
}
