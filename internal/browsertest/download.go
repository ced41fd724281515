package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// Downloads makes Chromium (ctx) save what it downloads in a new folder,
// which it returns.
func Downloads(t *testing.T, ctx context.Context) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatalf("download folder: %v", err)
	}
	return dir
}

// WaitDownload waits (at most timeout) until the download name is
// complete in dir (Chromium writes a .crdownload file first) and returns
// its bytes.
func WaitDownload(t *testing.T, dir, name string, timeout time.Duration) []byte {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		partial, _ := filepath.Glob(filepath.Join(dir, "*.crdownload"))
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil && len(b) > 0 && len(partial) == 0 {
			return b
		}
		if time.Now().After(deadline) {
			ents, _ := os.ReadDir(dir)
			t.Fatalf("no complete download %s after %v in %v", name, timeout, ents)
		}
	}
}
