package mpass

import (
	"context"
	"runtime"
)

// gate admits at most a fixed number of SAML requests into their work
// (checking the AuthnRequest, signing the Response) at a time; the others
// wait their turn in arrival order. When the cores are saturated, requests
// sharing them all at once (Go's scheduler gives each a slice in turn)
// finish late together and spread the latency (p99 about twice the mean
// in a closed loop of 32 clients); served in order, a few at a time, each
// waits for the ones that came before it, so the tail is close to the
// mean at the same throughput. The gate is a buffered channel: Go queues
// the senders blocked on a full channel first in, first out.
type gate chan struct{}

// defaultGateSlots covers the cores and the requests waiting on the store
// (a write's group commit) meanwhile.
func defaultGateSlots() int { return 4 * runtime.GOMAXPROCS(0) }

// newGate makes a gate of n slots; n < 0 makes none (every request goes
// in at once), 0 the default.
func newGate(n int) gate {
	switch {
	case n < 0:
		return nil
	case n == 0:
		n = defaultGateSlots()
	}
	return make(gate, n)
}

// enter waits for a slot, or for ctx (the client gave up): then it
// returns ctx's error and the request is not served.
func (g gate) enter(ctx context.Context) error {
	if g == nil {
		return nil
	}
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leave gives the slot to the next request waiting.
func (g gate) leave() {
	if g != nil {
		<-g
	}
}
