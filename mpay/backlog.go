package mpay

// After an SP was down, its confirmations wait for their retries, whose
// back-off grows to Config.RetryMax (5 minutes by default): left alone, a
// backlog would drain no faster than those retries come due. When a
// delivery to the SP succeeds again, a drain job brings the SP's waiting
// confirmations forward to run now, in batches, so that the backlog drains
// as fast as MPay's workers and the SP take it.

import (
	"context"
	"sync"
	"time"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/store"
)

// DrainArgs is the job that brings an SP's waiting confirmations forward
// once the SP acknowledges again.
type DrainArgs struct {
	ServiceID string `json:"serviceID"`
}

// Kind names the job.
func (DrainArgs) Kind() string { return "mpay.drain" }

// backlog is what this process knows of its deliveries per SP. It is a
// hint, not the state of the drains: those are river jobs in the store,
// one unfinished drain per SP among all the instances sharing it.
type backlog struct {
	failing  sync.Map // ServiceID → true: a delivery failed since the last success
	enqueued sync.Map // ServiceID → time.Time: when this process last asked for a drain
}

// drainAttempts bounds the runs of a drain that fails (the store
// refused): after them it is discarded, and the next acknowledged retry
// asks for a new one.
const drainAttempts = 10

// The waiting confirmations of an SP: those that failed (next_attempt is
// set when one fails, cleared when acknowledged) and are not acknowledged.
// A lookup by the job's payment, so that a batch costs the same whatever
// the size of the backlog (jobs.RunNowTx).
const waitingOfSP = `EXISTS (SELECT 1 FROM mpay_payments p JOIN mpay_invoices i ON i.id = p.invoice_id
	WHERE p.id = river_job.args->>'paymentID' AND p.next_attempt IS NOT NULL AND p.confirmed_at = 0 AND i.service_id = ?)`

// drainPause is how often a drain looks whether the workers need more.
const drainPause = 25 * time.Millisecond

// drainSettle is how long a drain goes on looking after it found no
// waiting confirmation: a delivery that failed just before the SP came
// back is recorded as failed (retryable) by river a moment after its
// attempt ended.
const drainSettle = time.Second

// deliveryFailed notes that a delivery to the SP failed: a drain stops.
func (s *Service) deliveryFailed(serviceID string) { s.backlog.failing.Store(serviceID, true) }

// deliveryAcknowledged starts a drain of the SP's waiting confirmations
// when this delivery had failed before or another one to the SP failed
// since the last success: the SP answers again. The drain job is unique
// per SP among the unfinished jobs of all instances (river's uniqueness
// in the store), so a drain run by another instance, or one that failed
// for good, does not keep the next one out. A retry acknowledged during
// a drain asks again at most once per drainSettle (the drain then running
// is found a duplicate): every moved confirmation would otherwise cost
// an insert. The job is durable: a drain cut short by a stop goes on at
// the next start.
func (s *Service) deliveryAcknowledged(ctx context.Context, serviceID string, attempt int) {
	_, failed := s.backlog.failing.LoadAndDelete(serviceID)
	if !failed && attempt <= 1 {
		return
	}
	now := time.Now()
	if last, ok := s.backlog.enqueued.Load(serviceID); ok && !failed && now.Sub(last.(time.Time)) < drainSettle {
		return
	}
	s.backlog.enqueued.Store(serviceID, now)
	if _, err := s.queue.Enqueue(context.WithoutCancel(ctx), DrainArgs{ServiceID: serviceID},
		&jobs.EnqueueOpts{UniqueStates: jobs.Unfinished(), MaxAttempts: drainAttempts}); err != nil {
		s.backlog.enqueued.Delete(serviceID)
		s.log.Error("mpay: scheduling the drain of an SP's waiting confirmations", "service", serviceID, "err", err)
	}
}

// drain brings the SP's waiting confirmations forward in batches: a batch
// when fewer than two rounds of the workers are ready, until none waits,
// a delivery to the SP fails again, or the job's time is nearly up (then
// it goes on as a new run of the job).
func (s *Service) drain(ctx context.Context, j *jobs.Job[DrainArgs]) error {
	svc := j.Args.ServiceID
	kind := ConfirmArgs{}.Kind()
	low, batch := 2*s.cfg.Workers, 5*s.cfg.Workers
	until := time.Now().Add(s.cfg.CallTimeout)
	moved := 0
	var empty time.Time // when the last batch found nothing, zero: it found some
	for {
		if _, failing := s.backlog.failing.Load(svc); failing {
			s.log.Info("mpay: drain stopped, the SP fails again", "service", svc, "moved", moved)
			return nil
		}
		ready, err := s.queue.Ready(ctx, low)
		if err != nil {
			return err
		}
		if ready < low {
			var n int
			if err := s.cfg.Store.InTx(ctx, func(tx *store.Tx) (err error) {
				n, err = s.queue.RunNowTx(ctx, tx, kind, waitingOfSP, batch-ready, svc)
				return err
			}); err != nil {
				return err
			}
			moved += n
			switch {
			case n > 0:
				empty = time.Time{}
			case empty.IsZero():
				empty = time.Now()
			case time.Since(empty) >= drainSettle:
				if moved > 0 {
					s.log.Info("mpay: the SP's waiting confirmations brought forward", "service", svc, "moved", moved)
				}
				return nil
			}
		}
		if time.Now().After(until) {
			return jobs.Snooze(0)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(drainPause):
		}
	}
}
