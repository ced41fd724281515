package portal

import (
	"io"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/semnat/semnat/mobileid"
)

// BenchmarkPages: the catalogue (home, a search, a service's card) and an
// application's status page, 64 clients at once over loopback HTTP; it
// reports requests per second and the 99th percentile of the latency (the
// issue asks for p99 ≤ 50 ms at 64 clients), and the CPU time per request.
func BenchmarkPages(b *testing.B) {
	e := newEnv(b, nil)
	br := newBrowser(b)
	user := mobileid.GeneratedUser(0)
	_, page := e.login(br, e.url+"/portal/servicii/000101/aplica", user)
	_, page = br.post(e.url+"/portal/servicii/000101/aplica", url.Values{"_csrf": {csrfOf(b, page)}, "on_behalf": {"self"}})
	m := reAppID.FindStringSubmatch(page)
	if m == nil {
		b.Fatalf("no application:\n%s", page)
	}
	br.c.Transport = &http.Transport{MaxIdleConnsPerHost: 128}
	for _, p := range []struct{ name, path string }{
		{"home", "/"}, {"search", "/portal/servicii?q=certificat+inmatriculare"}, {"card", "/portal/servicii/000104"},
		{"status", appPath(m[1], "")},
	} {
		b.Run(p.name, func(b *testing.B) {
			var mu sync.Mutex
			var all []time.Duration
			b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			cpu0, start := cpuTime(), time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					t0 := time.Now()
					resp, err := br.c.Get(e.url + p.path)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("%s: %d", p.path, resp.StatusCode)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				all = append(all, mine...)
				mu.Unlock()
			})
			elapsed, cpu := time.Since(start), cpuTime()-cpu0
			if len(all) == 0 {
				return
			}
			sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
			// CPU of the whole process (server and its 64 clients) per
			// request: far less sensitive to the machine's load than p99.
			b.ReportMetric(float64(cpu.Microseconds())/float64(len(all)), "cpu-µs/req")
		})
	}
}
