package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Checkpoints of a SQLite store's write-ahead log, away from its commits.
//
// SQLite copies the WAL back into the database file (a checkpoint) in the
// commit that takes the WAL past wal_autocheckpoint pages (1,000 by
// default): that commit then writes the pages and calls fsync twice (the
// WAL, then the database file) before it returns. With the audit log's
// group commit that commit is a batch every caller of which waits: an
// execution trace of MPower's Code-True-One at 32 clients showed the
// audit writer 10 ms in the two fsyncs of one checkpoint, twice a second,
// with every check in flight waiting behind it; that was the slowest
// checks' largest part.
//
// A store with a file therefore checkpoints from a goroutine of its own,
// every checkpointEvery, in two steps:
//   - PASSIVE, outside the store's write slot: it never waits for a lock,
//     and commits go on appending to the WAL while it copies the frames
//     and calls the fsyncs; this is where the work and the waiting are.
//   - Once the WAL holds more than walRestart frames, PASSIVE again inside
//     the write slot, copying what was committed meanwhile (a few frames):
//     SQLite starts the WAL over from its beginning only in a write
//     transaction that finds every frame copied, which a checkpoint racing
//     with commits never leaves; without this step the WAL grew until the
//     backstop made a commit checkpoint again.
// The connections keep SQLite's automatic checkpoint only as a backstop at
// walBackstop pages, for the case where the goroutine falls behind. What a
// commit guarantees is unchanged: in WAL mode with synchronous=NORMAL a
// commit is in the WAL when it returns, and a checkpoint only moves
// committed pages into the database file, with the same fsyncs as before.

// walBackstop is wal_autocheckpoint on the store's connections: the WAL
// pages after which a commit checkpoints itself (40 MB at 4 KB pages).
const walBackstop = 10000

// walRestart is the WAL's length in frames (16 MB at 4 KB pages) past
// which the checkpoint goroutine's second step lets the WAL start over.
const walRestart = 4000

// checkpointEvery is how often the checkpoint goroutine runs.
const checkpointEvery = 100 * time.Millisecond

// checkpointer is a SQLite store's checkpoint goroutine.
type checkpointer struct {
	restart int // walRestart (tests change it)
	// mu is held by each of the store's checkpoints: SQLite lets one
	// checkpoint run at a time and refuses another at once (Sweep's
	// TRUNCATE, when it met the goroutine's, did nothing).
	mu   sync.Mutex
	once sync.Once
	stop chan struct{}
	done chan struct{}
}

// startCheckpoints starts s's checkpoint goroutine.
func (s *Store) startCheckpoints() {
	if s.ckpt.restart == 0 {
		s.ckpt.restart = walRestart
	}
	s.ckpt.stop = make(chan struct{})
	s.ckpt.done = make(chan struct{})
	go func() {
		defer close(s.ckpt.done)
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-s.ckpt.stop:
				return
			case <-t.C:
				// An error (the database gone, a disk error) leaves the
				// backstop to checkpoint; the next tick tries again.
				_ = s.checkpointTick(context.Background())
			}
		}
	}()
}

// stopCheckpoints stops the checkpoint goroutine, if any, and waits for it.
func (s *Store) stopCheckpoints() {
	if s.ckpt.stop == nil {
		return
	}
	s.ckpt.once.Do(func() { close(s.ckpt.stop) })
	<-s.ckpt.done
}

// checkpointTick is one run of the checkpoint goroutine (see above).
func (s *Store) checkpointTick(ctx context.Context) error {
	s.ckpt.mu.Lock()
	defer s.ckpt.mu.Unlock()
	frames, _, err := s.checkpoint(ctx)
	if err != nil || frames <= s.ckpt.restart {
		return err
	}
	release, err := s.writeSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	_, _, err = s.checkpoint(ctx)
	return err
}

// checkpoint runs a PASSIVE checkpoint: it copies into the database file
// the WAL's frames that no reader still needs, and returns the frames in
// the WAL and how many of them are now in the database file. Nothing to
// copy costs no write and no fsync.
func (s *Store) checkpoint(ctx context.Context) (frames, copied int, err error) {
	var busy int
	if err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return 0, 0, fmt.Errorf("store: checkpointing the WAL: %w", err)
	}
	return frames, copied, nil
}
