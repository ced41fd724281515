package main

import (
	"context"
	"fmt"
	"sync"
)

// forEach runs work(i) for every i in [0, n) on up to workers goroutines.
// With show, a progress line on stderr is rewritten after each item with
// progress(finished, i). It stops handing out items once ctx ends and
// returns those it never started, in order.
func forEach(ctx context.Context, a *app, n, workers int, show bool, progress func(finished, i int) string, work func(i int)) (skipped []int) {
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	finished := 0
	for w := 0; w < max(1, min(workers, n)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				work(i)
				if show {
					mu.Lock()
					finished++
					fmt.Fprintf(a.stderr, "\r%s", progress(finished, i))
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			skipped = append(skipped, i)
			continue
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if show {
		fmt.Fprintln(a.stderr)
	}
	return skipped
}
