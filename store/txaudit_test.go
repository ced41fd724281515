package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestAppendAtCommit: AppendAtCommit's events are written at commit, after
// the transaction's Appends, on the one chain; a transaction whose
// function fails writes none; the log's lock and end are read once per
// transaction, yet two instances appending at once in group transactions
// (with Append, Tx.Append and AppendAtCommit mixed) keep one chain. Without
// the lock (or with a chain end read before it), two transactions would
// take the same entry number and one would fail.
func TestAppendAtCommit(t *testing.T) { eachBackend(t, testAppendAtCommit) }
func testAppendAtCommit(t *testing.T, b backend) {
	dsn := b.fresh(t)
	c := newClock()
	a, z := openAt(t, dsn, c), openAt(t, dsn, c)
	ctx := context.Background()

	err := a.InTx(ctx, func(tx *Tx) error {
		if err := tx.AppendAtCommit(Event{Actor: "t", Action: "later", Subject: "1"}); err != nil {
			return err
		}
		ent, err := tx.Append(ctx, Event{Actor: "t", Action: "now", Subject: "2"})
		if err != nil {
			return err
		}
		if ent.Seq != 1 {
			t.Errorf("the first Append is entry %d, want 1", ent.Seq)
		}
		if ent, err = tx.Append(ctx, Event{Actor: "t", Action: "now", Subject: "3"}); err != nil || ent.Seq != 2 {
			t.Errorf("the second Append: %v %v, want entry 2", ent, err)
		}
		return tx.AppendAtCommit(Event{Actor: "t", Action: "later", Subject: "4"})
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := z.WalkAudit(ctx, func(e *Entry) error { got = append(got, fmt.Sprint(e.Seq, e.Action, e.Subject)); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[1now2 2now3 3later1 4later4]" {
		t.Fatalf("entries %v: the transaction's Appends first, then AppendAtCommit's in order", got)
	}
	if err := a.InTx(ctx, func(tx *Tx) error { return tx.AppendAtCommit(Event{}) }); err == nil {
		t.Fatal("an event without an action was taken")
	}
	failed := errors.New("refused")
	if err := a.InTx(ctx, func(tx *Tx) error {
		if err := tx.AppendAtCommit(Event{Actor: "t", Action: "rolled-back"}); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("InTx: %v, want the function's error", err)
	}

	// Two instances, group transactions of several callers each, at once.
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		s := []*Store{a, z}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				var err error
				switch i % 5 {
				case 0: // a failing caller in a group: its events are not written
					err = s.InGroupTx(ctx, func(tx *Tx) error {
						if err := tx.AppendAtCommit(Event{Actor: "t", Action: "rolled-back"}); err != nil {
							return err
						}
						return failed
					})
					if !errors.Is(err, failed) {
						t.Errorf("failing caller: %v", err)
						return
					}
					continue
				case 1:
					_, err = s.Append(ctx, Event{Actor: fmt.Sprint(w), Action: "alone", Subject: fmt.Sprint(i)})
				case 2:
					err = s.InGroupTx(ctx, func(tx *Tx) error {
						_, err := tx.Append(ctx, Event{Actor: fmt.Sprint(w), Action: "now", Subject: fmt.Sprint(i)})
						if err != nil {
							return err
						}
						return tx.AppendAtCommit(Event{Actor: fmt.Sprint(w), Action: "later", Subject: fmt.Sprint(i)})
					})
				default:
					err = s.InGroupTx(ctx, func(tx *Tx) error {
						if err := tx.AppendAtCommit(Event{Actor: fmt.Sprint(w), Action: "later", Subject: fmt.Sprint(i)}); err != nil {
							return err
						}
						return tx.AppendAtCommit(Event{Actor: fmt.Sprint(w), Action: "later2", Subject: fmt.Sprint(i)})
					})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// 4 first; per worker 5 rounds of (none, 1, 2, 2, 2).
	want := int64(4 + workers*each/5*7)
	if n, err := a.VerifyAudit(ctx); err != nil || n != want {
		t.Fatalf("shared chain: %d entries, %v; want %d", n, err, want)
	}
	if err := a.WalkAudit(ctx, func(e *Entry) error {
		if e.Action == "rolled-back" {
			return fmt.Errorf("entry %d of a transaction rolled back", e.Seq)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
