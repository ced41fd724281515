package mpay

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/semnat/semnat/store"
)

// An invoice's in-flight amount (Invoice.InFlight: approved, not yet
// acknowledged by the SP) is a column of its row, changed with the
// payment under the invoice's lock (Settle adds, confirmed takes off).
// It was a SUM over the invoice's payments, read after each lock: a
// statement (a round trip on PostgreSQL) more for every start and
// settlement.

// inFlightLock is the PostgreSQL advisory lock key held while the column
// is added, so that instances starting together add it once.
const inFlightLock = 0x6d7061796966 // "mpayif"

// addInFlight adds mpay_invoices.in_flight to a database made before it
// (new ones have it from the schema) and fills it with the sum it
// replaces, in one transaction. Every instance sharing the database must
// run a version that keeps the column: one that does not would leave it
// behind (stop them all for this upgrade).
func addInFlight(ctx context.Context, st *store.Store) error {
	has := `SELECT COUNT(*) FROM pragma_table_info('mpay_invoices') WHERE name = 'in_flight'`
	if st.Backend() == "postgres" {
		has = `SELECT COUNT(*) FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = 'mpay_invoices' AND column_name = 'in_flight'`
	}
	var n int
	if err := st.QueryRow(ctx, has).Scan(&n); err != nil {
		return fmt.Errorf("mpay: adding the invoices' in-flight amount: %w", err)
	}
	if n == 1 {
		return nil // the usual case: one read at start
	}
	const add = `ALTER TABLE mpay_invoices ADD COLUMN in_flight BIGINT NOT NULL DEFAULT 0`
	const fill = `UPDATE mpay_invoices SET in_flight = (SELECT COALESCE(SUM(amount), 0) FROM mpay_payments p
		WHERE p.invoice_id = mpay_invoices.id AND p.state = 'approved' AND p.confirmed_at = 0)`
	var err error
	if st.Backend() == "postgres" {
		err = addInFlightPostgres(ctx, st.DB(), has, add, fill)
	} else {
		err = st.InTx(ctx, func(tx *store.Tx) error {
			if err := tx.QueryRow(ctx, has).Scan(&n); err != nil || n == 1 {
				return err
			}
			if _, err := tx.Exec(ctx, add); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, fill)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("mpay: adding the invoices' in-flight amount: %w", err)
	}
	return nil
}

// addInFlightPostgres runs addInFlight's statements on PostgreSQL, in a
// transaction of database/sql's own: the store's transactions prepare
// their statements on another connection of the pool first, which would
// wait for the lock of the ALTER TABLE that this transaction holds.
func addInFlightPostgres(ctx context.Context, db *sql.DB, has, add, fill string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(inFlightLock)); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, has).Scan(&n); err != nil || n == 1 {
		return err // n == 1: another instance added it meanwhile
	}
	for _, q := range []string{add, fill} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}
