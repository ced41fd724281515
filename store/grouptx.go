package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// Group commit of short write transactions.
//
// InGroupTx runs a caller's function in a transaction that it may share
// with the functions other callers handed in at the same moment: a
// goroutine of the store's (a group writer; two on PostgreSQL, see
// below) takes every function waiting (up to maxGroup), runs them one
// after the other in one transaction, and commits once. Many small writes at once then cost one
// BEGIN, one COMMIT and one wait for the database's write lock between
// them, instead of one each: on SQLite, where writers take turns anyway,
// this is most of a small transaction's cost.
//
// The contract is InTx's, for each caller on its own:
//   - InGroupTx returns nil only once f's writes are committed.
//   - When f returns an error, nothing f wrote is committed and that
//     error is returned; the other callers' writes are not touched (the
//     group is rolled back and the others run again, each alone).
//   - When the commit fails, every caller of the group gets the error and
//     nothing of the group is written.
//   - A caller whose context ends before the writer takes its function
//     gets the context's error and f never runs; once taken, InGroupTx
//     waits for the outcome, so that its answer is never wrong about
//     whether f's writes were committed.
//
// f runs on the writer's goroutine, one function after the other: it
// must only read and write through tx (no waiting on other work, no
// network), as a function of InTx should, and it may run more than once
// (only its last run's writes count): no effects outside tx.

// On PostgreSQL two group transactions run at once by default
// (Options.GroupWriters): each statement is a round trip, and a group
// waits for its commit (the audit log's lock, taken at commit, and the
// WAL's flush), during which one writer left every caller waiting; with
// two, one group's statements run while the other commits. Two groups
// of one store are two transactions like those of two instances, which
// the store serves already: row locks order them, and a deadlock
// PostgreSQL breaks fails a group, whose callers then run again each
// alone (above).

// groupWriters is how many group transactions of a store on backend run
// at once (Options.GroupWriters, or the default when 0).
func groupWriters(backend string, n int) int {
	switch {
	case n > 0:
		return n
	case backend == "postgres":
		return 2
	}
	return 1
}

// maxGroup bounds the functions of one group transaction.
const maxGroup = 128

// groupReq is one function waiting for the group writer.
type groupReq struct {
	ctx context.Context
	f   func(*Tx) error
	// state: 0 waiting, 1 taken by the writer, 2 given up by the caller.
	state atomic.Int32
	done  chan error
}

// groupWriter is the store's group-transaction writer (its batcher's
// loops goroutines), started by the first InGroupTx.
type groupWriter struct {
	batcher[*groupReq]
	groups atomic.Int64 // transactions committed or tried (tests)
}

// InGroupTx runs f in a transaction that may be shared with other
// callers' functions (see above), and commits it.
func (s *Store) InGroupTx(ctx context.Context, f func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &groupReq{ctx: ctx, f: f, done: make(chan error, 1)}
	if err := s.group.send(ctx, r, maxGroup, s.runGroup); err != nil {
		if errors.Is(err, ErrClosed) {
			return fmt.Errorf("store: %w", err)
		}
		return err
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(0, 2) {
			return ctx.Err()
		}
		return <-r.done // taken: its outcome decides
	}
}

// closeGroups stops the group writer once it has run every function
// enqueued.
func (s *Store) closeGroups() { s.group.close() }

// runGroup runs the functions of batch whose callers still wait in one
// transaction and answers each.
func (s *Store) runGroup(batch []*groupReq) {
	taken := batch[:0:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(0, 1) {
			taken = append(taken, r)
		}
	}
	if len(taken) == 0 {
		return
	}
	s.group.groups.Add(1)
	errs := make([]error, len(taken))
	err := s.groupTx(taken, errs)
	for i, r := range taken {
		if err != nil && errs[i] == nil {
			errs[i] = err
		}
		r.done <- errs[i]
	}
}

// groupTx runs taken's functions in one transaction and commits it,
// putting each function's own error in errs; it returns the error that
// fails them all. When a function fails in a group, the group is rolled
// back and each function runs again in a transaction of its own, so that
// the failure stays its own. (Savepoints would avoid running the others
// twice, but SQLite copies every page a savepoint touches to a
// sub-journal: they cost more than the transactions saved.)
func (s *Store) groupTx(taken []*groupReq, errs []error) error {
	if len(taken) > 1 {
		failed := false
		err := s.runTx(func(t *Tx) error {
			for _, r := range taken {
				if err := r.ctx.Err(); err != nil {
					failed = true
					return err
				}
				if err := r.f(t); err != nil {
					failed = true
					return err
				}
			}
			return nil
		})
		if !failed {
			return err
		}
	}
	for i, r := range taken {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		var own bool
		err := s.runTx(func(t *Tx) error {
			err := r.f(t)
			own = err != nil
			return err
		})
		if own || err != nil {
			errs[i] = err
		}
	}
	return nil
}

// runTx runs f in one transaction of the writer's (InTx: on SQLite it
// waits for the store's write slot like any writer) and commits it.
func (s *Store) runTx(f func(*Tx) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	return s.InTx(ctx, f)
}
