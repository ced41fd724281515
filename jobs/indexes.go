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
	"database/sql"
	"fmt"
	"slices"

	"github.com/riverqueue/river"

	"github.com/semnat/semnat/store"
)

var sqliteIndexes = []string{
	`CREATE INDEX IF NOT EXISTS semnat_river_job_waiting ON river_job (state, scheduled_at) WHERE state IN ('retryable', 'scheduled')`,
}

// River's two GIN indexes on PostgreSQL, of its jobs' args and metadata
// (river_job_args_index, river_job_metadata_index), serve only river's
// job listing filtered by containment (JobList with Metadata, `@>`),
// which semnat never runs: its own queries read args with ->> (RunNowTx's
// filters, MPay's backlog), which a GIN index does not serve, and river
// itself (fetching, completing, scheduling, unique jobs) uses its other
// indexes. Yet each job's insert and each of its state changes (available,
// running, completed: rows updated in place are not HOT while any index
// is) wrote both: in isolation they doubled an insert's cost. semnat drops
// them after river's migrations on PostgreSQL, under the same lock
// (migrate), and tells river's reindexer not to rebuild them
// (reindexedIndexes); river's own migrations up to v0.51 create them only
// in its initial schema (version 2) and never refer to them again. On a
// river upgrade, check its new migrations for these names.
var droppedPostgresIndexes = []string{"river_job_args_index", "river_job_metadata_index"}

// reindexedIndexes is river's list of indexes its reindexer rebuilds,
// without those semnat dropped on backend.
func reindexedIndexes(backend string) []string {
	names := river.ReindexerIndexNamesDefault()
	if backend != "postgres" {
		return names
	}
	return slices.DeleteFunc(names, func(n string) bool { return slices.Contains(droppedPostgresIndexes, n) })
}

// dropIndexes drops river's indexes semnat does not use on PostgreSQL
// (droppedPostgresIndexes), on conn, which holds the migration lock.
func dropIndexes(ctx context.Context, conn *sql.Conn) error {
	for _, name := range droppedPostgresIndexes {
		if _, err := conn.ExecContext(ctx, `DROP INDEX IF EXISTS `+name); err != nil {
			return fmt.Errorf("jobs: dropping river's unused index %s: %w", name, err)
		}
	}
	return nil
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
