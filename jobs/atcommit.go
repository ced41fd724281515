package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/riverqueue/river"

	"github.com/semnat/semnat/store"
)

// EnqueueAtCommit adds a job in tx as EnqueueTx does (it exists if and
// only if tx commits), but inserts it just before tx commits, with the
// other jobs of this queue enqueued so in tx (a group transaction's
// callers' too: store.InGroupTx) in one statement: on PostgreSQL each
// insert is a round trip and a statement of river's. Whether it was a
// duplicate of a unique job is not told (a unique job enqueued twice in
// one transaction is inserted once, as river would); an error inserting
// the jobs fails the transaction.
func (q *Queue) EnqueueAtCommit(tx *store.Tx, args Args, o *EnqueueOpts) {
	b := tx.Hook(q, func() store.CommitHook { return &atCommit{q: q} }).(*atCommit)
	if o != nil && (o.Unique || o.UniqueStates != nil) {
		// River's one INSERT may not hold two rows of one unique key
		// (PostgreSQL: ON CONFLICT cannot affect a row twice).
		key := uniqueArgs(args)
		if slices.Contains(b.unique, key) {
			return
		}
		b.unique = append(b.unique, key)
	}
	b.jobs = append(b.jobs, river.InsertManyParams{Args: args, InsertOpts: q.insertOpts(o)})
}

// uniqueArgs is a unique job's key among its transaction's: its kind and
// the fields tagged `river:"unique"` (all of them when none is), as
// river's ByArgs.
func uniqueArgs(args Args) string {
	v := reflect.Indirect(reflect.ValueOf(args))
	key := []any{args.Kind()}
	if v.Kind() == reflect.Struct {
		for i := 0; i < v.NumField(); i++ {
			if slices.Contains(strings.Split(v.Type().Field(i).Tag.Get("river"), ","), "unique") {
				key = append(key, v.Type().Field(i).Name, v.Field(i).Interface())
			}
		}
	}
	if len(key) == 1 {
		key = append(key, args)
	}
	b, _ := json.Marshal(key)
	return string(b)
}

// atCommit are the jobs of one queue that a transaction enqueued with
// EnqueueAtCommit.
type atCommit struct {
	q      *Queue
	jobs   []river.InsertManyParams
	unique []string // the keys of its unique jobs
}

func (b *atCommit) BeforeCommit(ctx context.Context, tx *store.Tx) error {
	if len(b.jobs) == 0 {
		return nil
	}
	if _, err := b.q.client.InsertManyTx(ctx, tx.SQLTx(), b.jobs); err != nil {
		return fmt.Errorf("jobs: enqueue %d jobs: %w", len(b.jobs), err)
	}
	b.jobs, b.unique = nil, nil
	return nil
}
