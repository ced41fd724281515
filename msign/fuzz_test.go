package msign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/problem"
	"github.com/semnat/semnat/store"
)

// FuzzSignRequestForm: whatever form a page or client posts to
// /api/v1/sign-requests, the answer is 201 or a 4xx problem document with
// a type, never a 500 or a panic.
func FuzzSignRequestForm(f *testing.F) {
	pki, _ := signFixtures(f)
	st, err := store.OpenSQLite(filepath.Join(f.TempDir(), "semnat.db"), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	_, s := serve(f, Config{Store: st, Roots: pki.RootPool(), RateLimit: 1e9, MaxUpload: 1 << 20})
	ent := pki.MustGet("person-p256")
	cert := base64.StdEncoding.EncodeToString(ent.Cert.Raw)
	chain := base64.StdEncoding.EncodeToString(ent.Chain[0].Raw)
	doc := samplepdf.Document("Fuzz", nil, 0)
	f.Add("token", "B-B", "on", "1", "top-left", "", "", cert, chain, doc)
	f.Add("token", "B-B", "on", "7", "bottom-right", "", "", cert, "", doc)
	f.Add("mobile", "B-T", "", "", "", "+37369000001", "2004001000011", "", "", doc)
	f.Add("token", "B-LTA", "1", "-1", "middle", "", "", "AAAA", "!!", []byte("%PDF-1.7\n%%EOF"))
	f.Fuzz(func(t *testing.T, method, level, vis, page, corner, phone, idnp, certB64, chainB64 string, file []byte) {
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		for k, v := range map[string]string{"method": method, "level": level, "visible": vis, "page": page, "corner": corner,
			"phone": phone, "idnp": idnp, "certificate": certB64, "chain": chainB64} {
			w.WriteField(k, v)
		}
		fw, _ := w.CreateFormFile("file", "doc.pdf")
		fw.Write(file)
		w.Close()
		req := httptest.NewRequest(http.MethodPost, "/api/v1/sign-requests", &body)
		req.Header.Set("Content-Type", w.FormDataContentType())
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code == http.StatusCreated {
			var v signRequestView
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v.ID == "" {
				t.Fatalf("201 without a request: %s", rec.Body.Bytes())
			}
			del := httptest.NewRequest(http.MethodDelete, "/api/v1/sign-requests/"+v.ID, nil)
			s.ServeHTTP(httptest.NewRecorder(), del)
			return
		}
		var p problem.Problem
		if rec.Code < 400 || rec.Code >= 500 || json.Unmarshal(rec.Body.Bytes(), &p) != nil || !strings.HasPrefix(p.Type, "urn:semnat:problem:") {
			t.Fatalf("answer %d: %s", rec.Code, rec.Body.Bytes())
		}
	})
}

// FuzzSystemSignRequest: whatever JSON a registered system posts to
// PostSignRequest, the answer is 201 with a request id or a 4xx problem
// document, never a 500 or a panic.
func FuzzSystemSignRequest(f *testing.F) {
	st, err := store.OpenSQLite(filepath.Join(f.TempDir(), "semnat.db"), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	const key = "fuzzing-system-key-0123456789"
	if err := AddSystem(context.Background(), st, "fuzz", NewSystem{Name: "fuzz", APIKey: []byte(key), ReturnURLs: []string{"https://fuzz.example/"}}); err != nil {
		f.Fatal(err)
	}
	_, s := serve(f, Config{Store: st, RateLimit: 1e9, MaxUpload: 1 << 20})
	doc, _ := json.Marshal(samplepdf.Document("Fuzz", nil, 0))
	f.Add([]byte(`{"shortContentDescription":"x","contentType":"Pdf","contents":[{"correlationID":"a","content":` + string(doc) + `}]}`))
	f.Add([]byte(`{"shortContentDescription":"x","contentType":"Hash","contents":[{"correlationID":"a","content":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}],"expectedSigner":{"id":"2004007000011","delegatorType":"Person"}}`))
	f.Add([]byte(`{"contents":[{"correlationID":"a"},{"correlationID":"a"}],"unknown":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/signature-requests", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code == http.StatusCreated {
			var out client.PostResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || !isID(out.RequestID) {
				t.Fatalf("201 without a request id: %s", rec.Body.Bytes())
			}
			return
		}
		var p problem.Problem
		if rec.Code < 400 || rec.Code >= 500 || json.Unmarshal(rec.Body.Bytes(), &p) != nil || !strings.HasPrefix(p.Type, problem.Prefix) {
			t.Fatalf("answer %d: %s", rec.Code, rec.Body.Bytes())
		}
	})
}

// FuzzNormalizeMSISDN: a number is either refused ("") or +373 and eight
// digits, and normalising it again changes nothing.
func FuzzNormalizeMSISDN(f *testing.F) {
	for _, s := range []string{"069123456", "0 69 123 456", "+373 69-123-456", "0037369123456", "37369123456", "(069) 12.34.56", "+40712345678", "0691234567", "+373６９123456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := normalizeMSISDN(s)
		if n == "" {
			return
		}
		if len(n) != 12 || !strings.HasPrefix(n, "+373") || strings.Trim(n[4:], "0123456789") != "" || normalizeMSISDN(n) != n {
			t.Fatalf("%q → %q", s, n)
		}
	})
}

func TestNormalizeMSISDN(t *testing.T) {
	for in, want := range map[string]string{
		"069123456": "+37369123456", "0 69 123 456": "+37369123456", "+373 69-123-456": "+37369123456",
		"0037369123456": "+37369123456", "37369123456": "+37369123456", "000000001": "+37300000001",
		"+40712345678": "", "0691234567": "", "69123456": "", "": "", "+373691234a6": "",
	} {
		if got := normalizeMSISDN(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
