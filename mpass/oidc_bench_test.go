package mpass

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/mobileid"
)

// benchClients is the number of concurrent clients of the benchmarks (the
// #14 targets are stated at 32).
const benchClients = 32

// benchTransport keeps a connection per client alive.
func benchTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = benchClients * 2
	return t
}

func errStatus(code int, body []byte) error {
	if len(body) > 300 {
		body = body[:300]
	}
	return fmt.Errorf("status %d: %s", code, body)
}

// runClients runs do b.N times from benchClients goroutines and reports the
// rate (as unit) and the 99th-percentile latency in milliseconds.
func runClients(b *testing.B, unit string, do func() error) {
	b.Helper()
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.SetParallelism((benchClients + 1) / runtime.GOMAXPROCS(0))
	stopProfiles := windowProfiles(b)
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		// The clients' goroutines, and the connections' goroutines their
		// transport starts, carry the label side=client in CPU profiles.
		pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("side", "client")))
		for pb.Next() {
			t0 := time.Now()
			if err := do(); err != nil {
				b.Error(err)
				return
			}
			d := time.Since(t0)
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := cpuTime() - cpu0
	stopProfiles()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), unit)
	b.ReportMetric(float64(lat[(len(lat)*99)/100])/float64(time.Millisecond), "p99-ms")
	// The process's CPU time per operation (server and client: one
	// process): what the rate would be on a machine of our own is about
	// cores / cpu-time, whatever else shares this one.
	b.ReportMetric(float64(cpu)/float64(time.Microsecond)/float64(len(lat)), "cpu-µs/op")
	// The same CPU time in RSA-2048 signatures made in the same minutes
	// (perf_bench_test.go): what a loaded machine inflates, it inflates for
	// both, so this figure holds from a loaded machine to a quiet one.
	if sign := rsaSignCPU(b); sign > 0 {
		b.ReportMetric(float64(cpu)/float64(len(lat))/float64(sign), "rsa2048-signs/op")
	}
}

// cpuTime is the CPU time (user + system) the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkOIDCToken: the token endpoint at 32 concurrent clients (the #14
// target: ≥ 2,000/s): client_secret_basic, a code with its PKCE verifier,
// the ID token signed (ES256) and the access token recorded. The codes are
// those a login leaves in the store, made before the clock starts (a real
// login makes the first; the others are its copies under new codes).
//
// sqlite: the store of `semnat serve`'s default; postgres: a shared
// PostgreSQL ($SEMNAT_TEST_POSTGRES; skipped without it).
func BenchmarkOIDCToken(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchOIDCToken(b, "") })
	b.Run("postgres", func(b *testing.B) { benchOIDCToken(b, testtool.PostgresSchema(b)) })
}

func benchOIDCToken(b *testing.B, dsn string) {
	var e *env
	if dsn == "" {
		e = newEnv(b, withOIDCKey(b))
	} else {
		e = newEnvOn(b, dsn, withOIDCKey(b))
	}
	rp := e.newOIDCRP(OIDCClientSpec{ID: "shop"})
	c := newBrowserClient(b)
	_, page, state, _, verifier := rp.authorize(c)
	code := rp.codeOf(e.phoneLoginOIDC(c, page, mobileid.GeneratedUser(7)), state)
	ctx := context.Background()
	done, err := e.store.Take(ctx, kindCode, digest(code))
	if err != nil {
		b.Fatal(err)
	}
	codes := make([]string, b.N)
	for i := range codes {
		codes[i] = newID() + newID()
		if err := e.store.Put(ctx, kindCode, digest(codes[i]), done, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	hc := &http.Client{Transport: benchTransport(), Timeout: 30 * time.Second}
	tokenURL := rp.oauth.Endpoint.TokenURL
	var next atomic.Int64
	runClients(b, "tokens/s", func() error {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {codes[next.Add(1)-1]},
			"redirect_uri": {rp.callback}, "code_verifier": {verifier}}
		req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(rp.client.ID), url.QueryEscape(rp.secret))
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var tok struct {
			IDToken string `json:"id_token"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.IDToken == "" {
			return errStatus(resp.StatusCode, body)
		}
		return nil
	})
}
