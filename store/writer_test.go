package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestWriteSlot: a SQLite store's write transactions run one at a time,
// every one of many concurrent writers commits (none fails on the busy
// timeout), and a writer waiting for the slot gives up when its context
// ends.
func TestWriteSlot(t *testing.T) {
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var mu sync.Mutex
	inside, most := 0, 0
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- st.InTx(ctx, func(tx *Tx) error {
				mu.Lock()
				inside++
				most = max(most, inside)
				mu.Unlock()
				defer func() { mu.Lock(); inside--; mu.Unlock() }()
				_, err := tx.Exec(ctx, `INSERT INTO items (kind, id, value, expires) VALUES ('w', ?, x'00', 1) ON CONFLICT (kind, id) DO NOTHING`, time.Now().String())
				time.Sleep(time.Millisecond)
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if most != 1 {
		t.Errorf("%d write transactions at once", most)
	}

	hold := make(chan struct{})
	held := make(chan struct{})
	go st.InTx(ctx, func(*Tx) error { close(held); <-hold; return nil })
	<-held
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = st.InTx(short, func(*Tx) error { return nil })
	close(hold)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting past its context: %v", err)
	}
}
