// Command ocspload posts one DER OCSP request to a responder from several
// workers for a fixed time and prints the rate and latency percentiles. It
// checks every answer is a successful, well-formed OCSP response. Used by
// bench/side-ocsp.sh; traffic goes where -url says (127.0.0.1 in the script).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/semnat/semnat/ocsp"
)

func main() {
	url := flag.String("url", "", "responder URL")
	reqPath := flag.String("req", "", "DER OCSP request file")
	workers := flag.Int("c", 4, "concurrent workers")
	dur := flag.Duration("d", 5*time.Second, "duration")
	keepAlive := flag.Bool("keepalive", false, "reuse connections (openssl's responder closes them)")
	flag.Parse()
	if err := run(*url, *reqPath, *workers, *dur, *keepAlive); err != nil {
		fmt.Fprintln(os.Stderr, "ocspload:", err)
		os.Exit(1)
	}
}

func run(url, reqPath string, workers int, dur time.Duration, keepAlive bool) error {
	der, err := os.ReadFile(reqPath)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: workers}}
	one := func() error {
		resp, err := client.Post(url, "application/ocsp-request", bytes.NewReader(der))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		r, err := ocsp.ParseResponse(body)
		if err != nil {
			return err
		}
		if r.Status != ocsp.Successful {
			return fmt.Errorf("responder answered %v", r.Status)
		}
		return nil
	}
	// Warm up and check once.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := one()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				t0 := time.Now()
				if err := one(); err != nil {
					mu.Lock()
					if firstErr == nil && ctx.Err() == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	if len(lat) == 0 {
		return fmt.Errorf("no request completed")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	fmt.Printf("%.1f\t%.3f\t%.3f\n", float64(len(lat))/elapsed.Seconds(), pct(0.5), pct(0.99))
	return nil
}
