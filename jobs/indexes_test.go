package jobs_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// River's scheduler queries on SQLite (riversqlite's JobScheduleGetEligible
// and JobScheduleGetCollision, as river runs them) search an index: before
// jobs.New added semnat_river_job_waiting, the first read every waiting
// job at each run; the second must keep finding river's partial unique
// index (a look-up per unique job made available, not a scan).
func TestSchedulerPlansUseIndexes(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "store.db"))
	newQueue(t, st, fast())
	for name, q := range map[string]string{
		"eligible": `SELECT id, unique_key FROM river_job
			WHERE state IN ('retryable', 'scheduled') AND scheduled_at <= coalesce(cast(? AS text), datetime('now', 'subsec'))
			ORDER BY priority, scheduled_at, id LIMIT ?`,
		"collision": `SELECT id FROM river_job
			WHERE id <> ? AND unique_key = ? AND unique_states IS NOT NULL
				AND CASE state
					WHEN 'available' THEN unique_states & (1 << 0)
					WHEN 'cancelled' THEN unique_states & (1 << 1)
					WHEN 'completed' THEN unique_states & (1 << 2)
					WHEN 'discarded' THEN unique_states & (1 << 3)
					WHEN 'pending'   THEN unique_states & (1 << 4)
					WHEN 'retryable' THEN unique_states & (1 << 5)
					WHEN 'running'   THEN unique_states & (1 << 6)
					WHEN 'scheduled' THEN unique_states & (1 << 7)
					ELSE 0
				END >= 1`,
	} {
		args := []any{nil, 100}
		if name == "collision" {
			args = []any{1, []byte{1, 2}}
		}
		rows, err := st.DB().QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		want := map[string]string{"eligible": "SEARCH river_job USING INDEX semnat_river_job_waiting (state=? AND scheduled_at<?)",
			"collision": "SEARCH river_job USING INDEX river_job_unique_idx (unique_key=?)"}[name]
		if !strings.Contains(p, want) || strings.Contains(p, "SCAN river_job") {
			t.Errorf("%s: plan %q, want %q", name, p, want)
		}
	}
}
