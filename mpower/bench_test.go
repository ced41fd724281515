package mpower

import (
	"context"
	"runtime"
	"sort"
	"testing"
	"time"
)

// BenchmarkCodeTrueOne: Code-True-One over HTTP on SQLite, 32 clients
// at once (the load), each check audited; reports checks/s and
// the p99 latency.
func BenchmarkCodeTrueOne(b *testing.B) {
	e := newAPIEnv(b)
	p := e.validPower(b, e.alice.IDNP, e.bob.IDNP)
	ctx := context.Background()
	lat := make(chan time.Duration, b.N+64)
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t0 := time.Now()
			if ok, err := e.asp.IsValid(ctx, p.Code); err != nil || !ok {
				b.Error(ok, err)
				return
			}
			lat <- time.Since(t0)
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	close(lat)
	var all []time.Duration
	for d := range lat {
		all = append(all, d)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) > 0 {
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "checks/s")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
}
