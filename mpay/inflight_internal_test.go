package mpay

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/store"
)

// TestInFlightAdded: a database made before the in-flight column gets it
// when MPay starts (two instances at once on PostgreSQL: added once),
// filled with the sum of each invoice's approved payments not yet
// acknowledged; a later start leaves it as it is.
func TestInFlightAdded(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "mpay.db")
		inFlightAdded(t, func() (*store.Store, error) { return store.OpenSQLite(path, store.Options{}) })
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := testtool.PostgresSchema(t)
		inFlightAdded(t, func() (*store.Store, error) { return store.OpenPostgres(dsn, store.Options{}) })
	})
}

func inFlightAdded(t *testing.T, open func() (*store.Store, error)) {
	ctx := context.Background()
	st, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	old := store.Schema{Name: "mpay-old"}
	for _, ddl := range []*string{&old.SQLite, &old.Postgres} {
		from := schema.SQLite
		if ddl == &old.Postgres {
			from = schema.Postgres
		}
		*ddl = strings.Replace(strings.Replace(from, "\tin_flight INTEGER NOT NULL DEFAULT 0,\n", "", 1), "\tin_flight BIGINT NOT NULL DEFAULT 0,\n", "", 1)
		if *ddl == from {
			t.Fatal("the schema has no in_flight line to leave out")
		}
	}
	if err := st.CreateSchema(ctx, old); err != nil {
		t.Fatal(err)
	}
	// Invoice A: approved 300 (in flight), approved 200 acknowledged,
	// declined 400; invoice B: nothing paid.
	for _, q := range []string{
		`INSERT INTO mpay_invoices (id, token, service_id, order_key, state, status, amount_due, currency, reason, due_at, allow_partial, allow_advance, order_json, return_url, created, updated)
			VALUES ('A', 'ta', 'S', 'kA', 'partial', 'Active', 1000, 'MDL', '', 0, 1, 0, '{}', '', 1, 1), ('B', 'tb', 'S', 'kB', 'created', 'Active', 1000, 'MDL', '', 0, 1, 0, '{}', '', 1, 1)`,
		`INSERT INTO mpay_payments (id, invoice_id, state, amount, currency, instrument, card_last4, auth_code, reason, approve_at, created, paid_at, confirmed_at, attempts, next_attempt, last_error)
			VALUES ('1', 'A', 'approved', 300, 'MDL', 'card', '', '', '', 0, 1, 1, 0, 0, NULL, ''),
			('2', 'A', 'approved', 200, 'MDL', 'card', '', '', '', 0, 1, 1, 5, 1, NULL, ''),
			('3', 'A', 'declined', 400, 'MDL', 'card', '', '', '', 0, 1, 0, 0, 0, NULL, '')`,
	} {
		if err := st.InTx(ctx, func(tx *store.Tx) error { _, err := tx.Exec(ctx, q); return err }); err != nil {
			t.Fatal(err)
		}
	}
	starts := 1
	if st.Backend() == "postgres" {
		starts = 2
	}
	var wg sync.WaitGroup
	for range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := st
			if starts > 1 { // another instance: its own pool
				var err error
				if s, err = open(); err != nil {
					t.Error(err)
					return
				}
				defer s.Close()
			}
			if _, err := NewLedger(ctx, s); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	l, err := NewLedger(ctx, st) // once more: kept as it is
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]int64{"ta": 300, "tb": 0} {
		in, err := l.Invoice(ctx, token)
		if err != nil || in.InFlight != want {
			t.Fatalf("invoice %s: %+v %v, want %d in flight", token, in, err, want)
		}
	}
}
