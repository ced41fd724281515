package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// entryHashStreamed is entryHash as it was first written: each field
// streamed into the hash in turn. Entries already in logs were chained
// with it, so entryHash must give the same bytes.
func entryHashStreamed(prev []byte, seq int64, at time.Time, actor, action, subject, digest, details string) []byte {
	h := sha256.New()
	h.Write(prev)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(at.UnixNano()))
	h.Write(n[:])
	for _, f := range []string{actor, action, subject, digest, details} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

func TestEntryHashAsStreamed(t *testing.T) {
	at := time.Date(2026, 12, 5, 23, 0, 0, 123456789, time.UTC)
	prev := bytes.Repeat([]byte{0xab}, 32)
	for _, c := range []struct{ actor, action, subject, digest, details string }{
		{"asp", "mpower-check", "1000000000000002", "", `{"endpoint":"/api/Authorization/check/Code-True-One","valid":"false"}`},
		{"", "x", "", "", "null"},
		{"a", "b", "c", strings.Repeat("d", 64), strings.Repeat("é", 400)}, // past the stack buffer
	} {
		checkEntryHash(t, prev, 7, at, c.actor, c.action, c.subject, c.digest, c.details)
		checkEntryHash(t, make([]byte, 32), 1, at, c.actor, c.action, c.subject, c.digest, c.details)
	}
}

func FuzzEntryHash(f *testing.F) {
	f.Add([]byte("prev"), int64(1), int64(0), "asp", "mpower-check", "1000000000000002", "", `{"valid":"true"}`)
	f.Add([]byte{}, int64(-1), int64(-5), "", "", "", "", strings.Repeat("x", 600))
	f.Fuzz(func(t *testing.T, prev []byte, seq, at int64, actor, action, subject, digest, details string) {
		checkEntryHash(t, prev, seq, time.Unix(0, at), actor, action, subject, digest, details)
	})
}

func checkEntryHash(t *testing.T, prev []byte, seq int64, at time.Time, actor, action, subject, digest, details string) {
	t.Helper()
	got := entryHash(prev, seq, at, actor, action, subject, digest, details)
	if want := entryHashStreamed(prev, seq, at, actor, action, subject, digest, details); !bytes.Equal(got, want) {
		t.Fatalf("entryHash(%x, %d, %v, %q, %q, %q, %q, %q) = %x, streamed %x", prev, seq, at, actor, action, subject, digest, details, got, want)
	}
}
