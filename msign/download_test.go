package msign

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/mobileid"
)

// signedRequest signs doc through the citizen API with the simulator's
// scripted phone and returns the request, signed.
func signedRequest(t *testing.T, e *signEnv, doc []byte) signRequestView {
	t.Helper()
	ct, body := form(map[string]string{"method": "mobile", "phone": "+37300000001", "level": "B-B"}, "contract.pdf", doc)
	resp, b := post(t, e.url+"/api/v1/sign-requests", ct, body, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	v := waitStatus(t, e, decodeView(t, b).ID)
	if v.Status != statusSigned {
		t.Fatalf("not signed: %+v", v)
	}
	return v
}

func rangeGet(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	return send(t, http.MethodGet, url, nil, hdr)
}

// TestDownloadSurvivesInterruption: a download cut after 2 KB loses
// nothing: the file stays, the browser resumes it with Range and If-Range
// (the ETag is the file's SHA-256), and it is marked downloaded only once
// its last byte went out; "Done" on the page deletes it, and only then is
// it gone (410, an HTML page for a browser).
func TestDownloadSurvivesInterruption(t *testing.T) {
	e := newSignEnv(t, "", nil)
	v := signedRequest(t, e, samplepdf.Document("Contract de vânzare-cumpărare", []string{"nr. 42"}, 0))
	u := e.url + v.Documents[0].Download

	// Cut after 2 KB: read the headers and 2 KB, then hang up.
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", v.Documents[0].Download)
	part := make([]byte, 2048)
	if _, err := io.ReadFull(conn, part); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	head, _, _ := bytes.Cut(part, []byte("\r\n\r\n"))
	if !bytes.Contains(head, []byte("Accept-Ranges: bytes")) || !bytes.Contains(head, []byte(`Etag: "`+signedHash(t, e, v.ID)+`"`)) {
		t.Fatalf("headers: %s", head)
	}

	// The retry works, and so does resuming from where it stopped.
	full, b := rangeGet(t, u, nil)
	if full.StatusCode != 200 || len(b) < 4096 {
		t.Fatalf("retry: %d, %d bytes", full.StatusCode, len(b))
	}
	etag := full.Header.Get("ETag")
	first, b1 := rangeGet(t, u, map[string]string{"Range": "bytes=0-2047"})
	if first.StatusCode != http.StatusPartialContent || !bytes.Equal(b1, b[:2048]) {
		t.Fatalf("first part: %d", first.StatusCode)
	}
	rest, b2 := rangeGet(t, u, map[string]string{"Range": "bytes=2048-", "If-Range": etag})
	if rest.StatusCode != http.StatusPartialContent || !bytes.Equal(append(b1, b2...), b) ||
		rest.Header.Get("Content-Range") != fmt.Sprintf("bytes 2048-%d/%d", len(b)-1, len(b)) {
		t.Fatalf("resumed: %d %q", rest.StatusCode, rest.Header.Get("Content-Range"))
	}
	checkSigned(t, e.pki, append(b1, b2...), "SERIALNUMBER=", "B-B")
	// A stale ETag (another file) gets the whole file, not a range of it.
	if r, whole := rangeGet(t, u, map[string]string{"Range": "bytes=2048-", "If-Range": `"0000"`}); r.StatusCode != 200 || !bytes.Equal(whole, b) {
		t.Fatalf("stale If-Range: %d", r.StatusCode)
	}

	// Downloaded: only a response that sent the last byte counts.
	e2 := signedRequest(t, e, samplepdf.Document("Anexa", nil, 0))
	u2 := e.url + e2.Documents[0].Download
	rangeGet(t, u2, map[string]string{"Range": "bytes=0-99"})
	if got := decodeView(t, mustGet(t, e.url+"/api/v1/sign-requests/"+e2.ID)); got.Documents[0].Downloaded {
		t.Fatal("marked downloaded after the first 100 bytes")
	}
	rangeGet(t, u2, map[string]string{"Range": "bytes=100-"})
	if got := decodeView(t, mustGet(t, e.url+"/api/v1/sign-requests/"+e2.ID)); !got.Documents[0].Downloaded || got.Documents[0].Download == "" {
		t.Fatalf("after the last byte: %+v", got.Documents[0])
	}

	// The page says until when the file is kept (Chisinau time) and offers
	// "Done", which deletes it.
	c := browserClient()
	_, page := fetch(t, c, "GET", e.url+"/sign/"+v.ID+"?lang=en", "", nil)
	if !strings.Contains(page, "stay on the server until") || !strings.Contains(page, `id="done-button"`) ||
		!(strings.Contains(page, " EET") || strings.Contains(page, " EEST")) {
		t.Fatalf("status page: %s", page)
	}
	m := csrfField.FindStringSubmatch(page)
	resp, _ := fetch(t, c, "POST", e.url+"/sign/"+v.ID+"/done", "application/x-www-form-urlencoded", []byte("_csrf="+m[1]))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("done: %d", resp.StatusCode)
	}
	r, gone := rangeGet(t, u, nil)
	wantProblem(t, r, gone, http.StatusGone, "downloaded")
	if r, html := rangeGet(t, u, map[string]string{"Accept": "text/html"}); r.StatusCode != http.StatusGone || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("a browser gets %d %s: %s", r.StatusCode, r.Header.Get("Content-Type"), html)
	}
	if _, page := fetch(t, c, "GET", e.url+"/sign/"+v.ID, "", nil); !strings.Contains(page, "The documents were deleted from the server.") || strings.Contains(page, `class="download"`) {
		t.Fatalf("status page after done: %s", page)
	}
}

