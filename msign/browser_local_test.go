package msign

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/testcerts"
)

// useWasm makes sure the in-browser verifier is served: the embedded one
// (make wasm), or one built here into a temporary folder (a fresh clone).
func useWasm(t *testing.T) {
	t.Helper()
	if wasmAssets() != nil {
		return
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "verify.wasm"), "../cmd/semnat-verify-wasm")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the wasm verifier: %v\n%s", err, out)
	}
	loader, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		t.Fatalf("wasm_exec.js: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "wasm_exec.js"), loader, 0o644)
	wasmFiles, wasmAssets = os.DirFS(dir), sync.OnceValue(loadWasmAssets)
	if wasmAssets() == nil {
		t.Fatal("the built module is not served")
	}
}

// requestLog records the browser's requests (method, URL, body).
type requestLog struct {
	mu   sync.Mutex
	reqs []*network.Request
}

func (l *requestLog) listen(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			l.mu.Lock()
			l.reqs = append(l.reqs, e.Request)
			l.mu.Unlock()
		}
	})
	if err == nil {
		_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	}
	if err != nil {
		t.Fatalf("network log: %v", err)
	}
}

func (l *requestLog) reset() { l.mu.Lock(); l.reqs = nil; l.mu.Unlock() }

// carrying returns the requests that send a body, or one holding part of
// doc in their URL or body.
func (l *requestLog) carrying(doc []byte) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	probe := string(doc[len(doc)/2 : len(doc)/2+min(64, len(doc)/2)])
	var bad []string
	for _, r := range l.reqs {
		body := ""
		for _, e := range r.PostDataEntries {
			body += string(e.Bytes)
		}
		if r.HasPostData || body != "" || r.Method != http.MethodGet || strings.Contains(r.URL, probe) {
			bad = append(bad, r.Method+" "+r.URL)
		}
	}
	return bad
}

// wasmCase is one file of the table: a corpus PDF or our own signed output.
type wasmCase struct {
	name string
	data []byte
}

// corpusCases are the corpus PDFs without a user password, signed ones
// first, plus a few unsigned ones.
func corpusCases(t *testing.T) []wasmCase {
	const dir = "../../shared/corpus"
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Logf("no corpus (%v): only our own files", err)
		return nil
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma, r.LazyQuotes, r.FieldsPerRecord = '\t', true, -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("MANIFEST.tsv: %v", err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var out []wasmCase
	unsigned := 0
	for _, row := range rows[1:] {
		if row[col["userpw"]] == "yes" {
			continue
		}
		if row[col["signatures"]] == "0" {
			if unsigned++; unsigned > 3 {
				continue
			}
		}
		b, err := os.ReadFile(filepath.Join(dir, row[col["file"]]))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, wasmCase{row[col["file"]], b})
	}
	return out
}

// TestBrowserLocalVerify: the verify page verifies in the browser (the
// module embedded or built here) and shows, for corpus files and our own
// signed and tampered outputs, the same indication, sub-indication and
// signatures as the verifier run here (`semnat verify --json --trust`);
// no request of the page carries the document, and the page says it was
// not uploaded. "Verify on the server" still uploads and shows the
// server's report.
func TestBrowserLocalVerify(t *testing.T) {
	useWasm(t)
	ctx := browsertest.New(t, 10*time.Minute) // generous: 19 files on a loaded machine (not a timing)
	e := newSignEnv(t, "", withAnchors(t))
	var log requestLog
	log.listen(t, ctx)

	person := e.pki.ByRole(testcerts.RolePerson)[0]
	doc := samplepdf.Document("Contract de vanzare", []string{"nr. 42"}, 0)
	var signed bytes.Buffer
	if _, err := pades.Sign(context.Background(), bytes.NewReader(doc), int64(len(doc)), &signed,
		pades.NewKeySigner(person.Key, person.Cert, person.Chain), nil); err != nil {
		t.Fatal(err)
	}
	cases := append([]wasmCase{
		{"own-signed.pdf", signed.Bytes()},
		{"own-tampered.pdf", bytes.Replace(signed.Bytes(), []byte("nr. 42"), []byte("nr. 43"), 1)},
	}, corpusCases(t)...)

	dir := t.TempDir()
	compared := 0
	do(t, ctx, chromedp.Navigate(e.url+"/verify?lang=en"), chromedp.WaitVisible(chromedp.ID("local-note")))
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		os.WriteFile(path, c.data, 0o644)
		want, err := pades.Verify(context.Background(), bytes.NewReader(c.data), int64(len(c.data)), &pades.VerifyOptions{Roots: e.srv.cfg.Roots})
		if err != nil {
			// The server cannot verify it either: the page says so.
			continue
		}
		log.reset()
		do(t, ctx, chromedp.Navigate(e.url+"/verify"), chromedp.WaitVisible(chromedp.ID("local-note")),
			chromedp.SetUploadFiles(chromedp.ID("file"), []string{path}),
			chromedp.Click(chromedp.ID("verify-button")),
			chromedp.WaitVisible(chromedp.CSS(`#verify-local[data-state="done"], #verify-local[data-state="failed"]`)),
		)
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("verify-local").dataset.state`))
		report, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("verify-local").dataset.report || document.getElementById("verify-local").textContent`))
		if state != "done" {
			t.Errorf("%s: local verification failed: %s", c.name, report)
			continue
		}
		var got pades.Report
		if err := json.Unmarshal([]byte(report), &got); err != nil {
			t.Fatalf("%s: report: %v", c.name, err)
		}
		if got.Indication != want.Indication || got.SubIndication != want.SubIndication || got.File != c.name {
			t.Errorf("%s: in the browser %s/%s (file %q), here %s/%s", c.name, got.Indication, got.SubIndication, got.File, want.Indication, want.SubIndication)
		}
		compared++
		if len(got.Signatures) != len(want.Signatures) {
			t.Errorf("%s: %d signatures in the browser, %d here", c.name, len(got.Signatures), len(want.Signatures))
			continue
		}
		for i, s := range got.Signatures {
			w := want.Signatures[i]
			if s.Field != w.Field || s.Kind != w.Kind || s.Indication != w.Indication || s.SubIndication != w.SubIndication {
				t.Errorf("%s: signature %d: browser %s %s %s/%s, here %s %s %s/%s", c.name, i, s.Field, s.Kind, s.Indication, s.SubIndication, w.Field, w.Kind, w.Indication, w.SubIndication)
			}
		}
		// The cards: one per signature, the verdict's colour, the words.
		cards, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#verify-local article.sig").length`))
		if cards != len(want.Signatures) || !strings.Contains(text(t, ctx, "#verdict"), string(want.Indication)) {
			t.Errorf("%s: %d cards, verdict %q", c.name, cards, text(t, ctx, "#verdict"))
		}
		if done := text(t, ctx, "#local-done"); done != "Your file was not uploaded: it was checked on this computer." {
			t.Errorf("%s: %q", c.name, done)
		}
		if bad := log.carrying(c.data); len(bad) > 0 {
			t.Errorf("%s: requests that may carry the document: %v", c.name, bad)
		}
	}
	t.Logf("%d of %d files verified in the browser as here", compared, len(cases))
	if compared < 3 {
		t.Fatalf("only %d files compared", compared)
	}
	// Our signed file's card names its signer (green anchors: the test PKI).
	own := filepath.Join(dir, "own-signed.pdf")
	do(t, ctx, chromedp.Navigate(e.url+"/verify"), chromedp.WaitVisible(chromedp.ID("local-note")),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{own}),
		chromedp.Click(chromedp.ID("verify-button")),
		chromedp.WaitVisible(chromedp.CSS("#verify-local article.sig dd.signer")))
	if s := text(t, ctx, "#verify-local article.sig dd.signer"); s == "" {
		t.Error("no signer name on the local card")
	}

	// The fallback uploads: the server's report page, and the log shows it.
	log.reset()
	do(t, ctx, chromedp.Navigate(e.url+"/verify"), chromedp.WaitVisible(chromedp.ID("local-note")),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{own}),
		chromedp.Click(chromedp.ID("verify-server")),
		chromedp.WaitVisible(chromedp.CSS("a#report-json[href^='/verify/']")))
	if bad := log.carrying(signed.Bytes()); len(bad) == 0 {
		t.Error("the server fallback sent nothing: the network check cannot see an upload")
	}
}

