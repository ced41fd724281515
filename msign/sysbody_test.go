package msign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/store"
)

// TestSystemBodySpooled: a registered system's large body (REST JSON or
// SOAP) goes to the spool directory while it comes, not into memory, and
// no worker place is held meanwhile; once whole it is decoded and the
// request is created; the spool is empty afterwards. A small body stays
// in memory (no file).
func TestSystemBodySpooled(t *testing.T) {
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "semnat.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const key = "spool-system-key-0123456789"
	if err := AddSystem(context.Background(), st, "test", NewSystem{Name: "spool", APIKey: []byte(key), ReturnURLs: []string{"https://spool.example/"}}); err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(t.TempDir(), "spool")
	svc, h := serve(t, Config{Store: st, SpoolDir: spool, MaxConcurrent: 1})
	doc := samplepdf.Document("Mare", nil, 2<<20)
	rest, _ := json.Marshal(client.SignRequest{ShortContentDescription: "Mare", ContentType: client.ContentPdf,
		Contents: []client.SignContent{{CorrelationID: "1", Name: "mare.pdf", Content: doc}}})
	soap := []byte(`<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` +
		`<PostSignRequest xmlns="https://msign.gov.md"><request><ContentType>Pdf</ContentType><Contents><SignContent>` +
		`<Content>` + base64.StdEncoding.EncodeToString(doc) + `</Content><CorrelationID>1</CorrelationID><Name>mare.pdf</Name></SignContent></Contents>` +
		`<ShortContentDescription>Mare</ShortContentDescription></request></PostSignRequest></s:Body></s:Envelope>`)
	for _, tc := range []struct {
		name, path, ctype string
		body              []byte
		want              string
	}{
		{"REST", client.PathSignRequests, "application/json", rest, `"requestID"`},
		{"SOAP", soapPath, "text/xml; charset=utf-8", soap, "PostSignRequestResult"},
	} {
		pr, pw := io.Pipe()
		seen := make(chan []string, 1)
		slotFree := make(chan bool, 1)
		go func() {
			pw.Write(tc.body[:len(tc.body)/2])
			time.Sleep(100 * time.Millisecond)
			m, _ := filepath.Glob(filepath.Join(spool, "*"))
			seen <- m
			// The only worker place is free while the body comes.
			select {
			case svc.work <- struct{}{}:
				<-svc.work
				slotFree <- true
			default:
				slotFree <- false
			}
			pw.Write(tc.body[len(tc.body)/2:])
			pw.Close()
		}()
		req := httptest.NewRequest(http.MethodPost, tc.path, pr)
		req.Header.Set("Content-Type", tc.ctype)
		req.Header.Set("X-API-Key", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code/100 != 2 || !strings.Contains(rec.Body.String(), tc.want) {
			t.Fatalf("%s: %d %.300s", tc.name, rec.Code, rec.Body)
		}
		if m := <-seen; len(m) != 1 {
			t.Errorf("%s: while the body came, the spool held %v, want its one file", tc.name, m)
		}
		if !<-slotFree {
			t.Errorf("%s: a worker place was held while the body came", tc.name)
		}
		if m, _ := filepath.Glob(filepath.Join(spool, "*")); len(m) != 0 {
			t.Errorf("%s: after the request, the spool holds %v", tc.name, m)
		}
	}
	// A small body: no file.
	small, _ := json.Marshal(client.SignRequest{ShortContentDescription: "Mic", ContentType: client.ContentPdf,
		Contents: []client.SignContent{{CorrelationID: "1", Name: "mic.pdf", Content: samplepdf.Document("Mic", nil, 0)}}})
	req := httptest.NewRequest(http.MethodPost, client.PathSignRequests, strings.NewReader(string(small)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("small: %d %s", rec.Code, rec.Body)
	}
}

// TestSystemJSONStrict: a system's JSON body is read with encoding/json's
// rules (member names in any case) but strictly: an unknown member, or
// anything after the value, is an InvalidParameter, whether the body was
// read into memory (its buffer reused from one request to the next) or
// spooled to a file.
func TestSystemJSONStrict(t *testing.T) {
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "semnat.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const key = "strict-system-key-0123456789"
	if err := AddSystem(context.Background(), st, "test", NewSystem{Name: "strict", APIKey: []byte(key), ReturnURLs: []string{"https://strict.example/"}}); err != nil {
		t.Fatal(err)
	}
	_, h := serve(t, Config{Store: st})
	small := base64.StdEncoding.EncodeToString(samplepdf.Document("Mic", nil, 0))
	large := base64.StdEncoding.EncodeToString(samplepdf.Document("Mare", nil, 300<<10)) // beyond maxSmallBody: spooled
	post := func(body string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, client.PathSignRequests, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for _, content := range []string{large, small} {
		for _, tc := range []struct {
			name, body string
			want       int
		}{
			{"names in another case", `{"ShortContentDescription":"Caz","CONTENTTYPE":"Pdf","Contents":[{"CorrelationId":"1","Content":"` + content + `"}]}`, http.StatusCreated},
			{"unknown member", `{"shortContentDescription":"Caz","contentType":"Pdf","extra":1,"contents":[{"correlationID":"1","content":"` + content + `"}]}`, http.StatusBadRequest},
			{"trailing data", `{"shortContentDescription":"Caz","contentType":"Pdf","contents":[{"correlationID":"1","content":"` + content + `"}]} {}`, http.StatusBadRequest},
			{"the first again", `{"shortContentDescription":"Caz","contentType":"Pdf","contents":[{"correlationID":"1","content":"` + content + `"}]}`, http.StatusCreated},
		} {
			code, out := post(tc.body)
			if code != tc.want || (code == http.StatusBadRequest && !strings.Contains(out, client.ProblemInvalidParameter)) {
				t.Errorf("%s (%d bytes): %d %s, want %d", tc.name, len(tc.body), code, out, tc.want)
			}
		}
	}
}
