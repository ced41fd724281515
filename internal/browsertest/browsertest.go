// Package browsertest runs headless Chromium for the tests that drive the
// services' pages as a person would (chromedp).
package browsertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/testtool"
)

// New starts headless Chromium (skipped locally without it, a failure in
// CI) with a fresh profile and the extra options; it is closed when the
// test ends, or after timeout.
func New(t *testing.T, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	exe := testtool.Require(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	opts = append(opts, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return ctx
}

// Do runs the steps in order, failing the test on an error. A step whose
// node went away between chromedp's query and its action (the DevTools
// error "Could not find node with given id", which chromedp cannot rule
// out while a page is replaced) is run again, up to 5 times: the step
// failed before it acted, so running it again is safe.
func Do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for _, step := range steps {
		var err error
		for try := 0; try < 5; try++ {
			if err = chromedp.Do(ctx, step); err == nil || !staleNode(err) || ctx.Err() != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// staleNode reports whether err is DevTools' answer for a node id that no
// longer exists in the page.
func staleNode(err error) bool {
	return strings.Contains(err.Error(), "Could not find node with given id")
}

// Text is the trimmed text of the element sel selects.
func Text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// Until waits (at most timeout) until the JavaScript expression cond is
// true in the page, which may be replaced meanwhile (a form posted, a
// redirect): an evaluation cut short by the navigation is tried again on
// the page that comes.
func Until(t *testing.T, ctx context.Context, cond string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("waiting for %s: %v (last error %v)", cond, ok, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
