package jobs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/store"
)

// ConfirmArgs are the arguments of a job: JSON, with a stable kind, and
// the field that makes it unique tagged.
type ConfirmArgs struct {
	PaymentID string `json:"payment_id" river:"unique"`
}

func (ConfirmArgs) Kind() string { return "mpay.confirm" }

func Example() {
	dir, _ := os.MkdirTemp("", "jobs")
	defer os.RemoveAll(dir)
	st, _ := store.Open(filepath.Join(dir, "store.db"), store.Options{})
	defer st.Close()
	ctx := context.Background()

	q, err := jobs.New(ctx, st, jobs.Options{Queue: "mpay", PollInterval: 50 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan string)
	jobs.Register(q, jobs.WorkFunc(func(ctx context.Context, j *jobs.Job[ConfirmArgs]) error {
		done <- j.Args.PaymentID // an error here would retry it with backoff
		return nil
	}))
	// The state change and its job commit together, or neither does.
	err = st.InTx(ctx, func(tx *store.Tx) error {
		// ... tx.Exec(ctx, `UPDATE payments SET state = 'paid' WHERE id = ?`, "P-1")
		_, err := q.EnqueueTx(ctx, tx, ConfirmArgs{PaymentID: "P-1"}, &jobs.EnqueueOpts{Unique: true})
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	q.Start(ctx)
	defer q.Stop(ctx)
	fmt.Println("confirmed", <-done)
	// Output: confirmed P-1
}
