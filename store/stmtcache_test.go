package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// A connection's kept statements give the same answers as unprepared
// ones: the same query again while its rows are open, after the schema
// changed, and beyond the number kept.
func TestConnStmtCache(t *testing.T) {
	ctx := context.Background()
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	conn, err := st.DB().Conn(ctx) // one connection: its statements are the ones kept
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t (v) VALUES ('a'), ('b'), ('c')`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := conn.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The same text while its rows are open (an update of each row read).
	rows, err := conn.QueryContext(ctx, `SELECT id FROM t ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if n := count(`SELECT count(*) FROM t WHERE id <= ?`, id); n != id {
			t.Fatalf("rows up to %d: %d", id, n)
		}
		inner, err := conn.QueryContext(ctx, `SELECT id FROM t ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		m := 0
		for inner.Next() {
			m++
		}
		inner.Close()
		if m != 3 {
			t.Fatalf("the same query while its rows are open: %d rows, want 3", m)
		}
		if _, err := conn.ExecContext(ctx, `UPDATE t SET v = v || '!' WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
		seen++
	}
	if err := rows.Close(); err != nil || seen != 3 {
		t.Fatalf("read %d rows (%v), want 3", seen, err)
	}
	if n := count(`SELECT count(*) FROM t WHERE v LIKE '%!'`); n != 3 {
		t.Fatalf("%d rows updated, want 3", n)
	}
	// A kept statement after the schema changed.
	cols := func() int {
		t.Helper()
		r, err := conn.QueryContext(ctx, `SELECT * FROM t`)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		c, err := r.Columns()
		if err != nil {
			t.Fatal(err)
		}
		return len(c)
	}
	if n := cols(); n != 2 {
		t.Fatalf("%d columns, want 2", n)
	}
	if _, err := conn.ExecContext(ctx, `ALTER TABLE t ADD COLUMN w TEXT`); err != nil {
		t.Fatal(err)
	}
	if n := cols(); n != 3 {
		t.Fatalf("%d columns after ALTER TABLE, want 3", n)
	}
	// More texts than a connection keeps, then the first ones again.
	for round := 0; round < 2; round++ {
		for i := range 2 * maxConnStmts {
			if n := count(fmt.Sprintf(`SELECT count(*) + %d FROM t`, i)); n != 3+i {
				t.Fatalf("statement %d: %d, want %d", i, n, 3+i)
			}
		}
	}
	// An error is the driver's, and the connection goes on.
	if _, err := conn.ExecContext(ctx, `INSERT INTO nosuch VALUES (1)`); err == nil {
		t.Fatal("an insert into a missing table succeeded")
	}
	if n := count(`SELECT count(*) FROM t`); n != 3 {
		t.Fatalf("%d rows, want 3", n)
	}
}
