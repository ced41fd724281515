package store

import (
	"context"
	"runtime"
	"sync"
)

// batcher is one goroutine that takes the items handed to it in batches:
// every item waiting at that moment (up to max), after letting the
// goroutines about to send run first. The audit log's group commit
// (Append) and the group transactions (InGroupTx) each have one.
type batcher[T any] struct {
	once    sync.Once
	mu      sync.RWMutex // held for reading while sending; close takes it to stop
	closed  bool
	queue   chan T
	stop    chan struct{}
	stopped chan struct{}
	// loops is how many goroutines take batches (1 when 0).
	loops int
}

// gatherYields is how many times a batcher lets other goroutines run
// before it takes a batch as it is.
const gatherYields = 2

// send hands item to the batcher, starting it (with its batch size max
// and run, which gets each batch) if needed. It fails with ErrClosed once
// the batcher is closed, or with ctx's error while the queue is full.
func (b *batcher[T]) send(ctx context.Context, item T, max int, run func([]T)) error {
	b.once.Do(func() {
		b.queue = make(chan T, 4*max)
		b.stop = make(chan struct{})
		b.stopped = make(chan struct{})
		n := 1
		if b.loops > 1 {
			n = b.loops
		}
		var wg sync.WaitGroup
		wg.Add(n)
		for range n {
			go func() { defer wg.Done(); b.loop(max, run) }()
		}
		go func() { wg.Wait(); close(b.stopped) }()
	})
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	select {
	case b.queue <- item:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops the batcher once it has run every item sent.
func (b *batcher[T]) close() {
	b.mu.Lock()
	already := b.closed
	b.closed = true
	b.mu.Unlock()
	if already || b.queue == nil {
		return
	}
	close(b.stop)
	<-b.stopped
}

// loop is the batcher's goroutine.
func (b *batcher[T]) loop(max int, run func([]T)) {
	batch := make([]T, 0, max)
	for {
		batch = batch[:0]
		select {
		case it := <-b.queue:
			batch = append(batch, it)
		case <-b.stop:
			// Sent before close took the lock: run them too.
			for {
				select {
				case it := <-b.queue:
					batch = append(batch, it)
					if len(batch) == max {
						run(batch)
						batch = batch[:0]
					}
				default:
					if len(batch) > 0 {
						run(batch)
					}
					return
				}
			}
		}
	gather:
		for yielded := 0; len(batch) < max; {
			select {
			case it := <-b.queue:
				batch = append(batch, it)
			default:
				// Let the goroutines about to send run first (the
				// callers a batch's answers just woke): without this a
				// busy server committed two or three events a
				// transaction. No timer: an idle store writes at once.
				if yielded == gatherYields {
					break gather
				}
				yielded++
				runtime.Gosched()
			}
		}
		run(batch)
	}
}
