package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/store"
)

// TestEnqueueAtCommit: jobs enqueued at commit by the callers of group
// transactions exist if and only if their caller's writes commit (a
// failing caller's do not, its group's others' do), a unique job is
// inserted once, and each runs once.
func TestEnqueueAtCommit(t *testing.T) { eachBackend(t, testEnqueueAtCommit) }
func testEnqueueAtCommit(t *testing.T, dsn string) {
	st, q, r := noteQueue(t, dsn)
	ctx := context.Background()
	errAbort := errors.New("abort")
	const callers = 40
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := st.InGroupTx(ctx, func(tx *store.Tx) error {
				q.EnqueueAtCommit(tx, noteArgs{Name: fmt.Sprint("job-", i)}, &jobs.EnqueueOpts{Unique: true})
				q.EnqueueAtCommit(tx, noteArgs{Name: fmt.Sprint("job-", i), Seq: 1}, &jobs.EnqueueOpts{Unique: true}) // a duplicate
				if i%4 == 3 {
					return errAbort
				}
				_, err := tx.Exec(ctx, `INSERT INTO items (kind, id, value, expires) VALUES ('note', ?, ?, 0)`, fmt.Sprint(i), []byte{0})
				return err
			})
			if (i%4 == 3) != errors.Is(err, errAbort) || (i%4 != 3 && err != nil) {
				t.Errorf("caller %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	var n int
	if err := st.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = ?`, noteArgs{}.Kind()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != callers*3/4 {
		t.Fatalf("%d jobs inserted, want %d (one per committed caller)", n, callers*3/4)
	}
	start(t, q)
	for ran := 0; ran < n; ran++ {
		select {
		case <-r.ch:
		case <-time.After(20 * time.Second):
			t.Fatalf("%d of %d jobs ran within 20s", ran, n)
		}
	}
	time.Sleep(300 * time.Millisecond) // several polls
	for i := range callers {
		if want := map[bool]int{true: 0, false: 1}[i%4 == 3]; r.count(fmt.Sprint("job-", i)) != want {
			t.Fatalf("job-%d ran %d times, want %d", i, r.count(fmt.Sprint("job-", i)), want)
		}
	}
}
