package browsertest

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// CSPWatch records, for the tab it watches, the Content-Security-Policy of
// each page loaded from one origin and every message Chromium logs about a
// policy violation (a blocked inline script or style, a form sent
// elsewhere).
type CSPWatch struct {
	origin     string
	mu         sync.Mutex
	pages      map[string]string // URL → the policy its answer carried
	violations []string
}

// WatchCSP starts watching the tab of ctx (before the pages to check are
// loaded).
func WatchCSP(t *testing.T, ctx context.Context, origin string) *CSPWatch {
	t.Helper()
	w := &CSPWatch{origin: origin, pages: map[string]string{}}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventResponseReceived:
			if ev.Type != network.ResourceTypeDocument || ev.Response == nil || !strings.HasPrefix(ev.Response.URL, origin+"/") {
				return
			}
			csp := ""
			for k, v := range ev.Response.Headers {
				if s, ok := v.(string); ok && strings.EqualFold(k, "Content-Security-Policy") {
					csp = s
				}
			}
			w.mu.Lock()
			w.pages[ev.Response.URL] = csp
			w.mu.Unlock()
		case *log.EventEntryAdded:
			// Chromium's words for each refusal: "… violates the following
			// Content Security Policy directive …".
			if e := ev.Entry; e != nil && strings.Contains(e.Text, "Content Security Policy") {
				w.mu.Lock()
				w.violations = append(w.violations, e.URL+": "+e.Text)
				w.mu.Unlock()
			}
		}
	})
	if err != nil {
		t.Fatalf("watching the pages' policy: %v", err)
	}
	return w
}

// Check fails the test when a page of the origin came without the policy
// want, or Chromium reported a violation; it returns the pages seen, sorted.
func (w *CSPWatch) Check(t *testing.T, want string) []string {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var seen []string
	for u, csp := range w.pages {
		seen = append(seen, u)
		if csp != want {
			t.Errorf("%s: Content-Security-Policy %q, want %q", u, csp, want)
		}
	}
	for _, v := range w.violations {
		t.Errorf("Chromium reported: %s", v)
	}
	sort.Strings(seen)
	return seen
}
