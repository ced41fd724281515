package msign

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/store"
)

// benchSystem is MSign on loopback HTTP with one registered system (API
// key) and SQLite.
func benchSystem(b *testing.B) (url string, key string) {
	b.Helper()
	st, err := store.OpenSQLite(filepath.Join(b.TempDir(), "semnat.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	key = "bench-system-key-0123456789"
	if err := AddSystem(context.Background(), st, "bench", NewSystem{Name: "bench", APIKey: []byte(key), ReturnURLs: []string{"https://bench.example/"}}); err != nil {
		b.Fatal(err)
	}
	_, host := serve(b, Config{Store: st, RateLimit: 1e9, MaxConcurrent: 64, MaxUpload: 4 << 20, DocDir: os.Getenv("BENCH_DOCDIR")})
	hs := httptest.NewServer(host)
	b.Cleanup(hs.Close)
	return hs.URL, key
}

// benchClients runs op from 32 concurrent clients and reports the
// operations per second and the latency percentiles.
func benchClients(b *testing.B, op func(c *http.Client) error) {
	b.Helper()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism((32 + 1) / 2) // 2 cores × 16 = 32 clients on the CI machine
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t := time.Now()
			if err := op(c); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	el, cpu := time.Since(start), processCPU()-cpu0
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/el.Seconds(), "ops/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		// What the machine's load does not change much: CPU time (server
		// and the in-process clients) per operation, and the operations a
		// second that one core gives.
		b.ReportMetric(cpu.Seconds()*1000/float64(len(lat)), "cpu-ms/op")
		b.ReportMetric(float64(len(lat))/cpu.Seconds(), "ops/cpu-s")
	}
}

// processCPU is the CPU time (user and system) the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchDo(c *http.Client, method, url, key string, body []byte, want int) ([]byte, error) {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return nil, &benchError{resp.StatusCode, string(b)}
	}
	return b, nil
}

type benchError struct {
	status int
	body   string
}

func (e *benchError) Error() string { return http.StatusText(e.status) + ": " + e.body }

// BenchmarkPostSignRequest: PostSignRequest with one 100 KB PDF, 32
// clients, SQLite (the PDF is parsed, checked and stored).
func BenchmarkPostSignRequest(b *testing.B) {
	url, key := benchSystem(b)
	body, _ := json.Marshal(client.SignRequest{ShortContentDescription: "Bench", ContentType: client.ContentPdf,
		Contents: []client.SignContent{{CorrelationID: "1", Name: "bench.pdf", Content: samplepdf.Document("Bench", nil, 100<<10)}}})
	b.SetBytes(int64(len(body)))
	benchClients(b, func(c *http.Client) error {
		_, err := benchDo(c, http.MethodPost, url+client.PathSignRequests, key, body, http.StatusCreated)
		return err
	})
}

// BenchmarkGetSignResponse: GetSignResponse of a pending request, 32
// clients, SQLite.
func BenchmarkGetSignResponse(b *testing.B) {
	url, key := benchSystem(b)
	body, _ := json.Marshal(client.SignRequest{ShortContentDescription: "Bench", ContentType: client.ContentPdf,
		Contents: []client.SignContent{{CorrelationID: "1", Content: samplepdf.Document("Bench", nil, 0)}}})
	out, err := benchDo(http.DefaultClient, http.MethodPost, url+client.PathSignRequests, key, body, http.StatusCreated)
	if err != nil {
		b.Fatal(err)
	}
	var pr client.PostResponse
	json.Unmarshal(out, &pr)
	target := url + client.PathSignRequests + "/" + pr.RequestID + "?language=en"
	benchClients(b, func(c *http.Client) error {
		_, err := benchDo(c, http.MethodGet, target, key, nil, http.StatusOK)
		return err
	})
}
