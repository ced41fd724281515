package jobs

import (
	"context"
	"fmt"

	"github.com/semnat/semnat/store"
)

// RunNowTx makes up to limit jobs of kind in q's queue run now: jobs that
// wait for their retry's back-off (retryable, taken first) or their RunAt
// (scheduled) and for which filter holds become available, each state's
// in the order they were due (by priority). It is river's JobRetry for
// many jobs: running and finished jobs are not touched, and attempts are
// kept. filter is an SQL condition on river's job row (e.g. on
// `river_job.args->>'paymentID'`, which both PostgreSQL and SQLite read),
// with ? placeholders bound to fargs; never build it of input. It returns
// how many jobs it moved; they run if and only if tx commits.
//
// The jobs are read in the order of river's fetching index (state, queue,
// priority, scheduled_at, id), so a call stops after about limit matching
// rows instead of reading and sorting every waiting job: keep filter a
// lookup per row (EXISTS on a key, not IN over a large set), and a batch
// costs the same whatever the size of the backlog.
//
// The queue's Workers bound how many of them run at once: moving many is
// no stampede, but a caller draining a large backlog moves it in batches
// (see Ready), so that the jobs enqueued meanwhile are not put behind all
// of it and no transaction holds a large part of the table.
func (q *Queue) RunNowTx(ctx context.Context, tx *store.Tx, kind, filter string, limit int, fargs ...any) (int, error) {
	now := q.nowSQL()
	if filter == "" {
		filter = "TRUE"
	}
	moved := 0
	for _, state := range []State{Retryable, Scheduled} {
		if limit-moved <= 0 {
			break
		}
		args := append([]any{string(state), q.queue, kind}, fargs...)
		args = append(args, limit-moved)
		res, err := tx.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = `+now+`
			WHERE id IN (SELECT id FROM river_job WHERE state = ? AND queue = ? AND kind = ? AND (`+filter+`)
				ORDER BY priority, scheduled_at, id LIMIT ?)`, args...)
		if err != nil {
			return moved, fmt.Errorf("jobs: making %s jobs run now: %w", kind, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return moved, fmt.Errorf("jobs: making %s jobs run now: %w", kind, err)
		}
		moved += int(n)
	}
	return moved, nil
}

// Ready counts the jobs in q's queue that are available and due (waiting
// for a worker now), of any kind, up to upTo. It reads only river's
// fetching index (state, queue, …, scheduled_at), never the jobs' rows,
// and stops at upTo, so that asking costs the same however many jobs
// wait and however large the table is. (Counting by kind read the row of
// every available job: while MPay drained 100,000 confirmations, its
// drain's check every 25 ms was a sixth of the process's CPU, mostly
// SQLite reading pages of river_job that no longer fitted its page
// cache.) Jobs of every kind take the queue's workers, so this is what a
// caller keeping them busy wants.
//
// Only jobs already due count: river's scheduler makes the retries and
// timed jobs due before its next run (5 s) available ahead of their
// time, and its workers do not fetch them before it. Counted, they made
// MPay's drain wait with its workers idle whenever the retries of a
// large backlog came due during it (the drain's slow first seconds).
func (q *Queue) Ready(ctx context.Context, upTo int) (int, error) {
	var n int
	if err := q.st.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM river_job WHERE state = 'available' AND queue = ? AND scheduled_at <= `+q.nowSQL()+` LIMIT ?) AS ready`, q.queue, upTo).Scan(&n); err != nil {
		return 0, fmt.Errorf("jobs: counting the ready jobs of queue %s: %w", q.queue, err)
	}
	return n, nil
}

// nowSQL is the current time as river writes and compares it in the
// store's database (on SQLite, its JobRetry's and its fetch's text form).
func (q *Queue) nowSQL() string {
	if q.st.Backend() == "postgres" {
		return "now()"
	}
	return "datetime('now', 'subsec')"
}
