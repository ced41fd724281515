package msign

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/hostile"
	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/store"
	"github.com/semnat/semnat/testcerts"
)

// Tests of issue #18: what a hostile client costs the server.

// hugeBody is a body of n bytes made on the fly (head, then 'A's), that
// counts what the server read of it.
type hugeBody struct {
	head []byte
	n    int64
	read atomic.Int64
}

func (b *hugeBody) Read(p []byte) (int, error) {
	off := b.read.Load()
	if off >= b.n {
		return 0, io.EOF
	}
	k := int64(len(p))
	if k > b.n-off {
		k = b.n - off
	}
	for i := range p[:k] {
		if j := off + int64(i); j < int64(len(b.head)) {
			p[i] = b.head[j]
		} else {
			p[i] = 'A'
		}
	}
	b.read.Add(k)
	return int(k), nil
}

func (b *hugeBody) Close() error { return nil }

// bareService is MSign on a fresh store, for requests served in process.
func bareService(t *testing.T, mut func(*Config)) (*Service, http.Handler) {
	t.Helper()
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "semnat.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := Config{Store: st}
	if mut != nil {
		mut(&cfg)
	}
	s, host := serve(t, cfg)
	return s, host
}

// A 30 MB multipart post without a form token is refused after a small
// prefix of its body: the CSRF check no longer parses the whole form.
func TestCSRFBeforeBody(t *testing.T) {
	_, h := bareService(t, nil)
	for _, path := range []string{"/verify", "/sign"} {
		const size = 30 << 20
		head := "--XXX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n"
		body := &hugeBody{head: []byte(head), n: size}
		req := httptest.NewRequest(http.MethodPost, path, body)
		req.ContentLength = size
		req.Header.Set("Content-Type", "multipart/form-data; boundary=XXX")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "csrf") {
			t.Errorf("%s without a token: %d %s", path, rec.Code, rec.Body)
		}
		if n := body.read.Load(); n > 64<<10 {
			t.Errorf("%s without a token: the server read %d bytes of the body before refusing it", path, n)
		}
	}
}

// POST …/complete looks the id up before it reads the body, and caps the
// body far below the upload limit.
func TestCompleteIDBeforeBody(t *testing.T) {
	s, h := bareService(t, nil)
	const size = 31 << 20
	body := &hugeBody{head: []byte(`{"documents":[{"signature":"`), n: size}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/sign-requests/0123456789abcdef0123456789abcdef/complete", body)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("unknown id: %d %s", rec.Code, rec.Body)
	}
	if n := body.read.Load(); n > 0 {
		t.Errorf("unknown id: the server read %d bytes of the body", n)
	}

	// A known request: a body over the completion cap is refused unread
	// (by its length) or cut at the cap.
	r := &signRequest{ID: newID(), Method: "token", Status: statusAwaiting, Created: time.Now().UTC(),
		Expires: time.Now().Add(time.Minute).UTC(), Level: "B-B", Docs: []signDoc{{Name: "a.pdf"}}}
	if err := s.save(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	for _, known := range []bool{true, false} {
		body = &hugeBody{head: []byte(`{"documents":[{"signature":"`), n: 2 << 20}
		req = httptest.NewRequest(http.MethodPost, "/api/v1/sign-requests/"+r.ID+"/complete", body)
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = -1
		if known {
			req.ContentLength = body.n
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("2 MB completion (length known: %v): %d %s", known, rec.Code, rec.Body)
		}
		if n := body.read.Load(); n > maxCompleteBody+64<<10 {
			t.Errorf("2 MB completion (length known: %v): read %d bytes", known, n)
		}
	}
}

// trickle sends a request's head and then its body one byte at a time,
// every gap, until the server answers; it returns the status line.
func trickle(t *testing.T, addr, path string, gap time.Duration) (string, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/pdf\r\nContent-Length: 100000\r\n\r\n%%PDF", path)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(gap):
				if _, err := conn.Write([]byte("A")); err != nil {
					return
				}
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}