// TestWasmAssets: the module is served as application/wasm with a year's
// cache on its versioned URL, the loader as JavaScript; the verify page
// alone allows 'wasm-unsafe-eval'; the trust anchors are PEM.
func TestWasmAssets(t *testing.T) {
	useWasm(t)
	e := newSignEnv(t, "", withAnchors(t))
	lv := e.srv.localVerify(e.srv.web.cat.Localizer("en"))
	get := func(path string) (*http.Response, []byte) {
		resp, err := http.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get(lv.Module)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/wasm" || !bytes.HasPrefix(body, []byte("\x00asm")) {
		t.Fatalf("module: %d %q", resp.StatusCode, ct)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("module Cache-Control %q", cc)
	}
	if resp, _ := get(lv.Loader); !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("loader: %q", resp.Header.Get("Content-Type"))
	}
	if resp, body := get("/verify/trust.pem"); resp.StatusCode != 200 || !bytes.Contains(body, []byte("BEGIN CERTIFICATE")) {
		t.Errorf("trust.pem: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get("/verify/wasm/other.wasm"); resp.StatusCode != 404 {
		t.Errorf("unknown file: %d", resp.StatusCode)
	}
	if resp, _ := get("/verify"); resp.Header.Get("Content-Security-Policy") != "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'" {
		t.Errorf("verify page CSP %q", resp.Header.Get("Content-Security-Policy"))
	}
	if resp, _ := get("/sign"); strings.Contains(resp.Header.Get("Content-Security-Policy"), "wasm") {
		t.Errorf("sign page CSP %q", resp.Header.Get("Content-Security-Policy"))
	}
}

// withAnchors gives the service its anchors as certificates (served to the
// in-browser verifier).
func withAnchors(t *testing.T) func(*Config) {
	return func(c *Config) {
		pki, _ := signFixtures(t)
		c.RootCerts = pki.TrustAnchors()
	}
}

// TestVerifyWithoutWasm: a binary built without the module (no make wasm)
// offers only the server's verification, and serves no module.
func TestVerifyWithoutWasm(t *testing.T) {
	files, assets := wasmFiles, wasmAssets
	t.Cleanup(func() { wasmFiles, wasmAssets = files, assets })
	wasmFiles, wasmAssets = os.DirFS(t.TempDir()), sync.OnceValue(loadWasmAssets)
	e := newSignEnv(t, "", withAnchors(t))
	resp, err := http.Get(e.url + "/verify")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(body, []byte("local-note")) || bytes.Contains(body, []byte("verify.js")) || !bytes.Contains(body, []byte(`action="/verify"`)) {
		t.Errorf("the page offers local verification without a module:\n%s", body)
	}
	if resp, err := http.Get(e.url + "/verify/wasm/verify.wasm"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("module without a build: %v %v", resp.StatusCode, err)
	}
}
