package jobs

// An index river's SQLite schema lacks, for its scheduler.
//
// River's scheduler (run by the leader every few seconds) makes the
// retryable and scheduled jobs whose time came available. On SQLite it
// finds them by `state IN ('retryable', 'scheduled') AND scheduled_at <=
// now`, which river's fetching index (state, queue, priority,
// scheduled_at) serves only by state: every waiting job was read, and
// the due ones sorted, at each run of the scheduler, inside its write
// transaction. While MPay drained a backlog of 100,000 confirmations and
// their retries came due, the scheduler was more than a quarter of the
// process's CPU and the drain fell under 100/s. semnat_river_job_waiting
// (partial: only waiting jobs) makes it a range of the due jobs. It is
// created after river's migrations at each start (IF NOT EXISTS: a river
// migration that rebuilds the table drops it, and the next start makes it
// again). PostgreSQL's planner serves the query from river's own indexes.
// (The scheduler's look-up of a duplicate per unique job uses river's
// partial unique index: SQLite matches its condition.)

import (
	"context"
	"fmt"

	"github.com/semnat/semnat/store"
)

var sqliteIndexes = []string{
	`CREATE INDEX IF NOT EXISTS semnat_river_job_waiting ON river_job (state, scheduled_at) WHERE state IN ('retryable', 'scheduled')`,
}

// addIndexes creates the index above on SQLite.
func addIndexes(ctx context.Context, st *store.Store) error {
	if st.Backend() != "sqlite" {
		return nil
	}
	for _, q := range sqliteIndexes {
		if _, err := st.JobsDB().ExecContext(ctx, q); err != nil {
			return fmt.Errorf("jobs: indexing river's jobs for its scheduler: %w", err)
		}
	}
	return nil
}
