package msign

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/i18n"
	"github.com/semnat/semnat/internal/browsertest"
	"github.com/semnat/semnat/internal/samplepdf"
)

// pageShape is what TestPagesInEveryLanguage reads from a rendered page.
type pageShape struct {
	Lang     string   `json:"lang"`
	Text     string   `json:"text"`     // the page's words, the language switcher left out
	Skeleton []string `json:"skeleton"` // tag#id.class of every element of <main>, in order
	Overflow []string `json:"overflow"` // elements wider than the window, or whose text is cut
	Width    int      `json:"width"`    // the document's scroll width
}

// shapeJS reads a pageShape in the page.
const shapeJS = `(() => {
  const main = document.querySelector("main") || document.body;
  const skel = [];
  for (const el of main.querySelectorAll("*")) {
    if (el.closest("details:not([open]) > :not(summary)")) continue;
    skel.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.classList.length ? "." + [...el.classList].sort().join(".") : ""));
  }
  const over = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || getComputedStyle(el).display === "none") continue;
    if (r.right > window.innerWidth + 1 || r.left < -1) over.push(el.tagName + (el.id ? "#" + el.id : "") + " at " + Math.round(r.left) + ".." + Math.round(r.right));
    const st = getComputedStyle(el);
    if ((st.overflowX === "hidden" || st.textOverflow === "ellipsis") && el.scrollWidth > el.clientWidth + 1) over.push(el.tagName + (el.id ? "#" + el.id : "") + " cut");
  }
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll("nav.langs, script").forEach((n) => n.remove());
  return { lang: document.documentElement.lang, text: clone.innerText, skeleton: skel, overflow: over,
    width: document.documentElement.scrollWidth };
})()`

// screenshotDir is where the pages' screenshots are kept as test
// artifacts: $SEMNAT_SCREENSHOTS, else semnat-screens in the temporary
// directory (kept after the test).
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SEMNAT_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "semnat-screens")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

var (
	cyrillic    = regexp.MustCompile(`\p{Cyrillic}`)
	romanian    = regexp.MustCompile(`[ăâîșțĂÂÎȘȚ]`)
	oldRomanian = regexp.MustCompile(`[şţŞŢ]`) // cedilla forms: wrong for Romanian
	messageID   = regexp.MustCompile(`\b[a-z][a-z0-9_]*(\.[a-zA-Z0-9_-]+)+\b`)
)

// TestPagesInEveryLanguage renders the sign, waiting, verify, report,
// status, agent and error pages in ro, ru and en in Chromium, at a
// phone's width and a desktop's: the screenshots are kept, and each page
// is checked for message ids shown instead of words, for words of another
// language, for elements that overflow the window, and for one structure
// in the three languages (the same elements, in the same order).
func TestPagesInEveryLanguage(t *testing.T) {
	e := newSignEnv(t, "", nil)
	cat, err := i18n.NewCatalog(localesFS, "locales")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, id := range cat.IDs() {
		ids[id] = true
	}
	dir := screenshotDir(t)
	t.Logf("screenshots in %s", dir)

	// What the pages show: a signed document's report, a signed request's
	// status page and a request waiting for a phone.
	files := t.TempDir()
	signedReq := signedRequest(t, e, samplepdf.Document("Contract de vânzare-cumpărare", []string{"nr. 42"}, 0))
	signedPDF := filepath.Join(files, "contract-semnat.pdf")
	resp, b := getURL(t, e.url+signedReq.Documents[0].Download)
	if resp.StatusCode != 200 {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	os.WriteFile(signedPDF, b, 0o644)
	waiting := waitingRequest(t, e)

	ctx := browsertest.New(t, 8*time.Minute) // 54 pages
	pages := []struct {
		name  string
		path  string
		ready string
		steps func(lang string) []chromedp.Action[chromedp.Void]
	}{
		{"home", "/", "main h1", nil},
		{"sign", "/sign", "#sign-form", nil},
		{"sign-stamp", "/sign", "#stamp-box", func(string) []chromedp.Action[chromedp.Void] {
			return []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.ID("visible")), chromedp.SetUploadFiles(chromedp.ID("file"), []string{signedPDF}),
				chromedp.WaitVisible(chromedp.CSS("#stamp-preview[data-rendered]"))}
		}},
		{"waiting", "/sign/" + waiting, "#time-left", nil},
		{"signed", "/sign/" + signedReq.ID, "#kept-until", nil},
		{"verify", "/verify", "main form", nil},
		{"report", "/verify", "#verdict", func(string) []chromedp.Action[chromedp.Void] {
			return []chromedp.Action[chromedp.Void]{chromedp.SetUploadFiles(chromedp.ID("file"), []string{signedPDF}), chromedp.Submit(chromedp.ID("file")),
				chromedp.WaitVisible(chromedp.ID("verdict"))}
		}},
		{"agent", "/agent", "#agent-command", nil},
		{"error", "/sign/00000000000000000000000000000000", ".alert.error", nil},
	}
	for _, width := range []int64{390, 1280} {
		for _, p := range pages {
			shapes := map[string]pageShape{}
			for _, lang := range i18n.Langs {
				do(t, ctx, chromedp.EmulateViewport(width, 900), chromedp.Navigate(e.url+p.path+"?lang="+lang))
				if p.steps != nil {
					do(t, ctx, p.steps(lang)...)
				}
				do(t, ctx, chromedp.WaitVisible(chromedp.CSS(p.ready)))
				png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatalf("%s %s: screenshot: %v", p.name, lang, err)
				}
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s-%d.png", p.name, lang, width)), png, 0o644); err != nil {
					t.Fatal(err)
				}
				raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](shapeJS))
				if err != nil {
					t.Fatalf("%s %s: %v", p.name, lang, err)
				}
				var s pageShape
				if err := json.Unmarshal(raw, &s); err != nil {
					t.Fatal(err)
				}
				where := fmt.Sprintf("%s in %s at %d px", p.name, lang, width)
				checkShape(t, where, lang, s, ids)
				if width < 400 && (s.Width > int(width) || len(s.Overflow) > 0) {
					t.Errorf("%s: wider than the window (%d px): %v", where, s.Width, s.Overflow)
				}
				shapes[lang] = s
			}
			for _, lang := range i18n.Langs[1:] {
				if a, b := strings.Join(shapes["ro"].Skeleton, " "), strings.Join(shapes[lang].Skeleton, " "); a != b {
					t.Errorf("%s at %d px: the %s page is built unlike the Romanian one:\nro: %s\n%s: %s", p.name, width, lang, a, lang, b)
				}
			}
		}
	}
}

