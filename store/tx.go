package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Tables and transactions of a domain package's own (mpower's powers,
// ...): the package brings its schema for each database, writes its rows
// and its audit events in one transaction (InTx), and reads with Query.
// Placeholders are written ? for both databases.

// Schema is a domain package's tables: the same tables in each database's
// dialect, created if missing (statements separated by semicolons).
type Schema struct {
	Name     string // the package: "mpower"
	SQLite   string
	Postgres string
}

// CreateSchema creates sc's tables if they are not there yet (PostgreSQL:
// under the store's advisory lock, so that instances starting together do
// not race).
func (s *Store) CreateSchema(ctx context.Context, sc Schema) error {
	ddl := sc.SQLite
	if s.d.name == "postgres" {
		ddl = sc.Postgres
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %s schema: %w", sc.Name, err)
	}
	defer tx.Rollback()
	if s.d.name == "postgres" {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgSchemaLock)); err != nil {
			return fmt.Errorf("store: %s schema: %w", sc.Name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("store: %s schema: %w", sc.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: %s schema: %w", sc.Name, err)
	}
	return nil
}

// Tx is one transaction of InTx.
type Tx struct {
	s  *Store
	tx *sql.Tx
}

// InTx runs f in one transaction: committed when f returns nil, rolled
// back (nothing written, no audit event) when it returns an error, which
// InTx returns as is.
func (s *Store) InTx(ctx context.Context, f func(tx *Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback()
	if err := f(&Tx{s: s, tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Exec runs a statement in the transaction.
func (t *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.s.d.rebind(q), args...)
}

// QueryRow runs a query that returns one row.
func (t *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.s.d.rebind(q), args...)
}

// Query runs a query in the transaction.
func (t *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.s.d.rebind(q), args...)
}

// QueryRowForUpdate runs a SELECT of one row and locks it until the
// transaction ends (PostgreSQL: FOR UPDATE; SQLite's write transactions
// are serialised already), so that a read-modify-write of a row by two
// instances runs one after the other.
func (t *Tx) QueryRowForUpdate(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.s.d.rebind(q+t.s.d.forUpdate), args...)
}

// Append records e in the audit log as part of the transaction: it is in
// the log if and only if the transaction commits.
func (t *Tx) Append(ctx context.Context, e Event) (*Entry, error) {
	if e.Action == "" {
		return nil, errors.New("store: an audit event needs an action")
	}
	details, err := json.Marshal(e.Details)
	if err != nil {
		return nil, err
	}
	return t.s.appendTx(ctx, t.tx, e, string(details))
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// Query runs a read-only query outside a transaction.
func (s *Store) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.d.rebind(q), args...)
}

// QueryRow runs a read-only query that returns one row.
func (s *Store) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.d.rebind(q), args...)
}

// IsUniqueViolation tells an error of a broken UNIQUE or PRIMARY KEY
// constraint, in either database.
func IsUniqueViolation(err error) bool { return isUniqueViolation(err) }

// DB is the database handle, for a library that brings its own queries on
// the store's database (package jobs: river's tables and drivers). Its
// placeholders are the database's own (? for SQLite, $1 for PostgreSQL).
func (s *Store) DB() *sql.DB { return s.db }

// SQLTx is the transaction's database/sql handle, for a library that writes
// in the same transaction (package jobs enqueues a job that commits with
// the state change, or not at all).
func (t *Tx) SQLTx() *sql.Tx { return t.tx }
