package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/store"
)

// TestCreateSchemaDeadlock: on PostgreSQL an instance starting (its
// schema's CREATE INDEX IF NOT EXISTS locks each table) while another one
// runs a transaction that takes the same tables in the other order
// deadlocks; PostgreSQL aborts the schema's transaction, and CreateSchema
// tries again instead of failing the start.
func TestCreateSchemaDeadlock(t *testing.T) {
	st, err := store.OpenPostgres(testtool.PostgresSchema(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	sc := store.Schema{Name: "deadlock", Postgres: `CREATE TABLE IF NOT EXISTS dl_a (x BIGINT); CREATE TABLE IF NOT EXISTS dl_b (x BIGINT);
CREATE INDEX IF NOT EXISTS dl_a_x ON dl_a (x); CREATE INDEX IF NOT EXISTS dl_b_x ON dl_b (x);`}
	if err := st.CreateSchema(ctx, sc); err != nil {
		t.Fatal(err)
	}
	// The running instance: holds dl_b, will want dl_a.
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO dl_b (x) VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- st.CreateSchema(ctx, sc) }() // takes dl_a, waits for dl_b
	time.Sleep(300 * time.Millisecond)
	if _, err := tx.ExecContext(ctx, `INSERT INTO dl_a (x) VALUES (1)`); err != nil {
		t.Logf("the running transaction was the one aborted: %v", err)
		tx.Rollback()
	} else if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("CreateSchema after a deadlock: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("CreateSchema did not return within 30s")
	}
}
