package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestPoolMaxConnsFromDSN: pool_max_conns is read from a URL's query or a
// key=value DSN and taken out of it; a bad value is refused.
func TestPoolMaxConnsFromDSN(t *testing.T) {
	for _, c := range []struct {
		in, out string
		n       int
	}{
		{"postgres://u@h/db?sslmode=disable", "postgres://u@h/db?sslmode=disable", 0},
		{"postgres://u@h/db?pool_max_conns=16&sslmode=disable", "postgres://u@h/db?sslmode=disable", 16},
		{"postgresql://u@h/db?pool_max_conns=3", "postgresql://u@h/db", 3},
		{"host=h dbname=db", "host=h dbname=db", 0},
		{"host=h pool_max_conns=12 dbname=db", "host=h dbname=db", 12},
		{"pool_max_conns = 2 host=h", "host=h", 2},
		{"host=h application_name=my_pool_max_conns=1", "host=h application_name=my_pool_max_conns=1", 0},
	} {
		out, n, err := poolMaxConns(c.in)
		if err != nil || out != c.out || n != c.n {
			t.Errorf("%q: %q %d %v, want %q %d", c.in, out, n, err, c.out, c.n)
		}
	}
	for _, in := range []string{"postgres://h/db?pool_max_conns=0", "postgres://h/db?pool_max_conns=x", "host=h pool_max_conns=1001", "host=h pool_max_conns="} {
		if _, _, err := poolMaxConns(in); !errors.Is(err, ErrPoolMaxConns) {
			t.Errorf("%q: %v, want ErrPoolMaxConns", in, err)
		}
	}
	if _, err := OpenPostgres("postgres://h/db?pool_max_conns=-1", Options{}); !errors.Is(err, ErrPoolMaxConns) || !strings.Contains(err.Error(), "-1") {
		t.Errorf("OpenPostgres with a bad pool_max_conns: %v", err)
	}
}

// TestPostgresConns: a PostgreSQL store opens postgresConns connections
// at most, or Options.MaxConns; and a transaction holding the only one
// runs statements new to the store, each prepared by pgx on the
// transaction's own connection. (The store's own prepared statements,
// which it no longer keeps on PostgreSQL, were prepared on a second
// connection first: with none free the transaction waited for ever, here
// until the test's deadline.)
func TestPostgresConns(t *testing.T) {
	b := postgresBackend(t)
	s := openAt(t, b.fresh(t), newClock())
	if n := s.DB().Stats().MaxOpenConnections; n != postgresConns {
		t.Fatalf("default pool: %d connections, want %d", n, postgresConns)
	}
	one, err := OpenPostgres(b.fresh(t), Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { one.Close() })
	if n := one.DB().Stats().MaxOpenConnections; n != 1 {
		t.Fatalf("MaxConns 1: %d connections", n)
	}
	fresh := b.fresh(t)
	sep := "?"
	if strings.Contains(fresh, "?") {
		sep = "&"
	}
	three, err := OpenPostgres(fresh+sep+"pool_max_conns=3", Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { three.Close() })
	if n := three.DB().Stats().MaxOpenConnections; n != 3 {
		t.Fatalf("pool_max_conns=3: %d connections", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = one.InTx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM items WHERE kind = ? AND id <> ?`, "conns", "x").Scan(&n); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO items (kind, id, value, expires) VALUES (?, ?, ?, ?)`, "conns", "a", []byte("v"), int64(1)); err != nil {
			return err
		}
		_, err := tx.Append(ctx, Event{Actor: "test", Action: "conns", Subject: "a"})
		return err
	})
	if err != nil {
		t.Fatalf("a transaction on the only connection: %v", err)
	}
	if _, err := one.VerifyAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
}