// Trickled uploads hold no worker: the body is spooled before a place is
// taken, and a body slower than the minimum rate is cut with a 408
// problem, while a well-behaved verification goes through meanwhile.
func TestTrickledUploadsCut(t *testing.T) {
	_, h := bareService(t, func(c *Config) {
		c.MaxConcurrent, c.MinUploadRate, c.UploadGrace, c.RequestTimeout = 2, 1024, 500*time.Millisecond, 3*time.Second
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	const n = 4 // twice the workers
	results := make(chan string, n)
	start := time.Now()
	for range n {
		go func() {
			line, err := trickle(t, addr, "/api/v1/verifications", 100*time.Millisecond)
			if err != nil {
				line = "error: " + err.Error()
			}
			results <- line
		}()
	}
	time.Sleep(100 * time.Millisecond)
	doc := samplepdf.Document("Hostile", nil, 0)
	t0 := time.Now()
	resp, err := http.Post(srv.URL+"/api/v1/verifications", "application/pdf", bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a verification beside trickled uploads: %d %s", resp.StatusCode, b)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("a verification beside trickled uploads took %v", d)
	}
	for range n {
		if line := <-results; !strings.Contains(line, " 408 ") {
			t.Errorf("a trickled upload was answered %q, want a 408", line)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the trickled uploads were cut after %v", d)
	}
}

// Uploads are spooled in a directory of the service's own (0700), which
// is swept at start of what a killed process left there, and left empty
// after each request.
func TestSpoolSwept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "upload-123.pdf")
	if err := os.WriteFile(stale, []byte("left by kill -9"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, h := bareService(t, func(c *Config) { c.SpoolDir = dir })
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a stale upload survived the start: %v", err)
	}
	// Seen while a request reads its body: the file is in the spool.
	pr, pw := io.Pipe()
	seen := make(chan []string, 1)
	go func() {
		pw.Write(samplepdf.Document("Spool", nil, 0)[:100])
		time.Sleep(50 * time.Millisecond)
		m, _ := filepath.Glob(filepath.Join(dir, "*"))
		seen <- m
		pw.Write(samplepdf.Document("Spool", nil, 0)[100:])
		pw.Close()
	}()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/verifications", pr)
	req.Header.Set("Content-Type", "application/pdf")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("verify: %d %s", rec.Code, rec.Body)
	}
	if m := <-seen; len(m) != 1 {
		t.Errorf("while reading the body, the spool held %v", m)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
		t.Errorf("after the request, the spool holds %v", m)
	}
}

// The API key comes as "Bearer KEY" (or X-API-Key): an Authorization
// header without a scheme, or with another one, is refused, not taken as
// the key.
func TestAuthorizationScheme(t *testing.T) {
	_, h := bareService(t, func(c *Config) { c.APIKeys = map[string]string{apiKey: "registru-test"} })
	for _, tc := range []struct {
		auth string
		want int
	}{
		{apiKey, http.StatusUnauthorized},
		{"Basic " + apiKey, http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Bearer " + apiKey, http.StatusServiceUnavailable}, // known: then "no seal key"
		{"bearer " + apiKey, http.StatusServiceUnavailable},
	} {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/seal", strings.NewReader("%PDF"))
		req.Header.Set("Content-Type", "application/pdf")
		req.Header.Set("Authorization", tc.auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("Authorization %q: %d %s, want %d", strings.Replace(tc.auth, apiKey, "KEY", 1), rec.Code, rec.Body, tc.want)
		}
	}
}

// /metrics shows how long signing and verification took.
func TestWorkMetrics(t *testing.T) {
	e := newEnv(t, pades.LevelBB, 1<<20)
	doc := samplepdf.Document("Metrici", nil, 0)
	resp, sealed := post(t, e.srv.URL+"/api/v1/seal", "application/pdf", doc, map[string]string{"X-API-Key": apiKey})
	if resp.StatusCode != 200 {
		t.Fatalf("seal: %d %s", resp.StatusCode, sealed)
	}
	if resp, b := post(t, e.srv.URL+"/api/v1/verifications", "application/pdf", sealed, nil); resp.StatusCode != 200 {
		t.Fatalf("verify: %d %s", resp.StatusCode, b)
	}
	_, m := getURL(t, e.srv.URL+"/metrics")
	for _, want := range []string{
		"# TYPE semnat_verification_seconds histogram", "semnat_verification_seconds_count 1",
		"# TYPE semnat_signing_seconds histogram", `semnat_signing_seconds_count{method="seal"} 1`,
	} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// The form token is bound to a session cookie minted by the server: a
// cookie/token pair chosen by another site is refused. Over TLS the cookie
// is Secure, with the __Host- prefix.
func TestCSRFSession(t *testing.T) {
	_, h := bareService(t, nil)
	planted := "0123456789abcdef0123456789abcdef"
	for _, cookie := range []string{planted, planted + ".00"} {
		req := httptest.NewRequest(http.MethodPost, "/verify", strings.NewReader("%PDF"))
		req.Header.Set("Content-Type", "application/pdf")
		req.Header.Set("X-CSRF-Token", cookie)
		req.AddCookie(&http.Cookie{Name: "semnat_csrf", Value: cookie})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("planted cookie and token %q: %d %s", cookie, rec.Code, rec.Body)
		}
	}

	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	c := srv.Client()
	resp, err := c.Get(srv.URL + "/verify")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ck *http.Cookie
	for _, k := range resp.Cookies() {
		if strings.HasSuffix(k.Name, "semnat_csrf") {
			ck = k
		}
	}
	if ck == nil || ck.Name != "__Host-semnat_csrf" || !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.SameSite != http.SameSiteStrictMode {
		t.Fatalf("form token cookie over TLS: %+v", ck)
	}
	// The page's token with its cookie passes; with another session's, not.
	m := csrfField.FindSubmatch(page)
	if m == nil {
		t.Fatal("no form token on /verify")
	}
	for _, tc := range []struct {
		cookie string
		want   int
	}{{ck.Value, http.StatusUnprocessableEntity}, {"", http.StatusForbidden}} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/verify", strings.NewReader("not a pdf"))
		req.Header.Set("Content-Type", "application/pdf")
		req.Header.Set("X-CSRF-Token", string(m[1]))
		if tc.cookie != "" {
			req.AddCookie(&http.Cookie{Name: ck.Name, Value: tc.cookie})
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("token with cookie %v: %d %s, want %d", tc.cookie != "", resp.StatusCode, b, tc.want)
		}
	}
}

// 64 hostile clients (30 MB bodies without a form token, 31 MB JSON for
// unknown sign requests, trickled uploads) for a few seconds: the server's
// heap stays bounded and a well-behaved client's verifications all
// succeed. (Its latency is measured by bench/side-hostile.sh, not here.)
func TestHostileClients(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of load")
	}
	_, h := bareService(t, func(c *Config) {
		c.RateLimit = 1e6 // one address for every client: the other defences are under test
		c.MinUploadRate, c.UploadGrace = 1024, time.Second
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()

	var peak atomic.Uint64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for ctx.Err() == nil {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	stats := make(chan *hostile.Stats, 1)
	go func() { stats <- hostile.Run(ctx, srv.URL, 64) }()

	doc := samplepdf.Document("Bine", nil, 0)
	ok, n := 0, 0
	for ctx.Err() == nil {
		n++
		resp, err := http.Post(srv.URL+"/api/v1/verifications", "application/pdf", bytes.NewReader(doc))
		if err != nil {
			t.Errorf("a well-behaved verification: %v", err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			ok++
		} else {
			t.Errorf("a well-behaved verification: %d %s", resp.StatusCode, b)
		}
	}
	st := <-stats
	<-sampled
	t.Logf("well-behaved: %d of %d verified; hostile: %d answered (%d 4xx); peak heap in use %d MB",
		ok, n, st.Requests.Load(), st.Status[4].Load(), peak.Load()>>20)
	if ok == 0 || ok != n {
		t.Errorf("well-behaved verifications: %d of %d succeeded", ok, n)
	}
	if st.Status[4].Load() == 0 {
		t.Error("no hostile request was answered with a 4xx")
	}
	if p := peak.Load(); p > 256<<20 {
		t.Errorf("peak heap in use %d MB, want under 256 MB", p>>20)
	}
}

// One client may keep only so many bytes waiting in anonymous sign
// requests; cancelling one frees its share, and a client over its quota is
// refused before its body is read.
func TestPendingQuota(t *testing.T) {
	doc := samplepdf.Document("Cota", nil, 0)
	_, h := bareService(t, func(c *Config) { c.PendingQuota = int64(2*len(doc) + len(doc)/2) })
	ent := testcerts.New(t).MustGet("person-p256")
	create := func() (int, string) {
		ct, body := form(tokenForm(ent, map[string]string{"level": "B-B"}), "a.pdf", doc)
		req := httptest.NewRequest(http.MethodPost, "/api/v1/sign-requests", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var v struct{ ID string }
		_ = json.Unmarshal(rec.Body.Bytes(), &v)
		return rec.Code, v.ID
	}
	var ids []string
	for i := range 3 {
		code, id := create()
		want := http.StatusCreated
		if i == 2 {
			want = http.StatusTooManyRequests
		}
		if code != want {
			t.Fatalf("sign request %d: %d, want %d", i+1, code, want)
		}
		ids = append(ids, id)
	}
	// Over the quota, a declared 20 MB body is not read.
	big := &hugeBody{head: []byte("--XXX\r\n"), n: 20 << 20}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/sign-requests", big)
	req.ContentLength = big.n
	req.Header.Set("Content-Type", "multipart/form-data; boundary=XXX")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "upload-quota") || big.read.Load() != 0 {
		t.Errorf("over the quota: %d %s, %d bytes read", rec.Code, rec.Body, big.read.Load())
	}
	req = httptest.NewRequest(http.MethodDelete, "/api/v1/sign-requests/"+ids[0], nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("cancel: %d %s", rec.Code, rec.Body)
	}
	if code, _ := create(); code != http.StatusCreated {
		t.Errorf("after a cancel: %d", code)
	}
}

// A sign form that fails while it is read (a file over the limit, a form
// cut short) is a problem of the client's, and leaves the spool empty.
func TestSignFormReadErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	_, h := bareService(t, func(c *Config) { c.MaxUpload, c.SpoolDir = 4<<10, dir })
	ent := testcerts.New(t).MustGet("person-p256")
	ct, full := form(tokenForm(ent, map[string]string{"level": "B-B"}), "a.pdf", bytes.Repeat([]byte("A"), 8<<10))
	for _, tc := range []struct {
		name string
		body []byte
		want int
	}{{"file over the limit", full, http.StatusRequestEntityTooLarge}, {"cut short", full[:len(full)/4], http.StatusBadRequest}} {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/sign-requests", bytes.NewReader(tc.body))
		req.Header.Set("Content-Type", ct)
		req.ContentLength = -1 // not refused by its length: read
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
		}
		if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
			t.Errorf("%s: the spool holds %v", tc.name, m)
		}
	}
}

// Two instances on one store share the form token key: a page served by
// one is accepted by the other.
func TestCSRFKeyShared(t *testing.T) {
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "semnat.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, _ := serve(t, Config{Store: st})
	b, _ := serve(t, Config{Store: st})
	if !bytes.Equal(a.csrfKey, b.csrfKey) || len(a.csrfKey) != 32 {
		t.Errorf("form token keys differ: %x %x", a.csrfKey, b.csrfKey)
	}
}

// The SOAP face asks who is calling before it reads a body: a stranger's
// 30 MB envelope is refused unread.
func TestSOAPAuthBeforeBody(t *testing.T) {
	_, h := bareService(t, nil)
	body := &hugeBody{head: []byte(`<?xml version="1.0"?><Envelope><Body>`), n: 30 << 20}
	req := httptest.NewRequest(http.MethodPost, soapPath, body)
	req.ContentLength = body.n
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code < 400 || !strings.Contains(rec.Body.String(), "Fault") {
		t.Errorf("a stranger's envelope: %d %.300s", rec.Code, rec.Body)
	}
	if n := body.read.Load(); n > 0 {
		t.Errorf("a stranger's envelope: %d bytes read", n)
	}
}
