package httpserve

import (
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// net/http starts a one-byte read on the connection when a request's
// handler starts (connReader.startBackgroundRead): it notices a client
// that goes away (the request's context is then canceled) and a pipelined
// request's first byte. When the handler returns, it ends that read by a
// read deadline in the past (abortPendingRead). On a busy server nearly
// every such read finds nothing: a read system call (EAGAIN) per request,
// one of the five system calls of a short request, for nothing.
//
// The connections of a lazyListener hold that read back: a one-byte read
// made while no read deadline is set waits, without a system call, until
// a read deadline is set (net/http's abort, or a handler's
// ResponseController), the connection is closed, or it has waited for
// lazyGrace to 2×lazyGrace. Then it is made on the socket as it would
// have been, so it ends the same way: a deadline in the past makes it
// fail at once with the timeout net/http expects, without a system call
// (the poller checks the deadline first). Only its start is late, by at
// most 2×lazyGrace for a handler that runs longer: a client that goes
// away during a long handler is noticed that much later. A hijacked
// connection's reads are never held (Server.ConnState).
//
// Every other read, and every read made while a read deadline is set (the
// request's own, under ReadHeaderTimeout and ReadTimeout), goes to the
// socket at once.

// lazyGrace is how long a one-byte read is held back at least.
const lazyGrace = 10 * time.Millisecond

type lazyListener struct {
	net.Listener
	grace time.Duration

	mu     sync.Mutex
	held   []*lazyConn // one-byte reads held back
	gen    uint64      // sweeps so far
	closed bool        // no read is held any more
	kick   chan struct{}
	done   chan struct{}
	once   sync.Once

	// For tests: one-byte reads, those held, those the sweeper let go to
	// the socket, and those that went to the socket with no read
	// deadline (a system call that waits, as without holding).
	nRead, nHeld, nLate, nBare atomic.Int64
}

// lazyListen wraps ln (see above) and starts its sweeper, which stops
// when the listener is closed.
func lazyListen(ln net.Listener, grace time.Duration) *lazyListener {
	l := &lazyListener{Listener: ln, grace: grace, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go l.sweep()
	return l
}

// Accept wraps TCP connections; others are served as they are.
func (l *lazyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	return &lazyConn{TCPConn: tc, l: l, idx: -1, wake: make(chan struct{}, 1)}, nil
}

// Close closes the listener and ends every held read (served connections
// go on, reading at once).
func (l *lazyListener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.once.Do(func() { close(l.done) })
	return err
}

// sweep makes the reads held since before its previous round real, every
// grace while any is held.
func (l *lazyListener) sweep() {
	t := time.NewTimer(l.grace)
	t.Stop()
	for {
		select {
		case <-l.kick:
		case <-l.done:
			l.stop()
			return
		}
		for held := true; held; {
			t.Reset(l.grace)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				l.stop()
				return
			}
			l.mu.Lock()
			l.gen++
			for i := 0; i < len(l.held); {
				if c := l.held[i]; c.gen+1 < l.gen {
					l.nLate.Add(1)
					l.nBare.Add(1)
					l.release(c) // moves the last one to i
				} else {
					i++
				}
			}
			held = len(l.held) > 0
			l.mu.Unlock()
		}
	}
}

// stop ends every held read, and holds none from now on.
func (l *lazyListener) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for len(l.held) > 0 {
		l.release(l.held[len(l.held)-1])
	}
}

// release lets c's held read go to the socket (if one is held); l.mu
// is held.
func (l *lazyListener) release(c *lazyConn) {
	if c.idx < 0 {
		return
	}
	last := l.held[len(l.held)-1]
	l.held[c.idx], last.idx = last, c.idx
	l.held = l.held[:len(l.held)-1]
	c.idx = -1
	c.held.Store(false)
	c.wake <- struct{}{}
}

var (
	_ io.ReaderFrom                   = (*lazyConn)(nil)
	_ interface{ CloseWrite() error } = (*lazyConn)(nil)
)

// lazyConn is a served TCP connection of a lazyListener. It keeps
// *net.TCPConn's methods that net/http looks for (ReadFrom: sendfile;
// CloseWrite: the lingering close).
type lazyConn struct {
	*net.TCPConn
	l *lazyListener
	// Without l.mu, so that setting a deadline (six times a request)
	// takes no lock while no read is held:
	deadline atomic.Bool // a read deadline is set
	off      atomic.Bool // hijacked or closed: never hold a read
	held     atomic.Bool // a read is held (idx >= 0)
	// Under l.mu:
	idx  int    // in l.held; -1: not held
	gen  uint64 // l.gen when held
	wake chan struct{}
}

func (c *lazyConn) Read(p []byte) (int, error) {
	if len(p) != 1 {
		return c.TCPConn.Read(p)
	}
	l := c.l
	l.nRead.Add(1)
	if !c.hold() {
		if !c.deadline.Load() {
			l.nBare.Add(1)
		}
		return c.TCPConn.Read(p)
	}
	// A deadline set, or a close, after hold's check and before held
	// was stored may have found nothing held: look again. (Both sides
	// store, then load the other's flag: one of them sees the other.)
	if c.deadline.Load() || c.off.Load() {
		c.release()
	}
	<-c.wake
	return c.TCPConn.Read(p)
}

// hold puts the connection's read on the held list, unless a deadline is
// set, reads are not held any more, or one is held already (one held read
// a connection; another goes to the socket at once).
func (c *lazyConn) hold() bool {
	if c.deadline.Load() || c.off.Load() {
		return false
	}
	if holdChecked != nil {
		holdChecked(c)
	}
	l := c.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || c.idx >= 0 {
		return false
	}
	c.idx, c.gen = len(l.held), l.gen
	l.held = append(l.held, c)
	c.held.Store(true)
	l.nHeld.Add(1)
	if len(l.held) == 1 {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	return true
}

// holdChecked, if set (tests), runs in hold between its look at the
// flags and the holding.
var holdChecked func(*lazyConn)

// release lets a held read go to the socket.
func (c *lazyConn) release() {
	c.l.mu.Lock()
	c.l.release(c)
	c.l.mu.Unlock()
}

func (c *lazyConn) SetReadDeadline(t time.Time) error {
	err := c.TCPConn.SetReadDeadline(t)
	c.deadlineSet(t)
	return err
}

func (c *lazyConn) SetDeadline(t time.Time) error {
	err := c.TCPConn.SetDeadline(t)
	c.deadlineSet(t)
	return err
}

// deadlineSet: a held read goes to the socket under its new deadline.
func (c *lazyConn) deadlineSet(t time.Time) {
	set := !t.IsZero()
	c.deadline.Store(set)
	if set && c.held.Load() {
		c.release()
	}
}

func (c *lazyConn) Close() error {
	err := c.TCPConn.Close()
	c.stopHolding()
	return err
}

// stopHoldingHijacked is the Server.ConnState of a lazyListener's
// server: a hijacked connection's reads are its new owner's, never held.
func stopHoldingHijacked(c net.Conn, s http.ConnState) {
	if lc, ok := c.(*lazyConn); ok && s == http.StateHijacked {
		lc.stopHolding()
	}
}

// stopHolding: reads go to the socket from now on.
func (c *lazyConn) stopHolding() {
	c.off.Store(true)
	if c.held.Load() {
		c.release()
	}
}