// checkShape: the page is in lang, every word was found, and no word of
// another language shows (the user's own content aside: file names, the
// signer's name).
func checkShape(t *testing.T, where, lang string, s pageShape, ids map[string]bool) {
	t.Helper()
	if s.Lang != lang {
		t.Errorf("%s: <html lang=%q>", where, s.Lang)
	}
	for _, m := range messageID.FindAllString(s.Text, -1) {
		if ids[m] || strings.HasPrefix(m, "i18n.") || strings.HasPrefix(m, "js.") {
			t.Errorf("%s: the message id %q is shown instead of its words", where, m)
		}
	}
	text := strings.NewReplacer("Contract de vânzare-cumpărare", "", "contract-semnat.pdf", "", "Ștefan", "", "Țurcanu", "").Replace(s.Text)
	switch lang {
	case "ro":
		if cyrillic.MatchString(text) {
			t.Errorf("%s: Cyrillic on a Romanian page:\n%s", where, text)
		}
		if !romanian.MatchString(text) {
			t.Errorf("%s: no Romanian letter (ă â î ș ț) on the page:\n%s", where, text)
		}
	case "ru":
		if !cyrillic.MatchString(text) || romanian.MatchString(text) {
			t.Errorf("%s: not Russian:\n%s", where, text)
		}
	case "en":
		if cyrillic.MatchString(text) || romanian.MatchString(text) {
			t.Errorf("%s: not English:\n%s", where, text)
		}
	}
	if oldRomanian.MatchString(text) {
		t.Errorf("%s: ş or ţ with a cedilla (Romanian writes ș ț with a comma):\n%s", where, text)
	}
}

// waitingRequest stores a mobile request that waits for its phone, as
// another instance running it would (its heartbeat fresh): the waiting page
// shows it as long as the test needs, whatever the simulator's time-outs.
func waitingRequest(t *testing.T, e *signEnv) string {
	t.Helper()
	now := time.Now().UTC()
	r := &signRequest{ID: newID(), Method: "mobile", Status: statusPending, Created: now, Expires: now.Add(15 * time.Minute), Level: "B-B",
		Phone: "+37369000019", Code: "4821", Current: 1, Instance: "another-instance", Heartbeat: now.Add(time.Hour),
		Docs: []signDoc{{Name: "cerere.pdf", Size: 1000, SHA256: strings.Repeat("ab", 32)}}}
	if err := e.srv.save(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return r.ID
}
