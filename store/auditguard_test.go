package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestAuditGuard: an entry appended under a guard is written only when the
// guard's counter has the value it names, read in the transaction that
// writes it: after the counter moved (through another handle, as another
// instance would), the entry is not in the log and the error says the
// value found; in one burst of many appends, the guards that hold are
// written and the others not, and the chain verifies; a guard whose query
// fails fails its own entry only.
func TestAuditGuard(t *testing.T) { eachBackend(t, testAuditGuard) }
func testAuditGuard(t *testing.T, b backend) {
	dsn := b.fresh(t)
	c := newClock()
	a, z := openAt(t, dsn, c), openAt(t, dsn, c)
	ctx := context.Background()
	if err := a.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TABLE guard_counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO guard_counter (id, n) VALUES (1, 0)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	const counter = `SELECT n FROM guard_counter WHERE id = 1`
	bump := func() {
		t.Helper()
		if err := z.InTx(ctx, func(tx *Tx) error {
			_, err := tx.Exec(ctx, `UPDATE guard_counter SET n = n + 1 WHERE id = 1`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.AppendGuarded(ctx, Event{Action: "check", Subject: "held"}, Guard{Query: counter, Want: 0}); err != nil {
		t.Fatalf("a guard that holds: %v", err)
	}
	bump()
	_, err := a.AppendGuarded(ctx, Event{Action: "check", Subject: "moved"}, Guard{Query: counter, Want: 0})
	var ge *GuardError
	if !errors.As(err, &ge) || !errors.Is(err, ErrGuardFailed) || ge.Found != 1 {
		t.Fatalf("a guard whose counter moved: %v", err)
	}
	// A burst: half under the old value, half under the new one, some
	// with a broken guard, some without one.
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := Event{Action: "check", Subject: fmt.Sprint("b", i)}
			switch i % 4 {
			case 0:
				_, errs[i] = a.AppendGuarded(ctx, e, Guard{Query: counter, Want: 0})
			case 1:
				_, errs[i] = a.AppendGuarded(ctx, e, Guard{Query: counter, Want: 1})
			case 2:
				if i%20 == 2 {
					_, errs[i] = a.AppendGuarded(ctx, e, Guard{Query: `SELECT n FROM no_such_table`, Want: 1})
				} else {
					_, errs[i] = a.Append(ctx, e)
				}
			case 3:
				_, errs[i] = z.AppendGuarded(ctx, e, Guard{Query: counter, Want: 1})
			}
		}()
	}
	wg.Wait()
	want := map[string]bool{"held": true}
	for i, err := range errs {
		switch {
		case i%4 == 0:
			if !errors.Is(err, ErrGuardFailed) {
				t.Errorf("append %d under the old value: %v", i, err)
			}
		case i%20 == 2:
			if err == nil || errors.Is(err, ErrGuardFailed) {
				t.Errorf("append %d under a broken guard: %v", i, err)
			}
		case err != nil:
			t.Errorf("append %d: %v", i, err)
		default:
			want[fmt.Sprint("b", i)] = true
		}
	}
	if nv, err := a.VerifyAudit(ctx); err != nil || nv != int64(len(want)) {
		t.Fatalf("the log: %d entries (%v), want %d", nv, err, len(want))
	}
	ents, err := a.AuditEntries(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !want[e.Subject] {
			t.Errorf("entry %d (%s) is in the log but was refused", e.Seq, e.Subject)
		}
	}
}
