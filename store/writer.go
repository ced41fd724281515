package store

import (
	"context"
	"fmt"
)

// The single writer of a SQLite store.
//
// SQLite lets one transaction write at a time; the others wait in BEGIN
// IMMEDIATE, where SQLite's busy handler sleeps and tries again (1 ms
// growing to 100 ms) until busy_timeout (10 s). That wait is not a queue:
// under many writers at once (MPay's payers and deliveries) a writer can
// lose every retry to newcomers and fail after 10 s while the database is
// busy but healthy. The store's own write transactions (InTx, Update, the
// audit log's batches) therefore queue in the process first, on a channel
// of one slot, and BEGIN only when they are first in line: they then wait
// only for writers outside that queue (river's job fetches, another
// process on the same file), which are few. The wait in the queue ends
// with the caller's context. PostgreSQL locks rows, not the database: its
// writers do not queue here.

// writeSlot waits for the store's write slot (SQLite); release gives it
// back. For PostgreSQL it returns at once.
func (s *Store) writeSlot(ctx context.Context) (release func(), err error) {
	if s.writer == nil {
		return func() {}, nil
	}
	select {
	case s.writer <- struct{}{}:
		return func() { <-s.writer; s.ckpt.poke() }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("store: waiting to write: %w", ctx.Err())
	}
}
