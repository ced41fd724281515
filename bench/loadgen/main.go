// Command loadgen drives an OCSP responder or a time-stamp authority over
// HTTP/1.1 from C concurrent keep-alive connections for a fixed time and
// prints "rate<TAB>p50_ms<TAB>p99_ms<TAB>errors". It writes pre-encoded
// requests on raw TCP connections and reads the replies with a minimal
// parser, so that the client costs little CPU next to the server on a small
// machine; a server that closes connections (openssl's responder) is
// reconnected, which is counted as part of its cost. Every reply must be
// HTTP 200 with a successful protocol status (checked on each reply, and
// every 256th reply fully parsed with the semnat packages). Used by
// bench/side-ocsp.sh and bench/side-tsa.sh; traffic goes where -url says.
// Failed exchanges are counted in the errors column and, with the first
// error, reported on stderr; more than 1% of errors fails the run.
//
// -once sends each request file exactly once (spread over the
// connections) instead of cycling through them for -d: a cold pass over
// distinct documents, which no cache of the server has seen. The first
// file is the readiness probe and is not measured.
//
// -hostile N runs N hostile clients (internal/hostile) against the same
// server while the measured connections run (bench/side-hostile.sh).
//
// -kind sign-request POSTs the request files as JSON (PostSignRequest of
// a registered system, with -header "X-API-Key: ..."; 201 and a
// requestID); -kind sign-response GETs -url as it is (GetSignResponse;
// a status). Used by bench/side-msign.sh.
//
// -kind mpower-check GETs -url as it is too (an MPower check with its
// query, -header "X-API-Key: ..."); the answer must say "success":true.
//
// -kind verify and -kind seal drive semnat's API (bench/side-server.sh):
// the request files are PDFs POSTed as application/pdf (with -header, e.g.
// "X-API-Key: ..."); a verify reply must be a JSON report whose indication
// is -want (TOTAL-PASSED by default), a seal reply a PDF.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/semnat/semnat/internal/hostile"
	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/tsa"
)

