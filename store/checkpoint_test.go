package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A commit does not checkpoint the log at SQLite's 1,000 pages (it would
// do so holding the write slot); the checkpointer does, woken by the
// store's writes and by the job queue's, so that the log starts over and
// stays small; nothing written is lost.
func TestCheckpointOutsideWrites(t *testing.T) {
	ctx := context.Background()
	page := 4096
	walPages := func(path string) int {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return int(fi.Size()) / page
	}
	value := make([]byte, 4*page) // about 5 pages a write
	open := func() (*Store, string) {
		path := filepath.Join(t.TempDir(), "s.db")
		st, err := OpenSQLite(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		for name, db := range map[string]func() (int, error){
			"store": func() (n int, err error) {
				err = st.DB().QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&n)
				return
			},
			"jobs": func() (n int, err error) {
				err = st.JobsDB().QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&n)
				return
			},
		} {
			if n, err := db(); err != nil || n != checkpointBackstop {
				t.Fatalf("%s connection: wal_autocheckpoint %d, %v; want %d", name, n, err, checkpointBackstop)
			}
		}
		if _, err := st.JobsDB().ExecContext(ctx, `CREATE TABLE j (id INTEGER PRIMARY KEY, v BLOB)`); err != nil {
			t.Fatal(err)
		}
		return st, path
	}
	put := func(st *Store, from, n int) {
		for i := from; i < from+n; i++ {
			if err := st.Put(ctx, "ckpt", fmt.Sprint(i), value, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Without the checkpointer, 2,000 pages of commits stay in the log; a
	// write of the store and one of the job queue would wake it, a read
	// would not.
	st, path := open()
	st.ckpt.close()
	for name, op := range map[string]func() error{
		"store write": func() error { return st.Put(ctx, "ckpt", "w", value, time.Hour) },
		"queue write": func() error {
			_, err := st.JobsDB().ExecContext(ctx, `INSERT INTO j (v) VALUES (?)`, value)
			return err
		},
		"queue read": func() error {
			var n int
			return st.JobsDB().QueryRowContext(ctx, `SELECT count(*) FROM j`).Scan(&n)
		},
	} {
		select {
		case <-st.ckpt.wake:
		default:
		}
		if err := op(); err != nil {
			t.Fatal(err)
		}
		if woken := len(st.ckpt.wake) == 1; woken != (name != "queue read") {
			t.Errorf("a %s woke the checkpointer: %v", name, woken)
		}
	}
	put(st, 0, 400)
	if n := walPages(path); n < 1500 {
		t.Fatalf("the log holds %d pages after about 2,000 written without the checkpointer: a commit checkpointed it", n)
	}

	// With it, the log is checkpointed after the store's writes and after
	// the job queue's, and starts over.
	st, path = open()
	waitRuns := func(after int64, what string) {
		deadline := time.Now().Add(20 * time.Second)
		for st.ckpt.runs.Load() <= after {
			if time.Now().After(deadline) {
				t.Fatalf("no checkpoint within 20 s after %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for b := 0; b < 20; b++ {
		runs := st.ckpt.runs.Load()
		if b%2 == 0 {
			put(st, b*50, 50)
			waitRuns(runs, "the store's writes")
		} else {
			for i := 0; i < 50; i++ {
				if _, err := st.JobsDB().ExecContext(ctx, `INSERT INTO j (v) VALUES (?)`, value); err != nil {
					t.Fatal(err)
				}
			}
			waitRuns(runs, "the job queue's writes")
		}
	}
	if n := walPages(path); n >= 3000 {
		t.Fatalf("the log grew to %d pages with about 7,000 written: the checkpointer does not let it start over", n)
	}
	var items, jobs int
	var check string
	if err := st.DB().QueryRowContext(ctx, `SELECT (SELECT count(*) FROM items WHERE kind = 'ckpt'), (SELECT count(*) FROM j)`).Scan(&items, &jobs); err != nil {
		t.Fatal(err)
	}
	if err := st.DB().QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" || items != 500 || jobs != 500 {
		t.Fatalf("after the checkpoints: %d items, %d rows, integrity %q (%v); want 500, 500, ok", items, jobs, check, err)
	}
}
