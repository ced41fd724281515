package store

import (
	"context"
	"database/sql"
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
	// On PostgreSQL the DDL's locks (CREATE INDEX IF NOT EXISTS locks its
	// table even when the index is there) may deadlock with a running
	// instance's transaction that takes the same tables in another order;
	// PostgreSQL then aborts one of them, and the schema is tried again.
	for try := 1; ; try++ {
		err := s.createSchema(ctx, sc)
		if try == 5 || !isDeadlock(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(try) * 50 * time.Millisecond)
	}
}

func (s *Store) createSchema(ctx context.Context, sc Schema) error {
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
	// The audit chain's end as this transaction sees it while it holds
	// the log's lock (from its first append on): prev is nil until then.
	prev []byte
	last int64
	// atCommit are AppendAtCommit's events, written just before commit.
	atCommit []*Entry
	// hooks run before commit, in the order they came (keys: hookKeys).
	hooks    []CommitHook
	hookKeys []any
}

// CommitHook gathers writes of a transaction (Tx.Hook) and writes them
// just before the transaction commits.
type CommitHook interface {
	BeforeCommit(ctx context.Context, tx *Tx) error
}

// Hook returns the transaction's commit hook of key, made by mk at its
// first call. Each hook's BeforeCommit runs once, when the transaction's
// function has returned nil (a group transaction's: every function of the
// group), before AppendAtCommit's events are written and the transaction
// commits; its error fails the transaction (InTx returns it, and in a
// group transaction every caller gets it). A package that gathers a
// transaction's rows into one statement (jobs.Queue.EnqueueAtCommit) uses
// it: one round trip instead of one per row.
func (t *Tx) Hook(key any, mk func() CommitHook) CommitHook {
	for i, k := range t.hookKeys {
		if k == key {
			return t.hooks[i]
		}
	}
	h := mk()
	t.hooks, t.hookKeys = append(t.hooks, h), append(t.hookKeys, key)
	return h
}

// InTx runs f in one transaction: committed when f returns nil, rolled
// back (nothing written, no audit event) when it returns an error, which
// InTx returns as is. With SQLite the transactions of one store run one
// at a time, in the order they came (writer.go): f must not wait for
// another InTx of the same store.
func (s *Store) InTx(ctx context.Context, f func(tx *Tx) error) error {
	release, err := s.writeSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback()
	t := &Tx{s: s, tx: tx}
	if err := f(t); err != nil {
		return err
	}
	for _, h := range t.hooks {
		if err := h.BeforeCommit(ctx, t); err != nil {
			return err
		}
	}
	if err := t.appendPending(ctx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Exec runs a statement in the transaction (prepared, see stmt).
func (t *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, t.s.d.rebind(q), args...)
}

// QueryRow runs a query that returns one row (prepared, see stmt).
func (t *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, t.s.d.rebind(q), args...)
}

// Query runs a query in the transaction (prepared, see stmt).
func (t *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, t.s.d.rebind(q), args...)
}

// stmt is the store's prepared statement of q for this transaction (nil:
// run q unprepared). database/sql keeps it prepared on each connection
// that ran it: SQLite parsed every statement of every transaction again,
// a fifth of the CPU time of an MPay payment.
func (t *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	st := t.s.prepared(ctx, q)
	if st == nil {
		return nil
	}
	return t.tx.StmtContext(ctx, st)
}

// QueryRowForUpdate runs a SELECT of one row and locks it until the
// transaction ends (PostgreSQL: FOR UPDATE; SQLite's write transactions
// are serialised already), so that a read-modify-write of a row by two
// instances runs one after the other.
func (t *Tx) QueryRowForUpdate(ctx context.Context, q string, args ...any) *sql.Row {
	return t.QueryRow(ctx, q+t.s.d.forUpdate, args...)
}

// Append records e in the audit log as part of the transaction: it is in
// the log if and only if the transaction commits.
func (t *Tx) Append(ctx context.Context, e Event) (*Entry, error) {
	details, err := encodeEvent(e)
	if err != nil {
		return nil, err
	}
	if err := t.lockChain(ctx); err != nil {
		return nil, err
	}
	ent := &Entry{At: t.s.now().UTC(), Event: e, rawDetails: details}
	if err := t.writeChained(ctx, []*Entry{ent}); err != nil {
		return nil, err
	}
	return ent, nil
}

