package store

import (
	"encoding/json"
	"testing"
)

// encodeDetails writes exactly what json.Marshal writes (the stored,
// hashed form of an entry's details), directly or through it.
func TestEncodeDetails(t *testing.T) {
	for _, m := range []map[string]string{
		nil, {}, {"valid": "true", "endpoint": "/api/Authorization/check/Code-True-One"},
		{"b": "1", "a": "2", "c": ""}, {"x": `a"b`}, {"<": ">&"}, {"é": "ş"}, {"ctl": "\x01\n"}, {"del": "\x7f"},
	} {
		checkDetails(t, m)
	}
}

func FuzzEncodeDetails(f *testing.F) {
	f.Add("valid", "true", "endpoint", "/api/x")
	f.Add(`a"`, "<b>", "\u2028", "\xff")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		checkDetails(t, map[string]string{k1: v1, k2: v2})
	})
}

func checkDetails(t *testing.T, m map[string]string) {
	t.Helper()
	want, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := encodeDetails(m)
	if err != nil || got != string(want) {
		t.Fatalf("encodeDetails(%q) = %s, %v; json.Marshal: %s", m, got, err, want)
	}
}
