package jobs

import (
	"context"
	"fmt"

	"github.com/semnat/semnat/store"
)

// reclaim takes back what this instance's previous run held when it died
// (Options.Instance): river's leadership, whose lease would otherwise
// keep every instance from scheduling retries and timed jobs until it
// expires, and the jobs it was running, which river's rescuer would run
// again only RescueAfter later. A job whose last attempt was this
// instance's and is still running cannot be running now: this instance
// has not started yet.
func (q *Queue) reclaim(ctx context.Context) error {
	if q.id == "" {
		return nil
	}
	last := `json_extract(attempted_by, '$[#-1]')` // a JSON array in SQLite
	if q.st.Backend() == "postgres" {
		last = `attempted_by[array_upper(attempted_by, 1)]`
	}
	err := q.st.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM river_leader WHERE leader_id = ?`, q.id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running' AND queue = ? AND `+last+` = ?`, q.queue, q.id)
		return err
	})
	if err != nil {
		return fmt.Errorf("jobs: taking back what instance %s held when it stopped: %w", q.id, err)
	}
	return nil
}
