package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/testtool"
)

// AxeVersion is the pinned version of npm axe-core, the accessibility
// checker the page tests run in Chromium. .ci/run installs it into
// $SEMNAT_NPM_AXE (default: the user cache dir); the tests never run npm.
const AxeVersion = "4.14.1"

var axeSrc struct {
	once sync.Once
	js   string
	dir  string
	err  error
}

// axeScript is axe.min.js, read once.
func axeScript(t testing.TB) string {
	t.Helper()
	axeSrc.once.Do(func() {
		dir := os.Getenv("SEMNAT_NPM_AXE")
		if dir == "" {
			c, err := os.UserCacheDir()
			if err != nil {
				c = os.TempDir()
			}
			dir = filepath.Join(c, "semnat", "npm-axe-core-"+AxeVersion)
		}
		axeSrc.dir = dir
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"))
		axeSrc.js, axeSrc.err = string(b), err
	})
	if axeSrc.err != nil {
		testtool.Unavailable(t, "npm axe-core@"+AxeVersion+" not installed in "+axeSrc.dir,
			"install: npm install --prefix "+axeSrc.dir+" axe-core@"+AxeVersion+" (bash .ci/run does it)")
	}
	return axeSrc.js
}

// AxeViolation is one rule axe-core found broken, with the elements.
type AxeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []string `json:"target"`
		HTML    string   `json:"html"`
		Summary string   `json:"summary"`
	} `json:"nodes"`
}

func (v AxeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s", v.ID, v.Impact, v.Help)
	for _, n := range v.Nodes {
		fmt.Fprintf(&b, "\n    %s %s\n      %s", strings.Join(n.Target, " "), n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n      "))
	}
	return b.String()
}

// AxeRun runs axe-core (every rule of its default set: WCAG 2.x A and AA
// and the best practices) on the page ctx shows and returns what it
// found broken.
func AxeRun(t testing.TB, ctx context.Context) []AxeViolation {
	t.Helper()
	src := axeScript(t)
	const run = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help,
		nodes: v.nodes.map(n => ({target: n.target.map(String), html: n.html, summary: n.failureSummary || ''}))})))`
	// Injected through DevTools: no page's Content-Security-Policy applies.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void]("if (!window.axe) {"+src+"\n}")); err != nil {
		t.Fatalf("axe-core: loading it into the page: %v", err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]AxeViolation](run, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	return out
}

// Axe checks the page ctx shows, called name in the messages: its
// <html lang> is lang (the page's language, so that screen readers speak
// it), and axe-core finds no serious or critical violation (each is an
// error; lesser ones are logged).
func Axe(t testing.TB, ctx context.Context, name, lang string) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.documentElement.lang"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if got != lang {
		t.Errorf("%s: <html lang=%q>, want %q", name, got, lang)
	}
	t0 := time.Now()
	found := AxeRun(t, ctx)
	t.Logf("%s: axe-core ran in %v", name, time.Since(t0).Round(time.Millisecond))
	for _, v := range found {
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("%s: axe-core: %s", name, v)
		} else {
			t.Logf("%s: axe-core (%s, not failing): %s", name, v.Impact, v.ID)
		}
	}
}
