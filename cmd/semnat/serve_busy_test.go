package main

import (
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestServeDemoBusyPort: `serve --demo` on a taken port says what to do
// (an explicit --addr), names the other demo on the same data directory
// (its PKI's address), or, with neither --addr nor a PKI yet, takes a free
// port, as `semnat demo` does.
func TestServeDemoBusyPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	code, _, stderr := revRun(t, "serve", "--demo", "--data", t.TempDir(), "--addr", taken.Addr().String())
	if code != exitUsage || !strings.Contains(stderr, "address already in use") || !strings.Contains(stderr, "give another --addr") {
		t.Fatalf("explicit busy --addr: %d %s", code, stderr)
	}

	// The default port taken (by us, or by whatever holds it), no PKI yet:
	// a free port, and the PKI is made for it.
	if l, err := net.Listen("tcp", "127.0.0.1:8480"); err == nil {
		defer l.Close()
	}
	data := t.TempDir()
	base, logs := startCommand(t, strings.NewReader(""), "serve", "--demo", "--data", data)
	if strings.HasSuffix(base, ":8480") || !strings.Contains(logs.String(), "127.0.0.1:8480 is taken: the demo takes a free port") {
		t.Fatalf("default port taken: serving at %s; stderr %s", base, logs.String())
	}
	if resp, err := http.Get(base + "/sign"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /sign on the free port: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}

	// A second demo on the same data directory (no --addr: its PKI's
	// address, taken by the first) is told where the first one is.
	code, _, stderr = revRun(t, "serve", "--demo", "--data", data)
	if code != exitUsage || !strings.Contains(stderr, "in use by another 'semnat serve --demo'") || !strings.Contains(stderr, base+"/sign") {
		t.Fatalf("second demo on the same data: %d %s", code, stderr)
	}
}
