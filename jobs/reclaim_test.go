package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/store"
)

// TestReclaimAfterDeath: an instance that died (SIGKILL) left a job
// running and river's leadership held. Started again under the same
// Instance name, it runs that job at once (not an hour later, at
// RescueAfter) and leads at once (a timed job runs), while a job another
// instance left running is not touched.
func TestReclaimAfterDeath(t *testing.T) { eachBackend(t, testReclaimAfterDeath) }
func testReclaimAfterDeath(t *testing.T, dsn string) {
	st := openStore(t, dsn)
	ctx := context.Background()
	opts := fast()
	opts.Instance = "host:/data"
	dead := newQueue(t, st, opts)
	if err := jobs.Register(dead, newRuns().worker()); err != nil {
		t.Fatal(err)
	}
	mine, err := dead.Enqueue(ctx, noteArgs{Name: "mine"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := dead.Enqueue(ctx, noteArgs{Name: "theirs"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// What the dead run left: two jobs running, its leadership for an hour.
	by, leaderExpires := `jsonb(?)`, `datetime('now', '+1 hour')`
	me, other := `["host:/data/test"]`, `["other:/data/test"]`
	if st.Backend() == "postgres" {
		by, leaderExpires = `?::text[]`, `now() + interval '1 hour'`
		me, other = `{host:/data/test}`, `{other:/data/test}`
	}
	err = st.InTx(ctx, func(tx *store.Tx) error {
		for id, who := range map[int64]string{mine.ID: me, theirs.ID: other} {
			if _, err := tx.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_by = `+by+` WHERE id = ?`, who, id); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO river_leader (leader_id, elected_at, expires_at) VALUES (?, `+leaderExpires+`, `+leaderExpires+`)`, "host:/data/test")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	q := newQueue(t, st, opts)
	r := newRuns()
	if err := jobs.Register(q, r.worker()); err != nil {
		t.Fatal(err)
	}
	start(t, q)
	r.wait(t, "mine")
	if _, err := q.Enqueue(ctx, noteArgs{Name: "timed"}, &jobs.EnqueueOpts{RunAt: time.Now().Add(200 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	r.wait(t, "timed") // scheduled by the leader: this instance
	if n := r.count("theirs"); n != 0 {
		t.Errorf("another instance's running job was run %d times", n)
	}
	if in, err := q.Get(ctx, theirs.ID); err != nil || in.State != jobs.Running {
		t.Errorf("another instance's job: %+v %v", in, err)
	}
}
