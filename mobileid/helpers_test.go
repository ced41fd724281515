package mobileid

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/semnat/semnat/internal/testtool"
	"github.com/semnat/semnat/testcerts"
)

// testScale runs simulated time 50 times faster: "about a second" is
// 20 ms, the 2-minute Mobile-ID time-out 2.4 s, retention 6 s. (100 times
// was flaky when the machine was loaded: timers and polls crossed.)
const testScale = 0.02

var shared struct {
	once sync.Once
	pki  *testcerts.PKI
	sim  *Simulator
	srv  *httptest.Server
	err  error
}

// privatePKI returns a PKI of this test binary that the simulator may issue into.
func privatePKI(t testing.TB) *testcerts.PKI {
	t.Helper()
	sharedSim(t)
	return shared.pki
}

// sharedSim is one simulator (virtual phone on, 200 generated users) on a
// loopback server, shared by the tests of this binary.
func sharedSim(t testing.TB) (*Simulator, string) {
	t.Helper()
	shared.once.Do(func() {
		shared.pki, shared.err = testcerts.Generate(testcerts.Options{})
		if shared.err != nil {
			return
		}
		shared.sim, shared.err = New(Options{PKI: shared.pki, TimeScale: testScale, Phone: true, GeneratedUsers: 20000})
		if shared.err == nil {
			shared.srv = httptest.NewServer(shared.sim.Handler())
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.sim, shared.srv.URL
}

func newTestClient(t testing.TB, base string, face Face, mut func(*ClientOptions)) *Client {
	t.Helper()
	pki := privatePKI(t)
	path := "/mid-api"
	if face == FaceETSI {
		path = "/rest/service"
	}
	opts := ClientOptions{Face: face, Roots: pki.RootPool(), Intermediates: pki.IntermediatePool(), PollInterval: 0}
	if face == FaceETSI {
		opts.PollInterval = 5 * time.Millisecond
	}
	if mut != nil {
		mut(&opts)
	}
	c, err := NewClient(base+path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func randomDigest(t testing.TB) []byte {
	b := make([]byte, 32)
	rand.Read(b)
	h := sha256.Sum256(b)
	return h[:]
}

// postJSON posts v and returns the status and decoded JSON object.
func postJSON(t testing.TB, url string, v any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("POST %s: %d %s: not JSON", url, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func getJSON(t testing.TB, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("GET %s: %d %s: not JSON", url, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// dig walks nested JSON objects.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func midBodyFor(msisdn, idnp string, digest []byte) map[string]any {
	return map[string]any{"relyingPartyUUID": DefaultRelyingPartyUUID, "relyingPartyName": DefaultRelyingPartyName,
		"phoneNumber": msisdn, "nationalIdentityNumber": idnp, "hash": base64.StdEncoding.EncodeToString(digest),
		"hashType": "SHA256", "language": "ENG", "displayText": "Semnați contractul?"}
}

var transSeq struct {
	sync.Mutex
	n int
}

func nextTransID() string {
	transSeq.Lock()
	defer transSeq.Unlock()
	transSeq.n++
	return "t" + time.Now().Format("150405") + string(rune('a'+transSeq.n%26)) + base64.RawURLEncoding.EncodeToString([]byte{byte(transSeq.n >> 8), byte(transSeq.n)})
}

func etsiSignBody(msisdn string, digest []byte, mode string, extra map[string]any) map[string]any {
	req := map[string]any{"MajorVersion": "1", "MinorVersion": "2", "MessagingMode": mode,
		"AP_Info":        map[string]any{"AP_ID": DefaultAPID, "AP_PWD": DefaultAPPassword, "AP_TransID": nextTransID(), "Instant": time.Now().Format(time.RFC3339Nano)},
		"MobileUser":     map[string]any{"MSISDN": msisdn},
		"DataToBeSigned": map[string]any{"Data": base64.StdEncoding.EncodeToString(digest), "MimeType": "application/x-sha256", "Encoding": "base64"},
		"MSS_Format":     FormatPKCS1}
	for k, v := range extra {
		req[k] = v
	}
	return map[string]any{"MSS_SignatureReq": req}
}

func etsiStatusBody(id string) map[string]any {
	return map[string]any{"MSS_StatusReq": map[string]any{"AP_Info": map[string]any{"AP_ID": DefaultAPID, "AP_PWD": DefaultAPPassword, "AP_TransID": nextTransID()}, "MSSP_TransID": id}}
}

// faultCode returns "401/4011"-style code of an ETSI fault body.
func faultCode(m map[string]any) string {
	c, _ := dig(m, "Fault", "Code", "SubCode", "Value").(string)
	if s, ok := dig(m, "Fault", "Code", "SubCode", "SubCode", "Value").(string); ok {
		return c[1:] + "/" + s[1:]
	}
	if c == "" {
		return ""
	}
	return c[1:]
}

// requireTool skips a test when an external tool is missing outside CI and
// fails it in CI.
func requireTool(t testing.TB, name string) string { t.Helper(); return testtool.Require(t, name) }

const cryptoSHA256 = crypto.SHA256
