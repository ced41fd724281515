package msign

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/internal/samplepdf"
	"github.com/semnat/semnat/pades"
	"github.com/semnat/semnat/testcerts"
)

// TestWasmBudget measures the in-browser verifier for bench/side-wasm.sh
// (`make bench`), never in `make test`: it runs only with
// SEMNAT_WASM_BENCH=1 and prints TSV rows (name, metric, ours, target,
// target/ours): the first verification of a signed 1 MB PDF including the
// module's download and start, and the median of later ones.
func TestWasmBudget(t *testing.T) {
	if os.Getenv("SEMNAT_WASM_BENCH") != "1" {
		t.Skip("a measurement for make bench (SEMNAT_WASM_BENCH=1)")
	}
	if dir := os.Getenv("SEMNAT_WASM_DIR"); dir != "" { // another build of the module (a before/after)
		files, assets := wasmFiles, wasmAssets
		t.Cleanup(func() { wasmFiles, wasmAssets = files, assets })
		wasmFiles, wasmAssets = os.DirFS(dir), sync.OnceValue(loadWasmAssets)
	}
	useWasm(t)
	ctx := browsertest.New(t, 5*time.Minute)
	e := newSignEnv(t, "", withAnchors(t))
	person := e.pki.ByRole(testcerts.RolePerson)[0]
	doc := samplepdf.Document("Contract", []string{"nr. 42"}, 1<<20)
	var signed bytes.Buffer
	if _, err := pades.Sign(context.Background(), bytes.NewReader(doc), int64(len(doc)), &signed,
		pades.NewKeySigner(person.Key, person.Cert, person.Chain), nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signed-1M.pdf")
	os.WriteFile(path, signed.Bytes(), 0o644)
	// The page's own time from the click to the drawn cards (data-ms).
	pageTime := func() time.Duration {
		ms, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Number(document.getElementById("verify-local").dataset.ms)`))
		if err != nil {
			t.Fatal(err)
		}
		return time.Duration(ms) * time.Millisecond
	}
	// First: a fresh page; the file is chosen before the page is shown
	// and verified at once, so the time includes the module's download,
	// compilation and start (the page starts it on load).
	start := time.Now()
	do(t, ctx, chromedp.Navigate(e.url+"/verify"),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{path}),
		chromedp.Click(chromedp.ID("verify-button")),
		chromedp.WaitVisible(chromedp.CSS(`#verify-local[data-state="done"]`)))
	first := time.Since(start)
	t.Logf("first: %v from the navigation, %v in the page", first, pageTime())
	// Where the first run goes: the module's download and compilation, the
	// Go runtime's start (package init), the first call's own work.
	phases := map[string]int{}
	for _, k := range []string{"compileMs", "initMs", "verifyMs"} {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Number(document.getElementById("verify-local").dataset.`+k+`)`))
		if err != nil {
			t.Fatal(err)
		}
		phases[k] = v
	}
	var later []time.Duration
	for range 7 {
		chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById("verify-local").dataset.state = "", true)`))
		do(t, ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{path}),
			chromedp.Click(chromedp.ID("verify-button")),
			chromedp.WaitVisible(chromedp.CSS(`#verify-local[data-state="done"]`)))
		later = append(later, pageTime())
	}
	slices.Sort(later)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Printf("ROW\twasm-verify-1M-first\tms\t%.0f\t1500\t%.2f\n", ms(first), 1500/ms(first))
	fmt.Printf("ROW\twasm-first-download-compile\tms\t%d\t-\t-\n", phases["compileMs"])
	fmt.Printf("ROW\twasm-first-go-start\tms\t%d\t-\t-\n", phases["initMs"])
	fmt.Printf("ROW\twasm-first-verify-call\tms\t%d\t-\t-\n", phases["verifyMs"])
	fmt.Printf("ROW\twasm-verify-1M-later\tms\t%.0f\t150\t%.2f\n", ms(later[len(later)/2]), 150/ms(later[len(later)/2]))
}
