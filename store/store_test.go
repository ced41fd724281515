package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }

// backend opens stores of one database kind for the tests.
type backend struct {
	name string
	// fresh names an empty database; open opens it (again).
	fresh func(t *testing.T) string
	// dropGuards removes the append-only guard, as someone with database
	// access could.
	dropGuards []string
	// poison makes an insert into the audit log fail for a subject that
	// begins with "poison".
	poison []string
}

func sqliteBackend() backend {
	return backend{name: "sqlite",
		fresh:      func(t *testing.T) string { return filepath.Join(t.TempDir(), "semnat.db") },
		dropGuards: []string{`DROP TRIGGER audit_no_update`, `DROP TRIGGER audit_no_delete`},
		poison:     []string{`CREATE TRIGGER poison BEFORE INSERT ON audit WHEN NEW.subject LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'poisoned'); END`}}
}

// postgresBackend uses $SEMNAT_TEST_POSTGRES, one fresh schema per test
// (testtool.PostgresSchema: skipped without it, except in CI).
func postgresBackend(t *testing.T) backend {
	return backend{name: "postgres",
		fresh:      func(t *testing.T) string { return testtool.PostgresSchema(t) },
		dropGuards: []string{`DROP TRIGGER audit_append_only ON audit`},
		poison: []string{`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS
			$$ BEGIN IF NEW.subject LIKE 'poison%' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$`,
			`CREATE TRIGGER poison BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION poison()`}}
}

// eachBackend runs f on SQLite and on PostgreSQL.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range []backend{sqliteBackend(), postgresBackend(t)} {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

func (b backend) open(t *testing.T, c *clock) *Store {
	t.Helper()
	return openAt(t, b.fresh(t), c)
}