func signedHash(t *testing.T, e *signEnv, id string) string {
	t.Helper()
	r, err := e.srv.load(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r.Docs[0].SignedHash
}

// TestWaitingPageCancel: the waiting page shows the time left and a cancel
// button; after cancelling, an approval on the phone signs nothing.
func TestWaitingPageCancel(t *testing.T) {
	e := newSignEnv(t, "", nil)
	msisdn := "+37369000017" // a manual phone: it waits for the person
	c := browserClient()
	_, page := fetch(t, c, "GET", e.url+"/sign?lang=ro", "", nil)
	tok := csrfField.FindStringSubmatch(page)[1]
	ct, body := form(map[string]string{"_csrf": tok, "method": "mobile", "phone": msisdn, "level": "B-B"}, "cerere.pdf", samplepdf.Document("Cerere", nil, 0))
	resp, _ := fetch(t, c, "POST", e.url+"/sign", ct, body)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/sign/") {
		t.Fatalf("sign form: %d", resp.StatusCode)
	}
	id := strings.TrimPrefix(loc, "/sign/")
	for i := 0; ; i++ {
		if p, _ := e.sim.PhonePrompt(msisdn); p.Pending {
			break
		}
		if i > 500 {
			t.Fatal("the phone was not asked")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, page = fetch(t, c, "GET", e.url+loc, "", nil)
	if !strings.Contains(page, "Timp rămas") || !strings.Contains(page, `id="time-left"`) || !strings.Contains(page, `id="cancel-button"`) ||
		!strings.Contains(page, " min ") {
		t.Fatalf("waiting page: %s", page)
	}
	if resp, _ := fetch(t, c, "POST", e.url+loc+"/cancel", "application/x-www-form-urlencoded", []byte("_csrf="+tok)); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	_, page = fetch(t, c, "GET", e.url+loc, "", nil)
	if !strings.Contains(page, "Ați renunțat. Nimic nu a fost semnat.") || strings.Contains(page, `id="cancel-button"`) {
		t.Fatalf("after cancel: %s", page)
	}
	// The person approves on the phone anyway: nothing is signed.
	if _, _, err := e.sim.PhoneConfirm(msisdn, mobileid.DefaultPIN2); err != nil {
		t.Logf("phone: %v", err) // the server may have stopped asking already
	}
	time.Sleep(3 * heartbeatEvery)
	v := decodeView(t, mustGet(t, e.url+"/api/v1/sign-requests/"+id))
	if v.Status != statusFailed || v.Documents[0].Download != "" {
		t.Fatalf("after the late approval: %+v", v)
	}
	if n := auditCount(t, e.store); n != 0 {
		t.Fatalf("audit: %d signatures", n)
	}
	if _, err := e.store.Get(t.Context(), kindSignOut, docKey(id, 1)); err == nil {
		t.Fatal("a signed file is stored")
	}
}