// AppendAtCommit records e in the audit log as part of the transaction,
// as Append does, but writes it only when the transaction's function has
// returned nil, just before the commit: with the other events of the
// transaction (a group transaction's too), in one statement after one
// lock of the log and one read of its end. The log's lock is then held
// only for the commit, not for the rest of the transaction. The entry's
// number is not known to the caller (Append when it is needed). An error
// writing the events fails the transaction (InTx returns it).
func (t *Tx) AppendAtCommit(e Event) error {
	details, err := encodeEvent(e)
	if err != nil {
		return err
	}
	t.atCommit = append(t.atCommit, &Entry{At: t.s.now().UTC(), Event: e, rawDetails: details})
	return nil
}

// lockChain takes the audit log's lock and reads its end, once per
// transaction: while the lock is held no other transaction appends, so
// the end moves only with this transaction's own entries.
func (t *Tx) lockChain(ctx context.Context) error {
	if t.prev != nil {
		return nil
	}
	prev, last, err := t.s.chainEndGuards(ctx, t.tx, nil, nil)
	if err != nil {
		return err
	}
	t.prev, t.last = prev, last
	return nil
}

// writeChained numbers and chains ents (their At, Event and details set)
// at the chain's end, in order, and writes them; the end moves past them
// once they are written. The log's lock is held (lockChain).
func (t *Tx) writeChained(ctx context.Context, ents []*Entry) error {
	prev, last := t.prev, t.last
	for _, ent := range ents {
		last++
		ent.Seq, ent.PrevHash = last, prev
		ent.Hash = entryHash(prev, ent.Seq, ent.At, ent.Actor, ent.Action, ent.Subject, ent.Digest, ent.rawDetails)
		prev = ent.Hash
	}
	if err := t.s.insertEntries(ctx, t.tx, ents); err != nil {
		return err
	}
	t.prev, t.last = prev, last
	return nil
}

// appendPending writes AppendAtCommit's events at the chain's end.
func (t *Tx) appendPending(ctx context.Context) error {
	if len(t.atCommit) == 0 {
		return nil
	}
	if err := t.lockChain(ctx); err != nil {
		return err
	}
	if err := t.writeChained(ctx, t.atCommit); err != nil {
		return err
	}
	t.atCommit = nil
	return nil
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// Query runs a read-only query outside a transaction (a prepared
// statement of the store's, see prepared).
func (s *Store) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := s.prepared(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.db.QueryContext(ctx, s.d.rebind(q), args...)
}

// QueryRow runs a read-only query that returns one row (a prepared
// statement of the store's, see prepared).
func (s *Store) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.prepared(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.db.QueryRowContext(ctx, s.d.rebind(q), args...)
}

// maxPrepared bounds the statements a store keeps prepared: the queries
// of the services are a fixed set; one built with varying text beyond
// that is run unprepared.
const maxPrepared = 256

// prepared returns the statement of q, prepared on first use and kept
// (database/sql prepares it again on each connection that runs it), or
// nil when q is run unprepared (too many statements, or preparing
// failed: running it says why). SQLite parses a query each time it is
// not prepared, which cost a check of the MPower API a fifth of its time.
//
// On PostgreSQL it is always nil: pgx keeps the statements run on each
// connection prepared by their text itself (its statement cache), so a
// database/sql statement only duplicated that, at a cost: each use in a
// transaction went through tx.StmtContext (a statement of its own, and
// the parent's list of connections searched under its lock), and a
// statement new to the store was prepared on a second connection of the
// pool while the transaction held one, which waits for a free connection
// (and for the locks the transaction holds, such as the audit table's).
func (s *Store) prepared(ctx context.Context, q string) *sql.Stmt {
	if s.d.name == "postgres" {
		return nil
	}
	if st, ok := s.stmts.Load(q); ok {
		return st.(*sql.Stmt)
	}
	if s.nstmts.Load() >= maxPrepared {
		return nil
	}
	st, err := s.db.PrepareContext(ctx, s.d.rebind(q))
	if err != nil {
		return nil
	}
	if prev, loaded := s.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt)
	}
	s.nstmts.Add(1)
	return st
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

// isDeadlock tells PostgreSQL's deadlock_detected (SQLSTATE 40P01).
func isDeadlock(err error) bool {
	var sc interface{ SQLState() string }
	return errors.As(err, &sc) && sc.SQLState() == "40P01"
}
