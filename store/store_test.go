package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }
func open(t *testing.T, c *clock) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "semnat.db"), c)
}

func openAt(t *testing.T, path string, c *clock) *Store {
	t.Helper()
	s, err := OpenSQLite(path, Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestItemsWithTTL(t *testing.T) {
	c := newClock()
	s := open(t, c)
	ctx := context.Background()
	if err := s.Put(ctx, "pending", "a", []byte("state"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "pending", "a"); err != nil || string(v) != "state" {
		t.Fatalf("get: %q %v", v, err)
	}
	if _, err := s.Get(ctx, "pending", "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := s.Get(ctx, "upload", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other kind: %v", err)
	}
	c.add(2 * time.Minute)
	if _, err := s.Get(ctx, "pending", "a"); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := s.Get(ctx, "pending", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an expired item is removed: %v", err)
	}
	// Sweep removes what expired, keeps the rest.
	s.Put(ctx, "upload", "old", []byte("x"), time.Second)
	s.Put(ctx, "upload", "new", []byte("y"), time.Hour)
	c.add(time.Minute)
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if _, err := s.Get(ctx, "upload", "new"); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "upload", "bad", nil, 0); err == nil {
		t.Fatal("zero TTL accepted")
	}
}

func TestTakeOnce(t *testing.T) {
	s := open(t, newClock())
	ctx := context.Background()
	s.Put(ctx, "download", "d", []byte("pdf"), time.Hour)
	var wg sync.WaitGroup
	got := make(chan []byte, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := s.Take(ctx, "download", "d"); err == nil {
				got <- v
			} else if !errors.Is(err, ErrNotFound) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(got)
	if n := len(got); n != 1 {
		t.Fatalf("%d takers got the item, want 1", n)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "semnat.db")
	s := openAt(t, path, c)
	ctx := context.Background()
	s.Put(ctx, "pending", "p", []byte("two-phase state"), time.Hour)
	s.Append(ctx, Event{Actor: "2004001000010", Action: "sign", Subject: "req-1", Digest: "ab"})
	s.Close()
	s2 := openAt(t, path, c)
	if v, err := s2.Get(ctx, "pending", "p"); err != nil || string(v) != "two-phase state" {
		t.Fatalf("after restart: %q %v", v, err)
	}
	if n, err := s2.VerifyAudit(ctx); err != nil || n != 1 {
		t.Fatalf("audit after restart: %d %v", n, err)
	}
}

func TestAuditChain(t *testing.T) {
	c := newClock()
	s := open(t, c)
	ctx := context.Background()
	// Concurrent appends stay one unbroken chain.
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				c.add(time.Millisecond)
				if _, err := s.Append(ctx, Event{Actor: fmt.Sprintf("worker-%d", w), Action: "seal", Subject: fmt.Sprint(i),
					Details: map[string]string{"key": "seal", "level": "B-T"}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n, err := s.VerifyAudit(ctx); err != nil || n != 200 {
		t.Fatalf("verify: %d %v", n, err)
	}
	// The log refuses updates and deletes.
	if _, err := s.db.Exec(`UPDATE audit SET actor = 'mallory' WHERE seq = 5`); err == nil {
		t.Fatal("update allowed")
	}
	if _, err := s.db.Exec(`DELETE FROM audit WHERE seq = 5`); err == nil {
		t.Fatal("delete allowed")
	}
	// Someone with file access drops the guard and edits an entry: caught.
	if _, err := s.db.Exec(`DROP TRIGGER audit_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`UPDATE audit SET subject = 'forged' WHERE seq = 57`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyAudit(ctx); !errors.Is(err, ErrAuditTampered) {
		t.Fatalf("tampered log verified: %v", err)
	}
	// ... or removes one.
	s2 := open(t, newClock())
	for i := 0; i < 3; i++ {
		s2.Append(ctx, Event{Action: "grant", Subject: fmt.Sprint(i)})
	}
	s2.db.Exec(`DROP TRIGGER audit_no_delete`)
	if _, err := s2.db.Exec(`DELETE FROM audit WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.VerifyAudit(ctx); !errors.Is(err, ErrAuditTampered) {
		t.Fatalf("a log with a removed entry verified: %v", err)
	}
	if _, err := s.Append(ctx, Event{}); err == nil {
		t.Fatal("an event without action was recorded")
	}
}
