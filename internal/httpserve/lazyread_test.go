package httpserve

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// lazyServer serves h as ServeListener does, on a lazyListener holding
// one-byte reads for grace.
func lazyServer(t *testing.T, h http.Handler, grace time.Duration) (*lazyListener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := lazyListen(ln, grace)
	srv := newServer(h, Options{})
	srv.ConnState = stopHoldingHijacked
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l, ln.Addr().String()
}

func echoPath(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) }

// A handler that returns ends its request's one-byte read through the
// deadline net/http sets: none is left to the sweeper (which would wait
// an hour here), so none went to the socket without a deadline (a
// deadline in the past fails before any system call).
func TestLazyReadsEndByTheAbort(t *testing.T) {
	l, addr := lazyServer(t, http.HandlerFunc(echoPath), time.Hour)
	client := &http.Client{Timeout: 10 * time.Second}
	const n = 50
	for i := range n {
		resp, err := client.Get("http://" + addr + "/r")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != "/r" {
			t.Fatalf("request %d: %q, %v", i, b, err)
		}
	}
	for l.nRead.Load() < n && !t.Failed() { // the last one may start after its answer
		time.Sleep(time.Millisecond)
	}
	if reads, bare := l.nRead.Load(), l.nBare.Load(); reads != n || bare != 0 {
		t.Errorf("%d one-byte reads, %d of them on the socket without a deadline; want %d and 0", reads, bare, n)
	}
}

// Two requests in one write: both answered, in order.
func TestLazyReadPipelined(t *testing.T) {
	_, addr := lazyServer(t, http.HandlerFunc(echoPath), time.Hour)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for _, want := range []string{"/a", "/b"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != want {
			t.Errorf("got %q, want %q", b, want)
		}
	}
}

// A client that goes away during a long handler still cancels its
// request's context: the held read goes to the socket after the grace.
func TestLazyReadNoticesClientGone(t *testing.T) {
	started, canceled := make(chan struct{}), make(chan bool, 1)
	l, addr := lazyServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			canceled <- true
		case <-time.After(10 * time.Second):
			canceled <- false
		}
	}), time.Millisecond)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-started
	c.Close()
	if !<-canceled {
		t.Fatal("the handler's context was not canceled when the client went away")
	}
	if l.nLate.Load() == 0 {
		t.Error("the held read did not go to the socket through the sweeper")
	}
}

// A hijacked connection's one-byte reads are never held.
func TestLazyReadHijacked(t *testing.T) {
	_, addr := lazyServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		io.WriteString(conn, "ready\n")
		var b [1]byte
		if _, err := conn.Read(b[:]); err != nil {
			t.Error(err)
			return
		}
		io.WriteString(conn, "got "+string(b[:])+"\n")
	}), time.Hour)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /h HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); line != "ready\n" {
		t.Fatalf("%q, %v", line, err)
	}
	io.WriteString(c, "x")
	if line, err := br.ReadString('\n'); line != "got x\n" {
		t.Fatalf("%q, %v (a hijacked connection's read was held)", line, err)
	}
}

// lazyPair: a lazyListener holding one-byte reads for an hour, a
// connection it accepted and the client's end (closed by the test's end).
func lazyPair(t *testing.T) (*lazyListener, *lazyConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := lazyListen(ln, time.Hour)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); nc.Close(); l.Close() })
	return l, nc.(*lazyConn), client
}

// A held read ends as a read on the socket would: at once with a timeout
// for a deadline in the past, with the data under a future deadline, with
// net.ErrClosed when the connection is closed.
func TestLazyReadDeadlinesAndClose(t *testing.T) {
	l, c, client := lazyPair(t)
	defer l.Close()
	type result struct {
		n   int
		b   byte
		err error
	}
	heldRead := func() chan result {
		out := make(chan result, 1)
		want := l.nHeld.Load() + 1
		go func() {
			var b [1]byte
			n, err := c.Read(b[:])
			out <- result{n, b[0], err}
		}()
		for l.nHeld.Load() < want { // until it is held
			time.Sleep(time.Millisecond)
		}
		return out
	}
	wait := func(ch chan result) result {
		select {
		case r := <-ch:
			return r
		case <-time.After(10 * time.Second):
			t.Fatal("the held read did not end")
			return result{}
		}
	}

	r := heldRead()
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if res := wait(r); !errors.Is(res.err, os.ErrDeadlineExceeded) {
		t.Errorf("a deadline in the past: %v, want a timeout", res.err)
	}

	c.SetReadDeadline(time.Time{})
	r = heldRead()
	io.WriteString(client, "y")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if res := wait(r); res.err != nil || res.n != 1 || res.b != 'y' {
		t.Errorf("a future deadline: %d %q %v, want the byte y", res.n, res.b, res.err)
	}

	c.SetReadDeadline(time.Time{})
	r = heldRead()
	c.Close()
	if res := wait(r); !errors.Is(res.err, net.ErrClosed) {
		t.Errorf("closed: %v, want net.ErrClosed", res.err)
	}
	if late := l.nLate.Load(); late != 0 {
		t.Errorf("%d reads let go by the sweeper, want 0", late)
	}
}

// Closing the listener lets every held read go, and holds none after.
func TestLazyReadListenerClosed(t *testing.T) {
	l, nc, client := lazyPair(t)
	done := make(chan string, 2)
	read := func() {
		var b [1]byte
		if _, err := nc.Read(b[:]); err != nil {
			done <- err.Error()
			return
		}
		done <- string(b[:])
	}
	go read()
	for l.nHeld.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	io.WriteString(client, "ab")
	l.Close()
	go read() // after the close: not held
	var got []string
	for range 2 {
		select {
		case s := <-done:
			got = append(got, s)
		case <-time.After(10 * time.Second):
			t.Fatal("a read was still held after the listener closed")
		}
	}
	if slices.Sort(got); strings.Join(got, ",") != "a,b" {
		t.Errorf("read %q, want a and b", got)
	}
	if held := l.nHeld.Load(); held != 1 {
		t.Errorf("%d reads held, want 1 (none after the close)", held)
	}
}

// A deadline set after hold looked at the flags, and before it held the
// read, finds nothing held: the read must look again and go to the
// socket, not wait for the sweeper (an hour here).
func TestLazyReadDeadlineWhileHolding(t *testing.T) {
	_, c, client := lazyPair(t)
	holdChecked = func(c *lazyConn) { c.SetReadDeadline(time.Now().Add(10 * time.Second)) }
	defer func() { holdChecked = nil }()
	io.WriteString(client, "z")
	done := make(chan error, 1)
	go func() {
		var b [1]byte
		_, err := c.Read(b[:])
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read stayed held after a deadline set while it was being held")
	}
}
