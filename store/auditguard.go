package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Guarded audit entries: an answer and its audit entry, checked in one
// transaction.
//
// A service that answers from a cache of its own (MPower's checks) must
// know that what it read has not changed since the question came. Reading
// a change counter before each answer costs a query each time; instead the
// service writes the answer's audit entry under a Guard, a counter query
// and the value it answered under. The audit writer runs the guard's
// query in the batch's own transaction, which began after the question
// came (it holds the log's write lock: on SQLite the database's, on
// PostgreSQL the audit table's, and each statement sees every commit
// before it). When the counter still has that value the entry is written
// and the answer stands; when it moved, the entry is not written and
// AppendGuarded returns a *GuardError with the value found, so that the
// service answers again from a fresh reading. One batch runs each guard
// query once, however many entries it guards.

// Guard is the condition an entry is written under: Query, a SELECT of one
// row of one integer column, without parameters, returns Want.
type Guard struct {
	Query string
	Want  int64
}

// ErrGuardFailed: the guard of an entry did not hold; it was not written
// (errors.As a *GuardError for the value found).
var ErrGuardFailed = errors.New("store: the audit entry's guard no longer holds")

// GuardError is AppendGuarded's error when the guard did not hold.
type GuardError struct {
	Guard
	Found int64 // the value the query returned
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("%v: %s returned %d, not %d", ErrGuardFailed, e.Query, e.Found, e.Want)
}

func (e *GuardError) Unwrap() error { return ErrGuardFailed }

// AppendGuarded is Append, writing e only if g holds in the transaction
// that writes it; otherwise nothing is written and the error is a
// *GuardError (errors.Is ErrGuardFailed).
func (s *Store) AppendGuarded(ctx context.Context, e Event, g Guard) (*Entry, error) {
	return s.appendGuarded(ctx, e, &g)
}

// chainEndGuards locks the log for appending (PostgreSQL; SQLite's write
// transaction is exclusive already) and reads, in
// one statement after the lock, the log's last hash and number and the
// value of each distinct guard query of rs; it sets the result of each
// event whose guard does not hold to its *GuardError. (On PostgreSQL the
// statement sees every commit before it: READ COMMITTED.)
func (s *Store) chainEndGuards(ctx context.Context, tx *sql.Tx, rs []*appendReq, res []appendResult) ([]byte, int64, error) {
	if s.d.lockAudit != "" {
		if _, err := tx.ExecContext(ctx, s.d.lockAudit); err != nil {
			return nil, 0, fmt.Errorf("store: audit: %w", err)
		}
	}
	var queries []string // distinct, in order of first use
	for _, r := range rs {
		if r.guard != nil && !slices.Contains(queries, r.guard.Query) {
			queries = append(queries, r.guard.Query)
		}
	}
	var q strings.Builder
	q.WriteString(`SELECT (SELECT seq FROM audit ORDER BY seq DESC LIMIT 1), (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1)`)
	for _, g := range queries {
		q.WriteString(", (" + g + ")")
	}
	var last sql.NullInt64
	var prev []byte
	found := make([]sql.NullInt64, len(queries))
	dest := []any{&last, &prev}
	for i := range found {
		dest = append(dest, &found[i])
	}
	if err := s.txStmt(ctx, tx, q.String()).QueryRowContext(ctx).Scan(dest...); err != nil {
		return nil, 0, fmt.Errorf("store: audit: the chain's end and the guards %q: %w", queries, err)
	}
	for i, f := range found {
		if !f.Valid {
			return nil, 0, fmt.Errorf("store: audit: the guard %s returned no value", queries[i])
		}
	}
	for i, r := range rs {
		if r.guard == nil {
			continue
		}
		if n := found[slices.Index(queries, r.guard.Query)].Int64; n != r.guard.Want {
			res[i].err = &GuardError{Guard: *r.guard, Found: n}
		}
	}
	if !last.Valid {
		return make([]byte, sha256.Size), 0, nil // the first entry
	}
	return prev, last.Int64, nil
}
