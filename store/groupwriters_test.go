package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestGroupWritersOverlap: on PostgreSQL a store runs two group
// transactions at once (Options.GroupWriters' default): a caller's
// function that waits, inside its open group transaction, for another
// caller's write to be committed sees it committed, and both callers'
// writes and audit events are kept, the chain whole. With one writer the
// second caller would wait behind the first (the test then fails).
func TestGroupWritersOverlap(t *testing.T) {
	if groupWriters("sqlite", 0) != 1 || groupWriters("postgres", 0) != 2 || groupWriters("postgres", 3) != 3 {
		t.Fatal("group writers: want 1 on SQLite and 2 on PostgreSQL by default, the option when set")
	}
	b := postgresBackend(t)
	s := openAt(t, b.fresh(t), newClock())
	ctx := context.Background()
	started := make(chan struct{})
	var once sync.Once
	errA := make(chan error, 1)
	go func() {
		errA <- s.InGroupTx(ctx, func(tx *Tx) error {
			once.Do(func() { close(started) })
			if err := tx.PutNew(ctx, "overlap", "a", []byte("a"), time.Hour); err != nil {
				return err
			}
			// Wait, in this group's open transaction, for b's commit
			// (READ COMMITTED: each statement sees what is committed).
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				var n int
				if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM items WHERE kind = 'overlap' AND id = 'b'`).Scan(&n); err != nil {
					return err
				}
				if n == 1 {
					return tx.AppendAtCommit(Event{Actor: "test", Action: "overlap-a", Subject: "a"})
				}
			}
			return errors.New("b was not committed while a's group transaction was open: one group writer")
		})
	}()
	<-started
	if err := s.InGroupTx(ctx, func(tx *Tx) error {
		if err := tx.PutNew(ctx, "overlap", "b", []byte("b"), time.Hour); err != nil {
			return err
		}
		return tx.AppendAtCommit(Event{Actor: "test", Action: "overlap-b", Subject: "b"})
	}); err != nil {
		t.Fatal(err)
	}
	if err := <-errA; err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := s.Get(ctx, "overlap", id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	n, err := s.VerifyAudit(ctx)
	if err != nil || n != 2 {
		t.Fatalf("audit: %d entries, %v; want 2, whole", n, err)
	}
}
