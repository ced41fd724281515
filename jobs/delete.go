package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/semnat/semnat/store"
)

// ErrRunning: the job is running now, so it was not deleted.
var ErrRunning = errors.New("jobs: the job is running")

// DeleteTx deletes a job that has not started in tx: it is gone if and
// only if tx commits (a timed job made needless by the change tx makes:
// cheaper than letting it run to find nothing to do, and than cancelling
// it, which keeps the row). ErrNotFound when there is no such job,
// ErrRunning when it is running (it is left alone).
func (q *Queue) DeleteTx(ctx context.Context, tx *store.Tx, id int64) error {
	_, err := q.client.JobDeleteTx(ctx, tx.SQLTx(), id)
	switch {
	case errors.Is(err, river.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, rivertype.ErrJobRunning):
		return ErrRunning
	case err != nil:
		return fmt.Errorf("jobs: delete: %w", err)
	}
	return nil
}