func main() {
	target := flag.String("url", "", "endpoint URL (http://HOST:PORT/PATH)")
	reqs := flag.String("req", "", "DER request files, comma-separated (used in turn)")
	method := flag.String("method", "GET", "GET (OCSP: base64 request in the path) or POST")
	kind := flag.String("kind", "ocsp", "ocsp, tsa, verify, seal, sign-request, sign-response or mpower-check: how requests are sent and replies checked")
	flag.Func("header", "extra request header \"Name: value\" (repeatable)", func(h string) error {
		if !strings.Contains(h, ":") {
			return fmt.Errorf("header %q: want \"Name: value\"", h)
		}
		extraHeaders = append(extraHeaders, h)
		return nil
	})
	flag.StringVar(&wantIndication, "want", "TOTAL-PASSED", "with -kind verify: the indication every report must have")
	conns := flag.Int("c", 32, "concurrent keep-alive connections")
	dur := flag.Duration("d", 5*time.Second, "duration (at most 10s)")
	once := flag.Bool("once", false, "send each request file once, then stop (instead of -d)")
	flag.IntVar(&hostileClients, "hostile", 0, "also run this many hostile clients (internal/hostile: 30 MB bodies without a form token, big JSON for unknown ids, trickled uploads) against the server while measuring")
	cpuProfile := flag.String("cpuprofile", "", "write the load generator's own CPU profile to this file")
	signKey := flag.String("signkey", "", "instead: measure the raw signature rate of this PKCS#8 PEM key (SHA-256 digests, -c goroutines)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: -cpuprofile:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *signKey != "" {
		if err := signRate(*signKey, *conns, min(*dur, 10*time.Second)); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*target, *reqs, *method, *kind, *conns, min(*dur, 10*time.Second), *once); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

var (
	extraHeaders   []string
	wantIndication string
	hostileClients int
)

func run(target, reqFiles, method, kind string, conns int, dur time.Duration, once bool) error {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("-url %q: want http://HOST:PORT/PATH", target)
	}
	ctype := "application/ocsp-request"
	check := checkOCSP
	switch kind {
	case "ocsp":
	case "tsa":
		ctype, check = "application/timestamp-query", checkTSA
	case "verify":
		ctype, check = "application/pdf", checkVerify
	case "seal":
		ctype, check = "application/pdf", checkSeal
	case "sign-request":
		ctype, check = "application/json", checkJSONKey(`"requestID":`)
	case "sign-response":
		check = checkJSONKey(`"status":`)
	case "mpower-check":
		check = checkJSONKey(`"success":true`)
	default:
		return fmt.Errorf("-kind %q: want ocsp, tsa, verify, seal, sign-request, sign-response or mpower-check", kind)
	}
	var hdrs strings.Builder
	for _, h := range extraHeaders {
		k, v, _ := strings.Cut(h, ":")
		fmt.Fprintf(&hdrs, "%s: %s\r\n", strings.TrimSpace(k), strings.TrimSpace(v))
	}
	var wires [][]byte
	for _, f := range strings.Split(reqFiles, ",") {
		der, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		path := u.EscapedPath()
		var w bytes.Buffer
		switch {
		case kind == "sign-response" || kind == "mpower-check":
			fmt.Fprintf(&w, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", u.RequestURI(), u.Host, hdrs.String())
		case method == "GET":
			p := strings.TrimSuffix(path, "/") + "/" + url.PathEscape(base64.StdEncoding.EncodeToString(der))
			fmt.Fprintf(&w, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", p, u.Host, hdrs.String())
		default:
			if path == "" {
				path = "/"
			}
			fmt.Fprintf(&w, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n", path, u.Host, ctype, len(der), hdrs.String())
			w.Write(der)
		}
		wires = append(wires, w.Bytes())
	}
	// One checked exchange first (the server may still be starting).
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := &client{addr: u.Host}
		body, err := c.do(wires[0])
		if err == nil {
			err = check(body, true)
		}
		c.close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	if hostileClients > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan *hostile.Stats, 1)
		go func() { done <- hostile.Run(ctx, "http://"+u.Host, hostileClients) }()
		time.Sleep(time.Second) // let them take hold
		defer func() {
			cancel()
			st := <-done
			fmt.Fprintf(os.Stderr, "loadgen: %d hostile clients: %d requests answered, %d with 4xx\n", hostileClients, st.Requests.Load(), st.Status[4].Load())
		}()
	}
	var stop atomic.Bool
	var errs atomic.Int64
	var firstErr atomic.Value
	var next atomic.Int64 // with once: the next request file to send
	if once {
		next.Store(1) // the first one was the readiness probe: not cold any more
	}
	lats := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	cpu0, _ := cpuMicros()
	wait0, waitOK := runQueueWait()
	start := time.Now()
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{addr: u.Host}
			defer c.close()
			mine := make([]time.Duration, 0, 1<<16)
			for n := i; !stop.Load(); n++ {
				if once {
					if n = int(next.Add(1) - 1); n >= len(wires) {
						break
					}
				}
				t0 := time.Now()
				body, err := c.do(wires[n%len(wires)])
				if err == nil {
					err = check(body, n%256 == 0)
				}
				if err != nil {
					if !stop.Load() {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
					c.close()
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			lats[i] = mine
		}()
	}
	var elapsed time.Duration
	if once {
		wg.Wait()
		elapsed = time.Since(start)
	} else {
		time.Sleep(dur)
		stop.Store(true)
		elapsed = time.Since(start)
		wg.Wait()
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return fmt.Errorf("no request completed: %v", firstErr.Load())
	}
	if e := errs.Load(); e > 0 {
		fmt.Fprintf(os.Stderr, "loadgen: %d failed exchanges for %d good replies, first: %v\n", e, len(all), firstErr.Load())
		if e*100 > int64(len(all)) {
			return fmt.Errorf("%d errors for %d replies (more than 1%%), first: %v", e, len(all), firstErr.Load())
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if us, ok := cpuMicros(); ok && cpu0 > 0 {
		us -= cpu0
		// Its own CPU (user + system, the whole process) per good reply:
		// the client's share of a machine it shares with the server.
		fmt.Fprintf(os.Stderr, "loadgen: %.1f µs CPU per reply (%d replies)\n", us/float64(len(all)), len(all))
	}
	if w, ok := runQueueWait(); ok && waitOK {
		// Time its threads were ready to run but had no CPU: on a
		// machine shared with the server, what the two take from each
		// other (the server's own is read by bench/side-mpower.sh).
		fmt.Fprintf(os.Stderr, "loadgen: %.1f µs waiting for a CPU per reply\n", float64(w-wait0)/1e3/float64(len(all)))
	}
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	fmt.Printf("%.0f\t%.3f\t%.3f\t%d\n", float64(len(all))/elapsed.Seconds(), pct(0.5), pct(0.99), errs.Load())
	return nil
}

// runQueueWait is the time in ns the process's threads have spent ready
// to run but waiting for a CPU (the second field of Linux's
// /proc/self/task/*/schedstat; threads that have ended are not counted).
func runQueueWait() (int64, bool) {
	files, _ := filepath.Glob("/proc/self/task/*/schedstat")
	var sum int64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fields := strings.Fields(string(b))
		if len(fields) < 2 {
			continue
		}
		n, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		sum += n
	}
	return sum, len(files) > 0
}

// cpuMicros is the process's CPU time so far (user + system) in µs.
func cpuMicros() (float64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e3, true
}

// client is one HTTP/1.1 connection, re-dialled when the server closes it.
type client struct {
	addr     string
	conn     net.Conn
	deadline time.Time // the connection's (do)
	r        *bufio.Reader
	body     []byte
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

var errClosed = errors.New("server closed the connection")

// do sends one request and returns the body of a 200 reply. A request on a
// reused connection that the server had closed is retried once.
func (c *client) do(wire []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		reused := c.conn != nil
		if c.conn == nil {
			conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
			if err != nil {
				return nil, err
			}
			c.conn = conn
			if c.r == nil {
				c.r = bufio.NewReaderSize(conn, 16<<10)
			} else {
				c.r.Reset(conn)
			}
		}
		// Each exchange must end within 10 s: the deadline is moved on
		// only once it is less than 5 s away (a timer reset per request
		// was a measurable part of the client's CPU), so an exchange has
		// at least 5 s.
		if now := time.Now(); !reused || now.After(c.deadline.Add(-5*time.Second)) {
			c.deadline = now.Add(10 * time.Second)
			c.conn.SetDeadline(c.deadline)
		}
		body, keep, err := c.exchange(wire)
		if err != nil {
			c.close()
			if reused && attempt == 0 && (errors.Is(err, io.EOF) || errors.Is(err, errClosed) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err)) {
				continue
			}
			return nil, err
		}
		if !keep {
			c.close()
		}
		return body, nil
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe")
}

func (c *client) exchange(wire []byte) ([]byte, bool, error) {
	if _, err := c.conn.Write(wire); err != nil {
		return nil, false, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return nil, false, err
	}
	keep := bytes.HasPrefix(line, []byte("HTTP/1.1 "))
	if len(line) < 12 || !bytes.Equal(line[9:12], []byte("200")) && !bytes.Equal(line[9:12], []byte("201")) {
		return nil, false, fmt.Errorf("HTTP status %q", bytes.TrimSpace(line))
	}
	length := -1
	chunked := false
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return nil, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil {
				return nil, false, fmt.Errorf("Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			if bytes.EqualFold(v, []byte("close")) {
				keep = false
			} else if bytes.EqualFold(v, []byte("keep-alive")) {
				keep = true
			}
		}
	}
	if chunked {
		b, err := c.readChunked()
		return b, keep && err == nil, err
	}
	if length < 0 { // no length: the body runs to the end of the connection
		b, err := io.ReadAll(c.r)
		return b, false, err
	}
	if cap(c.body) < length {
		c.body = make([]byte, length)
	}
	c.body = c.body[:length]
	if _, err := io.ReadFull(c.r, c.body); err != nil {
		return nil, false, err
	}
	return c.body, keep, nil
}

// readChunked reads a chunked body (RFC 9112 §7.1) into c.body.
func (c *client) readChunked() ([]byte, error) {
	c.body = c.body[:0]
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		sz, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
		n, err := strconv.ParseInt(string(sz), 16, 64)
		if err != nil || n < 0 || n > 1<<30 {
			return nil, fmt.Errorf("bad chunk size %q", sz)
		}
		if n == 0 {
			for { // trailers, then the empty line
				t, err := c.r.ReadSlice('\n')
				if err != nil {
					return nil, err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return c.body, nil
				}
			}
		}
		off := len(c.body)
		c.body = append(c.body, make([]byte, n)...)
		if _, err := io.ReadFull(c.r, c.body[off:]); err != nil {
			return nil, err
		}
		if _, err := c.r.Discard(2); err != nil { // CRLF after the data
			return nil, err
		}
	}
}

// checkVerify: a semnat verification report with the wanted indication.
func checkVerify(b []byte, full bool) error {
	if !full { // the first "indication" key is the document's
		i := bytes.Index(b, []byte(`"indication":`))
		if i < 0 {
			return fmt.Errorf("not a report (%d bytes)", len(b))
		}
		v := bytes.TrimLeft(b[i+len(`"indication":`):], " ")
		if !bytes.HasPrefix(v, []byte(`"`+wantIndication+`"`)) {
			return fmt.Errorf("report indication %.20q, want %q", v, wantIndication)
		}
		return nil
	}
	var rep struct {
		Indication string `json:"indication"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("report: %v", err)
	}
	if rep.Indication != wantIndication {
		return fmt.Errorf("report indication %q, want %q", rep.Indication, wantIndication)
	}
	return nil
}

// checkJSONKey: a JSON answer holding key (its full check parses it).
func checkJSONKey(key string) func(b []byte, full bool) error {
	return func(b []byte, full bool) error {
		if !bytes.Contains(b, []byte(key)) {
			return fmt.Errorf("no %s in the answer: %.200s", key, b)
		}
		if full && !json.Valid(b) {
			return fmt.Errorf("the answer is not JSON: %.200s", b)
		}
		return nil
	}
}

// checkSeal: a PDF (the sealed document).
func checkSeal(b []byte, full bool) error {
	if !bytes.HasPrefix(b, []byte("%PDF-")) || !bytes.Contains(b[max(0, len(b)-64):], []byte("%%EOF")) {
		return fmt.Errorf("not a PDF (%d bytes)", len(b))
	}
	if full && !bytes.Contains(b, []byte("/ByteRange")) {
		return fmt.Errorf("the sealed PDF has no signature (%d bytes)", len(b))
	}
	return nil
}

// checkOCSP parses OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED,
// responseBytes [0] EXPLICIT ... OPTIONAL }: the status must be
// successful (0) and the response bytes present; an error reply
// (malformedRequest, tryLater, unauthorized, ...) is an error. Every full
// check parses the whole response with the ocsp package.
func checkOCSP(b []byte, full bool) error {
	in := cryptobyte.String(b)
	var resp cryptobyte.String
	var status int64
	if !in.ReadASN1(&resp, cbasn1.SEQUENCE) || !in.Empty() || !readEnumerated(&resp, &status) {
		return fmt.Errorf("not an OCSP response (%d bytes)", len(b))
	}
	if status != 0 {
		return fmt.Errorf("OCSP response status %d, want 0 (successful)", status)
	}
	if !resp.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return fmt.Errorf("successful OCSP response without responseBytes (%d bytes)", len(b))
	}
	if full {
		r, err := ocsp.ParseResponse(bytes.Clone(b))
		if err != nil || r.Status != ocsp.Successful {
			return fmt.Errorf("OCSP response: %v", err)
		}
	}
	return nil
}

// readEnumerated reads an ENUMERATED (cryptobyte has no reader for it).
func readEnumerated(s *cryptobyte.String, out *int64) bool {
	var v cryptobyte.String
	if !s.ReadASN1(&v, cbasn1.ENUM) || len(v) == 0 || len(v) > 8 {
		return false
	}
	n := int64(int8(v[0]))
	for _, c := range v[1:] {
		n = n<<8 | int64(c)
	}
	*out = n
	return true
}

// checkTSA parses TimeStampResp ::= SEQUENCE { status PKIStatusInfo,
// timeStampToken ContentInfo OPTIONAL }: the status must be granted (0) or
// grantedWithMods (1) and the token present. Every full check parses the
// whole response with the tsa package.
func checkTSA(b []byte, full bool) error {
	in := cryptobyte.String(b)
	var resp, info cryptobyte.String
	var status int64
	if !in.ReadASN1(&resp, cbasn1.SEQUENCE) || !in.Empty() || !resp.ReadASN1(&info, cbasn1.SEQUENCE) || !info.ReadASN1Integer(&status) {
		return fmt.Errorf("not a time-stamp response (%d bytes)", len(b))
	}
	if status != 0 && status != 1 {
		return fmt.Errorf("time-stamp response status %d, want granted (0 or 1)", status)
	}
	if !resp.PeekASN1Tag(cbasn1.SEQUENCE) {
		return fmt.Errorf("granted time-stamp response without a token (%d bytes)", len(b))
	}
	if full {
		if _, err := tsa.ParseResponse(bytes.Clone(b)); err != nil {
			return err
		}
	}
	return nil
}

// signRate prints the signatures/s of a key: PKCS#1 v1.5 for RSA, ECDSA for
// EC keys, over SHA-256 digests, from workers goroutines.
func signRate(path string, workers int, dur time.Duration) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	blk, _ := pem.Decode(data)
	if blk == nil {
		return fmt.Errorf("%s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return fmt.Errorf("%s: not a signing key", path)
	}
	digest := sha256.Sum256([]byte("loadgen"))
	var stop atomic.Bool
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					return
				}
				n.Add(1)
			}
		}()
	}
	time.Sleep(dur)
	stop.Store(true)
	wg.Wait()
	fmt.Printf("%.0f\n", float64(n.Load())/time.Since(start).Seconds())
	return nil
}
