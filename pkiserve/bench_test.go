package pkiserve

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/semnat/semnat/internal/httpserve"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/testcerts"
)

// BenchmarkOCSPGetLoopback: pre-signed OCSP answers to RFC 5019 GET
// requests through the same HTTP server as `semnat ocsp serve`
// (internal/httpserve), 32 keep-alive connections over loopback; the
// client writes raw requests so that most CPU goes to the server.
func BenchmarkOCSPGetLoopback(b *testing.B) {
	p := testcerts.New(b)
	svc, err := New(p, Options{TSA: "-", RootOCSP: true})
	if err != nil {
		b.Fatal(err)
	}
	svc.OCSP.Presign(context.Background())
	ln, base, err := httpserve.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- httpserve.ServeListener(ctx, ln, base, svc, httpserve.Options{}) }()
	defer func() { cancel(); <-done }()
	var wires [][]byte
	for _, e := range p.Entities() {
		if e.Issuer != p.TokenCA {
			continue
		}
		id, _ := ocsp.NewCertID(crypto.SHA1, e.Issuer.Cert, e.Cert.SerialNumber)
		der, _ := (&ocsp.Request{CertIDs: []ocsp.CertID{id}}).Marshal()
		wires = append(wires, fmt.Appendf(nil, "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", url.PathEscape(base64.StdEncoding.EncodeToString(der))))
	}
	const conns = 32
	var next sync.Mutex
	n := 0
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			r := bufio.NewReader(c)
			body := make([]byte, 4096)
			for k := i; ; k++ {
				next.Lock()
				if n >= b.N {
					next.Unlock()
					return
				}
				n++
				next.Unlock()
				if _, err := c.Write(wires[k%len(wires)]); err != nil {
					b.Error(err)
					return
				}
				length := -1
				for {
					line, err := r.ReadSlice('\n')
					if err != nil {
						b.Error(err)
						return
					}
					if len(line) <= 2 {
						break
					}
					if bytes.HasPrefix(line, []byte("Content-Length: ")) {
						length, _ = strconv.Atoi(string(bytes.TrimSpace(line[16:])))
					}
				}
				if length < 0 || length > len(body) {
					b.Errorf("bad reply length %d", length)
					return
				}
				if _, err := io.ReadFull(r, body[:length]); err != nil || body[0] != 0x30 {
					b.Errorf("bad reply: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
}
