// Package mnotifytest runs a real MNotify on 127.0.0.1 for other
// services' tests: its own SQLite store, the demo's SMTP receiver
// (mailsink) as its relay or another SMTP server (Relay), a cabinet system whose client reads inboxes,
// and systems registered by API key. It can be taken down and brought back
// on the same address, to test that callers retry.
package mnotifytest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/semnat/semnat/jobs"
	"github.com/semnat/semnat/mnotify"
	"github.com/semnat/semnat/mnotify/client"
	"github.com/semnat/semnat/mnotify/mailsink"
	"github.com/semnat/semnat/service"
	"github.com/semnat/semnat/store"
)

// CabinetKey is the API key of the cabinet system "cabinet" that Cabinet
// uses (inboxes, contacts).
const CabinetKey = "mnotifytest-cabinet-key-0123456789"

// Server is a running MNotify.
type Server struct {
	URL  string         // http://127.0.0.1:PORT
	Sink *mailsink.Sink // nil with Relay

	t    testing.TB
	addr string
	st   *store.Store
	svc  *mnotify.Service
	host *service.Host

	mu   sync.Mutex
	srv  *http.Server // nil while down
	drop int          // answers still to lose (LoseAnswers)
}

// LoseAnswers makes MNotify take the next n notifications posted (POST
// /api/Notification) but cut their connections instead of answering: the
// caller cannot know they were taken (its retry must not make a second
// notification).
func (s *Server) LoseAnswers(n int) {
	s.mu.Lock()
	s.drop = n
	s.mu.Unlock()
}

// ServeHTTP is MNotify, losing the answers LoseAnswers asked to.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	lose := s.drop > 0 && r.Method == http.MethodPost && r.URL.Path == client.PathNotifications
	if lose {
		s.drop--
	}
	s.mu.Unlock()
	if !lose {
		s.host.ServeHTTP(w, r)
		return
	}
	s.host.ServeHTTP(httptest.NewRecorder(), r)
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

// Option changes how Start runs MNotify.
type Option func(*options)

type options struct{ relay string }

// Relay makes MNotify deliver e-mail to the SMTP server at addr (host:port,
// no TLS; e.g. an independent server the test runs) instead of its own
// mailsink.
func Relay(addr string) Option { return func(o *options) { o.relay = addr } }

// Start runs MNotify (up) and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, addr: ln.Addr().String()}
	s.URL = "http://" + s.addr
	if o.relay == "" {
		if s.Sink, err = mailsink.Start(mailsink.Options{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Sink.Close() })
		o.relay = s.Sink.Addr()
	}
	if s.st, err = store.OpenSQLite(filepath.Join(t.TempDir(), "mnotify.db"), store.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.st.Close() })
	s.svc, err = mnotify.New(mnotify.Config{Store: s.st, SMTP: &mnotify.SMTP{Addr: o.relay, From: "mnotify@test.localhost", TLS: mnotify.TLSNone,
		HelloName: "test.localhost", Timeout: 10 * time.Second},
		Jobs: jobs.Options{PollInterval: 50 * time.Millisecond, Backoff: func(int) time.Duration { return 200 * time.Millisecond }}})
	if err != nil {
		t.Fatal(err)
	}
	s.host = service.NewHost(service.HostOptions{Ready: s.st})
	s.host.Mount(s.svc)
	t.Cleanup(func() { s.Down(); s.host.Close() })
	s.AddSystem("cabinet", CabinetKey, true)
	s.serve(ln)
	return s
}

// AddSystem registers a system calling with apiKey (cabinet: it may read
// inboxes and keep contacts).
func (s *Server) AddSystem(name, apiKey string, cabinet bool) {
	s.t.Helper()
	err := mnotify.AddSystem(context.Background(), s.st, "test", mnotify.NewSystem{Name: name, APIKey: []byte(apiKey), Cabinet: cabinet})
	if err != nil && !errors.Is(err, store.ErrExists) {
		s.t.Fatal(err)
	}
}

// Client is a client of this MNotify with apiKey.
func (s *Server) Client(apiKey string) *client.Client {
	s.t.Helper()
	c, err := client.New(s.URL, client.Options{APIKey: apiKey, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// Cabinet is the client of the cabinet system (inboxes).
func (s *Server) Cabinet() *client.Client { return s.Client(CabinetKey) }

func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Down stops answering: connections to URL are refused until Up.
func (s *Server) Down() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
}

// Up serves again on the same address.
func (s *Server) Up() {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("mnotifytest: listening again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// Inbox waits until the inbox of idnp holds n messages (at most 20 s) and
// returns them; it fails the test when it holds more, or not n in time.
func (s *Server) Inbox(idnp string, n int) []client.InboxMessage {
	s.t.Helper()
	c := s.Cabinet()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := c.Inbox(context.Background(), idnp)
		if err == nil && len(got) > n {
			s.t.Fatalf("inbox of %s: %d messages, want %d: %+v", idnp, len(got), n, got)
		}
		if err == nil && len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("inbox of %s: %d messages after 20 s, want %d (%v): %+v", idnp, len(got), n, err, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
