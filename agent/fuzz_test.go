package agent

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"

	"github.com/semnat/semnat/agent/wire"
)

// FuzzParseSign: whatever a page posts to /v1/sign or /v1/sign-batch,
// parseSign answers a problem or parameters that keep their promises
// (digest size, bounded displayable document name, printable nonce, one
// key for a batch), never a panic.
func FuzzParseSign(f *testing.F) {
	f.Add(false, []byte(`{"certificateId":"01ab","hash":"SHA-256","digest":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","nonce":"n-1","document":"a.pdf"}`))
	f.Add(false, []byte(`{"certificateId":"01","hash":"SHA-384","scheme":"pss","digest":"AA==","nonce":"x","document":"b"}`))
	f.Add(false, []byte(`{"certificateId":"zz","hash":"MD5"}`))
	f.Add(false, []byte(`{"document":"\u202ea.pdf","nonce":"\u0000"}`))
	f.Add(false, []byte(`[]`))
	f.Add(true, []byte(`{"certificateId":"01ab","documents":[{"hash":"SHA-256","digest":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","nonce":"n-1","document":"a.pdf"},{"certificateId":"01ab","hash":"SHA-256","digest":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","nonce":"n-2","document":"b.pdf"}]}`))
	f.Add(true, []byte(`{"certificateId":"01ab","documents":[{"certificateId":"02","hash":"SHA-256"}]}`))
	f.Add(true, []byte(`{"certificateId":"01ab","documents":[]}`))
	f.Fuzz(func(t *testing.T, batch bool, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/v1/sign", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		ps, prob := parseSign(httptest.NewRecorder(), r, batch)
		if (ps == nil) == (prob == nil) {
			t.Fatalf("parseSign gave params %v and problem %v", ps, prob)
		}
		if prob != nil {
			if prob.status < 400 || prob.typ == "" {
				t.Fatalf("problem without status or type: %+v", prob)
			}
			return
		}
		if len(ps) == 0 || len(ps) > wire.MaxBatch || !batch && len(ps) != 1 {
			t.Fatalf("%d documents (batch %v)", len(ps), batch)
		}
		for _, p := range ps {
			if len(p.req.Digest) != p.hash.Size() || len(p.id) == 0 || !bytes.Equal(p.id, ps[0].id) {
				t.Fatalf("accepted digest of %d bytes for %v, id %x (first %x)", len(p.req.Digest), p.hash, p.id, ps[0].id)
			}
			if p.req.Nonce == "" || len(p.req.Nonce) > MaxNonceLen || p.req.Document == "" || utf8.RuneCountInString(p.req.Document) > MaxDocumentLen {
				t.Fatalf("accepted nonce %q / document %q", p.req.Nonce, p.req.Document)
			}
			for _, c := range p.req.Nonce {
				if c < 0x21 || c > 0x7e {
					t.Fatalf("accepted a nonce with %q", c)
				}
			}
			for _, c := range p.req.Document {
				if !displayable(c) {
					t.Fatalf("accepted a document name with %U", c)
				}
			}
		}
	})
}

// FuzzParseAuth: whatever a page posts to /v1/authenticate, parseAuth
// answers a problem, or parameters for a login whose digest is the agent's
// own challenge for the page's origin and the nonce (never one the page
// chose), never a panic.
func FuzzParseAuth(f *testing.F) {
	f.Add([]byte(`{"certificateId":"01ab","hash":"SHA-256","nonce":"n-1"}`))
	f.Add([]byte(`{"certificateId":"01ab","nonce":"n-1","scheme":"pss"}`))
	f.Add([]byte(`{"certificateId":"01ab","nonce":"n-1","digest":"AAAA"}`))
	f.Add([]byte(`{"certificateId":"01ab","hash":"SHA-512","nonce":"a b"}`))
	f.Add([]byte(`{}`))
	const origin = "http://127.0.0.1:8480"
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/v1/authenticate", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		p, prob := parseAuth(httptest.NewRecorder(), r, origin)
		if (p == nil) == (prob == nil) {
			t.Fatalf("parseAuth gave params %v and problem %v", p, prob)
		}
		if prob != nil {
			if prob.status < 400 || prob.typ == "" {
				t.Fatalf("problem without status or type: %+v", prob)
			}
			return
		}
		if !p.login || !bytes.Equal(p.req.Digest, wire.AuthDigest(p.hash, origin, p.req.Nonce)) || len(p.id) == 0 {
			t.Fatalf("accepted %+v", p)
		}
		for _, c := range p.req.Nonce {
			if c < 0x21 || c > 0x7e {
				t.Fatalf("accepted a nonce with %q", c)
			}
		}
	})
}
