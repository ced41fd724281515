package mpower

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/semnat/semnat/mpower/client"
	"github.com/semnat/semnat/service"
)

// BenchmarkCheckHandler: Code-True-One through the service host's
// handler (echo, the host's middleware, API-key authentication, the power
// cache and the audited answer, SQLite), without sockets or net/http's
// connection handling, from 32 goroutines at once: what a check costs in
// our code, with its allocations (-benchmem; the audit writer's are in
// them). The host logs at warn, as bench/side-mpower.sh's server (at info
// it writes a line per request). "known" asks about a Valid power, "unknown" about a code with
// none (bench/side-mpower.sh's question).
func BenchmarkCheckHandler(b *testing.B) {
	e := newAPIEnvAt(b, b.TempDir()+"/semnat.db")
	p := e.validPower(b, e.alice.IDNP, e.bob.IDNP)
	host := service.NewHost(service.HostOptions{Log: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	host.Mount(e.svc)
	for _, c := range []struct {
		name, code string
		want       []byte
	}{{"known", p.Code, envTrue}, {"unknown", "1000000000000002", envFalse}} {
		b.Run(c.name, func(b *testing.B) {
			target := client.PathCodeTrueOne + "?AuthorizationCode=" + c.code
			b.SetParallelism(max(1, benchClients()/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, batches := cpuTime(), e.st.AuditBatches()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest(http.MethodGet, target, nil)
				r.Header.Set("X-API-Key", aspKey)
				w := &replyWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					w.code, w.body = 0, w.body[:0]
					host.ServeHTTP(w, r)
					if w.code != http.StatusOK || !bytes.Equal(w.body, c.want) {
						b.Errorf("Code-True-One(%s): %d %s, want 200 %s", c.code, w.code, w.body, c.want)
						return
					}
				}
			})
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(b.N)/float64(max(1, e.st.AuditBatches()-batches)), "checks/audit-tx")
		})
	}
}

// replyWriter is a ResponseWriter kept from one request to the next (so
// that the benchmark's allocations are the server's).
type replyWriter struct {
	h    http.Header
	code int
	body []byte
}

func (w *replyWriter) Header() http.Header { return w.h }

func (w *replyWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *replyWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}
