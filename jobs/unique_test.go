package jobs_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/semnat/semnat/jobs"
)

type failArgs struct {
	Name string `json:"name"`
}

func (failArgs) Kind() string { return "test.fail" }

// A job unique over its unfinished states keeps a second one out while it
// waits or runs, but not after it completed or failed for good: one at a
// time, where plain Unique is one ever (until river's cleaner removes the
// finished row).
func TestUniqueWhileUnfinished(t *testing.T) { eachBackend(t, testUniqueWhileUnfinished) }
func testUniqueWhileUnfinished(t *testing.T, dsn string) {
	ctx := context.Background()
	st := openStore(t, dsn)
	q := newQueue(t, st, fast())
	r := newRuns()
	if err := jobs.Register(q, r.worker()); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Register(q, jobs.WorkFunc(func(context.Context, *jobs.Job[failArgs]) error { return errors.New("always fails") })); err != nil {
		t.Fatal(err)
	}
	live := &jobs.EnqueueOpts{UniqueStates: jobs.Unfinished()}
	enqueue := func(args jobs.Args, o *jobs.EnqueueOpts) jobs.Enqueued {
		t.Helper()
		e, err := q.Enqueue(ctx, args, o)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	a := enqueue(noteArgs{Name: "drain"}, live)
	if b := enqueue(noteArgs{Name: "drain"}, live); !b.Duplicate || b.ID != a.ID {
		t.Fatalf("second while the first waits: %+v, want a duplicate of %d", b, a.ID)
	}
	ever := enqueue(noteArgs{Name: "once"}, &jobs.EnqueueOpts{Unique: true})
	f := enqueue(failArgs{Name: "x"}, &jobs.EnqueueOpts{UniqueStates: jobs.Unfinished(), MaxAttempts: 1})
	start(t, q)
	waitState(t, q, a.ID, jobs.Completed)
	waitState(t, q, ever.ID, jobs.Completed)
	waitState(t, q, f.ID, jobs.Discarded)

	if c := enqueue(noteArgs{Name: "drain"}, live); c.Duplicate || c.ID == a.ID {
		t.Fatalf("after the first completed: %+v, want a new job", c)
	}
	if c := enqueue(failArgs{Name: "x"}, live); c.Duplicate {
		t.Fatalf("after the first was discarded: %+v, want a new job", c)
	}
	if c := enqueue(noteArgs{Name: "once"}, &jobs.EnqueueOpts{Unique: true}); !c.Duplicate {
		t.Fatalf("plain Unique after completion: %+v, want a duplicate (one ever)", c)
	}
	_, err := q.Enqueue(ctx, noteArgs{Name: "bad"}, &jobs.EnqueueOpts{UniqueStates: []jobs.State{jobs.Available}})
	if err == nil || !strings.Contains(err.Error(), "running") {
		t.Fatalf("states without Running: %v, want an error naming the missing states", err)
	}
}
