package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The job queue's writes wait for the store's write slot in turn with the
// store's own transactions: a write of the queue that came while a store
// transaction ran goes before a store transaction that came after it
// (before, it slept in SQLite's busy handler and the later transaction
// took the database first), in a transaction of the pool and alone
// (UPDATE … RETURNING, whose rows hold the slot until closed); a read
// does not wait; a write whose context ends while it waits fails with the
// context's error; and the pool's transaction runs its own statements
// without waiting for itself.
func TestJobsDBWaitsForSlot(t *testing.T) {
	ctx := context.Background()
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	jdb := st.JobsDB()
	if jdb == st.DB() {
		t.Fatal("SQLite: the job queue shares the store's pool")
	}
	for _, q := range []string{`CREATE TABLE j (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO j (v) VALUES ('a')`} {
		if _, err := jdb.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	writes := map[string]func() error{
		"exec": func() error {
			_, err := jdb.ExecContext(ctx, `INSERT INTO j (v) VALUES ('q')`)
			return err
		},
		"returning": func() error {
			var id int64
			return jdb.QueryRowContext(ctx, `-- name: a comment first, as river's
				UPDATE j SET v = 'r' WHERE id = (SELECT min(id) FROM j) RETURNING id`).Scan(&id)
		},
		"tx": func() error {
			tx, err := jdb.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, `INSERT INTO j (v) VALUES ('t')`); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, `UPDATE j SET v = v WHERE id = (SELECT max(id) FROM j) RETURNING id`).Scan(&n); err != nil {
				return err
			}
			return tx.Commit()
		},
		"prepared": func() error {
			s, err := jdb.PrepareContext(ctx, `INSERT INTO j (v) VALUES (?)`)
			if err != nil {
				return err
			}
			defer s.Close()
			_, err = s.ExecContext(ctx, "p")
			return err
		},
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var order []string
			note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
			holding, free := make(chan struct{}), make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(3)
			go func() { // a store transaction, holding the slot
				defer wg.Done()
				if err := st.InTx(ctx, func(tx *Tx) error { close(holding); <-free; return nil }); err != nil {
					t.Error(err)
				}
			}()
			<-holding
			// A read of the pool does not wait for the slot.
			var n int
			if err := jdb.QueryRowContext(ctx, `SELECT count(*) FROM j`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			go func() { // the queue's write, waiting
				defer wg.Done()
				if err := write(); err != nil {
					t.Error(err)
				}
				note("queue")
			}()
			time.Sleep(100 * time.Millisecond)
			go func() { // a later store transaction
				defer wg.Done()
				if err := st.InTx(ctx, func(tx *Tx) error {
					// Noted at its end: the queue's write, had it not gone
					// first, waits for this transaction's commit.
					time.Sleep(50 * time.Millisecond)
					note("store")
					return nil
				}); err != nil {
					t.Error(err)
				}
			}()
			time.Sleep(100 * time.Millisecond)
			mu.Lock()
			early := len(order)
			mu.Unlock()
			if early != 0 {
				t.Fatalf("%v done while a store transaction held the slot", order)
			}
			close(free)
			wg.Wait()
			if len(order) != 2 || order[0] != "queue" {
				t.Fatalf("order %v: the queue's write, which came first, must go first", order)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		holding, free := make(chan struct{}), make(chan struct{})
		done := make(chan error)
		go func() {
			done <- st.InTx(ctx, func(tx *Tx) error { close(holding); <-free; return nil })
		}()
		<-holding
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := jdb.ExecContext(cctx, `INSERT INTO j (v) VALUES ('c')`)
		close(free)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a write whose context ended while it waited: %v, want the context's error", err)
		}
		// The slot is free again for both pools.
		if err := writes["exec"](); err != nil {
			t.Fatal(err)
		}
		if err := st.InTx(ctx, func(tx *Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMayWrite(t *testing.T) {
	for q, want := range map[string]bool{
		`SELECT 1`:                                 false,
		"  select count(*) FROM river_job":         false,
		"-- name: JobGetAvailable :many\nSELECT 1": false,
		"/* c */ SELECT 1":                         false,
		"-- name: JobGetAvailable :many\nUPDATE river_job SET state = 'running' RETURNING *": true,
		`INSERT INTO j VALUES (1)`:           true,
		`DELETE FROM j`:                      true,
		`WITH x AS (SELECT 1) DELETE FROM j`: true,
		`PRAGMA wal_checkpoint`:              true,
		`-- only a comment`:                  false,
	} {
		if got := mayWrite(q); got != want {
			t.Errorf("mayWrite(%q) = %v, want %v", q, got, want)
		}
	}
}
