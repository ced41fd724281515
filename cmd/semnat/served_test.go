package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// checkServed checks what a started `semnat NAME serve` at base answers:
// each path's status (so that a service serves its own routes and not
// another's), and the first log line naming the command. It returns the
// bodies by path.
func checkServed(t *testing.T, name, base string, logs *revSyncBuffer, want map[string]int) map[string][]byte {
	t.Helper()
	bodies := map[string][]byte{}
	for p, status := range want {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		bodies[p], _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("GET %s: %d, want %d", p, resp.StatusCode, status)
		}
	}
	if !strings.Contains(logs.String(), "semnat "+name+" serve: "+base) {
		t.Errorf("no first line naming the command: %s", logs.String())
	}
	return bodies
}