func openAt(t *testing.T, dsn string, c *clock) *Store {
	t.Helper()
	s, err := Open(dsn, Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestItemsWithTTL(t *testing.T) { eachBackend(t, testItemsWithTTL) }
func testItemsWithTTL(t *testing.T, b backend) {
	c := newClock()
	s := b.open(t, c)
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

func TestTakeOnce(t *testing.T) { eachBackend(t, testTakeOnce) }
func testTakeOnce(t *testing.T, b backend) {
	s := b.open(t, newClock())
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

func TestStateSurvivesRestart(t *testing.T) { eachBackend(t, testStateSurvivesRestart) }
func testStateSurvivesRestart(t *testing.T, b backend) {
	c := newClock()
	path := b.fresh(t)
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

func TestAuditChain(t *testing.T) { eachBackend(t, testAuditChain) }
func testAuditChain(t *testing.T, b backend) {
	c := newClock()
	s := b.open(t, c)
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
	// Reading the log back: pages in order, the details as appended.
	page, err := s.AuditEntries(ctx, 190, 5)
	if err != nil || len(page) != 5 || page[0].Seq != 191 || page[4].Seq != 195 || page[0].Details["level"] != "B-T" || page[0].Action != "seal" {
		t.Fatalf("entries: %+v %v", page, err)
	}
	if rest, err := s.AuditEntries(ctx, 195, 100); err != nil || len(rest) != 5 {
		t.Fatalf("rest: %d %v", len(rest), err)
	}
	// The log refuses updates and deletes.
	if _, err := s.db.Exec(`UPDATE audit SET actor = 'mallory' WHERE seq = 5`); err == nil {
		t.Fatal("update allowed")
	}
	if _, err := s.db.Exec(`DELETE FROM audit WHERE seq = 5`); err == nil {
		t.Fatal("delete allowed")
	}
	// Someone with file access drops the guard and edits an entry: caught.
	for _, q := range b.dropGuards {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.db.Exec(`UPDATE audit SET subject = 'forged' WHERE seq = 57`); err != nil {
		t.Fatal(err)
	}
	var brk *AuditBreak
	if n, err := s.VerifyAudit(ctx); !errors.Is(err, ErrAuditTampered) || !errors.As(err, &brk) || brk.Seq != 57 || n != 56 {
		t.Fatalf("tampered log: %d entries verified, %v (want entry 57 named, 56 before it)", n, err)
	}
	// ... or removes one.
	s2 := b.open(t, newClock())
	for i := 0; i < 3; i++ {
		s2.Append(ctx, Event{Action: "grant", Subject: fmt.Sprint(i)})
	}
	for _, q := range b.dropGuards {
		s2.db.Exec(q)
	}
	if _, err := s2.db.Exec(`DELETE FROM audit WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.VerifyAudit(ctx); !errors.As(err, &brk) || brk.Seq != 2 {
		t.Fatalf("a log with a removed entry: %v (want entry 2 named)", err)
	}
	if _, err := s.Append(ctx, Event{}); err == nil {
		t.Fatal("an event without action was recorded")
	}
}

// TestSharedByInstances: two handles on one database (two `semnat serve`
// instances) append concurrently and keep one unbroken chain; an item one
// puts, the other takes.
func TestSharedByInstances(t *testing.T) { eachBackend(t, testSharedByInstances) }
func testSharedByInstances(t *testing.T, b backend) {
	dsn := b.fresh(t)
	c := newClock()
	a, z := openAt(t, dsn, c), openAt(t, dsn, c)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i, s := range []*Store{a, z, a, z} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if _, err := s.Append(ctx, Event{Actor: fmt.Sprint("instance-", i%2), Action: "sign", Subject: fmt.Sprint(j)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n, err := z.VerifyAudit(ctx); err != nil || n != 80 {
		t.Fatalf("shared chain: %d %v", n, err)
	}
	if err := a.Put(ctx, "pending", "x", []byte("state"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, err := z.Take(ctx, "pending", "x"); err != nil || string(v) != "state" {
		t.Fatalf("take from the other instance: %q %v", v, err)
	}
	if _, err := a.Get(ctx, "pending", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("taken item still there: %v", err)
	}
}

// TestUpdateSerialised: concurrent read-modify-write updates from two
// handles (two instances) lose nothing; an update keeps the time to live;
// f's error changes nothing.
func TestUpdateSerialised(t *testing.T) { eachBackend(t, testUpdateSerialised) }
func testUpdateSerialised(t *testing.T, b backend) {
	dsn := b.fresh(t)
	c := newClock()
	a, z := openAt(t, dsn, c), openAt(t, dsn, c)
	ctx := context.Background()
	if err := a.Put(ctx, "req", "r", []byte("0"), time.Hour); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, s := range []*Store{a, z, a, z} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 15; j++ {
				err := s.Update(ctx, "req", "r", func(old []byte) ([]byte, error) {
					var n int
					fmt.Sscan(string(old), &n)
					return []byte(fmt.Sprint(n + 1)), nil
				})
				if err != nil {
					t.Errorf("updater %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v, err := z.Get(ctx, "req", "r"); err != nil || string(v) != "60" {
		t.Fatalf("after 60 concurrent increments: %q %v", v, err)
	}
	boom := errors.New("boom")
	if err := a.Update(ctx, "req", "r", func([]byte) ([]byte, error) { return []byte("lost"), boom }); !errors.Is(err, boom) {
		t.Fatalf("f's error: %v", err)
	}
	if v, _ := a.Get(ctx, "req", "r"); string(v) != "60" {
		t.Fatalf("a failed update changed the value: %q", v)
	}
	if err := a.Update(ctx, "req", "none", func(o []byte) ([]byte, error) { return o, nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing item: %v", err)
	}
	c.add(2 * time.Hour)
	if err := a.Update(ctx, "req", "r", func(o []byte) ([]byte, error) { return o, nil }); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired item (the time to live was kept): %v", err)
	}
}

func TestSQLiteFilesPrivate(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	path := filepath.Join(dir, "semnat.db")
	s, err := OpenSQLite(path, Options{Warn: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(context.Background(), "k", "1", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"semnat.db", "semnat.db-wal", "semnat.db-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", name, fi.Mode().Perm())
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "chmod 700 "+dir) {
		t.Errorf("warnings = %q, want one about the 0755 directory", warnings)
	}
	// A private directory gives no warning.
	os.Chmod(dir, 0o700)
	warnings = nil
	s2, err := OpenSQLite(path, Options{Warn: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if len(warnings) != 0 {
		t.Errorf("warnings for a private store: %q", warnings)
	}
}

func TestPutNewAndList(t *testing.T) { eachBackend(t, testPutNewAndList) }
func testPutNewAndList(t *testing.T, b backend) {
	c := newClock()
	s := b.open(t, c)
	ctx := context.Background()
	// A message id is accepted once while it lives, again once it expired.
	if err := s.PutNew(ctx, "msgid", "m1", []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.PutNew(ctx, "msgid", "m1", []byte("2"), time.Minute); !errors.Is(err, ErrExists) {
		t.Fatalf("second use: %v", err)
	}
	if v, _ := s.Get(ctx, "msgid", "m1"); string(v) != "1" {
		t.Fatalf("the refused PutNew changed the value: %q", v)
	}
	c.add(2 * time.Minute)
	if err := s.PutNew(ctx, "msgid", "m1", []byte("3"), time.Minute); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	// Of concurrent PutNew calls exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.PutNew(ctx, "msgid", "race", []byte("x"), time.Minute); err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			} else if !errors.Is(err, ErrExists) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d concurrent PutNew calls won", won)
	}
	// Forever items outlive any clock; List gives live items by id.
	s.Put(ctx, "sp", "b", []byte("B"), Forever)
	s.Put(ctx, "sp", "a", []byte("A"), Forever)
	s.Put(ctx, "sp", "old", []byte("O"), time.Second)
	c.add(100 * 365 * 24 * time.Hour)
	items, err := s.List(ctx, "sp")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].ID != "a" || string(items[1].Value) != "B" || !items[0].Expires.IsZero() {
		t.Fatalf("list: %+v", items)
	}
	if n, err := s.Sweep(ctx); err != nil || n < 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if _, err := s.Get(ctx, "sp", "a"); err != nil {
		t.Fatalf("a Forever item expired: %v", err)
	}
}

// TestSweepEvery: the background sweeper removes expired items until its
// context ends.
func TestSweepEvery(t *testing.T) {
	c := newClock()
	s := sqliteBackend().open(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	s.Put(ctx, "k", "old", []byte("x"), time.Second)
	s.Put(ctx, "k", "new", []byte("y"), time.Hour)
	c.add(time.Minute)
	done := make(chan struct{})
	go func() { s.SweepEvery(ctx, 5*time.Millisecond, slog.New(slog.DiscardHandler)); close(done) }()
	for i := 0; ; i++ {
		var n int
		s.db.QueryRow(`SELECT count(*) FROM items`).Scan(&n)
		if n == 1 {
			break
		}
		if i > 1000 {
			t.Fatal("the expired item was never swept")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if _, err := s.Get(context.Background(), "k", "new"); err != nil {
		t.Fatal(err)
	}
}

// After large items expire, Sweep leaves a small SQLite WAL (it grew to
// the size of the writes and stayed so).
func TestSweepTruncatesWAL(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "semnat.db")
	s, err := OpenSQLite(path, Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	big := make([]byte, 4<<20)
	for i := range 4 {
		if err := s.Put(ctx, "upload", fmt.Sprint(i), big, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	c.add(2 * time.Minute)
	if n, err := s.Sweep(ctx); err != nil || n != 4 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 1<<20 {
		t.Errorf("the WAL holds %d bytes after the sweep", fi.Size())
	}
}
