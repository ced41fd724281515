package ocsp

import (
	"bytes"
	"context"
	"crypto"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semnat/semnat/crl"
	"github.com/semnat/semnat/testcerts"
)

type fakeClock struct{ t atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Unix(0, c.t.Load()) }
func (c *fakeClock) add(d time.Duration) { c.t.Add(int64(d)) }

// TestPresignAndRefresh: answers are signed ahead for every issued serial,
// served unchanged until a quarter of their validity, re-signed after it
// and at once after a revocation.
func TestPresignAndRefresh(t *testing.T) {
	p := testcerts.New(t)
	reg, err := crl.RegistryFromPKI(p)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{}
	clk.t.Store(time.Now().UnixNano())
	r, err := ResponderFromPKI(p, reg, ResponderOptions{Now: clk.now, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	issued := 0
	for _, e := range p.Entities() {
		if e.Issuer != nil {
			issued++
		}
	}
	ctx := context.Background()
	if n := r.Presign(ctx); n != issued {
		t.Fatalf("pre-signed %d answers, want one per issued certificate (%d)", n, issued)
	}
	e := p.MustGet("seal")
	id, _ := NewCertID(crypto.SHA1, e.Issuer.Cert, e.Cert.SerialNumber)
	req := mustMarshal(t, &Request{CertIDs: []CertID{id}})
	first, err := r.Respond(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	clk.add(14 * time.Minute)
	if again, _ := r.Respond(ctx, req); !bytes.Equal(first, again) {
		t.Fatal("answer re-signed before a quarter of its validity")
	}
	clk.add(2 * time.Minute)
	later, _ := r.Respond(ctx, req)
	if bytes.Equal(first, later) {
		t.Fatal("answer not re-signed after a quarter of its validity")
	}
	resp, err := ParseResponse(later)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Responses[0].ThisUpdate; !got.Equal(clk.now().UTC().Truncate(time.Second)) {
		t.Fatalf("thisUpdate %v, want %v", got, clk.now())
	}
	// Run re-signs due answers without a request.
	clk.add(16 * time.Minute)
	r.Presign(ctx)
	r.storeMu.RLock()
	for k, ent := range r.store {
		if a := ent.cur.Load(); a == nil || !a.fresh(clk.now()) {
			t.Errorf("entry %x not refreshed", k)
		}
	}
	r.storeMu.RUnlock()
	// Revocation: the next answer says so.
	if err := reg.Revoke(e.Issuer.Cert, e.Cert.SerialNumber, clk.now(), testcerts.ReasonCessationOfOperation); err != nil {
		t.Fatal(err)
	}
	out, _ := r.Respond(ctx, req)
	resp, err = ParseResponse(out)
	if err != nil || resp.Responses[0].Status.State != crl.Revoked || resp.Responses[0].Status.Reason != testcerts.ReasonCessationOfOperation {
		t.Fatalf("after revocation: %+v %v", resp, err)
	}
}

// TestGETCachingHeaders: RFC 5019 §6 headers on pre-signed GET answers,
// If-None-Match, and none on answers with a nonce.
func TestGETCachingHeaders(t *testing.T) {
	f := newFixture(t, ResponderOptions{Validity: 2 * time.Hour})
	e := f.pki.MustGet("person-p384")
	id, _ := NewCertID(crypto.SHA256, e.Issuer.Cert, e.Cert.SerialNumber)
	get := func(der []byte, etag string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, f.url+"/"+base64URL(der), nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := get(mustMarshal(t, &Request{CertIDs: []CertID{id}}), "")
	h := resp.Header
	lm, err1 := http.ParseTime(h.Get("Last-Modified"))
	exp, err2 := http.ParseTime(h.Get("Expires"))
	if resp.StatusCode != 200 || err1 != nil || err2 != nil || exp.Sub(lm) != 2*time.Hour || h.Get("ETag") == "" ||
		!bytes.HasPrefix([]byte(h.Get("Cache-Control")), []byte("max-age=71")) {
		t.Fatalf("headers: %d %v", resp.StatusCode, h)
	}
	if resp := get(mustMarshal(t, &Request{CertIDs: []CertID{id}}), h.Get("ETag")); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
	resp = get(mustMarshal(t, &Request{CertIDs: []CertID{id}, Nonce: []byte("0123456789abcdef")}), "")
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("ETag") != "" {
		t.Fatalf("answer with a nonce is cacheable: %v", resp.Header)
	}
}

// TestClientCache: with a cache, a second check before nextUpdate sends
// no request.
func TestClientCache(t *testing.T) {
	f := newFixture(t, ResponderOptions{})
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		f.resp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e := f.pki.MustGet("mobile-rsa2048")
	c := Client{Cache: &ResponseCache{}}
	ctx := context.Background()
	a, err := c.CheckURL(ctx, srv.URL, e.Cert, e.Issuer.Cert)
	if err != nil || a.Cached {
		t.Fatalf("%+v %v", a, err)
	}
	b, err := c.CheckURL(ctx, srv.URL, e.Cert, e.Issuer.Cert)
	if err != nil || !b.Cached || !bytes.Equal(a.Raw, b.Raw) || hits.Load() != 1 {
		t.Fatalf("second check: cached=%v err=%v requests=%d", b != nil && b.Cached, err, hits.Load())
	}
	c.Now = func() time.Time { return a.NextUpdate.Add(time.Second) }
	if _, err := c.CheckURL(ctx, srv.URL, e.Cert, e.Issuer.Cert); hits.Load() != 2 {
		t.Fatalf("after nextUpdate: %d requests (%v)", hits.Load(), err)
	}
}
