package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// appendN appends n audit entries one transaction each, as a quiet
// service does: each commit adds frames to the WAL.
func appendN(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.Append(context.Background(), Event{Actor: "test", Action: "check", Subject: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCommitsDoNotCheckpoint: a commit no longer checkpoints the WAL at
// SQLite's default 1,000 pages (it would wait for two fsyncs, and every
// audit batch's caller with it); the store's goroutine does, and what was
// committed is in the database after a reopen.
func TestCommitsDoNotCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := OpenSQLite(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var backstop int
	if err := s.db.QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&backstop); err != nil {
		t.Fatal(err)
	}
	if backstop != walBackstop {
		t.Fatalf("wal_autocheckpoint is %d, want %d", backstop, walBackstop)
	}

	// Without the goroutine, 1,500 commits leave more than 1,000 pages
	// in the WAL: none of them checkpointed.
	s.stopCheckpoints()
	appendN(t, s, 1500)
	frames, copied, err := s.checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if frames <= 1000 {
		t.Fatalf("the WAL held %d frames after 1,500 commits: a commit checkpointed it", frames)
	}
	if copied != frames {
		t.Fatalf("a checkpoint with no reader copied %d of %d frames", copied, frames)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// With the goroutine, the database file grows while the service
	// only commits: the goroutine copies the WAL into it.
	s, err = OpenSQLite(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.VerifyAudit(context.Background()); err != nil || n != 1500 {
		t.Fatalf("after a reopen: %d entries, %v; want 1500 that verify", n, err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	appendN(t, s, 1500)
	for deadline := time.Now().Add(30 * time.Second); size() <= before; {
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes for 30 s after 1,500 commits: nothing checkpointed", before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n, err := s.VerifyAudit(context.Background()); err != nil || n != 3000 {
		t.Fatalf("%d entries, %v; want 3000 that verify", n, err)
	}
}

// TestWALStartsOver: while a service only commits, the WAL still starts
// over from its beginning (the checkpoint goroutine's step in the write
// slot), so that its file stays short; a checkpoint racing with the
// commits alone never lets SQLite start it over.
func TestWALStartsOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := OpenSQLite(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.stopCheckpoints()
	s.ckpt = checkpointer{restart: 200}
	s.startCheckpoints()
	const n = 8000 // each commit adds a frame or more
	appendN(t, s, n)
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if frames := fi.Size() / 4096; frames > n*5/8 {
		t.Fatalf("the WAL is %d frames long after %d commits: it did not start over", frames, n)
	}
	if got, err := s.VerifyAudit(context.Background()); err != nil || got != n {
		t.Fatalf("%d entries, %v; want %d that verify", got, err, n)
	}
}
