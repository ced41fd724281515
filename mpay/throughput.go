package mpay

// The parts of MPay that are there for its throughput: the settle job a
// settled payment does not need, the pool of connections to SPs, and how
// often its job queue fetches.

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/store"
)

// A payment's settle job (SettleArgs) is enqueued with the payment, for
// the case the payer's request does not settle it (the process stopped
// while the processor was asked). When the request does settle it at
// once (a card approved or declined), the job is deleted in the same
// transaction: it would only have found the payment settled, and running
// it cost river a schedule, a fetch and a completion per payment. Should
// the process stop before that transaction commits, the job is there and
// runs, as before.

type settleJobKey struct{}

// withSettleJob marks ctx as the payer's request that started the payment
// whose settle job is id (0: none known).
func withSettleJob(ctx context.Context, id int64) context.Context {
	if id == 0 {
		return ctx
	}
	return context.WithValue(ctx, settleJobKey{}, id)
}

// dropSettleJob deletes in tx the settle job named by ctx, if any: tx
// settles the payment for good. A job already running is left to find
// the payment settled.
func (s *Service) dropSettleJob(ctx context.Context, tx *store.Tx) error {
	id, _ := ctx.Value(settleJobKey{}).(int64)
	if id == 0 {
		return nil
	}
	if err := s.queue.DeleteTx(ctx, tx, id); err != nil && !errors.Is(err, jobs.ErrNotFound) && !errors.Is(err, jobs.ErrRunning) {
		return err
	}
	return nil
}

// fetchCooldown is the least time between two fetches of MPay's ready
// jobs: with Config.Workers it bounds how fast a backlog of confirmations
// drains (river's default, 100 ms, held 16 workers to 160 a second).
const fetchCooldown = 10 * time.Millisecond

// defaultHTTP is the client for SPs when Config.HTTP is nil: up to 10 s a
// call, and enough idle connections kept per SP for the deliveries and
// pulls that run at once (the default transport keeps 2, so most calls to
// a busy SP opened a new connection).
func defaultHTTP() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Timeout: 10 * time.Second, Transport: t}
}
