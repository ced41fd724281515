package store

import (
	"context"
	"testing"
	"time"
)

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
