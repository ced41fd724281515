package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"sync/atomic"
	"time"
)

// Group commit of the audit log.
//
// Store.Append does not open a transaction of its own: it hands its event
// to the store's audit writer, one goroutine that takes every event waiting
// at that moment (up to maxBatch) and appends them in one transaction, one
// after the other on the one hash chain, then answers each caller. While a
// batch commits the next one gathers, so that many appends at once cost a
// few transactions instead of one each, and no two of this store's
// appends wait for each other's database lock.
//
// The durability contract is the one of a transaction of its own:
//   - Append returns nil only once its entry is committed, as durable as
//     any commit of the store (SQLite in WAL mode with synchronous=NORMAL:
//     it survives a crash of the process; PostgreSQL: synchronous_commit).
//     A service that answers after Append (a check) never answers about a
//     question the log does not hold.
//   - Append returns an error when its entry is not in the log: its own
//     transaction failed (when a batch's transaction fails, nothing of it
//     is written and its events are tried again one transaction each, so
//     that an event the database refuses fails alone), or the caller's
//     context had ended, or ended while the event still waited, or the
//     store is closed.
//   - Once the writer has taken an event into a batch, Append waits for
//     that batch's commit even if the caller's context ends, so that its
//     answer is never wrong about whether the entry was recorded.
//
// Several stores on one PostgreSQL database (several instances) each have
// their writer; their batches take the audit table's lock in turn, so the
// log stays one chain.

// maxBatch bounds the events of one audit transaction.
const maxBatch = 1024

// insertRows is how many entries one INSERT statement writes at most (9
// parameters each: well under both databases' limits); a power of two
// (insertEntries).
const insertRows = 64

// batchTimeout bounds one batch's transaction.
const batchTimeout = 30 * time.Second

// ErrClosed: the store is closed.
var ErrClosed = errors.New("store: closed")

// appendReq is one event waiting for the audit writer.
type appendReq struct {
	e       Event
	details string
	guard   *Guard // nil: none (auditguard.go)
	// state: 0 waiting, 1 taken by the writer, 2 given up by the caller.
	state atomic.Int32
	// res is the outcome, written by the writer before it signals done
	// (a channel of struct{} is one allocation, a buffered channel of
	// appendResult, which holds pointers, two).
	res  appendResult
	done chan struct{}
}

// answer gives r its outcome.
func (r *appendReq) answer(res appendResult) {
	r.res = res
	r.done <- struct{}{}
}

// newAppendReq is a request for e, with its encoded details.
func newAppendReq(e Event, details string, g *Guard) *appendReq {
	return &appendReq{e: e, details: details, guard: g, done: make(chan struct{}, 1)}
}

type appendResult struct {
	ent *Entry
	err error
}

// auditWriter is the store's group-commit writer, started by the first
// Append.
type auditWriter struct {
	batcher[*appendReq]
	batches atomic.Int64 // transactions written (tests)
}

