package mpass

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/mobileid"
)

// The gate lets at most its number of requests in, the waiting ones in
// the order they came; one whose client gave up leaves the queue.
func TestGateOrder(t *testing.T) {
	g := newGate(2)
	ctx := context.Background()
	for range 2 {
		if err := g.enter(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const waiting = 8
	order := make(chan int, waiting)
	for i := range waiting {
		go func() {
			if err := g.enter(ctx); err != nil {
				t.Error(err)
				return
			}
			order <- i
		}()
		// the next waits only after this one queued
		for deadline := time.Now().Add(10 * time.Second); waitingAtGate() < i+1; {
			if time.Now().After(deadline) {
				t.Fatalf("request %d never waited", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if err := g.enter(gone); !errors.Is(err, context.Canceled) {
		t.Fatalf("a request whose client left: %v, want context.Canceled", err)
	}
	for want := range waiting {
		select {
		case got := <-order:
			t.Fatalf("request %d went in while none left", got)
		case <-time.After(20 * time.Millisecond):
		}
		g.leave()
		if got := <-order; got != want {
			t.Fatalf("request %d went in, want %d (arrival order)", got, want)
		}
	}
	if newGate(-1) != nil || cap(newGate(0)) != defaultGateSlots() {
		t.Fatal("newGate: -1 is no gate, 0 the default")
	}
}

// waitingAtGate counts the goroutines blocked in gate.enter, read off
// their stacks: a channel's queue cannot be seen otherwise.
func waitingAtGate() int {
	buf := make([]byte, 1<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "[select") && strings.Contains(g, "mpass.gate.enter(") {
			n++
		}
	}
	return n
}

// An SSO request waits while the gate is full and is answered when a slot
// frees; one whose browser gave up meanwhile is not worked on.
func TestSSOThroughGate(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxSAMLRequests = 1 })
	rp := e.newRP("shop.test", true)
	c := newBrowserClient(t)
	e.login(c, rp, mobileid.GeneratedUser(1))
	sp := rp.mw.ServiceProvider
	if err := e.srv.samlGate.enter(context.Background()); err != nil {
		t.Fatal(err)
	}
	u, err := sp.MakeRedirectAuthenticationRequest("")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *http.Response, 1)
	go func() {
		resp, _ := e.get(c, u.String())
		done <- resp
	}()
	select {
	case <-done:
		t.Fatal("answered while the gate was full")
	case <-time.After(300 * time.Millisecond):
	}
	e.srv.samlGate.leave()
	select {
	case resp := <-done:
		if resp.Request.URL.Path != PathSSO || resp.StatusCode != http.StatusOK {
			t.Fatalf("answer %s %d", resp.Request.URL, resp.StatusCode)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("not answered after the gate freed")
	}
	// The slot is given back when the handler returns, just after the
	// answer went out.
	for deadline := time.Now().Add(10 * time.Second); len(e.srv.samlGate) != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d slots still taken after the answer", len(e.srv.samlGate))
		}
	}
}
