package appearance

import (
	"errors"
	"fmt"
	"testing"

	"github.com/semnat/semnat/internal/samplepdf"
)

// blackPagePDF is minimalPDF whose page is painted black: the worst page
// for a stamp to be drawn on.
func blackPagePDF() []byte {
	content := fmt.Sprintf("0 g 0 0 %d %d re f", pageW, pageH)
	return samplepdf.Assemble([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << >> /Contents 4 0 R >>", pageW, pageH),
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
	}, "")
}

// TestStampOpaqueBackground: on a black page, the default stamp is white
// inside (the page does not show through), a chosen background has its
// colour, and a transparent one lets the page through.
func TestStampOpaqueBackground(t *testing.T) {
	rect := [4]float64{300, 80, 560, 170}
	light := func(r, g, b uint32) bool { return r > 200 && g > 200 && b > 200 }
	yellow := func(r, g, b uint32) bool { return r > 220 && g > 220 && b < 150 }
	for _, tc := range []struct {
		name string
		spec Spec
		pred func(r, g, b uint32) bool
		min  float64 // least share of the stamp's pixels that match
		max  float64
	}{
		{"white by default", Spec{}, light, 0.7, 1},
		{"yellow", Spec{Background: &RGB{1, 1, 0.4}}, yellow, 0.7, 1},
		{"transparent", Spec{Transparent: true}, light, 0, 0.05},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			spec.Rect, spec.Lines = rect, typicalLines
			img := renderStamp(t, stampPDFOn(t, blackPagePDF(), spec))
			n, total := countPixels(img, rect, tc.pred)
			if share := float64(n) / float64(total); share < tc.min || share > tc.max {
				t.Fatalf("%.0f%% of the stamp's pixels match, want %.0f%% to %.0f%%", share*100, tc.min*100, tc.max*100)
			}
		})
	}
}

func TestStampColours(t *testing.T) {
	if c, err := ParseRGB("#ff8000"); err != nil || c != (RGB{1, 128.0 / 255, 0}) {
		t.Fatalf("ParseRGB: %v %v", c, err)
	}
	for _, bad := range []string{"", "#fff", "#gg0000", "red"} {
		if _, err := ParseRGB(bad); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("ParseRGB(%q): %v", bad, err)
		}
	}
	for _, c := range []RGB{{1.5, 0, 0}, {0, -1, 0}} {
		if _, err := Layout(Spec{Rect: [4]float64{0, 0, 200, 60}, Lines: []string{"x"}, Background: &c}); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("background %v: %v", c, err)
		}
	}
}
