package mobileid

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

const benchPending = 10000

// BenchmarkPendingTransactions opens 10,000 Mobile-ID sessions for distinct
// manual users (through the face's handler) and reports the live heap each
// pending transaction holds and the goroutines it costs (none: one timer).
func BenchmarkPendingTransactions(b *testing.B) {
	s, err := New(Options{PKI: privatePKI(b), TimeScale: 1, GeneratedUsers: benchPending})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	bodies := make([][]byte, benchPending)
	for i := range bodies {
		u := GeneratedUser(i)
		bodies[i], _ = json.Marshal(midBodyFor(u.MSISDN, u.IDNP, randomDigest(b)))
		s.lookup(u.MSISDN) // the registry entry is not the transaction's cost
	}
	var perTxn, goroutines float64
	b.ResetTimer()
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		for i := range benchPending {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", "/mid-api/signature", bytes.NewReader(bodies[i])))
			if rec.Code != 200 {
				b.Fatalf("start: %d %s", rec.Code, rec.Body)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		s.mu.Lock()
		pending := 0
		for _, t := range s.txns {
			if !t.state.final() {
				pending++
			}
		}
		s.mu.Unlock()
		if pending != benchPending {
			b.Fatalf("%d pending, want %d", pending, benchPending)
		}
		perTxn = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / benchPending
		goroutines = float64(runtime.NumGoroutine()-g0) / benchPending
		b.StopTimer()
		s.mu.Lock() // forget them all for the next round
		for _, t := range s.txns {
			t.timer.Stop()
			t.sim.pending = nil
		}
		s.txns = map[string]*txn{} // a fresh map: each round pays for its growth
		s.mu.Unlock()
		b.StartTimer()
	}
	b.ReportMetric(perTxn, "bytes/txn")
	b.ReportMetric(goroutines, "goroutines/txn")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchPending), "ns/start")
}

// BenchmarkStatusPoll: concurrent ETSI status polls of pending transactions
// over loopback HTTP (keep-alive), answered 504 OUTSTANDING_TRANSACTION.
func BenchmarkStatusPoll(b *testing.B) {
	s, err := New(Options{PKI: privatePKI(b), TimeScale: 1, GeneratedUsers: 256})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	client := &http.Client{Transport: tr}
	ids := make([][]byte, 256)
	for i := range ids {
		code, out := postJSON(b, srv.URL+"/rest/service/sign", etsiSignBody(GeneratedUser(i).MSISDN, randomDigest(b), "asynchClientServer", nil))
		if code != 200 {
			b.Fatal(out)
		}
		ids[i], _ = json.Marshal(etsiStatusBody(dig(out, "MSS_SignatureResp", "MSSP_TransID").(string)))
	}
	var n atomic.Int64
	b.SetParallelism(16)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(n.Add(1))
		buf := make([]byte, 4096)
		for pb.Next() {
			resp, err := client.Post(srv.URL+"/rest/service/status", "application/json", bytes.NewReader(ids[i%len(ids)]))
			if err != nil {
				b.Error(err)
				return
			}
			m, _ := resp.Body.Read(buf)
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					break
				}
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Contains(buf[:m], []byte(`"504"`)) {
				b.Errorf("status: %d %s", resp.StatusCode, buf[:m])
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "polls/s")
}
