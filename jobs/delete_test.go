package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/store"
)

// A timed job deleted in a transaction that rolls back is still there and
// runs; one deleted in a transaction that commits is gone and never runs.
func TestDeleteTx(t *testing.T) { eachBackend(t, testDeleteTx) }
func testDeleteTx(t *testing.T, dsn string) {
	ctx := context.Background()
	st, q, r := noteQueue(t, dsn)
	at := &jobs.EnqueueOpts{RunAt: time.Now().Add(time.Second), Unique: true}
	kept, err := q.Enqueue(ctx, noteArgs{Name: "kept"}, at)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := q.Enqueue(ctx, noteArgs{Name: "gone"}, at)
	if err != nil {
		t.Fatal(err)
	}
	rollback := errors.New("roll back")
	if err := st.InTx(ctx, func(tx *store.Tx) error {
		if err := q.DeleteTx(ctx, tx, kept.ID); err != nil {
			return err
		}
		return rollback
	}); !errors.Is(err, rollback) {
		t.Fatalf("InTx: %v", err)
	}
	if err := st.InTx(ctx, func(tx *store.Tx) error { return q.DeleteTx(ctx, tx, gone.ID) }); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Get(ctx, gone.ID); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("Get of the deleted job: %v, want ErrNotFound", err)
	}
	if err := st.InTx(ctx, func(tx *store.Tx) error { return q.DeleteTx(ctx, tx, gone.ID) }); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("DeleteTx of no job: %v, want ErrNotFound", err)
	}
	start(t, q)
	r.wait(t, "kept")
	waitState(t, q, kept.ID, jobs.Completed)
	time.Sleep(300 * time.Millisecond) // the deleted one was due with it
	if n := r.count("gone"); n != 0 {
		t.Fatalf("the deleted job ran %d times", n)
	}
}
