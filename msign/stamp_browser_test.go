package msign

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/semnat/semnat/internal/samplepdf"
)

// TestBrowserStampPlacement: the sign page draws the page of the chosen
// PDF (pdf.js) with the stamp's rectangle in the chosen corner; dragging
// it sets the place, and the signed PDF has its stamp exactly there.
func TestBrowserStampPlacement(t *testing.T) {
	ctx, _ := newBrowser(t)
	e := newSignEnv(t, "", nil)
	in := filepath.Join(t.TempDir(), "acord.pdf")
	os.WriteFile(in, samplepdf.Document("Acord", []string{"nr. 3"}, 0), 0o644) // A4: 595 × 842 pt
	do(t, ctx, chromedp.EmulateViewport(1280, 1000), chromedp.Navigate(e.url+"/sign?lang=en"),
		chromedp.Click(chromedp.ID("visible")),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{in}),
		chromedp.WaitVisible(chromedp.CSS("#stamp-preview[data-rendered]")),
	)
	// In the bottom-right corner first, as the form says.
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { document.getElementById("stamp-canvas").scrollIntoView({ block: "start" });
		const b = document.getElementById("stamp-box").getBoundingClientRect(),
		c = document.getElementById("stamp-canvas").getBoundingClientRect(); return [b.left - c.left, c.bottom - b.bottom, b.width, c.width, b.left + b.width / 2, b.top + b.height / 2]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	scale := box[3] / 595
	if math.Abs(box[0]/scale-(595-30-200)) > 2 || math.Abs(box[1]/scale-30) > 2 || math.Abs(box[2]/scale-200) > 2 {
		t.Fatalf("the rectangle is at %.0f, %.0f pt, %.0f pt wide; want the bottom-right corner", box[0]/scale, box[1]/scale, box[2]/scale)
	}
	// Drag it 150 px left and 200 px up.
	x, y := box[4], box[5]
	do(t, ctx,
		chromedp.MouseEvent(chromedp.MousePressed, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.MouseEvent(chromedp.MouseMoved, x-75, y-100, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseMoved, x-150, y-200, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseReleased, x-150, y-200, chromedp.ButtonLeft, chromedp.ClickCount(1)),
	)
	xs, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("stamp-x")))
	ys, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("stamp-y")))
	px, errX := strconv.ParseFloat(xs, 64)
	py, errY := strconv.ParseFloat(ys, 64)
	if errX != nil || errY != nil || math.Abs(px-(365-150/scale)) > 3 || math.Abs(py-(30+200/scale)) > 3 {
		t.Fatalf("after the drag: x %q y %q (scale %.3f)", xs, ys, scale)
	}
	do(t, ctx, chromedp.SendKeys(chromedp.ID("phone"), "+37300000001"), chromedp.Click(chromedp.ID("sign-button")),
		chromedp.WaitVisible(chromedp.CSS("section.request.signed")))
	id, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("request").dataset.id`))
	_, signed := getURL(t, e.url+"/api/v1/sign-requests/"+id+"/documents/1")
	m := regexp.MustCompile(`/Subtype /Widget[^>]*?/Rect \[([0-9.]+) ([0-9.]+) ([0-9.]+) ([0-9.]+)\]`).FindAllSubmatch(signed, -1)
	if len(m) == 0 {
		t.Fatalf("no widget in the signed file")
	}
	got := m[len(m)-1]
	want := []float64{px, py, px + 200, py + 60}
	for i, w := range want {
		if v, _ := strconv.ParseFloat(string(got[i+1]), 64); math.Abs(v-w) > 0.2 {
			t.Fatalf("the stamp is at %s, want %v", strings.Join([]string{string(got[1]), string(got[2]), string(got[3]), string(got[4])}, " "), want)
		}
	}
	checkSigned(t, e.pki, signed, "SERIALNUMBER=", "B-T")
}