// enqueue hands r to the writer (starting it if needed).
func (s *Store) enqueue(ctx context.Context, r *appendReq) error {
	if err := s.audit.send(ctx, r, maxBatch, s.writeBatch); err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// closeAudit stops the writer once it has written every event enqueued.
func (s *Store) closeAudit() { s.audit.close() }

// writeBatch appends the events of batch that their callers still wait
// for, in one transaction, and answers each.
func (s *Store) writeBatch(batch []*appendReq) {
	taken := batch[:0:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(0, 1) {
			taken = append(taken, r)
		}
	}
	if len(taken) == 0 {
		return
	}
	res, err := s.appendBatch(taken)
	s.audit.batches.Add(1)
	if err != nil && len(taken) > 1 {
		// One event the database refuses fails alone: the others are
		// tried again, one transaction each.
		for _, r := range taken {
			res, err := s.appendBatch([]*appendReq{r})
			if err != nil {
				r.answer(appendResult{err: err})
			} else {
				r.answer(res[0])
			}
		}
		return
	}
	for i, r := range taken {
		if err != nil {
			r.answer(appendResult{err: err})
		} else {
			r.answer(res[i])
		}
	}
}

// appendBatch writes the events of rs at the end of the chain in one
// transaction, except those whose guard does not hold (their result is a
// *GuardError).
func (s *Store) appendBatch(rs []*appendReq) ([]appendResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	release, err := s.writeSlot(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	defer release()
	if s.d.name == "sqlite" {
		// The transaction's statements run without the batch's deadline:
		// SQLite bounds their only wait, for a lock another process
		// holds, by busy_timeout (10 s, under batchTimeout), and the pool
		// has no limit to wait for. With a deadline the driver started a
		// goroutine to watch it for every statement (BEGIN, the chain's
		// end, each INSERT, COMMIT).
		ctx = context.Background()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	defer tx.Rollback()
	res := make([]appendResult, len(rs))
	prev, last, err := s.chainEndGuards(ctx, tx, rs, res)
	if err != nil {
		return nil, err
	}
	at := s.now().UTC()
	ents := make([]*Entry, 0, len(rs))
	for i, r := range rs {
		if res[i].err != nil {
			continue
		}
		ent := &Entry{Seq: last + 1 + int64(len(ents)), At: at, Event: r.e, PrevHash: prev, rawDetails: r.details}
		ent.Hash = entryHash(prev, ent.Seq, ent.At, r.e.Actor, r.e.Action, r.e.Subject, r.e.Digest, r.details)
		ents, prev = append(ents, ent), ent.Hash
		res[i].ent = ent
	}
	if err := s.insertEntries(ctx, tx, ents); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	return res, nil
}

// insertEntries writes ents; on PostgreSQL with one INSERT of arrays
// (insertEntryArrays, one round trip), on SQLite with one INSERT of
// exactly their number up to exactRows, and beyond it with a few (see
// insertChunk): a statement of each of a fixed few numbers of rows is
// prepared once and kept (txStmt), where an INSERT of exactly len(ents)
// rows for any number was a new text, parsed again, for nearly every
// batch (a tenth of an audited check's CPU on SQLite).
//
// On SQLite the INSERT is OR FAIL: a failing row stops the statement
// without undoing the rows before it, which the transaction's rollback
// does anyway (a batch is all or nothing). OR ABORT, the default, made
// SQLite keep a statement journal for every multi-row INSERT (a copy of
// each page it touched, in memory it mapped and unmapped each time): a
// tenth of an audited check's CPU.
func (s *Store) insertEntries(ctx context.Context, tx *sql.Tx, ents []*Entry) error {
	if s.d.name == "postgres" {
		return s.insertEntryArrays(ctx, tx, ents)
	}
	args := make([]any, 0, 9*min(len(ents), insertRows))
	var b entryBoxes
	for len(ents) > 0 {
		n := insertChunk(len(ents))
		args = b.appendArgs(args[:0], ents[:n])
		if _, err := s.txStmt(ctx, tx, sqliteInserts[n]).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("store: audit: %w", err)
		}
		ents = ents[n:]
	}
	return nil
}

// entryBoxes turns entries into INSERT arguments, boxing each value into
// an interface once per run of equal values: converting a string, a slice
// or an int64 to an interface allocates, and the entries of one batch
// mostly share their time, actor, action and details, and each entry's
// previous hash is the entry before's hash. The arguments hold the same
// values as boxing every one, so the stored bytes are the same.
type entryBoxes struct {
	at                             boxOf[int64]
	actor, action, subject, digest boxOf[string]
	details                        boxOf[string]
	hash                           []byte // the last entry's hash
	hashBox                        any    // hash, boxed
}

// appendArgs appends the 9 arguments of each entry of ents to args.
func (b *entryBoxes) appendArgs(args []any, ents []*Entry) []any {
	for _, e := range ents {
		prev := b.hashBox
		if prev == nil || !bytes.Equal(e.PrevHash, b.hash) {
			prev = e.PrevHash
		}
		b.hash, b.hashBox = e.Hash, e.Hash
		args = append(args, e.Seq, b.at.box(e.At.UnixNano()), b.actor.box(e.Actor), b.action.box(e.Action),
			b.subject.box(e.Subject), b.digest.box(e.Digest), b.details.box(e.rawDetails), prev, b.hashBox)
	}
	return args
}

// boxOf keeps the last value it boxed.
type boxOf[T comparable] struct {
	v     T
	boxed any // v, boxed; nil before the first
}

// box returns v as an interface, the one of the last call if v is equal.
func (b *boxOf[T]) box(v T) any {
	if b.boxed == nil || v != b.v {
		b.v, b.boxed = v, v
	}
	return b.boxed
}

// exactRows is the number of entries up to which one INSERT of exactly
// that many rows writes them (a batch of an audited check at 32 clients
// holds 10 to 15): with only powers of two, a batch of 15 took 4 INSERTs.
const exactRows = 16

// insertChunk is how many of n entries insertEntries' next INSERT writes:
// all of them up to exactRows, else the largest power of two up to
// insertRows.
func insertChunk(n int) int {
	if n <= exactRows {
		return n
	}
	return 1 << (bits.Len(uint(min(n, insertRows))) - 1)
}

// sqliteInserts[n] is SQLite's INSERT of n audit entries, for each n that
// insertChunk returns.
var sqliteInserts = func() (q [insertRows + 1]string) {
	for n := 1; n <= insertRows; n++ {
		if n <= exactRows || n&(n-1) == 0 {
			q[n] = sqliteDialect.insertAudit + strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?), ", n-1) + "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
		}
	}
	return q
}()

// txStmt runs q in tx, as the store's prepared statement where it keeps
// one (SQLite; see prepared): database/sql keeps it prepared on each
// connection that ran it, so that its text is parsed once per connection
// instead of once per audit batch.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, q string) txStatement {
	if st := s.prepared(ctx, q); st != nil {
		return tx.StmtContext(ctx, st)
	}
	return txText{tx, s.d.rebind(q)}
}

// txStatement is a statement of a transaction: a *sql.Stmt or a text.
type txStatement interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, args ...any) *sql.Row
}

// txText is a statement run by its text in a transaction.
type txText struct {
	tx *sql.Tx
	q  string
}

func (t txText) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.q, args...)
}

func (t txText) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.q, args...)
}

// insertEntryArrays writes ents with one INSERT of one array per column
// (PostgreSQL): one statement text, one round trip, for any number.
func (s *Store) insertEntryArrays(ctx context.Context, tx *sql.Tx, ents []*Entry) error {
	seq, at := make([]int64, len(ents)), make([]int64, len(ents))
	var text [5][]string
	for i := range text {
		text[i] = make([]string, len(ents))
	}
	prev, hash := make([][]byte, len(ents)), make([][]byte, len(ents))
	for i, e := range ents {
		seq[i], at[i] = e.Seq, e.At.UnixNano()
		text[0][i], text[1][i], text[2][i], text[3][i], text[4][i] = e.Actor, e.Action, e.Subject, e.Digest, e.rawDetails
		prev[i], hash[i] = e.PrevHash, e.Hash
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit (seq, at, actor, action, subject, digest, details, prev_hash, hash)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[], $9::bytea[])`,
		seq, at, text[0], text[1], text[2], text[3], text[4], prev, hash); err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}
