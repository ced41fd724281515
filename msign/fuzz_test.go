package msign

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
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
