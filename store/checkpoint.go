package store

// Checkpoints of a SQLite store's write-ahead log, mostly outside the
// write slot.
//
// In WAL mode a commit appends the pages it changed to the log; a
// checkpoint copies them back into the database file (fsyncing the log
// before and the file after) so that the log can start over. SQLite runs
// one by itself after the commit that takes the log past 1,000 pages:
// inside that writer's COMMIT call, i.e. while the store's write slot is
// held, with every other writer of the store and of its job queue
// waiting. While MPay drained a backlog of 100,000 confirmations, those
// checkpoints were 6.5% of the process's CPU, all of it in the serial
// part. A PASSIVE checkpoint needs no write lock (writers go on appending
// while it copies), so the store runs them on a goroutine of its own,
// woken when a write gives the slot back, at most once per
// checkpointEvery: it copies the log while the writers go on, then what
// they appended meanwhile with the slot held, so that the checkpoint is
// complete and the next writer starts the log over (one that writers
// keep overtaking never completes, and the log would only grow). The
// writers' own automatic checkpoint stays, at checkpointBackstop pages, so
// that the log stays bounded if the checkpointer falls behind.
//
// Durability does not change: a commit is as durable as before
// (synchronous=NORMAL, the log fsynced at each checkpoint); the log is now
// checkpointed within checkpointEvery of a write instead of when it
// reaches 1,000 pages, however long that takes.

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// checkpointEvery is the least time between two checkpoints of the
// checkpointer (each fsyncs the log and the file, the last part with the
// slot held): under MPay's drain of a backlog, a log of a few thousand
// pages, which rewrites its busiest pages once instead of several times.
const checkpointEvery = 100 * time.Millisecond

// checkpointBackstop is the log's size in pages at which a writer's commit
// checkpoints it anyway (SQLite's wal_autocheckpoint; 40 MB of 4 KB pages).
const checkpointBackstop = 10000

type checkpointer struct {
	wake chan struct{} // nil: no checkpointer (PostgreSQL, in-memory)
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex   // held by a checkpoint (Sweep's too)
	runs atomic.Int64 // checkpoints made (tests)
}

// start starts checkpointing db's log in the background; slot is the
// store's write slot.
func (c *checkpointer) start(db *sql.DB, slot chan struct{}) {
	c.wake = make(chan struct{}, 1)
	c.stop = make(chan struct{})
	c.done = make(chan struct{})
	go c.loop(db, slot)
}

// poke tells the checkpointer that a write committed (or gave up).
func (c *checkpointer) poke() {
	if c.wake == nil {
		return
	}
	select {
	case c.wake <- struct{}{}:
	default: // it will look anyway
	}
}

func (c *checkpointer) loop(db *sql.DB, slot chan struct{}) {
	defer close(c.done)
	var last time.Time
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		if d := checkpointEvery - time.Since(last); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-c.stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
		last = time.Now()
		c.checkpoint(db, slot)
	}
}

// checkpoint copies the log into the database file while the writers go
// on, then what they appended meanwhile with the write slot held: even
// when the first pass copied everything, a writer that began before it
// ended appends to the old log, and the log starts over only at a writer
// that begins after a complete checkpoint. A failure (the store closing)
// is left to the next write's wake: the writers' backstop keeps the log
// bounded meanwhile.
func (c *checkpointer) checkpoint(db *sql.DB, slot chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	// PASSIVE: as much as the readers allow, without waiting.
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		return
	}
	select {
	case slot <- struct{}{}:
	case <-c.stop:
		return
	}
	defer func() { <-slot }() // not a write: no wake
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err == nil {
		c.runs.Add(1)
	}
}

// close stops the checkpointer and waits for it (Store.Close; once).
func (c *checkpointer) close() {
	if c.stop == nil {
		return
	}
	close(c.stop)
	<-c.done
	c.stop = nil
}
