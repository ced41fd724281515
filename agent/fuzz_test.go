package agent

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"
)

// FuzzParseSign: whatever a page posts to /v1/sign, parseSign answers a
// problem or parameters that keep its promises (digest size, bounded
// displayable document name, printable nonce), never a panic.
func FuzzParseSign(f *testing.F) {
	f.Add([]byte(`{"certificateId":"01ab","hash":"SHA-256","digest":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","nonce":"n-1","document":"a.pdf"}`))
	f.Add([]byte(`{"certificateId":"01","hash":"SHA-384","scheme":"pss","digest":"AA==","nonce":"x","document":"b"}`))
	f.Add([]byte(`{"certificateId":"zz","hash":"MD5"}`))
	f.Add([]byte(`{"document":"\u202ea.pdf","nonce":"\u0000"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/v1/sign", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		p, prob := parseSign(httptest.NewRecorder(), r)
		if (p == nil) == (prob == nil) {
			t.Fatalf("parseSign gave params %v and problem %v", p, prob)
		}
		if prob != nil {
			if prob.status < 400 || prob.typ == "" {
				t.Fatalf("problem without status or type: %+v", prob)
			}
			return
		}
		if len(p.req.Digest) != p.hash.Size() || len(p.id) == 0 {
			t.Fatalf("accepted digest of %d bytes for %v, id %x", len(p.req.Digest), p.hash, p.id)
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
	})
}
