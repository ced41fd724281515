package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// checkGuards runs, in tx, the guard queries of rs (each once) and sets
// the result of each event whose guard does not hold to its *GuardError.
func (s *Store) checkGuards(ctx context.Context, tx *sql.Tx, rs []*appendReq, res []appendResult) error {
	var found map[string]int64
	for i, r := range rs {
		if r.guard == nil {
			continue
		}
		n, ok := found[r.guard.Query]
		if !ok {
			if err := s.txStmt(ctx, tx, r.guard.Query).QueryRowContext(ctx).Scan(&n); err != nil {
				return fmt.Errorf("store: audit: the guard %s: %w", r.guard.Query, err)
			}
			if found == nil {
				found = map[string]int64{}
			}
			found[r.guard.Query] = n
		}
		if n != r.guard.Want {
			res[i].err = &GuardError{Guard: *r.guard, Found: n}
		}
	}
	return nil
}
