package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/store"
)

// Jobs timed an hour ahead run at once when RunNowTx picks them (by their
// arguments, at most limit of them), and only if its transaction commits;
// the others keep their time.
func TestRunNowTx(t *testing.T) { eachBackend(t, testRunNowTx) }
func testRunNowTx(t *testing.T, dsn string) {
	ctx := context.Background()
	st, q, r := noteQueue(t, dsn)
	later := &jobs.EnqueueOpts{RunAt: time.Now().Add(time.Hour)}
	ids := map[string]int64{}
	for _, name := range []string{"a1", "a2", "a3", "b1"} {
		j, err := q.Enqueue(ctx, noteArgs{Name: name}, later)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = j.ID
	}
	runNow := func(prefix string, limit int) int {
		var n int
		if err := st.InTx(ctx, func(tx *store.Tx) (err error) {
			n, err = q.RunNowTx(ctx, tx, noteArgs{}.Kind(), `args->>'name' LIKE ?`, limit, prefix+"%")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := runNow("a", 2); n != 2 {
		t.Fatalf("RunNowTx moved %d jobs, want 2 (its limit)", n)
	}
	if n, err := q.Ready(ctx, 10); err != nil || n != 2 {
		t.Fatalf("Ready: %d, %v; want 2", n, err)
	}
	if n, err := q.Ready(ctx, 1); err != nil || n != 1 {
		t.Fatalf("Ready up to 1: %d, %v; want 1", n, err)
	}
	start(t, q)
	waitState(t, q, ids["a1"], jobs.Completed) // in either order
	waitState(t, q, ids["a2"], jobs.Completed)
	if n := runNow("a", 10); n != 1 {
		t.Fatalf("RunNowTx moved %d jobs, want the 1 left (not the finished ones)", n)
	}
	waitState(t, q, ids["a3"], jobs.Completed)
	if n := runNow("a", 10); n != 0 {
		t.Fatalf("RunNowTx moved %d finished jobs", n)
	}
	if in, err := q.Get(ctx, ids["b1"]); err != nil || in.State != jobs.Scheduled || r.count("b1") != 0 {
		t.Fatalf("the job not picked: %+v, %v, ran %d times", in, err, r.count("b1"))
	}
}

// Ready counts only jobs that are due: river's scheduler makes a job due
// within its next run available ahead of its time, and no worker fetches
// it before then (MPay's drain waited on such jobs with its workers idle).
func TestReadyOnlyDue(t *testing.T) { eachBackend(t, testReadyOnlyDue) }
func testReadyOnlyDue(t *testing.T, dsn string) {
	ctx := context.Background()
	st, q, _ := noteQueue(t, dsn)
	ahead, err := q.Enqueue(ctx, noteArgs{Name: "ahead"}, &jobs.EnqueueOpts{RunAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// As river's scheduler leaves a job it looked ahead to: available, its
	// time not yet come.
	if err := st.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE river_job SET state = 'available' WHERE id = ?`, ahead.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Ready(ctx, 10); err != nil || n != 0 {
		t.Fatalf("Ready with only a job not yet due: %d, %v; want 0", n, err)
	}
	if _, err := q.Enqueue(ctx, noteArgs{Name: "due"}, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Ready(ctx, 10); err != nil || n != 1 {
		t.Fatalf("Ready with a due job and one not yet due: %d, %v; want 1", n, err)
	}
}
