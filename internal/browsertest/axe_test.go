package browsertest

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestAxeFindsViolations: axe-core, loaded into a page, finds what is
// wrong with it (so that a page check passing means something): no
// language, an image without a text, a field without a label, grey on
// white; a page without those faults gives none of them.
func TestAxeFindsViolations(t *testing.T) {
	pages := map[string]string{
		"/bad": `<!doctype html><html><head><title>x</title></head><body><main><h1>Bad</h1>
<img src="/x.png"><input type="text" name="q"><p style="color:#bbb;background:#fff">grey text</p></main></body></html>`,
		"/good": `<!doctype html><html lang="ro"><head><title>Bun</title></head><body><main><h1>Bun</h1>
<img src="/x.png" alt="Stema"><label for="q">Caută</label><input id="q" type="text" name="q"><p>text</p></main></body></html>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(pages[r.URL.Path]))
	}))
	defer srv.Close()
	ctx := New(t, 2*time.Minute)
	ids := func(path string) []string {
		Do(t, ctx, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS("h1")))
		var out []string
		for _, v := range AxeRun(t, ctx) {
			if v.Impact == "serious" || v.Impact == "critical" {
				out = append(out, v.ID)
			}
		}
		return out
	}
	bad := ids("/bad")
	for _, want := range []string{"html-has-lang", "image-alt", "label", "color-contrast"} {
		if !slices.Contains(bad, want) {
			t.Errorf("axe-core did not find %s on the bad page: %v", want, bad)
		}
	}
	if good := ids("/good"); len(good) != 0 {
		t.Errorf("axe-core on the good page: %v", good)
	}
}
