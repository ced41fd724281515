package msign

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/i18n"
	"github.com/semnat/semnat/pades"
)

// The in-browser verifier (issue #20): verify.wasm and its loader, built by
// `make wasm` / `go generate` into web/wasm before the binary. When they
// are absent the verify page verifies on the server.
//
//go:generate sh -c "GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w' -o web/wasm/verify.wasm ../cmd/semnat-verify-wasm && cp \"$(go env GOROOT)/lib/wasm/wasm_exec.js\" web/wasm/"
//go:embed web/wasm
var wasmEmbed embed.FS

// wasmFiles holds verify.wasm and wasm_exec.js (tests point it elsewhere).
var wasmFiles fs.FS = mustSub(wasmEmbed, "web/wasm")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the embedded tree has dir
	}
	return sub
}

// wasmAsset is one file of the module, with the version its URL carries.
type wasmAsset struct {
	body    []byte
	version string // the first bytes of its SHA-256, hex
}

var wasmAssets = sync.OnceValue(loadWasmAssets)

func loadWasmAssets() map[string]wasmAsset {
	m := map[string]wasmAsset{}
	for _, name := range []string{"verify.wasm", "wasm_exec.js"} {
		b, err := fs.ReadFile(wasmFiles, name)
		if err != nil {
			return nil // no module: the page verifies on the server
		}
		sum := sha256.Sum256(b)
		m[name] = wasmAsset{b, hex.EncodeToString(sum[:8])}
	}
	return m
}

// localVerify is what the verify page needs to verify in the browser, or
// nil when the module is not built in.
type localVerify struct {
	Module, Loader string // URLs, versioned
	Revocation     string // the revocation proxy's URL, "" when it is off
	Words          string // the report's words in the page's language (JSON)
}

func (s *Service) localVerify(l *i18n.Localizer) *localVerify {
	a := wasmAssets()
	if a == nil {
		return nil
	}
	lv := &localVerify{
		Module: "/verify/wasm/verify.wasm?v=" + a["verify.wasm"].version,
		Loader: "/verify/wasm/wasm_exec.js?v=" + a["wasm_exec.js"].version,
		Words:  reportWords(l),
	}
	if s.courier != nil {
		lv.Revocation = revocationPath
	}
	return lv
}

// reportWordIDs are the messages the report cards use (report.html), which
// verify.js draws in the browser.
var reportWordIDs = []string{"report.title", "report.none", "report.all_valid", "report.some_invalid", "report.unconfirmed",
	"report.doc_timestamp", "report.tsa", "report.signer", "report.organization", "report.time", "report.timestamped",
	"report.claimed", "report.not_timestamped", "report.unknown_time", "report.level", "report.reason", "report.whole",
	"report.whole_yes", "report.whole_no", "report.details", "report.another", "verdict.passed", "verdict.failed",
	"verdict.indeterminate", "report.download_json", "sub.generic", "verify.local_done", "verify.local_failed", "verify.local_working",
	"report.revocation", "report.tsa_revocation", "report.origin_dss", "report.origin_cms", "report.origin_online", "report.origin_proxy",
	"report.origin_none"}

// reportWords are the words of the report cards in l's language, JSON:
// each message of reportWordIDs, every sub.* the catalogue has, "signature"
// with {N} and count.0 … count.50.
func reportWords(l *i18n.Localizer) string {
	m := map[string]string{"report.signature": l.T("report.signature", "N", "{N}")}
	for _, id := range reportWordIDs {
		m[id] = l.T(id)
	}
	for _, sub := range pades.SubIndications {
		if id := "sub." + string(sub); l.Has(id) {
			m[id] = l.T(id)
		}
	}
	for n := 0; n <= 50; n++ {
		m[fmt.Sprintf("count.%d", n)] = l.N("report.count", n)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// wasmFile answers GET /verify/wasm/:name: a versioned URL is cached for a
// year (its content never changes), an unversioned one for five minutes.
func (s *Service) wasmFile(c echo.Context) error {
	a, ok := wasmAssets()[c.Param("name")]
	if !ok {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age=300")
	if c.QueryParam("v") == a.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	h.Set("ETag", `"`+a.version+`"`)
	if c.Request().Header.Get("If-None-Match") == `"`+a.version+`"` {
		return c.NoContent(http.StatusNotModified)
	}
	ct := "application/wasm"
	if c.Param("name") == "wasm_exec.js" {
		ct = "text/javascript; charset=utf-8"
	}
	return c.Blob(http.StatusOK, ct, a.body)
}

// trustPEM answers GET /verify/trust.pem: the trust anchors of
// verification (Config.RootCerts), which the in-browser verifier uses.
func (s *Service) trustPEM(c echo.Context) error {
	var b bytes.Buffer
	for _, cert := range s.cfg.RootCerts {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/x-pem-file", b.Bytes())
}

// verifyCSP is the verify page's policy: the default one, and the
// in-browser verifier may compile WebAssembly ('wasm-unsafe-eval' only:
// no eval of scripts).
func (s *Service) verifyCSP(c echo.Context) {
	c.Response().Header().Set(echo.HeaderContentSecurityPolicy, "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'")
}
