// Package hostile runs the hostile clients of issue #18 against a semnat
// server, for its regression test (msign) and its bench scenario
// (bench/loadgen -hostile): bodies of 30 MB without a form token, big JSON
// for unknown sign requests, and uploads trickled a byte at a time. Their
// bodies are made on the fly, so the clients themselves cost little
// memory.
package hostile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Kinds of hostile client, taken in turn by Run.
const (
	BigNoToken = iota // 30 MB multipart POST /verify without a form token
	UnknownID         // 31 MB JSON to POST /api/v1/sign-requests/<unknown>/complete
	Trickle           // POST /api/v1/verifications a byte every TrickleGap
	kinds
)

// TrickleGap is the time between the bytes of a trickled upload.
var TrickleGap = 500 * time.Millisecond

// Stats count the hostile requests that were answered, and by what.
type Stats struct {
	Requests atomic.Int64
	Status   [6]atomic.Int64 // by status class: [4] counts 4xx
}

// Run runs n hostile clients against base ("http://host:port") until ctx
// ends, and waits for them.
func Run(ctx context.Context, base string, n int) *Stats {
	st := &Stats{}
	u, _ := url.Parse(base)
	tr := &http.Transport{MaxConnsPerHost: 0, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func(kind int) {
			defer wg.Done()
			for ctx.Err() == nil {
				var status int
				switch kind {
				case BigNoToken:
					status = post(ctx, c, base+"/verify", "multipart/form-data; boundary=XXX",
						"--XXX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n", 30<<20)
				case UnknownID:
					var id [16]byte
					_, _ = rand.Read(id[:])
					status = post(ctx, c, base+"/api/v1/sign-requests/"+hex.EncodeToString(id[:])+"/complete", "application/json",
						`{"documents":[{"signature":"`, 31<<20)
				case Trickle:
					status = trickle(ctx, u.Host)
				}
				if status > 0 {
					st.Requests.Add(1)
					st.Status[min(status/100, 5)].Add(1)
				} else if ctx.Err() == nil {
					time.Sleep(10 * time.Millisecond) // refused at once: do not spin
				}
			}
		}(i % kinds)
	}
	wg.Wait()
	return st
}

// post sends a body of size bytes (head, then 'A's) and returns the
// status (0 when the exchange failed).
func post(ctx context.Context, c *http.Client, u, ctype, head string, size int64) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, &body{head: head, n: size})
	if err != nil {
		return 0
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", ctype)
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode
}

type body struct {
	head string
	n    int64
	off  int64
}

func (b *body) Read(p []byte) (int, error) {
	if b.off >= b.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), b.n-b.off)
	for i := range p[:k] {
		if j := b.off + int64(i); j < int64(len(b.head)) {
			p[i] = b.head[j]
		} else {
			p[i] = 'A'
		}
	}
	b.off += k
	return int(k), nil
}

// trickle sends an upload's head, then a byte every TrickleGap until the
// server answers; it returns the status (0 on failure).
func trickle(ctx context.Context, addr string) int {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if _, err := fmt.Fprintf(conn, "POST /api/v1/verifications HTTP/1.1\r\nHost: %s\r\nContent-Type: application/pdf\r\nContent-Length: 1000000\r\n\r\n%%PDF", addr); err != nil {
		return 0
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(TrickleGap)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if _, err := conn.Write([]byte("A")); err != nil {
					return
				}
			}
		}
	}()
	var status int
	if _, err := fmt.Fscanf(conn, "HTTP/1.1 %d", &status); err != nil {
		return 0
	}
	return status
}
