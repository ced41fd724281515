package mpay

// Settling the payments the payer's request did not settle.
//
// A payment left waiting by its request (a 3-D Secure, bank or cash page,
// a delayed approval) gets a settle job (SettleArgs) in the transaction
// that records the wait. A payment whose request never recorded the
// processor's answer (the process stopped between the payment's start
// and its answer) has no job: the settle sweep finds it. The sweep is a
// durable job chain, one job per time slot of SweepEvery: each run
// enqueues the next slot's job, then fails the payments still unanswered
// past the answer deadline, as the processor's time-out. A slot's job is
// unique by its slot, so instances sharing a store run one sweep per slot
// between them, and every start enqueues the current slot's job, which
// mends a broken chain. Settling goes through the ledger's state machine
// (the payment row locked), so a payment settled meanwhile, or by two
// sweeps at once, is settled once.
//
// Before, every payment was started with a settle job, deleted when the
// request settled it: about 1 ms of CPU per payment (river's insert and
// delete) for the rare payment whose process died.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/mpay/cardsim"
	"github.com/semnat/semnat/store"
)

// unansweredSchema indexes the payments still waiting for their
// processor's answer, the ones the sweep looks at.
var unansweredSchema = store.Schema{Name: "mpay", SQLite: unansweredIndex, Postgres: unansweredIndex}

const unansweredIndex = `CREATE INDEX IF NOT EXISTS mpay_payments_unanswered ON mpay_payments (created) WHERE state = 'authorizing';`

// SweepArgs is the settle sweep of one time slot (Unix time divided by
// the sweep's period).
type SweepArgs struct {
	Slot   int64 `json:"slot" river:"unique"`
	Period int64 `json:"period" river:"unique"` // nanoseconds
}

// Kind names the job.
func (SweepArgs) Kind() string { return "mpay.settle-sweep" }

// sweepBatch bounds the payments one sweep settles (the next slot's takes
// the rest).
const sweepBatch = 500

// sweepEvery is how often the sweep runs: a quarter of the answer
// deadline, between 250 ms and 10 s. A payment whose process died is
// failed at most that long after its deadline.
func (s *Service) sweepEvery() time.Duration {
	return min(max(s.answerDeadline()/4, 250*time.Millisecond), 10*time.Second)
}

// startSweep enqueues the current slot's sweep (a duplicate when the
// chain is alive).
func (s *Service) startSweep(ctx context.Context) error {
	if err := s.cfg.Store.CreateSchema(ctx, unansweredSchema); err != nil {
		return err
	}
	p := int64(s.sweepEvery())
	slot := time.Now().UnixNano() / p // the queue's clock, not the store's (tests move that)
	if _, err := s.queue.Enqueue(ctx, SweepArgs{Slot: slot, Period: p}, &jobs.EnqueueOpts{RunAt: time.Unix(0, slot*p), Unique: true}); err != nil {
		return fmt.Errorf("mpay: starting the settle sweep: %w", err)
	}
	return nil
}

// sweepUnanswered enqueues the next slot's sweep, then fails the
// payments unanswered past their deadline.
func (s *Service) sweepUnanswered(ctx context.Context, j *jobs.Job[SweepArgs]) error {
	// The chain goes on in the job's own period (an instance configured
	// otherwise keeps its chain: two chains sweep, harmlessly), on the
	// queue's clock.
	if p := j.Args.Period; p > 0 {
		next := max(j.Args.Slot, time.Now().UnixNano()/p) + 1
		if _, err := s.queue.Enqueue(ctx, SweepArgs{Slot: next, Period: p}, &jobs.EnqueueOpts{RunAt: time.Unix(0, next*p), Unique: true}); err != nil {
			return fmt.Errorf("mpay: the next settle sweep: %w", err)
		}
	}
	now := s.cfg.Store.Now()
	rows, err := s.cfg.Store.Query(ctx, `SELECT id FROM mpay_payments WHERE state = 'authorizing' AND approve_at = 0 AND created < ?
		ORDER BY created LIMIT ?`, now.Add(-s.answerDeadline()).UnixNano(), sweepBatch)
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		_, err := s.settle(ctx, id, cardsim.Result{Outcome: cardsim.TimedOut, Reason: "no answer from the processor"})
		if err != nil && !errors.Is(err, ErrTransition) { // ErrTransition: settled meanwhile
			return err
		}
	}
	return nil
}

// settleWhenDue enqueues, in tx, the settle job of a payment left
// waiting: at its approval time, or when its page is given up.
func (s *Service) settleWhenDue(ctx context.Context, tx *store.Tx, p *Payment) error {
	at := p.ApproveAt
	if p.State == PayChallenge {
		at = p.Created.Add(s.waitFor(p))
	}
	_, err := s.queue.EnqueueTx(ctx, tx, SettleArgs{PaymentID: p.ID}, &jobs.EnqueueOpts{RunAt: at, Unique: true})
	return err
}
