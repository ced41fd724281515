package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestGroupTx: many InGroupTx callers at once, on two handles of one
// database (two instances), share fewer transactions than callers; a
// caller whose function fails gets its own error and nothing of it is
// written, while the others of its group are written; a function that
// writes and then fails leaves nothing; a caller whose context has ended
// writes nothing; a closed store refuses.
func TestGroupTx(t *testing.T) { eachBackend(t, testGroupTx) }
func testGroupTx(t *testing.T, b backend) {
	dsn := b.fresh(t)
	c := newClock()
	a, z := openAt(t, dsn, c), openAt(t, dsn, c)
	ctx := context.Background()
	errMine := errors.New("refused by the caller")
	const n = 300
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		said  = map[string]error{}
		start = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s := []*Store{a, z}[i%2]
			id := fmt.Sprint("k", i)
			err := s.InGroupTx(ctx, func(tx *Tx) error {
				if err := tx.PutMany(ctx, []ItemPut{{Kind: "group", ID: id, Value: []byte(id), TTL: time.Hour},
					{Kind: "group", ID: id + "-2", Value: []byte(id), TTL: time.Hour}}); err != nil {
					return err
				}
				if i%37 == 5 { // wrote, then failed: nothing of it may stay
					return fmt.Errorf("caller %d: %w", i, errMine)
				}
				return nil
			})
			mu.Lock()
			said[id] = err
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		id := fmt.Sprint("k", i)
		failed := i%37 == 5
		if err := said[id]; failed != errors.Is(err, errMine) || (!failed && err != nil) {
			t.Errorf("%s: InGroupTx said %v (should fail: %v)", id, err, failed)
		}
		for _, key := range []string{id, id + "-2"} {
			_, err := a.Get(ctx, "group", key)
			if failed != errors.Is(err, ErrNotFound) {
				t.Errorf("%s: Get says %v; the function failed: %v", key, err, failed)
			}
		}
	}
	groups := a.group.groups.Load() + z.group.groups.Load()
	t.Logf("%d group transactions for %d callers", groups, n)
	if groups >= n {
		t.Errorf("%d group transactions for %d callers: nothing was shared", groups, n)
	}

	ended, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	if err := a.InGroupTx(ended, func(tx *Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("ended context: err %v, ran %v", err, ran)
	}
	a.Close()
	if err := a.InGroupTx(ctx, func(tx *Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("closed store: %v, want ErrClosed", err)
	}
}
