package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestAuditGroupCommit: many appends at once from two handles on one
// database (two instances), some on their own (group commit), some inside
// a transaction of their own, make one chain with every entry; fewer
// transactions than entries were written; an append whose batch fails
// (an insert refused by the database) is not in the log and says so, and
// every append that said nil is; a caller whose context has ended, or a
// closed store, records nothing.
func TestAuditGroupCommit(t *testing.T) { eachBackend(t, testAuditGroupCommit) }
func testAuditGroupCommit(t *testing.T, b backend) {
	dsn := b.fresh(t)
	c := newClock()
	a, z := openAt(t, dsn, c), openAt(t, dsn, c)
	ctx := context.Background()
	burst := func(round int, poison bool) (ok map[string]bool) {
		const n = 300
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			start = make(chan struct{})
		)
		ok = map[string]bool{}
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				s := []*Store{a, z}[i%2]
				subject := fmt.Sprint("r", round, "-", i)
				if poison && i%50 == 7 {
					subject = fmt.Sprint("poison-", i)
				}
				var err error
				if i%10 == 3 { // inside a transaction of the caller's
					err = s.InTx(ctx, func(tx *Tx) error {
						_, err := tx.Append(ctx, Event{Actor: "tx", Action: "check", Subject: subject})
						return err
					})
				} else {
					_, err = s.Append(ctx, Event{Actor: fmt.Sprint("instance-", i%2), Action: "check", Subject: subject})
				}
				mu.Lock()
				ok[subject] = err == nil
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		return ok
	}
	check := func(ok map[string]bool) {
		t.Helper()
		if _, err := a.VerifyAudit(ctx); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		if err := z.WalkAudit(ctx, func(e *Entry) error { got[e.Subject] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		for subject, said := range ok {
			want := !strings.HasPrefix(subject, "poison")
			if said != want || got[subject] != want {
				t.Errorf("%s: Append said ok=%v, in the log=%v, want %v", subject, said, got[subject], want)
			}
		}
	}
	check(burst(1, false))
	batches := a.audit.batches.Load() + z.audit.batches.Load()
	t.Logf("%d group-commit transactions for 270 appends", batches)
	if batches >= 270 {
		t.Errorf("%d transactions for 270 appends: no group commit", batches)
	}
	for _, q := range b.poison {
		if _, err := a.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	check(burst(2, true))
	nEntries, err := a.VerifyAudit(ctx)
	if err != nil || nEntries != 600-6 {
		t.Fatalf("%d entries, %v: want 594", nEntries, err)
	}

	// An ended context: an error, nothing recorded.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.Append(done, Event{Action: "check", Subject: "late"}); !errors.Is(err, context.Canceled) {
		t.Errorf("ended context: %v", err)
	}
	// A closed store: ErrClosed.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(ctx, Event{Action: "check", Subject: "after-close"}); !errors.Is(err, ErrClosed) {
		t.Errorf("closed: %v", err)
	}
	if n2, err := z.VerifyAudit(ctx); err != nil || n2 != nEntries {
		t.Errorf("after: %d %v (want %d)", n2, err, nEntries)
	}
}

// TestAuditBatchTypes: entries written in batches (SQLite: one INSERT OR
// FAIL of many rows) are stored as one at a time would be: integers,
// texts, and the hashes as 32-byte BLOBs; and the chain verifies.
func TestAuditBatchTypes(t *testing.T) {
	s := openAt(t, sqliteBackend().fresh(t), newClock())
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Append(ctx, Event{Actor: "a\"ctor", Action: "check", Subject: fmt.Sprint("é", i), Details: map[string]string{"k": "v\n"}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := s.audit.batches.Load(); n >= 200 {
		t.Fatalf("%d transactions for 200 entries: no batch was written", n)
	}
	rows, err := s.Query(ctx, `SELECT DISTINCT typeof(seq), typeof(at), typeof(actor), typeof(subject), typeof(details), typeof(prev_hash), length(prev_hash), typeof(hash), length(hash) FROM audit`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var kinds []string
	for rows.Next() {
		var k [9]string
		if err := rows.Scan(&k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6], &k[7], &k[8]); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, strings.Join(k[:], " "))
	}
	if want := "integer integer text text text blob 32 blob 32"; len(kinds) != 1 || kinds[0] != want {
		t.Fatalf("stored as %q, want %q", kinds, want)
	}
	if n, err := s.VerifyAudit(ctx); err != nil || n != 200 {
		t.Fatalf("%d entries, %v", n, err)
	}
	ents, err := s.AuditEntries(ctx, 0, 1)
	if err != nil || len(ents) != 1 || ents[0].Actor != "a\"ctor" || ents[0].Details["k"] != "v\n" {
		t.Fatalf("%+v %v", ents, err)
	}
}
