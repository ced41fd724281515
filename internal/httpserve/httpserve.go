// Package httpserve runs the standalone HTTP servers of the CLI (`semnat tsa
// serve`, `semnat ocsp serve`, ...) the same way: listen on --addr (port 0
// picks a free port), print one "listening on http://HOST:PORT" line when
// ready, log one structured line per request, shut down gracefully when the
// context ends (SIGINT/SIGTERM in the CLI).
package httpserve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Options tune Serve.
type Options struct {
	// Ready, if set, receives the listening line ("listening on http://...").
	Ready io.Writer
	// Log receives one line per request; nil disables request logging.
	Log *slog.Logger
	// ShutdownTimeout bounds the graceful shutdown (default 10s).
	ShutdownTimeout time.Duration
	// OnListen, if set, is called with the base URL once the socket is bound,
	// before any request is served.
	OnListen func(baseURL string)
	// TLS, if set, serves HTTPS with it (base URLs then start https://).
	TLS *tls.Config
	// MaxHeaderBytes bounds the request line and headers (default 64 KiB).
	MaxHeaderBytes int
}

// Listen binds addr and returns the listener and its base URL.
func Listen(addr string) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, "http://" + ln.Addr().String(), nil
}

// Serve listens on addr and serves h until ctx is done, then shuts down
// gracefully. It returns nil after a clean shutdown.
func Serve(ctx context.Context, addr string, h http.Handler, opts Options) error {
	ln, base, err := Listen(addr)
	if err != nil {
		return err
	}
	return ServeListener(ctx, ln, base, h, opts)
}

// ServeListener is Serve on an existing listener.
func ServeListener(ctx context.Context, ln net.Listener, base string, h http.Handler, opts Options) error {
	if opts.Log != nil {
		h = LogRequests(opts.Log, h)
	}
	srv := newServer(h, opts)
	if opts.TLS != nil {
		ln = tls.NewListener(ln, opts.TLS)
		base = "https://" + strings.TrimPrefix(base, "http://")
	} else {
		// One read system call fewer per request (lazyread.go); under
		// TLS the reads are the TLS layer's, never of one byte.
		ln = lazyListen(ln, lazyGrace)
		srv.ConnState = stopHoldingHijacked
	}
	if opts.OnListen != nil {
		opts.OnListen(base)
	}
	if opts.Ready != nil {
		fmt.Fprintf(opts.Ready, "listening on %s\n", base)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	timeout := opts.ShutdownTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	return nil
}

// newServer is the http.Server of ServeListener.
func newServer(h http.Handler, opts Options) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	if opts.MaxHeaderBytes > 0 {
		srv.MaxHeaderBytes = opts.MaxHeaderBytes
	}
	return srv
}

// StatusWriter passes a response on and notes its status and how many
// body bytes were written.
type StatusWriter struct {
	http.ResponseWriter
	Status int
	Bytes  int64
}

func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.Bytes += int64(n)
	return n, err
}

// LogRequests logs one structured line per request: method, path (never the
// query, which may carry secrets), status, bytes, duration, remote address.
func LogRequests(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !log.Enabled(r.Context(), slog.LevelInfo) { // the line would be dropped: cost nothing
			h.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &StatusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.Status == 0 {
			sw.Status = http.StatusOK
		}
		path := r.URL.Path
		if len(path) > 200 {
			path = path[:200] + "..."
		}
		log.Info("request", "method", r.Method, "path", path, "status", sw.Status,
			"bytes", sw.Bytes, "duration_ms", float64(time.Since(start).Microseconds())/1000, "remote", r.RemoteAddr)
	})
}
