package mpass

import (
	"context"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// The wait page reloads itself (every 2 s) until the phone answered. Its
// reload URL asks to be held (hold=1): the instance waiting for the phone
// answers the reload only when the phone's answer is recorded, or after
// holdMax, so that the login goes on the moment the phone answers instead
// of at the next reload, and a waiting browser costs no page every 2 s.
// A reload reaching another instance (behind a load balancer) is held
// too, reading the login from the store every holdRecheck.

// holdMax bounds a held reload: well under the 30 to 60 s after which
// proxies give up on an answer; the page then reloads (held) again.
const holdMax = 20 * time.Second

// holdRecheck is how often a reload held on an instance that does not own
// the phone wait reads the login again.
const holdRecheck = time.Second

// phoneDone tells the reloads held on this instance that a login's phone
// wait ended (its outcome is in the store).
type phoneDone struct {
	mu sync.Mutex
	m  map[string]*doneWaiters
}

type doneWaiters struct {
	c chan struct{}
	n int // the reloads holding it
}

// wait is the channel closed when the phone wait of login id ends here;
// release gives it back once the reload stops waiting.
func (p *phoneDone) wait(id string) (<-chan struct{}, func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]*doneWaiters{}
	}
	w, ok := p.m[id]
	if !ok {
		w = &doneWaiters{c: make(chan struct{})}
		p.m[id] = w
	}
	w.n++
	return w.c, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if w.n--; w.n == 0 && p.m[id] == w {
			delete(p.m, id)
		}
	}
}

// done wakes the reloads held for login id (awaitPhone calls it when it
// has recorded the outcome).
func (p *phoneDone) done(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w, ok := p.m[id]; ok {
		close(w.c)
		delete(p.m, id)
	}
}

// holdURL is the wait page's reload URL.
func (s *Service) holdURL(tx *loginTx) string { return s.waitURL(tx) + "&hold=1" }

// hold waits, for a reload that asks it (hold=1) of a login still waiting
// for its phone, until the phone's answer is recorded, holdMax passes, the
// browser goes or the service stops; then it reads the login again.
func (s *Service) hold(c echo.Context, tx *loginTx) (*loginTx, error) {
	if c.QueryParam("hold") != "1" || tx.State != "waiting" {
		return tx, nil
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), holdMax)
	defer cancel()
	if tx.Owner == s.instance {
		done, release := s.phoneDone.wait(tx.ID)
		defer release()
		// The answer may have been recorded since tx was read.
		if cur, err := s.loadTx(c, false); err != nil || cur.State != "waiting" {
			return cur, err
		}
		select {
		case <-done:
		case <-ctx.Done():
		case <-s.bg.Done():
		}
		return s.loadTx(c, false)
	}
	t := time.NewTicker(holdRecheck)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return s.loadTx(c, false)
		case <-s.bg.Done():
			return s.loadTx(c, false)
		}
		cur, err := s.loadTx(c, false)
		if err != nil || cur.State != "waiting" || s.stale(cur) {
			return cur, err
		}
	}
}
